"""How each verdict looks: a symbol, a word and a colour, so no reader depends on colour alone."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Look:
    symbol: str
    text: str
    fg: str  # text colour (WCAG AA on bg)
    bg: str


LOOKS = {
    "ok": Look("✔", "ok", "#0b5e1f", "#d8f3dc"),
    "fixed": Look("↑", "fixed", "#0b4f6c", "#d6ecf7"),
    "regressed": Look("✘", "regressed", "#8a1010", "#fbd5d5"),
    "broken": Look("✖", "broken", "#6b2d00", "#f8e0c8"),
    "flaky": Look("≈", "flaky", "#5c4a00", "#fbf0c2"),
    "error": Look("⚠", "error", "#5b2a86", "#ebdff7"),
    "skipped": Look("–", "skipped", "#3f4650", "#e8eaed"),
    "unsupported": Look("∅", "unsupported", "#3f4650", "#f1f1f1"),
}
NOT_PLANNED = Look("·", "not planned", "#6a737d", "#ffffff")


def look(verdict: str | None) -> Look:
    return LOOKS.get(verdict or "", NOT_PLANNED)
