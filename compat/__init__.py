"""compat: breaking changes between two versions of a core (TypeScript, Python, SQL)."""
