"""The rule engine: ast-grep-py matching, per-language rule expansion, fix templates.

Each source file is parsed once; every rule compiled for its language runs on
that one tree. A rule also carries the words a file must contain for the rule
to possibly match (canary.codemods.prefilter: clauses from its patterns' literal
identifiers and its regexes' literal runs), so files that cannot match are never
parsed: most files of a connector never mention a renamed member.

The rules that can run on a file run as one combined ast-grep rule, one search
of the tree (see `combine`): ast-grep-py compiles a rule on every call, and
compiling the shared utility rules once per rule per file cost more than the
matching itself.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import cast

from ast_grep_py import Config, SgNode, SgRoot

from canary.kernel.errors import UserError

from canary.codemods.languages import family
from canary.codemods.migration import Migration, Rule
from canary.codemods.prefilter import RELATIONS, Clauses, required_clauses, satisfied

_META = re.compile(r"\$\$\$([A-Z_][A-Z0-9_]*)|\$\$?([A-Z_][A-Z0-9_]*)")
_RELATIONS = RELATIONS


@dataclass
class Branch:
    """A rule rewritten to be one branch of a combined search (see `combine`)."""

    tag: int  # the suffix its metavariables are renamed apart with
    util: str  # the name the branch is registered under in the combined rule's utils
    rule: dict  # the rule, its metavariables renamed, ending in the marker
    marker: str  # bound in a matched node's environment when this rule matched it
    utils: dict  # the utility rules it uses: shared ones by their name, its own copies renamed
    fix: str | None  # the fix template with the renamed metavariables
    # Its constraints: (renamed metavariable, the constraint rule, the utils that rule uses, a key
    # that is equal for equal constraint rules).
    checks: list[tuple[str, dict, dict, str]] = field(default_factory=list)


@dataclass
class CompiledRule:
    rule: Rule
    language: str
    config: dict
    # The literal prefilter (canary.codemods.prefilter): for every clause, a file must contain one of
    # its words for the rule to possibly match; (): no constraint known.
    words: Clauses
    # Derived once per process (not cached on disk): the config without unused utils, and the rule as
    # a branch of a combined search (None: it runs on its own).
    _alone: dict | None = field(default=None, repr=False, compare=False)
    _branch: Branch | None = field(default=None, repr=False, compare=False)
    _branch_known: bool = field(default=False, repr=False, compare=False)
    _body_key: str | None = field(default=None, repr=False, compare=False)

    def alone(self) -> dict:
        """The config to run this rule by itself: the utils it never uses left out (ast-grep-py
        compiles every util on every search)."""
        if self._alone is None:
            utils = self.config.get("utils") or {}
            used = _used_utils(self.config, utils)
            self._alone = {k: v for k, v in self.config.items() if k != "utils"}
            if used:
                self._alone["utils"] = {k: v for k, v in utils.items() if k in used}
        return self._alone

    def branch(self) -> Branch | None:
        if not self._branch_known:
            self._branch, self._branch_known = _as_branch(self), True
        return self._branch

    def body_key(self) -> str:
        """Equal for rules whose search is the same (rule and utils; constraints, fix and message
        may differ): they match the same nodes with the same bindings."""
        if self._body_key is None:
            self._body_key = json.dumps([self.config["rule"], self.config.get("utils") or {}], sort_keys=True)
        return self._body_key


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


def find_all(node: SgNode, config: dict) -> list[SgNode]:
    """ast-grep's search with a rule config built here: rules come from a migration file (checked
    against its schema) and are rewritten as plain dicts (pruned, renamed, combined); ast-grep checks
    the shape itself and raises on a config it cannot compile. ast_grep_py types the argument as its
    `Config` TypedDict, which a dict built at run time can only be declared to be."""
    return node.find_all(cast(Config, config))


def _compiles(node: SgNode, config: dict) -> None:
    """Raises (a bare Exception, from ast-grep) when `config` does not compile for node's language."""
    node.find(cast(Config, config))


