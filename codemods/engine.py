"""The rule engine: ast-grep-py matching, per-language rule expansion, fix templates.

Each source file is parsed once; every rule compiled for its language runs on
that one tree. A rule also carries the words a file must contain for the rule
to possibly match (taken from its patterns and `^word$` regexes), so files that
cannot match are never parsed: most files of a connector never mention a
renamed member.
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass
from functools import lru_cache

from ast_grep_py import SgNode, SgRoot

from canary.kernel.errors import UserError

from canary.codemods.languages import family
from canary.codemods.migration import Migration, Rule

_META = re.compile(r"\$\$\$([A-Z_][A-Z0-9_]*)|\$\$?([A-Z_][A-Z0-9_]*)")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SIMPLE_REGEX = re.compile(r"^\^\(?((?:[A-Za-z_][A-Za-z0-9_]*\|)*[A-Za-z_][A-Za-z0-9_]*)\)?\$$")
_RELATIONS = ("inside", "has", "precedes", "follows")


@dataclass
class CompiledRule:
    rule: Rule
    language: str
    config: dict
    words: frozenset[str] | None  # a file must contain one of these, None: no constraint


@dataclass
class Match:
    rule: Rule
    start: int  # character offsets into the text
    end: int
    line: int  # 1-based
    column: int  # 1-based, in characters
    end_line: int
    end_column: int
    text: str
    replacement: str | None  # None: lint-only rule


def _short_error(exc: Exception) -> str:
    # ast-grep errors carry a Rust backtrace; the first lines say what is wrong.
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    out = []
    for ln in lines:
        if ln.startswith("Stack backtrace"):
            break
        out.append(ln)
    return " ".join(out[-2:]) if out else str(exc)


@lru_cache(maxsize=8)
def _empty_root(language: str) -> SgNode:
    return SgRoot("", language).root()


def _valid(config: dict, language: str) -> bool:
    try:
        _empty_root(language).find(config)
    except Exception:  # ast-grep raises a bare Exception for a rule it cannot compile
        return False
    return True


def _prune(rule: dict, language: str, ctx: dict) -> dict | None:
    """`rule` reduced to what exists in `language`, or None if nothing of it can match there."""
    if _valid({**ctx, "rule": rule}, language):
        return rule
    out = dict(rule)
    if "any" in out:
        kept = [p for p in (_prune(b, language, ctx) for b in out["any"]) if p is not None]
        if not kept:
            return None
        out["any"] = kept
    if "all" in out:
        kept = [_prune(b, language, ctx) for b in out["all"]]
        if any(p is None for p in kept):
            return None
        out["all"] = kept
    for rel in _RELATIONS:
        if rel in out:
            sub = {k: v for k, v in out[rel].items() if k not in ("stopBy", "field")}
            pruned = _prune(sub, language, ctx)
            if pruned is None:
                return None
            out[rel] = {**pruned, **{k: v for k, v in out[rel].items() if k in ("stopBy", "field")}}
    if "not" in out and _prune(out["not"], language, ctx) is None:
        # `not X` where X cannot exist in this language is always true.
        del out["not"]
        if not out:
            return None
    return out if _valid({**ctx, "rule": out}, language) else None


def _prune_utils(utils: dict, language: str, ctx: dict) -> dict:
    """Utility rules reduced per language; one that cannot exist there is dropped."""
    kept: dict = {}
    pending = dict(utils)
    # Constraints may name utils not kept yet: they are checked with the whole config later.
    ctx = {k: v for k, v in ctx.items() if k != "constraints"}
    # Utils may use each other: keep pruning until a pass adds nothing.
    while pending:
        added = False
        for name, body in list(pending.items()):
            pruned = _prune(body, language, {**ctx, "utils": kept})
            if pruned is not None:
                kept[name] = pruned
                del pending[name]
                added = True
        if not added:
            break
    return kept


def required_words(rule: dict, utils: dict, seen: frozenset = frozenset()) -> frozenset[str] | None:
    """Words of which a file must contain at least one for `rule` to match, or None if unknown.

    Conservative: only literal identifiers of plain patterns and `^word$` /
    `^(a|b)$` regexes count; a rule object with several keys is an implicit
    `all`, so any one constrained key is enough.
    """
    candidates: list[frozenset[str]] = []
    pattern = rule.get("pattern")
    if isinstance(pattern, str):
        words = [w for w in _WORD.findall(_META.sub(" ", pattern)) if len(w) > 2]
        if words:
            candidates.append(frozenset([max(words, key=len)]))
    regex = rule.get("regex")
    if isinstance(regex, str):
        m = _SIMPLE_REGEX.match(regex)
        if m:
            candidates.append(frozenset(m.group(1).split("|")))
    for key in ("all",):
        for sub in rule.get(key) or []:
            w = required_words(sub, utils, seen)
            if w:
                candidates.append(w)
    if rule.get("any"):
        parts = [required_words(sub, utils, seen) for sub in rule["any"]]
        if all(parts):
            candidates.append(frozenset().union(*parts))
    for rel in _RELATIONS:
        if isinstance(rule.get(rel), dict):
            w = required_words(rule[rel], utils, seen)
            if w:
                candidates.append(w)
    util = rule.get("matches")
    if isinstance(util, str) and util in utils and util not in seen:
        w = required_words(utils[util], utils, seen | {util})
        if w:
            candidates.append(w)
    if not candidates:
        return None
    return min(candidates, key=len)


@contextlib.contextmanager
def _no_rust_backtraces():
    """Pruning compiles rules that are expected to fail; with RUST_BACKTRACE=1 in the environment
    each failure captures a Rust backtrace (CPU, and peak memory 27 -> 76 MiB). RUST_LIB_BACKTRACE=0
    turns that off for errors while leaving panics' backtraces alone. Rust reads the setting once per
    process, so it stays off for later errors of this process too; children get the old value."""
    old = os.environ.get("RUST_LIB_BACKTRACE")
    os.environ["RUST_LIB_BACKTRACE"] = "0"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("RUST_LIB_BACKTRACE", None)
        else:
            os.environ["RUST_LIB_BACKTRACE"] = old


def compile_migration(migration: Migration) -> dict[str, list[CompiledRule]]:
    """Rules per canonical language, expanded over language families and pruned per language."""
    with _no_rust_backtraces():
        return _compile_migration(migration)


def _compile_migration(migration: Migration) -> dict[str, list[CompiledRule]]:
    out: dict[str, list[CompiledRule]] = {}
    for rule in migration.rules:
        if rule.severity == "off":
            continue
        langs = family(rule.language)
        if not langs:
            raise UserError(f"unsupported language {rule.language!r}", file=migration.source, line=rule.line,
                            key=f"{rule.id}.language")
        compiled_any = False
        first_error = ""
        for lang in langs:
            try:
                _empty_root(lang).find(rule.config())
                config = rule.config()
            except Exception as exc:
                first_error = first_error or _short_error(exc)
                ctx = {k: v for k, v in rule.config().items() if k not in ("rule", "utils")}
                ctx["utils"] = _prune_utils(rule.utils, lang, ctx)
                body = _prune(rule.rule, lang, ctx)
                if body is None:
                    continue
                config = {**ctx, "rule": body}
            body = config["rule"]
            words = required_words(body, config.get("utils") or {})
            out.setdefault(lang, []).append(CompiledRule(rule, lang, config, words))
            compiled_any = True
        if not compiled_any:
            raise UserError(f"rule {rule.id!r} does not compile: {first_error}", file=migration.source,
                            line=rule.line, key=f"{rule.id}.rule")
    return out


def render_fix(template: str, node: SgNode, source: str) -> str:
    """ast-grep fix template: $NAME, $$$NAME (the matched span with its separators) and transforms."""

    def repl(m: re.Match) -> str:
        if m.group(1):
            nodes = node.get_multiple_matches(m.group(1))
            if not nodes:
                return ""
            return source[nodes[0].range().start.index:nodes[-1].range().end.index]
        name = m.group(2)
        got = node.get_match(name)
        if got is not None:
            return got.text()
        transformed = node.get_transformed(name)
        return transformed if transformed is not None else ""

    return _META.sub(repl, template)


def parse_errors(text: str, language: str) -> int:
    """ERROR nodes plus MISSING ones (zero-width tokens tree-sitter invents, e.g. an unclosed
    `(`) in the parse of `text`: 0 means it parses."""
    root = SgRoot(text, language).root()
    count = len(root.find_all(kind="ERROR"))
    stack = [root]
    while stack:
        node = stack.pop()
        for child in node.children():
            rng = child.range()
            if rng.start.index == rng.end.index:
                count += 1
            else:
                stack.append(child)
    return count


def scan(text: str, language: str, rules: list[CompiledRule]) -> list[Match]:
    """All matches of `rules` in `text`, in source order."""
    active = [r for r in rules if r.words is None or any(w in text for w in r.words)]
    if not active:
        return []
    root = SgRoot(text, language).root()
    matches: list[Match] = []
    for compiled in active:
        for node in root.find_all(compiled.config):
            rng = node.range()
            replacement = None
            if compiled.rule.fix is not None:
                replacement = render_fix(compiled.rule.fix, node, text)
            matches.append(Match(
                rule=compiled.rule, start=rng.start.index, end=rng.end.index,
                line=rng.start.line + 1, column=rng.start.column + 1,
                end_line=rng.end.line + 1, end_column=rng.end.column + 1,
                text=node.text(), replacement=replacement,
            ))
    matches.sort(key=lambda m: (m.start, m.end, m.rule.id))
    return matches


def apply_edits(text: str, matches: list[Match], applied_out: list[Match] | None = None) -> tuple[str, int]:
    """Apply the fixes that do not overlap an earlier one; returns (new text, edits applied).
    The applied matches are appended to `applied_out` when given.

    Overlapping fixes are left for the next pass (fix runs passes until nothing
    changes), where they are matched again against the rewritten text.
    """
    out: list[str] = []
    pos = 0
    applied = 0
    for m in matches:
        if m.replacement is None or m.start < pos or m.replacement == text[m.start:m.end]:
            continue
        out.append(text[pos:m.start])
        out.append(m.replacement)
        pos = m.end
        applied += 1
        if applied_out is not None:
            applied_out.append(m)
    out.append(text[pos:])
    return "".join(out), applied
