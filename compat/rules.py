"""The rule catalogue: one small class per kind of change, with its explanation.

Modelled on griffe's diff module (one Breakage class per kind): each rule knows
its stable id, kebab name, default severity, whom it breaks, the semver step it
requires, and the words a reviewer needs (what it detects, an example, how to
migrate). Ids never change meaning; retired rules keep their id reserved.
docs/compat.md is checked against this catalogue by a test.
"""

from __future__ import annotations

from enum import StrEnum


class Severity(StrEnum):
    """How much a compat change matters to a caller of the old API (docs/compat.md)."""

    ERR = "ERR"  # breaking: code written against the old version fails against the new
    WARN = "WARN"  # may break some callers
    INFO = "INFO"  # worth knowing, breaks nothing


SEVERITIES = tuple(Severity)  # worst first
SEVERITY_RANK: dict[str, int] = {Severity.INFO: 0, Severity.WARN: 1, Severity.ERR: 2}
AFFECTS = ("readers", "writers", "callers", "implementers")


class Rule:
    id: str = ""
    name: str = ""
    language: str = ""
    severity: str = Severity.ERR
    affects: tuple[str, ...] = ()
    semver: str = "major"  # the step a change of this kind requires
    detects: str = ""
    example: str = ""
    migration: str = ""

    @classmethod
    def as_dict(cls) -> dict:
        return {
            "id": cls.id,
            "name": cls.name,
            "language": cls.language,
            "severity": cls.severity,
            "affects": list(cls.affects),
            "semver": cls.semver,
            "detects": cls.detects,
            "example": cls.example,
            "migration": cls.migration,
        }


RULES: dict[str, type[Rule]] = {}


def rule(cls: type[Rule]) -> type[Rule]:
    assert cls.id not in RULES, cls.id
    RULES[cls.id] = cls
    return cls


def by_name(language: str, name: str) -> type[Rule]:
    for r in RULES.values():
        if r.language == language and r.name == name:
            return r
    raise KeyError(f"{language}:{name}")


# ---------------------------------------------------------------- TypeScript


@rule
class TsExportRemoved(Rule):
    id, name, language = "TS001", "export-removed", "ts"
    affects = ("readers", "writers", "callers", "implementers")
    detects = (
        "An exported interface, type, class, function, enum or constant is no longer exported from the package entry."
    )
    example = "`export interface Room` in OLD, absent in NEW: `import { Room } from '@elizaos/core'` fails."
    migration = "Import the replacement named by `renamed_to`, or copy the declaration into the connector."


@rule
class TsMemberRemoved(Rule):
    id, name, language = "TS002", "member-removed", "ts"
    affects = ("readers", "writers", "implementers")
    detects = "A property or method of an exported interface, object type or class is gone."
    example = "`World.serverId` removed: `world.serverId` no longer compiles (or is `undefined` on `any`)."
    migration = "Read and write the member named by `renamed_to`; keep a fallback to the old name while both cores are supported."


@rule
class TsMemberBecameRequired(Rule):
    id, name, language = "TS003", "member-became-required", "ts"
    affects = ("writers", "implementers")
    detects = "An optional property became required (`x?: T` to `x: T`)."
    example = "`Room.worldId?: UUID` became `worldId: UUID`: object literals without it fail to compile."
    migration = "Set the member everywhere the connector builds the object."


@rule
class TsMemberBecameOptional(Rule):
    id, name, language = "TS004", "member-became-optional", "ts"
    severity = Severity.WARN
    affects = ("readers",)
    semver = "minor"
    detects = "A required property became optional: readers can now see `undefined`."
    example = "`World.serverId: string` became `serverId?: UUID`."
    migration = "Guard reads (`x ?? fallback`) or read the replacement member."


@rule
class TsMemberTypeChanged(Rule):
    id, name, language = "TS005", "member-type-changed", "ts"
    affects = ("readers", "writers")
    detects = "The declared type of a property changed (text of the type annotation differs)."
    example = "`World.serverId: string` became `serverId?: UUID`: a plain `string` no longer type-checks."
    migration = "Convert values at the boundary (e.g. `asUUID(x)`) or update the connector's own types."


