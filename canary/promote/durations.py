"""Durations on the command line: `90s`, `30m`, `24h`, `7d`, `2w`, `1d12h`."""

from __future__ import annotations

import re

from canary.kernel.errors import UserError

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_PART = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")


def parse_duration(text: str, option: str) -> float:
    """Seconds in a duration; a UserError naming the option when it is not one."""
    compact = text.strip().lower().replace(" ", "")
    parts = _PART.findall(compact)
    if not compact or "".join(n + u for n, u in parts) != compact:
        raise UserError(f"not a duration: {text!r}", key=option, hint="use e.g. 90s, 30m, 24h, 7d, 2w or 1d12h")
    return sum(float(n) * _UNITS[u] for n, u in parts)


def format_duration(seconds: float) -> str:
    seconds = int(max(0, seconds))
    for unit, size in (("w", _UNITS["w"]), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            whole, rest = divmod(seconds, size)
            if unit in ("w", "d") and rest >= 3600:
                return f"{whole}{unit}{rest // 3600}h"
            if unit == "h" and rest >= 60:
                return f"{whole}h{rest // 60}m"
            return f"{whole}{unit}"
    return f"{seconds}s"
