"""Rename recognition: turn a removal + an addition (or a new deprecated alias) into one rename.

Evidence, strongest first:
  declared  the config file names it (`renames:`), or the SQL itself (`RENAME COLUMN a TO b`)
  alias     OLD's name is still there in NEW, newly `@deprecated`, and the message names a sibling
            that NEW added (`@deprecated Use messageServerId instead`)
  probable  a removal and an addition in the same container, same kind, with a similar name
            (or a name containing the other) and preferably the same type; for declarations with
            members, the same member names. A name pair seen as an alias anywhere in NEW
            (serverId -> messageServerId) makes the same pair elsewhere probable.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import SequenceMatcher

from canary.compat.model import Contract, Decl

_WORD = re.compile(r"[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*")
_THRESHOLD = 0.7


@dataclass
class Rename:
    old_path: str
    new_path: str
    new_name: str
    evidence: str  # declared | alias | probable
    reason: str


def _sibling_path(decl: Decl, name: str) -> str:
    base = decl.path[: len(decl.path) - len(decl.name)]
    return base + name


def _family(kind: str) -> str:
    if kind in ("member", "method", "attribute", "function", "column"):
        return "member"
    if kind in ("interface", "type", "class", "table", "module"):
        return "shape"
    return kind


def _similarity(a: str, b: str) -> float:
    la, lb = a.lower(), b.lower()
    score = SequenceMatcher(None, la, lb).ratio()
    if len(la) >= 3 and len(lb) >= 3 and (la in lb or lb in la):
        score = max(score, 0.85)
    return score


_PROPERTY_KINDS = frozenset({"member", "attribute", "const", "variable", "column"})
_CALLABLE_KINDS = frozenset({"method", "function"})


def _valid_target(alias: Decl, target: Decl) -> bool:
    """A replacement named in a deprecation message must be usable the way the old name was:
    not itself deprecated, and of a compatible kind (a method is not replaced by a dict attribute)."""
    if target.deprecated is not None:
        return False
    if alias.kind == target.kind:
        return True
    return any(alias.kind in group and target.kind in group for group in (_PROPERTY_KINDS, _CALLABLE_KINDS))


def alias_renames(old: Contract, new: Contract) -> dict[str, Rename]:
    out: dict[str, Rename] = {}
    for path, n in new.decls.items():
        if n.deprecated is None or not n.deprecated:
            continue
        o = old.decls.get(path)
        if o is None or o.deprecated is not None:
            continue
        for word in _WORD.findall(n.deprecated):
            leaf = word.rsplit(".", 1)[-1]
            if leaf == n.name:
                continue
            candidates = [_sibling_path(n, leaf)]
            if "." in word:
                candidates.append(word)
            # the named replacement must be new: pointing at something that already existed is a plain
            # deprecation (INFO), not a rename
            target = next(
                (
                    c
                    for c in candidates
                    if c in new.decls and c != path and c not in old.decls and _valid_target(n, new.decls[c])
                ),
                None,
            )
            if target is None:
                continue
            out[path] = Rename(
                path, target, new.decls[target].name, "alias", f"kept as @deprecated alias: {n.deprecated}"
            )
            break
    return out


def find_renames(old: Contract, new: Contract, removed: list[str], added: list[str], config) -> dict[str, Rename]:
    renames = alias_renames(old, new)
    pairs = {(old.decls[r.old_path].name, r.new_name) for r in renames.values()}
    added_left = [p for p in added]
    taken: set[str] = set()

    # declared: SQL RENAME statements, then the config file
    declared = dict(new.renames)
    for path in removed:
        target_name = config.rename_for(path) if config is not None else None
        if target_name:
            declared[path] = target_name
    for path in removed:
        if path not in declared:
            continue
        o = old.decls[path]
        value = declared[path]
        target = value if value in new.decls else _sibling_path(o, value)
        if target in new.decls and target not in taken:
            renames[path] = Rename(
                path,
                target,
                new.decls[target].name,
                "declared",
                "declared in " + ("the schema" if path in new.renames else "config"),
            )
            taken.add(target)

    # probable
    by_container: dict[tuple, list[str]] = {}
    for p in added_left:
        if p in taken:
            continue
        d = new.decls[p]
        by_container.setdefault((d.container, _family(d.kind)), []).append(p)
    scored = []
    for path in removed:
        if path in renames:
            continue
        o = old.decls[path]
        for cand in by_container.get((o.container, _family(o.kind)), []):
            n = new.decls[cand]
            score = _similarity(o.name, n.name)
            if o.type is not None and n.type is not None:
                score += 0.15 if o.type == n.type else -0.1
            reason = "similar name" + (", same type" if o.type and o.type == n.type else "")
            if _family(o.kind) == "shape":
                om = {d.name for d in old.decls.values() if d.container == path}
                nm = {d.name for d in new.decls.values() if d.container == cand}
                if om and nm:
                    jac = len(om & nm) / len(om | nm)
                    if jac >= 0.8:
                        score = max(score, 0.7 + 0.3 * jac)
                        reason = f"same members ({len(om & nm)}/{len(om | nm)})"
            if (o.name, n.name) in pairs:
                score += 0.3
                reason = f"same rename as the deprecated alias {o.name} -> {n.name} elsewhere"
            if score >= _THRESHOLD:
                scored.append((score, path, cand, reason))
    scored.sort(key=lambda t: -t[0])
    used_old: set[str] = set()
    for _score, path, cand, reason in scored:
        if path in used_old or cand in taken:
            continue
        used_old.add(path)
        taken.add(cand)
        renames[path] = Rename(path, cand, new.decls[cand].name, "probable", reason)
    return renames