@rule
class TsParameterRemoved(Rule):
    id, name, language = "TS006", "parameter-removed", "ts"
    affects = ("callers", "implementers")
    detects = "A positional parameter of a function or method is gone."
    example = "`startRun(roomId)` became `startRun()`: calls passing `roomId` fail to compile."
    migration = "Drop the argument or pass it through its replacement."


@rule
class TsParameterPropertyRemoved(Rule):
    id, name, language = "TS007", "parameter-property-removed", "ts"
    affects = ("callers",)
    detects = "A property of an object (destructured) parameter is gone from its type."
    example = "`ensureConnection({ serverId })` became `ensureConnection({ messageServerId })`."
    migration = "Pass the property under its new name (`renamed_to`)."


@rule
class TsRequiredParameterAdded(Rule):
    id, name, language = "TS008", "required-parameter-added", "ts"
    affects = ("callers", "implementers")
    detects = "A new required parameter (or a required property of an object parameter) was added."
    example = "`getRoom(id)` became `getRoom(id, worldId)`."
    migration = "Pass the new argument at every call site."


@rule
class TsParameterOrderChanged(Rule):
    id, name, language = "TS009", "parameter-order-changed", "ts"
    affects = ("callers", "implementers")
    detects = "A named parameter moved to another position."
    example = "`f(a, b)` became `f(b, a)`: positional calls silently swap values when types agree."
    migration = "Reorder the arguments at every call site."


@rule
class TsEnumMemberRemoved(Rule):
    id, name, language = "TS010", "enum-member-removed", "ts"
    affects = ("readers", "writers")
    detects = "A member of an exported enum is gone."
    example = "`ChannelType.VOICE` removed."
    migration = "Use the replacement member (`renamed_to`) or the literal value."


@rule
class TsParameterTypeChanged(Rule):
    id, name, language = "TS011", "parameter-type-changed", "ts"
    affects = ("callers", "implementers")
    detects = "The type of a parameter or of an object-parameter property changed."
    example = "`ensureConnection({ serverId?: string })` to `{ serverId?: UUID }`."
    migration = "Convert arguments to the new type."


@rule
class TsParameterBecameRequired(Rule):
    id, name, language = "TS012", "parameter-became-required", "ts"
    affects = ("callers",)
    detects = "An optional parameter (or object-parameter property) became required."
    example = "`f(a, b?)` became `f(a, b)`."
    migration = "Always pass the argument."


@rule
class TsReturnTypeChanged(Rule):
    id, name, language = "TS013", "return-type-changed", "ts"
    severity = Severity.WARN
    affects = ("callers", "implementers")
    detects = "The declared return type of a function or method changed."
    example = "`startRun(): UUID` became `startRun(): Promise<UUID>`."
    migration = "Adapt the code that uses the result (and implementations of the method)."


@rule
class TsMemberBecameReadonly(Rule):
    id, name, language = "TS014", "member-became-readonly", "ts"
    affects = ("writers",)
    detects = "A property became `readonly`."
    example = "`agentId: UUID` became `readonly agentId: UUID`."
    migration = "Stop assigning the property; build a new object instead."


@rule
class TsKindChanged(Rule):
    id, name, language = "TS015", "kind-changed", "ts"
    affects = ("readers", "writers", "callers", "implementers")
    detects = "A declaration changed kind (class to interface, const to function, property to method...)."
    example = "`export class Service` became `export interface Service`: `new Service()` fails."
    migration = "Use the new kind of declaration as documented by the core."


@rule
class TsDestructuredPropertyDropped(Rule):
    id, name, language = "TS016", "destructured-property-dropped", "ts"
    severity = Severity.ERR
    affects = ("callers",)
    detects = (
        "A function no longer destructures a property of its object parameter although the "
        "parameter's type still allows it: callers still compile but the value is silently ignored."
    )
    example = "`createRoom({ serverId }: Room)` became `createRoom({ messageServerId }: Room)`."
    migration = "Pass the property the function now reads (`renamed_to`)."


@rule
class TsEnumValueChanged(Rule):
    id, name, language = "TS017", "enum-value-changed", "ts"
    severity = Severity.WARN
    affects = ("readers", "writers")
    detects = "The value of an enum member changed: persisted or transmitted values no longer match."
    example = "`Role.OWNER = 'OWNER'` became `'owner'`."
    migration = "Migrate stored values; compare against the enum, never the literal."


