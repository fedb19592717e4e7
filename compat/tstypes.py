"""How a TypeScript type text changed, as far as text can tell: the same, wider, narrower or other.

Used for variance: what a caller passes may widen (a parameter accepting more is no break),
what a caller receives may narrow (a return type giving less is no break). `any` on either
side accepts everything, so `(e: any) => void` to `(e: ProgressEvent) => void` is no change.
Only unions are compared member by member; anything else that differs is "changed".
"""

from __future__ import annotations

import re

_OPEN, _CLOSE = "<([{", ">)]}"


def split_union(text: str) -> list[str]:
    """Top-level members of a union (brackets and quotes respected; `=>` is not a closing `>`)."""
    parts, depth, cur, quote, i = [], 0, [], None, 0
    while i < len(text):
        ch = text[i]
        if quote:
            cur.append(ch)
            if ch == quote:
                quote = None
        elif ch in "'\"`":
            quote = ch
            cur.append(ch)
        elif ch == "=" and text[i + 1 : i + 2] == ">":
            if depth == 0:
                return [text.strip()]  # `(a) => B | C` is one function type returning a union
            cur.append("=>")
            i += 2
            continue
        elif ch in _OPEN:
            depth += 1
            cur.append(ch)
        elif ch in _CLOSE:
            depth -= 1
            cur.append(ch)
        elif ch == "|" and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
        i += 1
    parts.append("".join(cur).strip())
    return [p for p in parts if p]


def _wildcard(pattern_text: str, other: str) -> bool:
    if not re.search(r"\bany\b", pattern_text):
        return False
    pieces = re.split(r"\bany\b", pattern_text)
    regex = "(?:.+?)".join(re.escape(p) for p in pieces)
    return re.fullmatch(regex, other, re.S) is not None


def relation(old: str, new: str) -> str:
    """same | wider | narrower | changed (new relative to old)."""
    if old == new or _wildcard(old, new) or _wildcard(new, old):
        return "same"
    if new in ("any", "unknown"):
        return "wider"
    if old in ("any", "unknown"):
        return "narrower"
    a, b = set(split_union(old)), set(split_union(new))
    if a == b:
        return "same"  # union order
    if a < b:
        return "wider"
    if b < a:
        return "narrower"
    return "changed"
