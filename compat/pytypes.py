"""One spelling for a Python annotation, so that respelling a type is not reported as a change.

`t.List[str]` and `list[str]`, `Optional[X]` and `X | None`, `Union[A, B]` and `B | A`,
`t.Iterator[X]` and `cabc.Iterator[X]` are the same type to a caller. The text is parsed into
a small tree (names, subscripts, unions) and printed back in one canonical form; text that does
not parse is returned as it was (compared verbatim, as before).
"""

from __future__ import annotations

import re

_PREFIXES = ("typing_extensions.", "typing.", "t.", "collections.abc.", "cabc.", "abc.", "te.")
_BUILTIN = {
    "List": "list",
    "Dict": "dict",
    "Tuple": "tuple",
    "Set": "set",
    "FrozenSet": "frozenset",
    "Type": "type",
    "DefaultDict": "collections.defaultdict",
    "Deque": "collections.deque",
    "ContextManager": "AbstractContextManager",
    "AsyncContextManager": "AbstractAsyncContextManager",
    "Text": "str",
    "NoneType": "None",
}
_TOKEN = re.compile(r"\s*(\.\.\.|[\w.]+|'[^']*'|\"[^\"]*\"|[\[\],|])")


def _tokens(text: str) -> list[str] | None:
    out, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            if text[pos:].strip() == "":
                break
            return None
        out.append(m.group(1))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, tokens: list[str]) -> None:
        self.toks, self.i = tokens, 0

    def peek(self) -> str | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> str:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def union(self):
        parts = [self.atom()]
        while self.peek() == "|":
            self.take()
            parts.append(self.atom())
        return parts[0] if len(parts) == 1 else ("|", parts)

    def atom(self):
        tok = self.take()
        if tok == "[":  # a parameter list (Callable[[A, B], R])
            items = []
            while self.peek() != "]":
                items.append(self.union())
                if self.peek() == ",":
                    self.take()
            self.take()
            return ("list", items)
        if tok in ("]", ",", "|"):
            raise ValueError(tok)
        if self.peek() == "[":
            self.take()
            args = []
            while self.peek() != "]":
                args.append(self.union())
                if self.peek() == ",":
                    self.take()
            self.take()
            return ("sub", tok, args)
        return ("name", tok)


def _name(tok: str) -> str:
    if tok.startswith(("'", '"')):
        return _canon_text(tok[1:-1])
    for prefix in _PREFIXES:
        if tok.startswith(prefix):
            tok = tok[len(prefix) :]
            break
    return _BUILTIN.get(tok, tok)


def _flatten_union(members: list) -> list[str]:
    out: list[str] = []
    for m in members:
        text = _render(m)
        out.extend(text.split(" | ") if isinstance(m, tuple) and m[0] in ("|", "union") else [text])
    return sorted(set(out))


def _render(node) -> str:
    kind = node[0]
    if kind == "name":
        return _name(node[1])
    if kind == "list":
        return "[" + ", ".join(_render(a) for a in node[1]) + "]"
    if kind == "|":
        return " | ".join(_flatten_union(node[1]))
    name, args = _name(node[1]), node[2]
    if name == "Optional" and len(args) == 1:
        return " | ".join(_flatten_union([args[0], ("name", "None")]))
    if name == "Union":
        return " | ".join(_flatten_union(args))
    return f"{name}[{', '.join(_render(a) for a in args)}]"


def _canon_text(text: str) -> str:
    toks = _tokens(text)
    if not toks:
        return text.strip()
    try:
        parser = _Parser(toks)
        node = parser.union()
        if parser.peek() is not None:
            return text.strip()
    except (ValueError, IndexError):
        return text.strip()
    return _render(node)


def canonical(text: str | None) -> str | None:
    """The canonical spelling of an annotation (None stays None)."""
    return None if text is None else _canon_text(text)


def union_members(text: str) -> set[str]:
    """The members of a canonical union (a single type is a one-member union)."""
    return set(_canon_text(text).split(" | "))
