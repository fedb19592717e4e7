"""The diff engine: two Contracts in, a list of Change out.

Language-neutral: it compares Decl records by path and asks `_rule()` which
catalogue entry a kind of event maps to in each language. Renames are resolved
first (canary.compat.renames) so a renamed declaration is one change carrying
`renamed_to`, not a removal plus an addition.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from canary.compat.model import EXPORT_KINDS, Contract, Decl
from canary.compat.renames import Rename, find_renames
from canary.compat.rules import RULES, SEVERITIES, SEVERITY_RANK, Severity, by_name


@dataclass
class Change:
    rule: str
    name: str
    severity: str
    language: str
    kind: str
    symbol: str
    container: str | None
    member: str
    message: str
    old: str | None = None
    new: str | None = None
    renamed_to: str | None = None
    rename_evidence: str | None = None  # alias | declared | probable | positional
    location: dict = field(default_factory=dict)
    affects: list = field(default_factory=list)
    deprecated: dict | None = None
    accepted: dict | None = None  # set by the baseline
    default_severity: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], language: str = "") -> Change:
        """A change of a compat diff document (canary.compat.document reads the document); a
        hand-written one may give only `rule` and `symbol`, the rest takes neutral defaults."""

        def text(key: str) -> str | None:
            value = data.get(key)
            return value if isinstance(value, str) else None

        return cls(
            rule=str(data["rule"]),
            name=text("name") or "",
            severity=text("severity") or "unknown",
            language=text("language") or language,
            kind=text("kind") or "",
            symbol=str(data["symbol"]),
            container=text("container"),
            member=text("member") or "",
            message=text("message") or "",
            old=text("old"),
            new=text("new"),
            renamed_to=text("renamed_to"),
            rename_evidence=text("rename_evidence"),
            location=dict(location) if isinstance(location := data.get("location"), dict) else {},
            affects=list(affects) if isinstance(affects := data.get("affects"), list) else [],
            deprecated=deprecated if isinstance(deprecated := data.get("deprecated"), dict) else None,
            accepted=accepted if isinstance(accepted := data.get("accepted"), dict) else None,
            default_severity=text("default_severity") or "",
        )


# event -> rule name, per language. Events not listed for a language are not reported there.
_EVENTS = {
    "ts": {
        "export-removed": "export-removed",
        "member-removed": "member-removed",
        "parameter-removed": "parameter-removed",
        "parameter-property-removed": "parameter-property-removed",
        "destructured-dropped": "destructured-property-dropped",
        "enum-member-removed": "enum-member-removed",
        "member-required": "member-became-required",
        "member-optional": "member-became-optional",
        "member-type": "member-type-changed",
        "parameter-type": "parameter-type-changed",
        "return-type": "return-type-changed",
        "parameter-required": "parameter-became-required",
        "parameter-order": "parameter-order-changed",
        "readonly": "member-became-readonly",
        "kind": "kind-changed",
        "enum-value": "enum-value-changed",
        "alias-rename": "renamed-with-deprecated-alias",
        "deprecated": "deprecated",
        "export-added": "export-added",
        "required-member-added": "required-member-added",
        "member-added": "member-added",
        "required-parameter-added": "required-parameter-added",
        "base-removed": "base-removed",
        "parameter-renamed": "parameter-renamed",
    },
    "py": {
        "export-removed": "object-removed",
        "member-removed": "object-removed",
        "parameter-removed": "parameter-removed",
        "kind": "object-changed-kind",
        "parameter-order": "parameter-moved",
        "parameter-kind": "parameter-changed-kind",
        "parameter-default": "parameter-changed-default",
        "parameter-required": "parameter-changed-required",
        "required-parameter-added": "parameter-added-required",
        "return-type": "return-changed-type",
        "member-type": "attribute-changed-type",
        "value": "attribute-changed-value",
        "base-removed": "class-removed-base",
        "alias-rename": "renamed-with-deprecated-alias",
        "deprecated": "deprecated",
        "export-added": "object-added",
        "member-added": "object-added",
    },
    "sql": {
        "export-removed": "table-removed",
        "member-removed": "column-removed",
        "column-renamed": "column-renamed",
        "table-renamed": "table-renamed",
        "member-type": "column-type-changed",
        "member-required": "not-null-added",
        "required-member-added": "required-column-added",
        "default-removed": "default-removed",
        "primary-key": "primary-key-changed",
        "member-optional": "not-null-dropped",
        "export-added": "added",
        "member-added": "added",
        "constraint-added": "constraint-added",
        "constraint-removed": "constraint-removed",
    },
}


def _around_difference(old: str, new: str, limit: int = 120) -> tuple[str, str]:
    """Both texts shortened around the part that differs (a shared prefix and suffix elided),
    so two long types that differ near the end never print as the same cut-off text."""
    if len(old) <= limit and len(new) <= limit:
        return old, new
    start = 0
    while start < min(len(old), len(new)) and old[start] == new[start]:
        start += 1
    end = 0
    while end < min(len(old), len(new)) - start and old[-1 - end] == new[-1 - end]:
        end += 1
    context = 20
    out = []
    for text in (old, new):
        lo = max(start - context, 0)
        hi = min(len(text) - end + context, len(text))
        if hi - lo > limit:
            hi = lo + limit
        out.append(("…" if lo > 0 else "") + text[lo:hi] + ("…" if hi < len(text) else ""))
    return out[0], out[1]


def _owner(decl: Decl) -> str | None:
    return decl.extra.get("owner", decl.container)


class _Differ:
    def __init__(self, old: Contract, new: Contract, config) -> None:
        self.old, self.new = old, new
        self.lang = new.language
        self.config = config
        self.changes: list[Change] = []
        self._class_index: dict[str, list[Decl]] | None = None  # NEW classes by name, built on first use

    def emit(
        self,
        event: str,
        decl: Decl,
        message: str,
        *,
        old: str | None = None,
        new: str | None = None,
        side: Decl | None = None,
        rename: Rename | None = None,
        old_decl: Decl | None = None,
        new_decl: Decl | None = None,
        severity: str | None = None,
    ) -> None:
        name = _EVENTS[self.lang].get(event)
        if name is None:
            return
        rule = by_name(self.lang, name)
        severity = severity or rule.severity  # a rule may judge one change milder (variance)
        if (
            self.lang == "ts"
            and decl.kind == "parameter"
            and severity == Severity.ERR
            and self._another_overload_accepts(self.old.decls.get(decl.path) or old_decl or decl)
        ):
            # the first signature changed, but another overload of NEW still takes the old argument
            severity = Severity.WARN
            message += " (another overload still accepts the old argument)"
        o = old_decl or self.old.decls.get(decl.path)
        n = new_decl or self.new.decls.get(decl.path)
        deprecated = None
        if (o is not None and o.deprecated is not None) or (n is not None and n.deprecated is not None):
            deprecated = {
                "old": o.deprecated if o is not None else None,
                "new": n.deprecated if n is not None else None,
            }
        where = side or n or o or decl
        change = Change(
            rule=rule.id,
            name=rule.name,
            severity=severity,
            language=self.lang,
            kind=decl.kind,
            symbol=decl.path,
            container=_owner(decl),
            member=decl.name,
            message=message,
            old=old,
            new=new,
            renamed_to=rename.new_name if rename else None,
            rename_evidence=rename.evidence if rename else None,
            location={"file": where.file, "line": where.line, "side": "new" if where is n or where is side else "old"},
            affects=list(rule.affects),
            deprecated=deprecated,
            default_severity=rule.severity,
        )
        self.changes.append(change)

    # ------------------------------------------------------------------
    def run(self) -> list[Change]:
        old, new = self.old.decls, self.new.decls
        removed = [p for p in old if p not in new]
        added = [p for p in new if p not in old]
        removed_set, added_set = set(removed), set(added)
        # A member whose type went between an inline object and a named type is reported once as a
        # type change; the inline members that appear or vanish with it are not separate changes.
        reshaped = {p for p, d in old.items() if p in new and (d.type == "{...}") != (new[p].type == "{...}")}
        removed_top = [p for p in removed if old[p].container not in removed_set and old[p].container not in reshaped]
        added_top = [p for p in added if new[p].container not in added_set and new[p].container not in reshaped]
        renames = find_renames(self.old, self.new, removed_top, added_top, self.config)
        rename_targets = {r.new_path for r in renames.values()}
        positional = self._positional_renames(removed_top, added_top) if self.lang in ("ts", "py") else {}
        rename_targets |= set(positional.values())

        for path in removed_top:
            if path in positional and self.lang == "ts":
                self.parameter_renamed(old[path], new[positional[path]])
                continue
            if path in positional and path not in renames:
                # Python: breaks keyword callers only, and once (not PY003 plus PY008 for the new name)
                n = new[positional[path]]
                renames[path] = Rename(path, n.path, n.name, "positional", "same position")
            self.removed(old[path], renames.get(path), removed_set)
            rename = renames.get(path)
            if self.lang == "sql" and rename is not None and old[path].kind == "column" and rename.new_path in new:
                # renamed and retyped in one migration: the type, NULL and default changes are breaks of
                # their own, each under its rule, on the new column
                self.changed(old[path], new[rename.new_path], None, report_path=rename.new_path)
        for path in old:
            if path in new:
                self.changed(old[path], new[path], renames.get(path))
        for path in added_top:
            if path in rename_targets:
                continue
            self.added(new[path])
        return self.changes

    def _another_overload_accepts(self, o: Decl) -> bool:
        """Every member of the OLD parameter's type is taken at its position by some overload of NEW
        (`(enable?: boolean)` and `(nameAndArgs: string, ...)` together take `string | boolean`)."""
        from canary.compat.tstypes import split_union

        owner = self.new.decls.get(o.container or "")
        sigs = owner.extra.get("overloads", []) if owner is not None else []
        if len(sigs) < 2 or o.index is None or o.type is None:
            return False
        taken = set()
        for sig in sigs:
            if o.index < len(sig) and sig[o.index][0]:
                taken |= set(split_union(sig[o.index][0]))
        return set(split_union(o.type)) <= taken

    def _positional_renames(self, removed: list[str], added: list[str]) -> dict[str, str]:
        """A TS parameter removed and one added at the same position of the same callable: one rename.
        Calls pass it by position, so the name alone breaks nobody (one change, not TS006 + TS008)."""
        slots = {}
        for p in added:
            d = self.new.decls[p]
            if d.kind == "parameter" and not d.extra.get("rest"):
                slots[(d.container, d.index)] = p
        out = {}
        for p in removed:
            d = self.old.decls[p]
            if d.kind == "parameter" and not d.extra.get("rest") and (d.container, d.index) in slots:
                out[p] = slots.pop((d.container, d.index))
        return out

    def parameter_renamed(self, o: Decl, n: Decl) -> None:
        self.emit(
            "parameter-renamed",
            o,
            f"parameter {o.name} of {o.container} renamed to {n.name} at position "
            f"{o.index}: positional calls are unaffected",
            old=o.name,
            new=n.name,
            rename=Rename(o.path, n.path, n.name, "positional", "same position"),
            side=n,
        )
        self.changed(o, n, None, report_path=o.path)

    def _inherited_elsewhere(self, decl: Decl, in_old_only: bool) -> bool:
        """A change on an inherited copy is reported on its origin instead."""
        src = decl.extra.get("inherited_path")
        if not src:
            return False
        if in_old_only:
            return src in self.old.decls and src not in self.new.decls
        return True

    # ---------------------------------------------------------- Python reachability
    def _classes_named(self, leaf: str) -> list[Decl]:
        if self._class_index is None:
            self._class_index = {}
            for d in self.new.decls.values():
                if d.kind == "class":
                    self._class_index.setdefault(d.name, []).append(d)
        return self._class_index.get(leaf, [])

    def _new_ancestors(self, cls: Decl, seen: set | None = None) -> list[Decl]:
        """Classes of NEW that `cls` inherits from, found by base name (griffe leaves bases unresolved)."""
        seen = seen if seen is not None else {cls.path}
        out = []
        for i, base in enumerate(cls.extra.get("bases", [])):
            leaf = base.split("[", 1)[0].rsplit(".", 1)[-1]
            full = cls.extra.get("base_paths") or []
            exact = self.new.decls.get(full[i]) if i < len(full) else None
            for cand in [exact] if exact is not None and exact.kind == "class" else self._classes_named(leaf):
                if cand.path not in seen:
                    seen.add(cand.path)
                    out.append(cand)
                    out.extend(self._new_ancestors(cand, seen))
        return out

    def _py_inherited(self, o: Decl) -> bool:
        """A member moved to a base class of NEW is still there for every caller."""
        cls = self.new.decls.get(o.container) if o.container else None
        if cls is None or cls.kind != "class":
            return False
        return any(f"{base.path}.{o.name}" in self.new.decls for base in self._new_ancestors(cls))

    def _py_lazy(self, o: Decl) -> Decl | None:
        """The NEW module whose `__getattr__` still serves this name (lazy import, warning alias)."""
        mod = self.new.decls.get(o.container) if o.container else None
        if (
            mod is not None
            and mod.kind == "module"
            and (o.name in mod.extra.get("lazy_names", ()) or o.name in mod.extra.get("imported_names", ()))
        ):
            return mod
        return None

    @staticmethod
    def _positional_only(d: Decl) -> bool:
        # `__x` (not dunder) is the PEP 484 spelling of positional-only
        return d.extra.get("pkind") == "positional-only" or (d.name.startswith("__") and not d.name.endswith("__"))

    def _py_param_counterpart(self, d: Decl, other: Contract) -> bool:
        """A positional-only parameter renamed in place, or a renamed *args/**kwargs: not a change callers see."""
        pkind = d.extra.get("pkind")
        siblings = [x for x in other.decls.values() if x.container == d.container and x.kind == "parameter"]
        if pkind in ("variadic positional", "variadic keyword"):
            return any(x.extra.get("pkind") == pkind for x in siblings)
        if self._positional_only(d):
            return any(x.index == d.index and self._positional_only(x) for x in siblings)
        return False

    def removed(self, o: Decl, rename: Rename | None, removed_set: set) -> None:
        if o.extra.get("inherited_path") and self._inherited_elsewhere(o, True):
            return
        if self.lang == "py":
            if o.kind == "parameter" and self._py_param_counterpart(o, self.new):
                return
            if self._py_inherited(o):
                return
            mod = self._py_lazy(o)
            if mod is not None:
                how = (
                    "imported there from another module"
                    if o.name in mod.extra.get("imported_names", ())
                    else f"served by {mod.path}.__getattr__ (lazy import or deprecated alias)"
                )
                self.emit(
                    "deprecated",
                    o,
                    f"{o.path} is no longer defined in {mod.path} but still importable: {how}",
                    old_decl=o,
                    side=mod,
                )
                return
        if o.extra.get("inherited_path") and self._base_removed(o):
            return
        kind = o.kind
        if o.container is None and kind in EXPORT_KINDS:
            event = "export-removed"
            what = f"{kind} {o.path}"
        elif kind == "parameter":
            event = "parameter-removed"
            what = f"parameter {o.name} of {o.container}"
        elif kind == "parameter-property":
            event = "parameter-property-removed" if o.extra.get("in_type") else "destructured-dropped"
            what = f"property {o.name} of the object parameter of {_owner(o)}"
        elif kind == "enum-member":
            event = "enum-member-removed"
            what = f"enum member {o.path}"
        else:
            event = "member-removed"
            what = f"{'column' if kind == 'column' else kind} {o.path}"
        new_type = None
        if rename is not None:
            target = self.new.decls.get(rename.new_path)
            new_type = target.type if target is not None else None
            if self.lang == "sql":
                event = "column-renamed" if kind == "column" else "table-renamed"
            message = f"{what} removed; renamed to {rename.new_name} ({rename.evidence}: {rename.reason})"
            if event == "destructured-dropped":
                message = (
                    f"{_owner(o)} no longer destructures {o.name} from its object parameter but "
                    f"{rename.new_name} ({rename.evidence}: {rename.reason}): a value passed as {o.name} "
                    "is silently ignored"
                )
        elif event == "destructured-dropped":
            message = (
                f"{_owner(o)} no longer destructures {o.name} from its object parameter: "
                f"a value passed as {o.name} is silently ignored"
            )
        else:
            message = f"{what} removed"
        if o.deprecated is not None:
            message += " (it was already deprecated"
            message += f": {o.deprecated})" if o.deprecated else ")"
        self.emit(
            event,
            o,
            message,
            old=o.type,
            new=new_type,
            rename=rename,
            old_decl=o,
            side=self.new.decls.get(rename.new_path) if rename else None,
        )

    def _base_removed(self, o: Decl) -> bool:
        origin = o.extra.get("inherited_from")
        owner_root = o.path.split(".", 1)[0]
        nd = self.new.decls.get(owner_root)
        return bool(origin and nd is not None and origin not in nd.extra.get("bases", []))

    def _variance(self, old: str, new: str) -> str:
        if self.lang == "ts":
            from canary.compat.tstypes import relation

            return relation(old, new)
        if self.lang == "py":
            from canary.compat.pytypes import union_members

            a, b = union_members(old), union_members(new)
            if a == b:
                return "same"
            if a < b or "Any" in b:
                return "wider"
            if b < a or "Any" in a:
                return "narrower"
        return "changed"

    def _same_type(self, old: str, new: str) -> bool:
        if old == new:
            return True
        if self.lang == "py":
            from canary.compat.pytypes import canonical

            return canonical(old) == canonical(new)  # a respelling (t.List[str] / list[str]) is no change
        if self.lang == "ts":
            return self.old.aliases.get(old, old) == self.new.aliases.get(new, new)
        return False

    def changed(self, o: Decl, n: Decl, rename: Rename | None, report_path: str | None = None) -> None:
        if o.extra.get("inherited_path") and n.extra.get("inherited_path") == o.extra.get("inherited_path"):
            return  # reported on the declaration it is inherited from
        path = report_path or o.path
        if o.kind != n.kind:
            self.emit("kind", n, f"{path} changed from {o.kind} to {n.kind}", old=o.kind, new=n.kind)
            return
        kind = o.kind
        callable_ = kind in ("function", "method", "constructor")
        param = kind in ("parameter", "parameter-property")
        # type
        if o.type is not None and n.type is not None and not self._same_type(o.type, n.type):
            way = self._variance(o.type, n.type)
            shown = _around_difference(o.type, n.type)
            if way == "same":
                pass
            elif callable_:
                # what a caller receives may narrow
                self.emit(
                    "return-type",
                    n,
                    f"return type of {path} "
                    f"{'narrowed' if way == 'narrower' else 'changed'} from {shown[0]} to {shown[1]}",
                    old=o.type,
                    new=n.type,
                    severity=Severity.INFO if way == "narrower" else None,
                )
            elif param:
                # what a caller passes may widen
                if self.lang != "py":
                    self.emit(
                        "parameter-type",
                        n,
                        f"type of {path} "
                        f"{'widened' if way == 'wider' else 'changed'} from {shown[0]} to {shown[1]}"
                        + (": every argument accepted before still is" if way == "wider" else ""),
                        old=o.type,
                        new=n.type,
                        severity=Severity.INFO if way == "wider" else None,
                    )
            else:
                self.emit(
                    "member-type", n, f"type of {path} changed from {shown[0]} to {shown[1]}", old=o.type, new=n.type
                )
        # optionality
        if o.optional and not n.optional and not (callable_ and self.lang == "ts"):
            if param:
                self.emit("parameter-required", n, f"{path} became required", old="optional", new="required")
            else:
                self.emit(
                    "member-required",
                    n,
                    f"{path} became {'NOT NULL' if self.lang == 'sql' else 'required'}",
                    old="optional" if self.lang != "sql" else "NULL",
                    new="required" if self.lang != "sql" else "NOT NULL",
                )
        elif not o.optional and n.optional and not param and not callable_:
            self.emit(
                "member-optional",
                n,
                f"{path} became {'nullable' if self.lang == 'sql' else 'optional'}: readers may see "
                f"{'NULL' if self.lang == 'sql' else 'undefined'}",
                old="required" if self.lang != "sql" else "NOT NULL",
                new="optional" if self.lang != "sql" else "NULL",
            )
        if not o.readonly and n.readonly and kind == "member":
            self.emit("readonly", n, f"{path} became readonly", old="mutable", new="readonly")
        positional = self.lang != "py" or (
            o.extra.get("pkind") in ("positional-only", "positional or keyword")
            and n.extra.get("pkind") in ("positional-only", "positional or keyword")
        )
        if (
            kind == "parameter"
            and o.index is not None
            and n.index is not None
            and o.index != n.index
            and positional
            and not o.extra.get("rest")
        ):
            self.emit(
                "parameter-order",
                n,
                f"{path} moved from position {o.index} to {n.index}",
                old=str(o.index),
                new=str(n.index),
            )
        if (
            kind == "parameter"
            and o.extra.get("pkind") != n.extra.get("pkind")
            and self.lang == "py"
            and not (
                n.extra.get("pkind") == "positional-only"
                and (self._positional_only(o) or (o.index == 0 and o.name in ("self", "cls")))
            )
        ):
            self.emit(
                "parameter-kind",
                n,
                f"{path} changed kind from {o.extra.get('pkind')} to {n.extra.get('pkind')}",
                old=o.extra.get("pkind"),
                new=n.extra.get("pkind"),
            )
        if (
            kind == "parameter"
            and self.lang == "py"
            and o.default is not None
            and n.default is not None
            and o.default != n.default
        ):
            self.emit(
                "parameter-default",
                n,
                f"default of {path} changed from {o.default} to {n.default}",
                old=o.default,
                new=n.default,
            )
        if kind == "attribute" and o.default != n.default and o.default is not None and n.default is not None:
            self.emit(
                "value", n, f"value of {path} changed from {o.default} to {n.default}", old=o.default, new=n.default
            )
        if kind == "enum-member" and o.default != n.default and o.default is not None:
            self.emit(
                "enum-value",
                n,
                f"value of {path} changed from {o.default} to {n.default}",
                old=o.default,
                new=n.default,
            )
        if kind == "column" and o.default is not None and n.default is None:
            self.emit("default-removed", n, f"{path} lost its default {o.default}", old=o.default, new=None)
        if kind == "table" and o.extra.get("primary_key") != n.extra.get("primary_key"):
            ok, nk = o.extra.get("primary_key") or [], n.extra.get("primary_key") or []
            self.emit(
                "primary-key",
                n,
                f"primary key of {path} changed from ({', '.join(ok)}) to ({', '.join(nk)})",
                old=", ".join(ok) or None,
                new=", ".join(nk) or None,
            )
        if kind == "table":
            ok, nk = set(o.extra.get("keys", [])), set(n.extra.get("keys", []))
            for key in sorted(nk - ok):
                self.emit("constraint-added", n, f"{path}: {key} added", old=None, new=key)
            for key in sorted(ok - nk):
                self.emit("constraint-removed", n, f"{path}: {key} removed", old=key, new=None)
        if (
            kind == "parameter-property"
            and o.extra.get("destructured")
            and not n.extra.get("destructured")
            and not rename
        ):
            self.emit(
                "destructured-dropped",
                n,
                f"{_owner(n)} no longer destructures {n.name} from its object "
                "parameter: a value passed as it is silently ignored",
            )
        for base in o.extra.get("bases", []):
            leaf = base.split("[", 1)[0].rsplit(".", 1)[-1]
            if self.lang == "py" and any(a.name == leaf for a in self._new_ancestors(n)):
                continue  # still in the MRO through another base
            if base not in n.extra.get("bases", []):
                self.emit("base-removed", n, f"{path} no longer extends {base}", old=base, new=None)
        # deprecation
        if o.deprecated is None and n.deprecated is not None:
            if rename is not None and rename.evidence == "alias":
                self.emit(
                    "alias-rename",
                    n,
                    f"{path} renamed to {rename.new_name}; {n.name} kept as a deprecated "
                    f"alias ({n.deprecated or 'no message'})",
                    old=o.type,
                    new=n.type,
                    rename=rename,
                )
            else:
                msg = f"{path} is deprecated" + (f": {n.deprecated}" if n.deprecated else "")
                self.emit("deprecated", n, msg)

    def added(self, n: Decl) -> None:
        if n.extra.get("inherited_path"):
            return
        kind = n.kind
        container = self.new.decls.get(n.container) if n.container else None
        if n.container is None:
            if kind in ("parameter", "parameter-property"):
                return
            self.emit("export-added", n, f"{kind} {n.path} added", new=n.type)
            return
        if self.old.decls.get(n.container) is None and kind not in ("parameter", "parameter-property"):
            return
        if kind == "parameter" and self.lang == "py" and self._py_param_counterpart(n, self.old):
            return
        if kind == "parameter":
            if not n.optional:
                self.emit(
                    "required-parameter-added", n, f"required parameter {n.name} added to {n.container}", new=n.type
                )
            else:
                self.emit("member-added", n, f"optional parameter {n.name} added to {n.container}", new=n.type)
            return
        if kind == "parameter-property":
            if not n.extra.get("in_type"):
                return
            if not n.optional:
                self.emit(
                    "required-parameter-added",
                    n,
                    f"required property {n.name} added to the object parameter of {_owner(n)}",
                    new=n.type,
                )
            else:
                self.emit(
                    "member-added",
                    n,
                    f"optional property {n.name} added to the object parameter of {_owner(n)}",
                    new=n.type,
                )
            return
        if kind == "column":
            if not n.optional and n.default is None:
                self.emit("required-member-added", n, f"NOT NULL column {n.path} without default added", new=n.type)
            else:
                self.emit("member-added", n, f"column {n.path} added", new=n.type)
            return
        in_shape = container is not None and container.kind in ("interface", "type", "member")
        required = not n.optional and not (kind == "method" and n.extra.get("optional"))
        if self.lang == "ts" and in_shape and required and kind in ("member", "method"):
            self.emit(
                "required-member-added",
                n,
                f"required {kind} {n.path} added: implementations and object literals must provide it",
                new=n.type,
            )
        else:
            self.emit("member-added", n, f"{kind} {n.path} added", new=n.type)


def diff_contracts(old: Contract, new: Contract, config=None) -> list[Change]:
    from canary.compat.config import Config

    config = config or Config()
    changes = _Differ(old, new, config).run()
    for c in changes:
        apply_policy(c, config)
    changes = [c for c in changes if c.severity != "OFF" and not config.ignored(c.symbol)]
    order: dict[str, int] = {s: i for i, s in enumerate(SEVERITIES)}
    changes.sort(key=lambda c: (order[c.severity], c.rule, c.symbol))
    return changes


def apply_policy(change: Change, config) -> None:
    """Deprecation policy then per-rule overrides from the config file."""
    dep = change.deprecated
    if (
        dep
        and dep.get("old") is not None
        and change.name
        in (
            "export-removed",
            "member-removed",
            "object-removed",
            "parameter-removed",
            "parameter-property-removed",
            "enum-member-removed",
            "column-removed",
            "table-removed",
        )
    ):
        # Removing what OLD already announced as deprecated is the expected end of a deprecation.
        rank = max(SEVERITY_RANK[change.severity] - 1, 0)
        change.severity = SEVERITIES[len(SEVERITIES) - 1 - rank]
    override = config.severity_for(change.rule, change.name)
    if override:
        change.severity = override
    assert change.rule in RULES
