"""Migrations generated from a `compat` diff: renames become fixes, removals become lint rules.

The diff's changes name a symbol (`World.serverId`,
`IAgentRuntime.ensureConnection(params).serverId`, `Role.OWNER`, `pkg.mod.f(arg)`),
its container, the old leaf name and, for a rename, the new one. Each change
maps to the code shapes that touch it:

| change kind (ts)               | rules                                                         |
|--------------------------------|---------------------------------------------------------------|
| member, method, attribute      | `$X.old` / `$X?.old` reads; keys of objects typed/cast as the container |
| parameter-property, destructured | keys (and `{ old }` shorthands) of objects passed to the function |
| enum-member                    | `Enum.OLD`                                                    |
| export (interface, class, ...) | named imports `{ Old }` (fixed to `{ New as Old }`)           |
| py member/attribute/method     | `$X.old`                                                      |
| py parameter                   | keyword arguments `f(old=...)` in calls to the function       |

Changes with no code shape (SQL, positional parameters, type changes) are
listed under `generated_from.skipped` so nothing is dropped silently.

A rename that also changes the symbol's type (`World.serverId: string` ->
`messageServerId: UUID`) is not a safe rename for code that writes it: a plain
`serverId:` -> `messageServerId:` compiles nowhere and stores the wrong value. Writes
(object keys, shorthands, assignments) then become lint-only "needs a conversion"
findings, unless a `renames:` entry supplies the conversion (`convert:`); reads stay
plain renames (the reader gets the new type, as the core now stores it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import yaml

from canary.kernel.errors import UserError

from canary.codemods.migration import Migration, dump_migration, parse_migration

__all__ = [
    "SEVERITY",
    "RANK",
    "REMOVAL_NAMES",
    "MEMBER_KINDS",
    "CALL_KEY_KINDS",
    "EXPORT_KINDS",
    "NAME_ONLY_NOTE",
    "migration_from_diff",
    "emit_migration",
    "RENAME_KINDS",
    "rules_from_rename",
]

SEVERITY = {"ERR": "error", "ERROR": "error", "WARN": "warning", "WARNING": "warning", "INFO": "info"}
RANK = {"hint": 0, "info": 1, "warning": 2, "error": 3}
REMOVAL_NAMES = frozenset(
    {
        "export-removed",
        "member-removed",
        "parameter-property-removed",
        "destructured-property-dropped",
        "enum-member-removed",
        "object-removed",
        "parameter-removed",
    }
)
MEMBER_KINDS = frozenset({"member", "method", "attribute", "property"})
CALL_KEY_KINDS = frozenset({"parameter-property", "destructured", "destructured-property"})
EXPORT_KINDS = frozenset({"export", "interface", "type", "class", "function", "enum", "const", "variable", "namespace"})
NAME_ONLY_NOTE = "Matched by member name only: the receiver may be an unrelated object with a member of the same name."
_IDENT = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*$")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "x"


def _leaf(path: str | None) -> str:
    """Last name of a symbol path: `IAgentRuntime.ensureConnection` -> ensureConnection."""
    if not path:
        return ""
    path = re.sub(r"\([^)]*\)", "", path)
    return path.rsplit(".", 1)[-1]


@dataclass
class _Intent:
    """One code shape to rewrite, merged over the changes that ask for it."""

    shape: str
    language: str
    old: str
    new: str | None
    scope: set[str] = field(default_factory=set)  # container types / callees
    symbols: list[str] = field(default_factory=list)
    severity: str = "info"
    messages: list[str] = field(default_factory=list)
    retyped: tuple[str, str] | None = None  # (old type, new type) when the rename also changes the type
    convert: str | None = None  # fix template for a written value ($V), from a `renames:` entry
    imports: list[dict] = field(default_factory=list)  # what `convert` needs imported


def _version(side) -> str | None:
    if isinstance(side, dict):
        return side.get("version") or side.get("ref")
    return side if isinstance(side, str) else None


_NOT_TYPES = frozenset({"required", "optional", "readonly", "mutable"})


def _type_pair(change: dict) -> tuple[str, str] | None:
    """(old type, new type) a change records, when they differ."""
    old, new = change.get("old"), change.get("new")
    if not isinstance(old, str) or not isinstance(new, str) or old == new or {old, new} & _NOT_TYPES:
        return None
    return old.strip(), new.strip()


def _retyped_symbols(changes: list[dict]) -> dict[str, tuple[str, str]]:
    """Symbols whose type changed (a `*-type-changed` change), e.g. World.serverId -> (string, UUID)."""
    out = {}
    for change in changes:
        if isinstance(change, dict) and str(change.get("name", "")).endswith("type-changed") and change.get("symbol"):
            pair = _type_pair(change)
            if pair:
                out[change["symbol"]] = pair
    return out


def _intents(changes: list[dict]) -> tuple[dict[tuple, _Intent], list[dict]]:
    intents: dict[tuple, _Intent] = {}
    skipped: list[dict] = []
    retyped = _retyped_symbols(changes)

    def add(shape, lang, old, new, scope, change):
        key = (shape, lang, old, new) if shape not in ("enum",) else (shape, lang, old, new, tuple(sorted(scope)))
        it = intents.setdefault(key, _Intent(shape, lang, old, new))
        it.scope |= set(scope)
        pair = (_type_pair(change) or retyped.get(change.get("symbol", ""))) if new else None
        if pair and it.retyped is None:
            it.retyped = pair
        if change.get("symbol") and change["symbol"] not in it.symbols:
            it.symbols.append(change["symbol"])
        sev = SEVERITY.get(str(change.get("severity", "")).upper(), "warning")
        if RANK[sev] > RANK[it.severity]:
            it.severity = sev
        if change.get("message"):
            it.messages.append(change["message"])

    for change in changes:
        if not isinstance(change, dict):
            continue
        renamed = change.get("renamed_to")
        is_removal = change.get("name") in REMOVAL_NAMES and not renamed
        if not renamed and not is_removal:
            continue  # not a rename or removal: no code to point at
        lang = change.get("language")
        kind = change.get("kind", "")
        old = change.get("member") or _leaf(change.get("symbol"))
        new = renamed or None
        container = change.get("container") or ""
        why = None
        if not old or not _IDENT.match(old) or (new is not None and not _IDENT.match(new)):
            why = "names are not plain identifiers"
        elif lang == "ts":
            symbol = change.get("symbol", "")
            if kind in CALL_KEY_KINDS or "(" in symbol and kind not in ("parameter",):
                add("call-key", lang, old, new, {_leaf(container)}, change)
            elif kind in MEMBER_KINDS:
                add("member-read", lang, old, new, set(), change)
                if container and _IDENT.match(_leaf(container)):
                    add("typed-key", lang, old, new, {_leaf(container)}, change)
            elif kind == "enum-member" and container:
                add("enum", lang, old, new, {_leaf(container)}, change)
            elif kind in EXPORT_KINDS and not container:
                add("import", lang, old, new, set(), change)
            else:
                why = f"no code shape for a ts {kind or 'change'}"
        elif lang == "py":
            if kind == "parameter" and container:
                add("py-kwarg", lang, old, new, {_leaf(container)}, change)
            elif kind in MEMBER_KINDS:
                add("py-attribute", lang, old, new, set(), change)
            else:
                why = f"no code shape for a py {kind or 'change'}"
        else:
            why = f"no code rules for language {lang!r}"
        if why:
            skipped.append({"symbol": change.get("symbol"), "rule": change.get("rule"), "reason": why})
    # One rename is one value: if it is retyped anywhere (World.serverId), writes of it are
    # retyped everywhere (keys passed to createRoom, whose change carries no types).
    by_rename: dict[tuple, tuple[str, str]] = {}
    for it in intents.values():
        if it.retyped:
            by_rename.setdefault((it.language, it.old, it.new), it.retyped)
    for it in intents.values():
        it.retyped = it.retyped or by_rename.get((it.language, it.old, it.new))
    return intents, skipped


def _alt(names: set[str]) -> str:
    return "|".join(sorted(re.escape(n) for n in names))


def _callee_test(names: set[str], python: bool) -> dict:
    """The `has: function` test of a call, or nothing when any callee will do."""
    if not names:
        return {}
    sep = "\\." if python else "[.?\\s]"
    return {"has": {"field": "function", "regex": f"(^|{sep})({_alt(names)})$"}}


def _rules_for(
    it: _Intent, prefix: str | None = None, message: str | None = None, note: str | None = None
) -> list[dict]:
    old, new = it.old, it.new
    verb = f"renamed to `{new}`" if new else "removed"
    what = ", ".join(it.symbols[:3]) + (" ..." if len(it.symbols) > 3 else "")
    base_msg = message or (f"`{old}` was {verb} ({what})" if what else f"`{old}` was {verb}")
    prefix = prefix or _slug(old)
    out: list[dict] = []

    def rule(suffix, language, body, fix, message, utils=None, imports=None):
        r = {
            "id": f"{prefix}-{suffix}",
            "language": language,
            "severity": it.severity,
            "message": message,
            "note": note if note is not None else (it.messages[0] if it.messages else ""),
            "metadata": {"symbol": it.symbols[0] if it.symbols else old, "symbols": list(it.symbols)},
            "rule": body,
        }
        if utils:
            r["utils"] = utils
        if fix is not None and new is not None:
            r["fix"] = fix
            if imports:
                r["imports"] = list(imports)
        out.append(r)

    # A retyped rename: what is written under the new name must be converted.
    needs_conversion = bool(it.retyped and new and not it.convert)
    if it.retyped and new:
        conv_msg = f"{base_msg}; its type changed from {it.retyped[0]} to {it.retyped[1]}: " + (
            f"the value is converted ({it.convert.replace('$V', 'value')})"
            if it.convert
            else "needs a conversion (no automatic fix: a plain rename would store the old type)"
        )

    def written(value_fix: str) -> str | None:
        """The fix of a write whose value is `$V`, or None when it needs a conversion."""
        if needs_conversion:
            return None
        return value_fix if not it.convert else value_fix.replace("$V", it.convert)

    if it.shape == "member-read":
        read: dict[str, object] = {"pattern": f"$X.{old}"}
        if it.retyped and new:
            # Reads stay renames (they get the type the core now stores); writes need the conversion.
            read = {**read, "not": {"inside": {"kind": "assignment_expression", "field": "left"}}}
        rule("member-read", "typescript", read, f"$X.{new}", base_msg)
        rule("optional-member-read", "typescript", {"pattern": f"$X?.{old}"}, f"$X?.{new}", base_msg)
        if it.retyped and new:
            rule(
                "member-write",
                "typescript",
                {"pattern": f"$X.{old} = $V"},
                written(f"$X.{new} = $V"),
                conv_msg,
                imports=it.imports,
            )
        if new is None:
            # A read matches by member name only, whatever the receiver's type: for a removal
            # (nothing to fix) report it as info, so a common name does not fail every lint.
            for r in out[-2:]:
                r["severity"] = "info"
                r["note"] = (r["note"] + " " if r["note"] else "") + NAME_ONLY_NOTE
    elif it.shape in ("typed-key", "call-key"):
        types = _alt(it.scope)
        if it.shape == "typed-key":
            t = {"kind": "type_identifier", "regex": f"^({types})$"}
            obj: dict[str, object] = {
                "kind": "object",
                "any": [
                    {"inside": {"kind": "as_expression", "has": t}},
                    {"inside": {"kind": "satisfies_expression", "has": t}},
                    {"inside": {"kind": "type_assertion", "has": {"kind": "type_arguments", "has": t}}},
                    {
                        "inside": {
                            "kind": "variable_declarator",
                            "field": "value",
                            "has": {"field": "type", "kind": "type_annotation", "has": t},
                        }
                    },
                ],
            }
            where = f"an object typed as {' or '.join(sorted(it.scope))}"
        else:
            obj = {
                "kind": "object",
                "inside": {
                    "kind": "arguments",
                    "inside": {"kind": "call_expression", **_callee_test(it.scope, python=False)},
                },
            }
            where = f"an object passed to {' or '.join(sorted(it.scope))}" if it.scope else "an object passed to a call"
        utils = {"target-object": obj}
        key = {
            "kind": "property_identifier",
            "regex": f"^{re.escape(old)}$",
            "inside": {"kind": "pair", "field": "key", "inside": {"matches": "target-object"}},
        }
        short = {
            "kind": "shorthand_property_identifier",
            "regex": f"^{re.escape(old)}$",
            "inside": {"matches": "target-object"},
        }
        sfx = "typed" if it.shape == "typed-key" else "call"
        if it.shape == "call-key" and it.scope and prefix == _slug(old):
            sfx += "-" + _slug("-".join(sorted(it.scope)))[:40]
        if it.retyped and new:
            pair = {
                "pattern": {"context": f"({{{old}: $V}})", "selector": "pair"},
                "inside": {"matches": "target-object"},
            }
            rule(
                f"{sfx}-key",
                "typescript",
                pair,
                written(f"{new}: $V"),
                f"{conv_msg}: key in {where}",
                utils,
                imports=it.imports,
            )
            # needs_conversion here is `not it.convert`: a fix exactly when there is a conversion
            short_fix = f"{new}: " + it.convert.replace("$V", old) if it.convert else None
            rule(
                f"{sfx}-shorthand",
                "typescript",
                short,
                short_fix,
                f"{conv_msg}: key in {where}",
                utils,
                imports=it.imports,
            )
        else:
            rule(f"{sfx}-key", "typescript", key, new, f"{base_msg}: key in {where}", utils)
            rule(f"{sfx}-shorthand", "typescript", short, f"{new}: {old}", f"{base_msg}: key in {where}", utils)
    elif it.shape == "enum":
        enum = next(iter(it.scope))
        rule(f"{_slug(enum)}-enum-member", "typescript", {"pattern": f"{enum}.{old}"}, f"{enum}.{new}", base_msg)
    elif it.shape == "import":
        rule(
            "import",
            "typescript",
            {
                "kind": "import_specifier",
                "not": {"has": {"field": "alias", "kind": "identifier"}},
                "has": {"field": "name", "regex": f"^{re.escape(old)}$"},
            },
            f"{new} as {old}",
            f"{base_msg}: named import",
        )
        rule(
            "import-aliased",
            "typescript",
            {
                "kind": "identifier",
                "regex": f"^{re.escape(old)}$",
                "inside": {
                    "kind": "import_specifier",
                    "field": "name",
                    "has": {"field": "alias", "kind": "identifier"},
                },
            },
            new,
            f"{base_msg}: named import",
        )
    elif it.shape == "py-attribute":
        rule("py-attribute", "python", {"pattern": f"$X.{old}"}, f"$X.{new}", base_msg)
    elif it.shape == "py-kwarg":
        sfx = "py-keyword" + ("-" + _slug("-".join(sorted(it.scope)))[:40] if it.scope and prefix == _slug(old) else "")
        rule(
            sfx,
            "python",
            {
                "kind": "identifier",
                "regex": f"^{re.escape(old)}$",
                "inside": {
                    "kind": "keyword_argument",
                    "field": "name",
                    "inside": {
                        "kind": "argument_list",
                        "inside": {"kind": "call", **_callee_test(it.scope, python=True)},
                    },
                },
            },
            new,
            f"{base_msg}: keyword argument",
        )
    return out


def migration_from_diff(diff: dict, migration_id: str | None = None, core: str | None = None) -> Migration:
    """A Migration for the renames and removals of a compat diff."""
    if not isinstance(diff, dict) or not isinstance(diff.get("changes"), list):
        raise UserError("not a compat diff: expected an object with a 'changes' list", key="changes")
    old_v, new_v = _version(diff.get("old")), _version(diff.get("new"))
    new = diff.get("new")
    new_side = new if isinstance(new, dict) else {}
    package = diff.get("package") or new_side.get("package") or new_side.get("name") or ""
    intents, skipped = _intents(diff["changes"])
    rules: list[dict] = []
    seen: set[str] = set()
    for it in intents.values():
        for r in _rules_for(it):
            base, n = r["id"], 2
            while r["id"] in seen:
                r["id"] = f"{base}-{n}"
                n += 1
            seen.add(r["id"])
            rules.append(r)
    mid = migration_id or _slug(f"{package or 'core'}-{old_v or 'old'}-to-{new_v or 'new'}")
    doc = {
        "id": mid,
        "version": "1.0.0",
        "title": f"{package or 'core'} {old_v or 'OLD'} -> {new_v or 'NEW'} (generated from a compat diff)",
        "package": package or "",
        "core": core or (f">={new_v}" if new_v and re.match(r"^\d+(\.\d+)*", new_v) else ">=0"),
        "generated_from": {"old": old_v, "new": new_v, "changes": len(diff["changes"]), "skipped": skipped},
        "rules": rules,
    }
    # Round-trip through the parser: a generated migration is held to the same schema.
    return parse_migration(yaml.safe_dump(doc, sort_keys=False), "<generated>")


def emit_migration(diff: dict, path: str, migration_id: str | None = None, core: str | None = None) -> None:
    """Write a migration file for the renames and removals of a compat diff (JSON dict)."""
    mig = migration_from_diff(diff, migration_id, core)
    header = (
        "# Generated by canary from a compat diff: renames carry fixes, removals are lint-only.\n"
        "# Review the rules, then lint with: canary lint PATH --migration " + path + "\n"
    )
    from canary.kernel.atomic import write_text_atomic

    write_text_atomic(path, header + dump_migration(mig))


# `renames:` entries of a migration file: kind -> the intents it expands to, per language family.
RENAME_KINDS: dict[tuple[str, str], tuple[str, ...]] = {
    ("typescript", "member"): ("member-read",),
    ("typescript", "key"): ("call-key",),
    ("python", "attribute"): ("py-attribute",),
    ("python", "member"): ("py-attribute",),
    ("python", "keyword"): ("py-kwarg",),
}


def rules_from_rename(entry: dict, language: str) -> list[dict]:
    """ast-grep rule dicts for one `renames:` entry of a migration (see docs/codemods.md).

    `member` (ts): `$X.old` / `$X?.old`, plus keys of objects typed or cast as `types`;
    `key` (ts): keys of object literals passed to `callees` (any call if none), and to `types`;
    `attribute` (py): `$X.old`; `keyword` (py): `old=` in calls to `callees` (any call if none).
    """
    kind = entry["kind"]
    shapes = RENAME_KINDS.get((language, kind))
    if shapes is None:
        raise ValueError(f"kind {kind!r} is not available for {language}")
    severity = entry.get("severity", "error")
    if kind == "key" and entry.get("types") and not entry.get("callees"):
        shapes = ()  # only objects typed as `types` were asked for, not every call's arguments
    out: list[dict] = []
    retyped = None
    if entry.get("type_change"):
        retyped = (str(entry["type_change"].get("from", "?")), str(entry["type_change"].get("to", "?")))
    convert = (entry.get("type_change") or {}).get("convert")
    imports = list((entry.get("type_change") or {}).get("imports") or [])
    for shape in shapes:
        scope = set(entry.get("callees") or []) if shape in ("call-key", "py-kwarg") else set()
        it = _Intent(
            shape,
            language,
            entry["old"],
            entry.get("new"),
            scope=scope,
            symbols=[entry["symbol"]] if entry.get("symbol") else [],
            severity=severity,
            retyped=retyped,
            convert=convert,
            imports=imports,
        )
        out.extend(_rules_for(it, prefix=entry["id"], message=entry.get("message"), note=entry.get("note", "")))
    if language == "typescript" and entry.get("types"):
        it = _Intent(
            "typed-key",
            language,
            entry["old"],
            entry.get("new"),
            scope=set(entry["types"]),
            symbols=[entry["symbol"]] if entry.get("symbol") else [],
            severity=severity,
            retyped=retyped,
            convert=convert,
            imports=imports,
        )
        out.extend(_rules_for(it, prefix=entry["id"], message=entry.get("message"), note=entry.get("note", "")))
    for r in out:
        r["severity"] = severity  # an explicit entry is not downgraded like a generated removal
    return out