@lru_cache(maxsize=8)
def _empty_root(language: str) -> SgNode:
    return SgRoot("", language).root()


def _valid(config: dict, language: str) -> bool:
    utils = config.get("utils")
    if utils:
        # Only the utils the rule uses: the others are valid already (pruned first) and compiling
        # them again for every trial made pruning a migration cost ~0.5 s.
        used = _used_utils(config, utils)
        config = {**config, "utils": {k: v for k, v in utils.items() if k in used}}
    try:
        _compiles(_empty_root(language), config)
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
        branches = [_prune(b, language, ctx) for b in out["all"]]
        every = [p for p in branches if p is not None]
        if len(every) < len(branches):
            return None
        out["all"] = every
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
            raise UserError(
                f"unsupported language {rule.language!r}",
                file=migration.source,
                line=rule.line,
                key=f"{rule.id}.language",
            )
        compiled_any = False
        first_error = ""
        for lang in langs:
            try:
                _compiles(_empty_root(lang), rule.config())
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
            words = required_clauses(body, config.get("utils") or {})
            out.setdefault(lang, []).append(CompiledRule(rule, lang, config, words))
            compiled_any = True
        if not compiled_any:
            raise UserError(
                f"rule {rule.id!r} does not compile: {first_error}",
                file=migration.source,
                line=rule.line,
                key=f"{rule.id}.rule",
            )
    return out


# --- the combined search ----------------------------------------------------------------------
#
# ast-grep's `any` stops at the first branch that matches, so `any: [rule1, rule2]` would lose a
# node that both rules match, and could not say which one did. The combined rule is instead
#
#   all: [ {any: [B1, B2, ...]},  {any: [B1, TRUE]},  {any: [B2, TRUE]}, ... ]
#
# where Bi is rule i (as a util, compiled once) ending in `pattern: $$MARKi`, which binds the
# marker only when rule i matched. The first `any` keeps the nodes no rule matches out (most of
# them); the others try every rule on a node that matched one, so each node comes back once with
# the marker of every rule that matches it.
#
# Rules must not see each other: each rule's metavariables are renamed apart (NAME__CANARYi), and
# so are its own copies of the utils that bind metavariables; utils that bind none are shared.
# Constraints (`V: R`) are what ast-grep checks after a match on V's node, in a fresh environment,
# for the whole combined rule at once, so they cannot stay in it: a branch matches without them,
# and its match stands only when R matches the node V bound, where it stands in the tree. All of a
# file's constraint rules run as one more combined search that looks only at those nodes (their
# kind and `range`; `_passing`). A metavariable a match left unbound is not checked, as in
# ast-grep. Transforms are written for the whole rule: a rule with one runs on its own.

_TRUE: dict = {"all": []}  # matches every node (an empty `all`; compiles ~5x faster than `regex: ""`)
_TAGS = itertools.count()
# A metavariable in a pattern, as ast-grep reads one: `$NAME`, `$$NAME`, `$$$NAME`, the name not
# running on into lower-case letters (`$Xabc` is no metavariable).
_PATTERN_META = re.compile(r"\$(?:\$\$?)?[A-Z_][A-Z0-9_]*(?![A-Za-z0-9_])")


def _rename_text(text: str, suffix: str) -> str:
    return _PATTERN_META.sub(lambda m: m.group(0) + suffix, text)


def _rename_rule(value, suffix: str, util_names: dict[str, str]):
    """`value` (a rule or part of one) with every metavariable in its patterns renamed NAME+suffix
    and the utils in `util_names` referred to by their new names."""
    if isinstance(value, dict):
        out: dict[str, object] = {}
        for key, sub in value.items():
            if key == "pattern" and isinstance(sub, str):
                out[key] = _rename_text(sub, suffix)
            elif key == "pattern" and isinstance(sub, dict) and isinstance(sub.get("context"), str):
                out[key] = {**sub, "context": _rename_text(sub["context"], suffix)}
            elif key == "matches" and isinstance(sub, str):
                out[key] = util_names.get(sub, sub)
            else:
                out[key] = _rename_rule(sub, suffix, util_names)
        return out
    if isinstance(value, list):
        return [_rename_rule(v, suffix, util_names) for v in value]
    return value


