"""Durations, one grammar for every input: `90s`, `30m`, `24h`, `7d`, `2w`, and sums of them, `1h30m`,
`1d12h` (units s, m, h, d, w; a part may have decimals: `1.5h`). matrix.yaml also takes a plain
number of seconds. Used by matrix.yaml (`timeout`, `install_timeout`) and `canary promote`
(`--max-age`, `--soak`)."""

from __future__ import annotations

import re

from canary.kernel.errors import UserError

__all__ = ["UNITS", "PATTERN", "seconds_of", "parse_duration", "format_duration"]

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_PART = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
# The same grammar as a JSON Schema pattern (matrix.schema.json's `duration`; a test keeps them equal).
PATTERN = r"^([0-9]+(\.[0-9]+)?[smhdw])+$"


def seconds_of(text: str) -> float | None:
    """Seconds in a duration, or None when `text` is not one (spaces are ignored, case too)."""
    compact = text.strip().lower().replace(" ", "")
    parts = _PART.findall(compact)
    if not compact or "".join(n + u for n, u in parts) != compact:
        return None
    return sum(float(n) * UNITS[u] for n, u in parts)


def parse_duration(text: str, option: str) -> float:
    """Seconds in a duration; a UserError naming the option when it is not one."""
    seconds = seconds_of(text)
    if seconds is None:
        raise UserError(f"not a duration: {text!r}", key=option, hint="use e.g. 90s, 30m, 24h, 7d, 2w or 1d12h")
    return seconds


def format_duration(seconds: float) -> str:
    """A duration in the same grammar, in its two largest units: `1d12h`, `2h30m`, `45s`."""
    seconds = int(max(0, seconds))
    for unit, size in (("w", UNITS["w"]), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            whole, rest = divmod(seconds, size)
            if unit in ("w", "d") and rest >= 3600:
                return f"{whole}{unit}{rest // 3600}h"
            if unit == "h" and rest >= 60:
                return f"{whole}h{rest // 60}m"
            return f"{whole}{unit}"
    return f"{seconds}s"
