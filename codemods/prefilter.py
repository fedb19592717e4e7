"""The literal prefilter: words a file must contain for a rule to possibly match it.

A rule's requirement is a conjunction of clauses, each a set of words of which the file's text must
contain at least one (a clause is necessary: every match of the rule implies it). A file that fails
a clause is never searched for that rule, so most files of a connector are not parsed at all.

Sound by construction: a clause comes only from a part of the rule that must match a node of the
file, and only from text that node must then contain verbatim:
- a plain `pattern` string: its longest literal identifier (metavariables removed). A pattern object
  (`context` + `selector`) gives none: only the selected part of the context has to match;
- a `regex`: the literal runs every match must contain (`(^|\\.)(a|b)$` needs `a` or `b`), read by
  Python's regex parser after a check that the regex uses only syntax both Python and ast-grep's
  Rust regex read alike (no flags, no `{`, no nested or set-operation classes, known escapes);
  anything else gives none;
- `all` and the keys of one rule object (an implicit `all`): every clause of every part;
  `any`: one clause, the union of one clause of each branch, when every branch has one;
  relations (`inside`, `has`, `precedes`, `follows`): the related node's clauses (`stopBy` is not
  required to match and is not read); `matches`: the util's clauses.
`not`, `kind`, `nthChild`, `range`, constraints and transforms give none.
"""

from __future__ import annotations

import re
import warnings
from re import _constants as sre_constants  # type: ignore[attr-defined]
from re import _parser as sre_parser  # type: ignore[attr-defined]

# A metavariable as a pattern writes it ($X, $$X, $$$X) and an identifier.
_META = re.compile(r"\$\$\$[A-Z_][A-Z0-9_]*|\$\$?[A-Z_][A-Z0-9_]*")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_LITERAL, _SUBPATTERN, _BRANCH = sre_constants.LITERAL, sre_constants.SUBPATTERN, sre_constants.BRANCH

RELATIONS = ("inside", "has", "precedes", "follows")

Clauses = tuple[frozenset[str], ...]

_MAX_ALTERNATIVES = 64  # a literal run with more alternatives than this is not used
# Escapes both regex dialects read as the same thing (a literal, a class or a word boundary).
_SAFE_ESCAPES = frozenset(".\\()[]|*+?^$-/ntdDwWsSbB")


def _same_in_both_dialects(regex: str) -> bool:
    """True when Python's parser reads `regex` the way the Rust regex crate does, as far as
    literal text goes. Conservative: rejects flags, repetition counts and Rust-only syntax."""
    if "{" in regex or "(?" in regex.replace("(?:", ""):
        return False
    in_class = class_start = False
    i = 0
    while i < len(regex):
        c = regex[i]
        if c == "\\":
            if i + 1 >= len(regex) or regex[i + 1] not in _SAFE_ESCAPES or (in_class and regex[i + 1] in "bB"):
                return False  # (`[\b]` is a backspace to Python)
            i += 2
            class_start = False
            continue
        if in_class:
            if c == "[" or regex[i : i + 2] in ("&&", "--", "~~"):
                return False  # nested classes and set operations: Rust only
            if c == "]" and not class_start:
                in_class = False
        elif c == "[":
            in_class = True
            i += 1
            if regex[i : i + 1] == "^":
                i += 1
            class_start = True  # a `]` right after `[` or `[^` is a literal in both
            continue
        class_start = False
        i += 1
    return not in_class


def regex_clauses(regex: str) -> list[frozenset[str]]:
    """Clauses every text a match of `regex` lies in must satisfy (empty: none known)."""
    if not _same_in_both_dialects(regex):
        return []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # "possible nested set" and the like: not read alike
            parsed = sre_parser.parse(regex)
    except (re.error, Warning, RecursionError, OverflowError):
        return []
    if parsed.state.flags & ~re.UNICODE:
        return []
    return _sequence_clauses(list(parsed))


def _exact(items: list) -> set[str] | None:
    """Every string `items` can match, when that is a small set of literals; else None."""
    out = {""}
    for op, av in items:
        if op is _LITERAL:
            out = {s + chr(av) for s in out}
        elif op is _SUBPATTERN:
            _, add_flags, del_flags, sub = av
            got = None if add_flags or del_flags else _exact(list(sub))
            if got is None:
                return None
            out = {a + b for a in out for b in got}
        elif op is _BRANCH:
            alternatives = [_exact(list(seq)) for seq in av[1]]
            if any(a is None for a in alternatives):
                return None
            union = set().union(*(a for a in alternatives if a is not None))
            out = {a + b for a in out for b in union}
        else:
            return None
        if len(out) > _MAX_ALTERNATIVES:
            return None
    return out


def _sequence_clauses(items: list) -> list[frozenset[str]]:
    """A sequence's literal runs (each a clause), and the clauses of its groups and branches."""
    clauses: list[frozenset[str]] = []
    run: set[str] = {""}

    def close() -> None:
        if "" not in run:
            clauses.append(frozenset(run))

    for op, av in items:
        exact: set[str] | None = None
        if op is _LITERAL:
            exact = {chr(av)}
        elif op in (_SUBPATTERN, _BRANCH):
            exact = _exact([(op, av)])
            if exact is None:
                close()
                run = {""}
                if op is _SUBPATTERN and not av[1] and not av[2]:
                    clauses.extend(_sequence_clauses(list(av[3])))
                elif op is _BRANCH:
                    alternatives = [_sequence_clauses(list(seq)) for seq in av[1]]
                    if all(alternatives):
                        clauses.append(frozenset().union(*(min(a, key=len) for a in alternatives)))
                continue
        if exact is not None and len(run) * len(exact) <= _MAX_ALTERNATIVES:
            run = {a + b for a in run for b in exact}
            continue
        # Anything else (a class, a repeat, an anchor) ends the run: what follows need not touch it.
        close()
        run = set(exact) if exact is not None else {""}
    close()
    return clauses


def required_clauses(rule: dict, utils: dict, seen: frozenset[str] = frozenset()) -> Clauses:
    """The clauses a file must satisfy for `rule` (with `utils`) to match in it; () if none known."""
    out: list[frozenset[str]] = []
    if not isinstance(rule, dict):
        return ()
    pattern = rule.get("pattern")
    if isinstance(pattern, str):
        words = [w for w in _WORD.findall(_META.sub(" ", pattern)) if len(w) > 2]
        if words:
            out.append(frozenset([max(words, key=len)]))
    regex = rule.get("regex")
    if isinstance(regex, str):
        out.extend(regex_clauses(regex))
    for sub in rule.get("all") or []:
        out.extend(required_clauses(sub, utils, seen))
    if rule.get("any"):
        parts = [required_clauses(sub, utils, seen) for sub in rule["any"]]
        if all(parts):
            out.append(frozenset().union(*(min(p, key=len) for p in parts)))
    for rel in RELATIONS:
        if isinstance(rule.get(rel), dict):
            out.extend(required_clauses(rule[rel], utils, seen))
    util = rule.get("matches")
    if isinstance(util, str) and util in utils and util not in seen:
        out.extend(required_clauses(utils[util], utils, seen | {util}))
    return tuple(dict.fromkeys(c for c in out if c))


def satisfied(clauses: Clauses, text: str, present: dict[str, bool]) -> bool:
    """Whether `text` satisfies every clause; `present` remembers each word's answer for the file."""
    for clause in clauses:
        for word in clause:
            got = present.get(word)
            if got is None:
                got = present[word] = word in text
            if got:
                break
        else:
            return False
    return True
