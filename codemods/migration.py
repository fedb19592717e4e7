"""Migrations: loading, validating and listing them.

A migration is one YAML file: an id, a version, the core version range it
applies to, a list of ast-grep rules (id, language, rule, fix, message,
severity, note) and optional config-file key renames. Shipped migrations live
in codemods/migrations/ and are named by id; anything else is a file path.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING


from canary.kernel.errors import UserError

if TYPE_CHECKING:
    import yaml

from canary.codemods.languages import canonical

SHIPPED_DIR = Path(__file__).parent / "migrations"
SCHEMA_DIR = Path(__file__).parent / "schemas"
SEVERITIES = ("hint", "info", "warning", "error")  # lowest to highest; "off" disables a rule


@cache
def load_schema(name: str) -> dict:
    return json.loads((SCHEMA_DIR / name).read_text(encoding="utf-8"))


@dataclass
class Rule:
    """One ast-grep rule; `config()` is what ast-grep-py's find_all takes."""

    id: str
    language: str  # canonical: typescript | tsx | javascript | python
    message: str
    rule: dict
    severity: str = "error"
    note: str = ""
    fix: str | None = None
    constraints: dict = field(default_factory=dict)
    utils: dict = field(default_factory=dict)
    transform: dict = field(default_factory=dict)
    metadata: dict = field(default_factory=dict)
    line: int | None = None  # where its `rule:` starts in the migration file, for error messages
    from_rename: str | None = None  # id of the `renames:` entry it was expanded from
    imports: list[dict] = field(default_factory=list)  # [{name, from}] the fix's text needs in scope

    @property
    def symbol(self) -> str | None:
        return self.metadata.get("symbol")

    def config(self) -> dict:
        cfg: dict = {"rule": self.rule}
        for key in ("constraints", "utils", "transform"):
            if getattr(self, key):
                cfg[key] = getattr(self, key)
        return cfg

    def to_dict(self) -> dict:
        out: dict[str, object] = {
            "id": self.id,
            "language": self.language,
            "severity": self.severity,
            "message": self.message,
        }
        if self.note:
            out["note"] = self.note
        out["rule"] = self.rule
        for key in ("constraints", "utils", "transform"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        if self.fix is not None:
            out["fix"] = self.fix
        if self.metadata:
            out["metadata"] = self.metadata
        if self.imports:
            out["imports"] = self.imports
        return out


@dataclass
class ConfigRename:
    """Rename one key in TOML/YAML/JSON files, keeping comments, order and formatting."""

    id: str
    key: str
    rename_to: str
    files: list[str]
    format: str | None = None
    severity: str = "error"
    message: str = ""
    note: str = ""
    metadata: dict = field(default_factory=dict)

    @property
    def path(self) -> list[str]:
        return self.key.split(".")

    @property
    def symbol(self) -> str | None:
        return self.metadata.get("symbol")

    def to_dict(self) -> dict:
        out: dict[str, object] = {
            "id": self.id,
            "files": self.files,
            "key": self.key,
            "rename_to": self.rename_to,
            "severity": self.severity,
            "message": self.message,
        }
        if self.format:
            out["format"] = self.format
        if self.note:
            out["note"] = self.note
        if self.metadata:
            out["metadata"] = self.metadata
        return out


@dataclass
class Migration:
    id: str
    version: str
    core: str
    rules: list[Rule]
    config: list[ConfigRename] = field(default_factory=list)
    title: str = ""
    description: str = ""
    package: str = ""
    source: str = ""  # the file it was loaded from
    generated_from: dict | None = None
    renames: list[dict] = field(default_factory=list)  # `renames:` entries, expanded into `rules`

    def applies_to(self, core_version: str) -> bool:
        """Whether this migration concerns a connector running on `core_version`."""
        from packaging.specifiers import InvalidSpecifier, SpecifierSet
        from packaging.version import InvalidVersion, Version

        try:
            return SpecifierSet(self.core).contains(Version(core_version), prereleases=True)
        except (InvalidSpecifier, InvalidVersion):
            return False

    def summary(self) -> dict:
        return {
            "id": self.id,
            "version": self.version,
            "core": self.core,
            "title": self.title,
            "package": self.package,
            "rules": len(self.rules),
            "config_rules": len(self.config),
            "source": self.source,
        }

    def to_dict(self) -> dict:
        out: dict = {"id": self.id, "version": self.version}
        for key in ("title", "description", "package"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        out["core"] = self.core
        if self.generated_from:
            out["generated_from"] = self.generated_from
        if self.renames:
            out["renames"] = self.renames
        out["rules"] = [r.to_dict() for r in self.rules if r.from_rename is None]
        if self.config:
            out["config"] = [c.to_dict() for c in self.config]
        return out


# libyaml when the build has it: the pure-Python composer takes seconds on a 200-rule file.
# (yaml is imported in the functions that parse: a lint run with a cached migration never does.)
def _compose(text: str, pure: bool = False) -> tuple[yaml.Node | None, object]:
    """The node tree (for line numbers) and the data of a YAML text, from one parse."""
    import yaml

    loader = yaml.SafeLoader(text) if pure else getattr(yaml, "CSafeLoader", yaml.SafeLoader)(text)
    try:
        node = loader.get_single_node()
        return node, (loader.construct_document(node) if node is not None else None)
    finally:
        loader.dispose()


def _yaml_line(root: yaml.Node | None, path: list) -> tuple[int | None, int | None]:
    """1-based line/column of the node at `path` (keys and indices) in a composed YAML document."""
    import yaml

    node = best = root
    for part in path:
        nxt = None
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key.value == str(part):
                    nxt = value
                    best = value  # point at the offending value, not its key
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            nxt = node.value[part]
            best = nxt
        if nxt is None:
            break
        node = nxt
    if best is None:
        return None, None
    return best.start_mark.line + 1, best.start_mark.column + 1


def validate(data: dict, root: yaml.Node | None, source: str) -> None:
    """The first schema error as a UserError at its file:line:column (jsonschema imported only here:
    a cached migration never needs it)."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(load_schema("migration.schema.json"))
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        err = errors[0]
        path = list(err.absolute_path)
        line, col = _yaml_line(root, path)
        raise UserError(err.message, file=source, line=line, column=col, key=".".join(str(p) for p in path) or None)


def parse_migration(text: str, source: str) -> Migration:
    """Validate a migration document against the schema and build the dataclasses."""
    import yaml

    try:
        try:
            root, data = _compose(text)
        except yaml.YAMLError:
            # Say it in the pure-Python parser's words (libyaml's differ), as before.
            root, data = _compose(text, pure=True)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise UserError(
            f"not valid YAML: {getattr(exc, 'problem', exc)}",
            file=source,
            line=mark.line + 1 if mark else None,
            column=mark.column + 1 if mark else None,
        ) from None
    if not isinstance(data, dict):
        raise UserError("a migration must be a YAML mapping", file=source, line=1)
    validate(data, root, source)
    seen: set[str] = set()
    rules = []
    for idx, raw in enumerate(data.get("rules") or []):
        if raw["id"] in seen:
            line, col = _yaml_line(root, ["rules", idx, "id"])
            raise UserError(
                f"duplicate rule id {raw['id']!r}", file=source, line=line, column=col, key=f"rules.{idx}.id"
            )
        seen.add(raw["id"])
        fix = raw.get("fix")
        if isinstance(fix, dict):
            fix = fix["template"]
        rules.append(
            Rule(
                id=raw["id"],
                language=canonical(raw["language"]) or raw["language"],
                message=raw["message"],
                rule=raw["rule"],
                severity=raw.get("severity", "error"),
                note=raw.get("note", ""),
                fix=fix,
                constraints=raw.get("constraints") or {},
                utils=raw.get("utils") or {},
                transform=raw.get("transform") or {},
                metadata=raw.get("metadata") or {},
                line=_yaml_line(root, ["rules", idx, "rule"])[0],
                imports=list(raw.get("imports") or []),
            )
        )
    for idx, entry in enumerate(data.get("renames") or []):
        line, col = _yaml_line(root, ["renames", idx])
        lang = canonical(entry["language"])
        if lang is None:  # the schema lists the languages; this only keeps the two lists honest
            raise UserError(
                f"unknown language {entry['language']!r}",
                file=source,
                line=line,
                column=col,
                key=f"renames.{idx}.language",
            )
        lang = "typescript" if lang in ("javascript", "tsx") else lang
        try:
            from canary.codemods.generate import rules_from_rename

            expanded = rules_from_rename(entry, lang)
        except ValueError as exc:
            raise UserError(str(exc), file=source, line=line, column=col, key=f"renames.{idx}.kind") from None
        for raw in expanded:
            if raw["id"] in seen:
                raise UserError(
                    f"duplicate rule id {raw['id']!r}", file=source, line=line, column=col, key=f"renames.{idx}.id"
                )
            seen.add(raw["id"])
            rules.append(
                Rule(
                    id=raw["id"],
                    language=lang,
                    message=raw["message"],
                    rule=raw["rule"],
                    severity=raw["severity"],
                    note=raw.get("note", ""),
                    fix=raw.get("fix"),
                    utils=raw.get("utils") or {},
                    metadata=raw.get("metadata") or {},
                    line=line,
                    from_rename=entry["id"],
                    imports=list(raw.get("imports") or []),
                )
            )
    config = []
    for idx, raw in enumerate(data.get("config") or []):
        if raw["id"] in seen:
            line, col = _yaml_line(root, ["config", idx, "id"])
            raise UserError(
                f"duplicate rule id {raw['id']!r}", file=source, line=line, column=col, key=f"config.{idx}.id"
            )
        seen.add(raw["id"])
        config.append(
            ConfigRename(
                id=raw["id"],
                key=raw["key"],
                rename_to=raw["rename_to"],
                files=list(raw["files"]),
                format=raw.get("format"),
                severity=raw.get("severity", "error"),
                message=raw.get("message", ""),
                note=raw.get("note", ""),
                metadata=raw.get("metadata") or {},
            )
        )
    from packaging.specifiers import InvalidSpecifier, SpecifierSet  # only when parsing, not from the cache

    try:
        SpecifierSet(data["core"])
    except InvalidSpecifier:
        line, col = _yaml_line(root, ["core"])
        raise UserError(
            f"core range {data['core']!r} is not a version specifier (e.g. '>=1.6.5,<2')",
            file=source,
            line=line,
            column=col,
            key="core",
        ) from None
    return Migration(
        id=data["id"],
        version=str(data["version"]),
        core=data["core"],
        rules=rules,
        config=config,
        title=data.get("title", ""),
        description=data.get("description", ""),
        package=data.get("package", ""),
        source=source,
        generated_from=data.get("generated_from"),
        renames=list(data.get("renames") or []),
    )


def shipped() -> list[Migration]:
    """The migrations that ship with canary, sorted by id."""
    out = [parse_migration(p.read_text(encoding="utf-8"), str(p)) for p in sorted(SHIPPED_DIR.glob("*.yaml"))]
    return sorted(out, key=lambda m: m.id)


def load_migration(ref: str) -> Migration:
    """A shipped migration by id, or a migration file by path."""
    if os.path.sep not in ref and not ref.endswith((".yaml", ".yml")):
        for mig in shipped():
            if mig.id == ref:
                return mig
        known = ", ".join(m.id for m in shipped()) or "none"
        raise UserError(f"no shipped migration {ref!r}", hint=f"shipped: {known}; or give a file path")
    path = Path(ref)
    if not path.is_file():
        raise UserError("migration file not found", file=ref)
    return parse_migration(path.read_text(encoding="utf-8"), ref)


def dump_migration(migration: Migration) -> str:
    """YAML text of a migration, in the file format parse_migration reads."""
    import yaml

    class PlainDumper(yaml.SafeDumper):
        # Shared lists would be written as &anchors / *aliases: legal, but unreadable in a review.
        def ignore_aliases(self, data) -> bool:
            return True

    return yaml.dump(migration.to_dict(), Dumper=PlainDumper, sort_keys=False, allow_unicode=True, width=100)
