"""GitHub Actions workflow commands (`::error file=…::message`), shared by every annotating output."""

from __future__ import annotations

__all__ = ["escape"]


def escape(text: str, prop: bool = False) -> str:
    """Escape a message (or, with prop=True, a property value) the way the Actions runner reads it."""
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if prop:
        text = text.replace(":", "%3A").replace(",", "%2C")
    return text
