"""reports: renderers and templates for runs (code only, no run data)."""