def _has_metavariable(value) -> bool:
    if isinstance(value, dict):
        for key, sub in value.items():
            if key == "pattern":
                text = sub.get("context") if isinstance(sub, dict) else sub
                if isinstance(text, str) and _PATTERN_META.search(text):
                    return True
            elif _has_metavariable(sub):
                return True
    elif isinstance(value, list):
        return any(_has_metavariable(v) for v in value)
    return False


def _referenced(value, out: set[str]) -> set[str]:
    """Names of the utils `value` refers to with `matches:` (directly)."""
    if isinstance(value, dict):
        for key, sub in value.items():
            if key == "matches" and isinstance(sub, str):
                out.add(sub)
            else:
                _referenced(sub, out)
    elif isinstance(value, list):
        for v in value:
            _referenced(v, out)
    return out


def _used_utils(config: dict, utils: dict) -> set[str]:
    """The utils `config` uses, directly or through other utils."""
    todo = _referenced({k: v for k, v in config.items() if k != "utils"}, set())
    used: set[str] = set()
    while todo:
        name = todo.pop()
        if name in used or name not in utils:
            continue
        used.add(name)
        todo |= _referenced(utils[name], set())
    return used


def _renamed_apart(rule: dict, utils: dict, suffix: str) -> tuple[dict, dict]:
    """`rule` and the utils it uses, renamed apart: metavariables get `suffix`, and so do the
    utils that bind metavariables (each user gets its own copy); the others keep their names."""
    used = {name: utils[name] for name in _used_utils({"rule": rule}, utils)}
    names = {name: f"{name}{suffix}" for name, body in used.items() if _has_metavariable(body)}
    out_utils = {names.get(name, name): _rename_rule(body, suffix, names) for name, body in used.items()}
    return _rename_rule(rule, suffix, names), out_utils


def _as_branch(compiled: CompiledRule, tag: int | None = None) -> Branch | None:
    """The rule as a branch; `tag`: the one of a branch with the same search (body_key), whose
    util, marker and metavariable names this one then shares."""
    config = compiled.config
    if config.get("transform"):
        return None  # a transform is written for the whole (combined) rule
    constraints = config.get("constraints") or {}
    utils = config.get("utils") or {}
    tag = next(_TAGS) if tag is None else tag
    suffix = f"__CANARY{tag}"
    marker = f"CANARY_MARK{tag}"
    body, used = _renamed_apart(config["rule"], utils, suffix)
    checks = []
    for var, check in constraints.items():
        check_used = {name: utils[name] for name in _used_utils({"rule": check}, utils)}
        checks.append((f"{var}{suffix}", check, check_used, json.dumps([check, check_used], sort_keys=True)))
    fix = compiled.rule.fix
    if fix is not None:
        # Renamed the way render_fix reads names (`$Xabc` there is $X followed by "abc").
        fix = _META.sub(lambda m: m.group(0) + suffix, fix)
    return Branch(
        tag=tag,
        util=f"canary-rule-{tag}",
        rule={"all": [body, {"pattern": f"$${marker}"}]},
        marker=marker,
        utils=used,
        fix=fix,
        checks=checks,
    )


@dataclass
class Leaf:
    """A part of constraint rules (see `_formula`), renamed apart, run over the nodes the rules'
    metavariables bound."""

    marker: str
    rule: dict
    utils: dict


@dataclass
class Check:
    """A constraint rule: a formula (not/any/all) over leaves evaluated at the bound node."""

    marker: str
    formula: tuple  # ("leaf", leaf marker) | ("not", formula) | ("any" | "all", [formula, ...])
    leaves: list[Leaf]


@dataclass
class Combined:
    """One search that runs several rules (see the comment above)."""

    config: dict
    # Rules with the same search (body_key) share one branch util and marker, listed once each.
    branches: list[tuple[CompiledRule, Branch]]
    checks: list[list[tuple[str, Check]]]  # per entry of branches: [(renamed metavariable, its check)]