@rule
class TsRenamedWithAlias(Rule):
    id, name, language = "TS018", "renamed-with-deprecated-alias", "ts"
    severity = Severity.WARN
    affects = ("readers", "writers")
    semver = "minor"
    detects = (
        "A declaration was renamed; the old name is kept as a `@deprecated` alias naming the new one. "
        "Code compiles, but data written under one name is not seen under the other."
    )
    example = "`World.serverId` kept as `@deprecated Use messageServerId instead`, `World.messageServerId` added."
    migration = "Read the new name with a fallback to the old one; write the new name."


@rule
class TsDeprecated(Rule):
    id, name, language = "TS019", "deprecated", "ts"
    severity = Severity.INFO
    affects = ("readers", "writers", "callers")
    semver = "minor"
    detects = "A declaration newly carries `@deprecated`."
    example = "`/** @deprecated Use messageServerId instead. */ serverId?: UUID`."
    migration = "Move to the replacement before the next major version."


@rule
class TsExportAdded(Rule):
    id, name, language = "TS020", "export-added", "ts"
    severity = Severity.INFO
    affects = ()
    semver = "minor"
    detects = "A new export."
    example = "`export interface IElizaOS` added."
    migration = "Nothing to do."


@rule
class TsRequiredMemberAdded(Rule):
    id, name, language = "TS021", "required-member-added", "ts"
    severity = Severity.WARN
    affects = ("writers", "implementers")
    detects = "A required property or a method was added to an interface or object type: object literals and implementations miss it."
    example = "`IAgentRuntime.updateWorld(world)` added: classes implementing `IAgentRuntime` fail to compile."
    migration = "Implement or set the new member."


@rule
class TsMemberAdded(Rule):
    id, name, language = "TS022", "member-added", "ts"
    severity = Severity.INFO
    affects = ()
    semver = "minor"
    detects = "An optional property, an optional parameter or a class member was added."
    example = "`World.messageServerId?: UUID` added."
    migration = "Nothing to do; consider using it."


@rule
class TsBaseRemoved(Rule):
    id, name, language = "TS023", "base-removed", "ts"
    affects = ("readers", "callers")
    detects = "An interface or class no longer extends a base type: the inherited members are gone."
    example = "`interface Room extends Base` became `interface Room`."
    migration = "Use the members the type still declares."


@rule
class TsParameterRenamed(Rule):
    id, name, language = "TS024", "parameter-renamed", "ts"
    severity = Severity.INFO
    semver = "patch"
    affects = ()
    detects = "A positional parameter got another name at the same position: calls pass it by position, so none breaks (a type change on it is reported on its own)."
    example = "`sendMessage(agentId: UUID, ...)` became `sendMessage(target: UUID | IAgentRuntime, ...)`."
    migration = "Nothing to do."


# ---------------------------------------------------------------- Python (griffe's kinds)


@rule
class PyObjectRemoved(Rule):
    id, name, language = "PY001", "object-removed", "py"
    affects = ("readers", "callers", "implementers")
    detects = "A public module, class, function or attribute is gone."
    example = "`pkg.client.Client.connect` removed."
    migration = "Use `renamed_to` or the documented replacement."


@rule
class PyObjectChangedKind(Rule):
    id, name, language = "PY002", "object-changed-kind", "py"
    affects = ("readers", "callers")
    detects = "A public object changed kind (function to class, attribute to method...)."
    example = "`pkg.TIMEOUT` became a function."
    migration = "Use the object as its new kind."


@rule
class PyParameterRemoved(Rule):
    id, name, language = "PY003", "parameter-removed", "py"
    affects = ("callers",)
    detects = "A parameter is gone."
    example = "`connect(host, port)` became `connect(host)`."
    migration = "Drop the argument."


@rule
class PyParameterMoved(Rule):
    id, name, language = "PY004", "parameter-moved", "py"
    affects = ("callers",)
    detects = "A positional parameter moved."
    example = "`f(a, b)` became `f(b, a)`."
    migration = "Pass the arguments by keyword."


