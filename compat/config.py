"""The compat config file (YAML): per-rule severity overrides, declared renames, ignored symbols.

    severity:            # rule id or rule name -> ERR | WARN | INFO | off
      TS004: ERR
      deprecated: off
    renames:             # old symbol path (glob) -> new leaf name or new full path
      World.serverId: messageServerId
    ignore:              # symbol globs never reported
      - "*.internal*"
    sql_dialect: postgres

Errors name file, line and key (a UserError, exit 2).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from canary.kernel.errors import UserError

from canary.compat.rules import RULES, SEVERITIES


@dataclass
class Config:
    severity: dict[str, str] = field(default_factory=dict)
    renames: dict[str, str] = field(default_factory=dict)
    ignore: list[str] = field(default_factory=list)
    sql_dialect: str = "postgres"
    file: str | None = None

    def severity_for(self, rule_id: str, rule_name: str) -> str | None:
        return self.severity.get(rule_id) or self.severity.get(rule_name)

    def rename_for(self, path: str) -> str | None:
        if path in self.renames:
            return self.renames[path]
        for pattern, target in self.renames.items():
            if fnmatchcase(path, pattern):
                return target
        return None

    def ignored(self, symbol: str) -> bool:
        return any(fnmatchcase(symbol, pat) for pat in self.ignore)


def _line_of(node) -> int | None:
    return node.start_mark.line + 1 if node is not None else None


def _mapping(node, file: str, key: str):
    import yaml

    if not isinstance(node, yaml.MappingNode):
        raise UserError("expected a mapping", file=file, line=_line_of(node), key=key)
    return [(k.value, v) for k, v in node.value]


def load_config(path: str | None) -> Config:
    if not path:
        return Config()
    import yaml

    from canary.kernel.yamlpos import compose_file

    root = compose_file(path, "config")
    cfg = Config(file=path)
    if root is None:
        return cfg
    known_names = {r.name for r in RULES.values()}
    for key, value in _mapping(root, path, "<root>"):
        if key == "severity":
            for rule, sev in _mapping(value, path, "severity"):
                if rule not in RULES and rule not in known_names:
                    raise UserError(
                        f"unknown rule '{rule}'",
                        file=path,
                        line=_line_of(sev),
                        key=f"severity.{rule}",
                        hint="see docs/compat.md for rule ids",
                    )
                level = str(sev.value).upper()
                if level != "OFF" and level not in SEVERITIES:
                    raise UserError(
                        f"severity must be ERR, WARN, INFO or off, not '{sev.value}'",
                        file=path,
                        line=_line_of(sev),
                        key=f"severity.{rule}",
                    )
                cfg.severity[rule] = level
        elif key == "renames":
            for old, new in _mapping(value, path, "renames"):
                if not isinstance(new.value, str) or not new.value:
                    raise UserError("rename target must be a name", file=path, line=_line_of(new), key=f"renames.{old}")
                cfg.renames[old] = new.value
        elif key == "ignore":
            if not isinstance(value, yaml.SequenceNode):
                raise UserError("expected a list of symbol globs", file=path, line=_line_of(value), key="ignore")
            cfg.ignore = [str(v.value) for v in value.value]
        elif key == "sql_dialect":
            cfg.sql_dialect = str(value.value)
        else:
            raise UserError(
                f"unknown key '{key}'",
                file=path,
                line=_line_of(value),
                key=key,
                hint="expected severity, renames, ignore, sql_dialect",
            )
    return cfg