_COMBINED: dict[tuple[int, ...], tuple[Combined | None, list[CompiledRule]]] = {}


def combine(rules: list[CompiledRule]) -> tuple[Combined | None, list[CompiledRule]]:
    """(the combined search, the rules that run on their own); the same rules give the same
    (remembered) result, as files that mention the same words do."""
    # Keyed by identity: an entry holds every rule of its key (as a branch or alone), so no id in
    # it can be reused by another object while the entry lives.
    key = tuple(id(r) for r in rules)
    got = _COMBINED.get(key)
    if got is None:
        if len(_COMBINED) > 256:
            _COMBINED.clear()
        got = _COMBINED[key] = _combine(rules)
    return got


def _combine(rules: list[CompiledRule]) -> tuple[Combined | None, list[CompiledRule]]:
    branches: list[tuple[CompiledRule, Branch]] = []
    alone: list[CompiledRule] = []
    utils: dict = {}
    # Rules that differ only in constraints, fix or message (one pattern split three ways by its
    # value, as the shipped migration does) search alike: one branch searches for all of them.
    # The first rule's branch is the search; the others get a branch of their own (their checks and
    # fix) with its names.
    searched: dict[str, Branch] = {}
    for compiled in rules:
        first = searched.get(compiled.body_key())
        branch = compiled.branch() if first is None else _as_branch(compiled, first.tag)
        # Two rules may name different utils alike: the second one runs on its own.
        if branch is None or any(utils.get(name, body) != body for name, body in branch.utils.items()):
            alone.append(compiled)
            continue
        utils.update(branch.utils)
        branches.append((compiled, branch))
        searched.setdefault(compiled.body_key(), branch)
    if len(branches) < 2:
        return None, list(rules)
    for branch in searched.values():
        utils[branch.util] = branch.rule
    every = [{"matches": b.util} for b in searched.values()]
    rule = {"all": [{"any": every}, *({"any": [one, _TRUE]} for one in every)]}
    # Constraint rules: one check per distinct rule (with the utils it uses), shared by the rules using
    # it; their leaves shared by the checks that have them.
    by_key: dict[str, Check] = {}
    by_leaf: dict[str, Leaf] = {}
    checks: list[list[tuple[str, Check]]] = []
    for _, branch in branches:
        checks.append([])
        for var, check, check_utils, key in branch.checks:
            if key not in by_key:
                by_key[key] = _as_check(check, check_utils, by_leaf)
            checks[-1].append((var, by_key[key]))
    return Combined(config={"rule": rule, "utils": utils}, branches=branches, checks=checks), alone


# A constraint rule is a formula over leaves, all evaluated at the bound node: `not`, `any`, `all`
# (and a rule's several keys, an implicit `all`) are connectives; a `matches` and a rule's atomic and
# relational keys together are leaves. The shipped migration's three constraints on one value
# (`not: {any: [uuid, maybe-undefined]}`, `maybe-undefined and not uuid`, `uuid`) then search for two
# leaves instead of three rules, each with its own renamed copy of the uuid util (its compile was as
# costly as the combined search's). The split is exact when no metavariable is shared by two
# distinct leaves (ast-grep would require the bindings to agree; a constraint starts from an empty
# environment); otherwise the whole rule is one leaf.
_CONNECTIVES = ("all", "any", "not", "matches")


def _formula(rule, leaves: list[dict]) -> tuple | None:
    """The rule as a formula over `leaves` (appended, referred to by index); None: not a formula."""
    if not isinstance(rule, dict) or not rule:
        return None
    parts: list[tuple] = []
    atoms = {k: v for k, v in rule.items() if k not in _CONNECTIVES}
    if atoms:
        parts.append(("leaf", len(leaves)))
        leaves.append(atoms)
    if "matches" in rule:
        parts.append(("leaf", len(leaves)))
        leaves.append({"matches": rule["matches"]})
    for op in ("all", "any"):
        if op in rule:
            if not isinstance(rule[op], list) or not rule[op]:
                return None
            subs = [_formula(r, leaves) for r in rule[op]]
            if any(f is None for f in subs):
                return None
            parts.append((op, subs))
    if "not" in rule:
        sub = _formula(rule["not"], leaves)
        if sub is None:
            return None
        parts.append(("not", sub))
    return parts[0] if len(parts) == 1 else ("all", parts)