@rule
class PyParameterChangedKind(Rule):
    id, name, language = "PY005", "parameter-changed-kind", "py"
    affects = ("callers",)
    detects = "A parameter changed kind (positional-or-keyword to keyword-only, ...)."
    example = "`f(a, b)` became `f(a, *, b)`: `f(1, 2)` fails."
    migration = "Pass the argument the way its new kind requires."


@rule
class PyParameterChangedDefault(Rule):
    id, name, language = "PY006", "parameter-changed-default", "py"
    severity = Severity.WARN
    affects = ("callers",)
    detects = "The default value of a parameter changed."
    example = "`timeout=10` became `timeout=30`."
    migration = "Pass the old value explicitly to keep the old behaviour."


@rule
class PyParameterChangedRequired(Rule):
    id, name, language = "PY007", "parameter-changed-required", "py"
    affects = ("callers",)
    detects = "An optional parameter lost its default."
    example = "`f(a, b=1)` became `f(a, b)`."
    migration = "Always pass the argument."


@rule
class PyParameterAddedRequired(Rule):
    id, name, language = "PY008", "parameter-added-required", "py"
    affects = ("callers",)
    detects = "A new parameter without default."
    example = "`f(a)` became `f(a, b)`."
    migration = "Pass the new argument."


@rule
class PyReturnChangedType(Rule):
    id, name, language = "PY009", "return-changed-type", "py"
    severity = Severity.WARN
    affects = ("callers",)
    detects = "The return annotation changed."
    example = "`-> str` became `-> bytes`."
    migration = "Adapt the code that uses the result."


@rule
class PyAttributeChangedType(Rule):
    id, name, language = "PY010", "attribute-changed-type", "py"
    affects = ("readers", "writers")
    detects = "The annotation of a public attribute changed."
    example = "`server_id: str` became `server_id: UUID`."
    migration = "Convert values at the boundary."


@rule
class PyAttributeChangedValue(Rule):
    id, name, language = "PY011", "attribute-changed-value", "py"
    severity = Severity.WARN
    affects = ("readers",)
    detects = "The value of a public module or class attribute changed."
    example = "`DEFAULT_PORT = 80` became `8080`."
    migration = "Check code that relies on the old value."


@rule
class PyClassRemovedBase(Rule):
    id, name, language = "PY012", "class-removed-base", "py"
    affects = ("readers", "callers")
    detects = "A class no longer inherits from a base."
    example = "`class Client(Base)` became `class Client`: `isinstance(c, Base)` is False."
    migration = "Stop relying on the base class."


@rule
class PyRenamedWithAlias(Rule):
    id, name, language = "PY013", "renamed-with-deprecated-alias", "py"
    severity = Severity.WARN
    affects = ("readers", "callers")
    semver = "minor"
    detects = "An object was renamed; the old name is kept and marked deprecated, naming the new one."
    example = "`server_id` documented `.. deprecated:: use message_server_id`."
    migration = "Use the new name."


@rule
class PyDeprecated(Rule):
    id, name, language = "PY014", "deprecated", "py"
    severity = Severity.INFO
    affects = ("readers", "callers")
    semver = "minor"
    detects = "An object newly marked deprecated (decorator or docstring)."
    example = "`@deprecated('use g')` on `f`."
    migration = "Move to the replacement."


@rule
class PyObjectAdded(Rule):
    id, name, language = "PY015", "object-added", "py"
    severity = Severity.INFO
    semver = "minor"
    detects = "A new public object or optional parameter."
    example = "`pkg.Client.close` added."
    migration = "Nothing to do."


# ---------------------------------------------------------------- SQL


@rule
class SqlTableRemoved(Rule):
    id, name, language = "SQL001", "table-removed", "sql"
    affects = ("readers", "writers")
    detects = "A table is gone."
    example = "`DROP TABLE rooms` or no `CREATE TABLE rooms` in NEW."
    migration = "Read from the replacement table (`renamed_to`)."


@rule
class SqlColumnRemoved(Rule):
    id, name, language = "SQL002", "column-removed", "sql"
    affects = ("readers", "writers")
    detects = "A column is gone."
    example = "`rooms.server_id` dropped."
    migration = "Stop selecting and inserting it."


