"""Which ast-grep language parses which file, and how one rule covers a language family.

A migration rule is written once for `typescript` (or `javascript`) and runs on
.ts/.mts/.cts, .tsx, .js/.mjs/.cjs/.jsx: TypeScript's grammar is a superset of
JavaScript's, so the same rule applies. Parts of a rule that cannot exist in a
language (a `kind: as_expression` in JavaScript, a `<World>x` pattern in TSX)
are pruned for that language instead of failing the whole rule.
"""

from __future__ import annotations

import os

# File extension -> ast-grep language name (as SgRoot accepts it).
EXTENSIONS: dict[str, str] = {
    ".ts": "typescript",
    ".mts": "typescript",
    ".cts": "typescript",
    ".tsx": "tsx",
    ".js": "javascript",
    ".mjs": "javascript",
    ".cjs": "javascript",
    ".jsx": "javascript",
    ".py": "python",
    ".pyi": "python",
}

# Names a rule may give in `language:` -> canonical name.
ALIASES: dict[str, str] = {
    "typescript": "typescript",
    "ts": "typescript",
    "tsx": "tsx",
    "javascript": "javascript",
    "js": "javascript",
    "jsx": "javascript",
    "python": "python",
    "py": "python",
}

# A rule written for one member of a family runs on all of them.
FAMILIES: dict[str, tuple[str, ...]] = {
    "typescript": ("typescript", "tsx", "javascript"),
    "javascript": ("typescript", "tsx", "javascript"),
    "tsx": ("tsx",),
    "python": ("python",),
}

# ast-grep CLI spelling, used when a migration is exported for `sg scan`.
SG_NAMES = {"typescript": "TypeScript", "tsx": "Tsx", "javascript": "JavaScript", "python": "Python"}


def canonical(name: str) -> str | None:
    return ALIASES.get(str(name).strip().lower())


def language_of(path: str) -> str | None:
    return EXTENSIONS.get(os.path.splitext(path)[1].lower())


def family(name: str) -> tuple[str, ...]:
    canon = canonical(name)
    return FAMILIES.get(canon, ()) if canon else ()