def _metavariable_names(text: str) -> set[str]:
    return {m.lstrip("$") for m in _PATTERN_META.findall(text)}


def _as_check(rule: dict, utils: dict, by_leaf: dict[str, Leaf]) -> Check:
    leaves: list[dict] = []
    formula = _formula(rule, leaves)
    keyed = [(leaf, {n: utils[n] for n in _used_utils({"rule": leaf}, utils)}) for leaf in leaves]
    keys = [json.dumps(k, sort_keys=True) for k in keyed]
    names = [_metavariable_names(k) for k in dict.fromkeys(keys)]
    if formula is None or any(a & b for i, a in enumerate(names) for b in names[i + 1 :]):
        formula, keyed = ("leaf", 0), [(rule, utils)]
        keys = [json.dumps(keyed[0], sort_keys=True)]
    for key, (leaf, used) in zip(keys, keyed):
        if key not in by_leaf:
            tag = next(_TAGS)
            body, renamed = _renamed_apart(leaf, used, f"__CANARY{tag}")
            by_leaf[key] = Leaf(marker=f"CANARY_MARK{tag}", rule=body, utils=renamed)
    markers = [by_leaf[key].marker for key in keys]

    def bind(f: tuple) -> tuple:
        op, arg = f
        if op == "leaf":
            return ("leaf", markers[arg])
        return (op, bind(arg)) if op == "not" else (op, [bind(g) for g in arg])

    return Check(
        marker=f"CANARY_CHECK{next(_TAGS)}", formula=bind(formula), leaves=[by_leaf[k] for k in dict.fromkeys(keys)]
    )


def _holds(formula: tuple, key, passed: dict[str, set]) -> bool:
    op, arg = formula
    if op == "leaf":
        return key in passed[arg]
    if op == "not":
        return not _holds(arg, key, passed)
    if op == "any":
        return any(_holds(f, key, passed) for f in arg)
    return all(_holds(f, key, passed) for f in arg)


def _checked(root: SgNode, wanted: dict[str, tuple[Check, dict]]) -> dict[str, set]:
    """For each check (by marker): the keys of those of its wanted nodes its rule matches where they
    stand: its leaves searched for at the nodes of every check that has them, then its formula."""
    leaf_wanted: dict[str, tuple[Leaf, dict]] = {}
    for check, nodes in wanted.values():
        for leaf in check.leaves:
            leaf_wanted.setdefault(leaf.marker, (leaf, {}))[1].update(nodes)
    passed = _passing(root, leaf_wanted)
    return {
        marker: {key for key in nodes if _holds(check.formula, key, passed)}
        for marker, (check, nodes) in wanted.items()
    }


def _range_rule(node: SgNode) -> dict:
    # The kind first: ast-grep then visits only nodes of the wanted kinds.
    rng = node.range()
    where = {
        "range": {
            "start": {"line": rng.start.line, "column": rng.start.column},
            "end": {"line": rng.end.line, "column": rng.end.column},
        }
    }
    return {"kind": node.kind(), **where} if node.is_named() else where


