"""SQL contract extraction with sqlglot: tables, columns, types, NOT NULL, defaults, primary keys.

All `*.sql` files under the side are read in path order (migration folders are named to sort)
and `CREATE TABLE`, `ALTER TABLE` (add/drop/rename column, type, [SET|DROP] NOT NULL, defaults,
rename table) and `DROP TABLE` are applied, so a side may be one schema file or a folder of
migrations. Renames the SQL itself performs are recorded as declared renames.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from canary.kernel.errors import UserError

from canary.compat.model import Contract, Decl


def _name(node) -> str:
    ident = node.this if hasattr(node, "this") and not isinstance(node.this, str) else node
    name = ident.name if hasattr(ident, "name") else str(ident)
    quoted = getattr(ident, "quoted", False) if ident is not None else False
    return name if quoted else name.lower()


def _line(node) -> int:
    from sqlglot import exp

    ident = node if isinstance(node, exp.Identifier) else node.find(exp.Identifier)
    return (ident.meta or {}).get("line", 1) if ident is not None else 1


def _table_name(table) -> str:
    return _name(table.this) if table.this is not None else ""


@dataclass
class _Column:
    """A column as the statements so far declare it (becomes a `column` Decl)."""

    name: str
    type: str | None
    file: str
    line: int
    not_null: bool = False
    default: str | None = None
    pk: bool = False
    keys: list[str] = field(default_factory=list)  # FOREIGN KEY / UNIQUE declared on the column


@dataclass
class _Table:
    """A table as the statements so far declare it (becomes a `table` Decl)."""

    file: str
    line: int
    columns: dict[str, _Column] = field(default_factory=dict)
    pk: list[str] = field(default_factory=list)
    keys: set[str] = field(default_factory=set)  # FOREIGN KEY / UNIQUE constraints as text


class _Schema:
    def __init__(self, dialect: str) -> None:
        self.dialect = dialect
        self.tables: dict[str, _Table] = {}
        self.renames: dict[str, str] = {}  # "t.old" -> "new", "old_t" -> "new_t"
        self.origin: dict[str, str] = {}  # current path -> path before renames in this side

    def column(self, coldef, file: str) -> _Column:
        from sqlglot import exp

        kind = coldef.args.get("kind")
        col = _Column(
            name=_name(coldef.this),
            type=kind.sql(dialect=self.dialect) if kind is not None else None,
            file=file,
            line=_line(coldef),
        )
        for cons in coldef.args.get("constraints") or []:
            k = cons.args.get("kind")
            if isinstance(k, exp.NotNullColumnConstraint):
                col.not_null = not k.args.get("allow_null")
            elif isinstance(k, exp.PrimaryKeyColumnConstraint):
                col.pk = True
                col.not_null = True
            elif isinstance(k, exp.Reference):
                col.keys.append(self.reference([col.name], k))
            elif isinstance(k, exp.UniqueColumnConstraint):
                col.keys.append(f"UNIQUE ({col.name})")
            elif isinstance(k, exp.DefaultColumnConstraint):
                col.default = k.this.sql(dialect=self.dialect) if k.this is not None else None
        return col

    def reference(self, cols: list[str], ref) -> str:
        from sqlglot import exp

        target = ref.this
        if isinstance(target, exp.Schema):
            table = _table_name(target.this)
            refcols = [_name(e) for e in target.expressions]
        else:
            table, refcols = _table_name(target), []
        return f"FOREIGN KEY ({', '.join(cols)}) REFERENCES {table} ({', '.join(refcols)})"

    def table_key(self, node) -> str | None:
        """FOREIGN KEY / UNIQUE table constraints as comparable text."""
        from sqlglot import exp

        if isinstance(node, exp.Constraint):
            keys = [self.table_key(e) for e in node.expressions]
            keys = [k for k in keys if k]
            return keys[0] if keys else None
        if isinstance(node, exp.ForeignKey) and node.args.get("reference") is not None:
            return self.reference([_name(e) for e in node.expressions], node.args["reference"])
        if isinstance(node, exp.UniqueColumnConstraint):
            schema = node.this
            cols = [_name(e) for e in schema.expressions] if isinstance(schema, exp.Schema) else []
            return f"UNIQUE ({', '.join(cols)})"
        return None

    def apply(self, stmt, file: str) -> None:
        from sqlglot import exp

        if isinstance(stmt, exp.Create) and str(stmt.args.get("kind", "")).upper() == "TABLE":
            schema = stmt.this
            if not isinstance(schema, exp.Schema):
                return  # CREATE TABLE .. AS SELECT: no declared columns
            name = _table_name(schema.this)
            table = _Table(file=file, line=_line(schema.this))
            for e in schema.expressions:
                key = self.table_key(e)
                if key:
                    table.keys.add(key)
                if isinstance(e, exp.ColumnDef):
                    col = self.column(e, file)
                    table.columns[col.name] = col
                    table.keys.update(col.keys)
                    if col.pk:
                        table.pk.append(col.name)
                elif isinstance(e, exp.PrimaryKey):
                    table.pk = [_name(x) for x in e.expressions]
                    for c in table.pk:
                        if c in table.columns:
                            table.columns[c].not_null = True
            if stmt.args.get("exists") and name in self.tables:
                return  # CREATE TABLE IF NOT EXISTS on an existing table changes nothing
            self.tables[name] = table
        elif isinstance(stmt, exp.Drop) and str(stmt.args.get("kind", "")).upper() == "TABLE":
            for t in stmt.expressions if stmt.expressions else stmt.args.get("tables") or []:
                self.tables.pop(_table_name(t), None)
        elif isinstance(stmt, exp.Alter) and str(stmt.args.get("kind", "")).upper() == "TABLE":
            name = _table_name(stmt.this)
            existing = self.tables.get(name)
            if existing is None:
                return
            for action in stmt.args.get("actions") or []:
                self.alter(name, existing, action, file)

    def alter(self, name: str, table: _Table, action, file: str) -> None:
        from sqlglot import exp

        cols = table.columns
        if isinstance(action, exp.ColumnDef):
            col = self.column(action, file)
            cols[col.name] = col
            table.keys.update(col.keys)
        elif isinstance(action, exp.AddConstraint):
            for e in action.expressions:
                key = self.table_key(e)
                if key:
                    table.keys.add(key)
        elif isinstance(action, exp.Drop):
            for c in action.args.get("tables") or action.expressions or []:
                cols.pop(_name(c.this if isinstance(c, exp.Column) else c), None)
        elif isinstance(action, exp.RenameColumn):
            old, new = _name(action.this.this), _name(action.args["to"].this)
            if old in cols:
                renamed = cols.pop(old)
                renamed.name = new
                cols[new] = renamed
                first = self.origin.pop(f"{name}.{old}", f"{name}.{old}")
                self.renames[first] = new
                self.origin[f"{name}.{new}"] = first
        elif isinstance(action, exp.AlterColumn):
            altered = cols.get(_name(action.this))
            if altered is None:
                return
            if action.args.get("dtype") is not None:
                altered.type = action.args["dtype"].sql(dialect=self.dialect)
            if "allow_null" in action.args and action.args.get("allow_null") is not None:
                altered.not_null = not action.args["allow_null"]
            elif action.args.get("drop"):
                altered.default = None
            if action.args.get("default") is not None:
                altered.default = action.args["default"].sql(dialect=self.dialect)
        elif isinstance(action, exp.AlterRename):
            new = _table_name(action.this)
            self.tables[new] = self.tables.pop(name)
            first = self.origin.pop(name, name)
            self.renames[first] = new
            self.origin[new] = first


def extract(root: Path, dialect: str = "postgres") -> Contract:
    import sqlglot
    from sqlglot.errors import ParseError, TokenError

    files = [root] if root.is_file() else sorted(p for p in root.rglob("*.sql") if p.is_file())
    if not files:
        raise UserError("no .sql files found", file=str(root))
    schema = _Schema(dialect)
    base = root if root.is_dir() else root.parent
    for f in files:
        rel = f.relative_to(base).as_posix()
        text = f.read_text(encoding="utf-8", errors="replace")
        try:
            statements = sqlglot.parse(text, read=dialect)
        except (ParseError, TokenError) as exc:
            err = (getattr(exc, "errors", None) or [{}])[0]
            raise UserError(
                f"cannot parse SQL: {err.get('description') or str(exc).splitlines()[0]}",
                file=str(f),
                line=err.get("line"),
                column=err.get("col"),
            ) from exc
        for stmt in statements:
            if stmt is not None:
                schema.apply(stmt, rel)
    contract = Contract(language="sql", root=str(root))
    for tname, table in schema.tables.items():
        contract.add(
            Decl(
                path=tname,
                kind="table",
                name=tname,
                file=table.file,
                line=table.line,
                extra={"primary_key": table.pk, "keys": sorted(table.keys)},
            )
        )
        for cname, col in table.columns.items():
            contract.add(
                Decl(
                    path=f"{tname}.{cname}",
                    kind="column",
                    name=cname,
                    container=tname,
                    type=col.type,
                    optional=not col.not_null,
                    default=col.default,
                    file=col.file,
                    line=col.line,
                    extra={"primary_key": True} if col.pk else {},
                )
            )
    # Only renames whose old name is gone and new name present are evidence for this pair.
    contract.renames = dict(schema.renames)
    return contract