@rule
class SqlColumnRenamed(Rule):
    id, name, language = "SQL003", "column-renamed", "sql"
    affects = ("readers", "writers")
    detects = "A column was renamed (declared by `RENAME COLUMN`, in config, or probable: same type, similar name)."
    example = "`ALTER TABLE rooms RENAME COLUMN server_id TO message_server_id`."
    migration = "Use the new column name in queries."


@rule
class SqlColumnTypeChanged(Rule):
    id, name, language = "SQL004", "column-type-changed", "sql"
    affects = ("readers", "writers")
    detects = "A column's type changed."
    example = "`server_id TEXT` became `server_id UUID`."
    migration = "Cast values; check comparisons and indexes."


@rule
class SqlNotNullAdded(Rule):
    id, name, language = "SQL005", "not-null-added", "sql"
    affects = ("writers",)
    detects = "A column became NOT NULL."
    example = "`ALTER TABLE rooms ALTER COLUMN world_id SET NOT NULL`."
    migration = "Always insert a value; backfill existing rows."


@rule
class SqlRequiredColumnAdded(Rule):
    id, name, language = "SQL006", "required-column-added", "sql"
    affects = ("writers",)
    detects = "A new NOT NULL column without default: inserts that do not name it fail."
    example = "`ALTER TABLE rooms ADD COLUMN kind TEXT NOT NULL`."
    migration = "Insert the new column."


@rule
class SqlDefaultRemoved(Rule):
    id, name, language = "SQL007", "default-removed", "sql"
    severity = Severity.WARN
    affects = ("writers",)
    detects = "A column lost its default value."
    example = "`created_at ... DEFAULT now()` lost its default."
    migration = "Insert the value explicitly."


@rule
class SqlPrimaryKeyChanged(Rule):
    id, name, language = "SQL008", "primary-key-changed", "sql"
    affects = ("readers", "writers")
    detects = "The primary key of a table changed."
    example = "`PRIMARY KEY (id)` became `PRIMARY KEY (id, agent_id)`."
    migration = "Update upserts and lookups by key."


@rule
class SqlNotNullDropped(Rule):
    id, name, language = "SQL009", "not-null-dropped", "sql"
    severity = Severity.WARN
    affects = ("readers",)
    semver = "minor"
    detects = "A column became nullable: readers can now see NULL."
    example = "`world_id UUID NOT NULL` became `world_id UUID`."
    migration = "Handle NULL when reading."


@rule
class SqlAdded(Rule):
    id, name, language = "SQL010", "added", "sql"
    severity = Severity.INFO
    semver = "minor"
    detects = "A new table or nullable/defaulted column."
    example = "`ALTER TABLE rooms ADD COLUMN message_server_id UUID`."
    migration = "Nothing to do."


@rule
class SqlTableRenamed(Rule):
    id, name, language = "SQL011", "table-renamed", "sql"
    affects = ("readers", "writers")
    detects = "A table was renamed (`ALTER TABLE a RENAME TO b`, config, or same columns under a new name)."
    example = "`ALTER TABLE servers RENAME TO message_servers`."
    migration = "Use the new table name."


@rule
class SqlConstraintAdded(Rule):
    id, name, language = "SQL012", "constraint-added", "sql"
    severity = Severity.WARN
    affects = ("writers",)
    semver = "minor"
    detects = "A FOREIGN KEY or UNIQUE constraint was added: rows that were accepted before are now rejected."
    example = "`ALTER TABLE rooms ADD FOREIGN KEY (world_id) REFERENCES worlds (id)`."
    migration = "Insert referenced rows first / avoid duplicates; clean existing data before migrating."


@rule
class SqlConstraintRemoved(Rule):
    id, name, language = "SQL013", "constraint-removed", "sql"
    severity = Severity.WARN
    affects = ("readers",)
    semver = "minor"
    detects = "A FOREIGN KEY or UNIQUE constraint was removed: readers can no longer rely on it (dangling references, duplicates)."
    example = "`UNIQUE (agent_id, name)` dropped from `rooms`."
    migration = "Handle duplicates and missing referenced rows when reading."