def _passing(root: SgNode, wanted: dict[str, tuple[Leaf, dict]]) -> dict[str, set]:
    """For each leaf (by marker): the keys of those of its wanted nodes its rule matches where they
    stand, found by one search that looks only at those nodes (`range`)."""
    passed: dict[str, set] = {marker: set() for marker in wanted}
    pending = list(wanted.items())
    while pending:
        utils: dict = {}
        group, rest = [], []
        for marker, (check, nodes) in pending:
            # Leaves that name different utils alike go to a search of their own.
            if any(utils.get(name, body) != body for name, body in check.utils.items()):
                rest.append((marker, (check, nodes)))
                continue
            utils.update(check.utils)
            group.append((marker, check, nodes))
            utils[f"canary-check-{marker}"] = {
                "all": [{"any": [_range_rule(n) for n in nodes.values()]}, check.rule, {"pattern": f"$${marker}"}]
            }
        every = [{"matches": f"canary-check-{marker}"} for marker, _, _ in group]
        config = {"rule": {"all": [{"any": every}, *({"any": [one, _TRUE]} for one in every)]}, "utils": utils}
        for node in find_all(root, config):
            key = _node_key(node)
            for marker, _, nodes in group:
                if key in nodes and node.get_match(marker) is not None:
                    passed[marker].add(key)
        pending = rest
    return passed


def _node_key(node: SgNode) -> tuple[int, int, str]:
    rng = node.range()
    return rng.start.index, rng.end.index, node.kind()


def render_fix(template: str, node: SgNode, source: str) -> str:
    """ast-grep fix template: $NAME, $$$NAME (the matched span with its separators) and transforms."""

    def repl(m: re.Match) -> str:
        if m.group(1):
            nodes = node.get_multiple_matches(m.group(1))
            if not nodes:
                return ""
            return source[nodes[0].range().start.index : nodes[-1].range().end.index]
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


def _match(rule: Rule, node: SgNode, text: str, fix: str | None) -> Match:
    rng = node.range()
    return Match(
        rule=rule,
        start=rng.start.index,
        end=rng.end.index,
        line=rng.start.line + 1,
        column=rng.start.column + 1,
        end_line=rng.end.line + 1,
        end_column=rng.end.column + 1,
        text=node.text(),
        replacement=render_fix(fix, node, text) if fix is not None else None,
    )


def scan(
    text: str, language: str, rules: list[CompiledRule], combined: bool = True, prefilter: bool = True
) -> list[Match]:
    """All matches of `rules` in `text`, in source order.

    combined=False runs the rules one by one, each with its own search: the reference the
    combined search is tested against (tests/test_codemods_combined.py); prefilter=False searches
    for every rule whatever words the text holds, the reference of the literal prefilter
    (tests/test_lint_prefilter.py)."""
    present: dict[str, bool] = {}
    active = [r for r in rules if not prefilter or satisfied(r.words, text, present)]
    if not active:
        return []
    root = SgRoot(text, language).root()
    matches: list[Match] = []
    together, alone = combine(active) if combined else (None, active)
    if together is not None:
        hits = []  # (node, rule, branch, [(bound node, check marker)])
        wanted: dict[str, tuple[Check, dict]] = {}
        for node in find_all(root, together.config):
            marked: dict[str, bool] = {}
            for (compiled, branch), checks in zip(together.branches, together.checks):
                hit = marked.get(branch.marker)
                if hit is None:
                    hit = marked[branch.marker] = node.get_match(branch.marker) is not None
                if not hit:
                    continue
                bound = []
                for var, check in checks:
                    got = node.get_match(var)
                    if got is not None:  # ast-grep skips the constraint of a metavariable left unbound
                        wanted.setdefault(check.marker, (check, {}))[1][_node_key(got)] = got
                        bound.append((_node_key(got), check.marker))
                hits.append((node, compiled, branch, bound))
        passed = _checked(root, wanted) if wanted else {}
        for node, compiled, branch, bound in hits:
            if all(key in passed[marker] for key, marker in bound):
                matches.append(_match(compiled.rule, node, text, branch.fix))
    for compiled in alone:
        for node in find_all(root, compiled.alone() if combined else compiled.config):
            matches.append(_match(compiled.rule, node, text, compiled.rule.fix))
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
        if m.replacement is None or m.start < pos or m.replacement == text[m.start : m.end]:
            continue
        out.append(text[pos : m.start])
        out.append(m.replacement)
        pos = m.end
        applied += 1
        if applied_out is not None:
            applied_out.append(m)
    out.append(text[pos:])
    return "".join(out), applied
