"""compat on TypeScript: two versions of a small .d.ts package written here, diffed for real."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from canary.compat.config import Config
from canary.compat.diff import diff_contracts
from canary.compat.ts_extract import extract

OLD = {
    "package.json": json.dumps(
        {
            "name": "@fx/core",
            "version": "1.0.0",
            "types": "dist/index.d.ts",
            "exports": {".": {"types": "./dist/index.d.ts", "default": "./dist/index.js"}},
        }
    ),
    "dist/index.d.ts": """
export * from './types';
export { startRun, legacyHelper } from './runtime';
export * from './base';
export declare const isNode: boolean;
""",
    "dist/types/index.d.ts": "export * from './environment';\nexport * from './runtime';\n",
    "dist/types/environment.d.ts": """
import type { UUID } from './primitives';
export type UUID = `${string}-${string}`;
export interface World {
    id: UUID;
    name?: string;
    serverId: string;
    /** @deprecated Use id. */
    legacyId?: string;
    metadata?: {
        ownerId: string;
        roles?: string[];
    };
}
export type Room = {
    id: UUID;
    channelName: string;
    worldId?: UUID;
    readonly source: string;
};
export declare enum ChannelType {
    DM = "DM",
    VOICE = "VOICE",
    GROUP = "GROUP"
}
export interface Derived extends Base {
    own: string;
    moved: number;
}
""",
    "dist/types/runtime.d.ts": """
import type { World, Room, UUID } from './environment';
export interface IAgentRuntime {
    agentId: UUID;
    ensureConnection({ entityId, roomId, serverId, }: {
        entityId: UUID;
        roomId: UUID;
        serverId?: string;
    }): Promise<void>;
    createRoom({ id, channelName, worldId }: Room): Promise<UUID>;
    getMemories(roomId: UUID, count?: number): Promise<string[]>;
    move(a: string, b: number): void;
    send(text: string): void;
}
export declare class AgentRuntime implements IAgentRuntime {
    #private;
    private secret;
    agentId: UUID;
    constructor(opts: { agentId: UUID });
    ensureConnection({ entityId, roomId, serverId, }: {
        entityId: UUID;
        roomId: UUID;
        serverId?: string;
    }): Promise<void>;
    createRoom({ id, channelName, worldId }: Room): Promise<UUID>;
    getMemories(roomId: UUID, count?: number): Promise<string[]>;
    move(a: string, b: number): void;
    send(text: string): void;
}
""",
    "dist/runtime.d.ts": """
export declare function startRun(roomId: string): string;
/** @deprecated Use startRun. */
export declare function legacyHelper(): void;
export declare function internalOnly(): void;
""",
    "dist/base.d.ts": """
export interface Base {
    baseField: string;
}
export declare function removedFn(x: number): number;
""",
    "dist/internal.d.ts": "export declare function notReachable(): void;\n",
}

NEW = {
    "package.json": json.dumps(
        {
            "name": "@fx/core",
            "version": "1.0.1",
            "types": "dist/index.d.ts",
            "exports": {".": {"types": "./dist/index.d.ts", "default": "./dist/index.js"}},
        }
    ),
    "dist/index.d.ts": """
export * from './types';
export { startRun } from './runtime';
export * from './base';
export declare const isNode: boolean;
""",
    "dist/types/index.d.ts": "export * from './environment';\nexport * from './runtime';\n",
    "dist/types/environment.d.ts": """
export type UUID = `${string}-${string}`;
export interface World {
    id: UUID;
    name: string;
    messageServerId?: UUID;
    /**
     * @deprecated Use messageServerId instead. This alias is kept for backward compatibility.
     */
    serverId?: UUID;
    metadata?: {
        ownerId: string;
    };
}
export type Room = {
    id: UUID;
    channelTitle: string;
    worldId?: UUID;
    readonly source: string;
};
export declare enum ChannelType {
    DM = "DM",
    GROUP = "group"
}
export interface Derived extends Base {
    own: string;
}
""",
    "dist/types/runtime.d.ts": """
import type { World, Room, UUID } from './environment';
export interface IAgentRuntime {
    agentId: UUID;
    ensureConnection({ entityId, roomId, messageServerId, }: {
        entityId: UUID;
        roomId: UUID;
        messageServerId?: UUID;
    }): Promise<void>;
    createRoom({ id, worldId }: Room): Promise<UUID>;
    getMemories(roomId: UUID, tableName: string, count?: number): Promise<string[]>;
    move(b: number, a: string): void;
    send(): void;
    /** @deprecated Use getMemories. */
    fetch?(): void;
}
export declare class AgentRuntime implements IAgentRuntime {
    #private;
    private secret;
    agentId: UUID;
    constructor(opts: { agentId: UUID });
    ensureConnection({ entityId, roomId, messageServerId, }: {
        entityId: UUID;
        roomId: UUID;
        messageServerId?: UUID;
    }): Promise<void>;
    createRoom({ id, worldId }: Room): Promise<UUID>;
    getMemories(roomId: UUID, tableName: string, count?: number): Promise<string[]>;
    move(b: number, a: string): void;
    send(): void;
}
""",
    "dist/runtime.d.ts": """
export declare function startRun(roomId: string): string;
export declare function internalOnly(): void;
""",
    "dist/base.d.ts": """
export interface Base {
    baseField: string;
    moved: number;
}
""",
    "dist/internal.d.ts": "",
}


def write_tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def ts_pair(tmp_path_factory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("ts")
    return write_tree(base / "old", OLD), write_tree(base / "new", NEW)


@pytest.fixture(scope="module")
def changes(ts_pair):
    old, new = ts_pair
    return diff_contracts(extract(old), extract(new))


def find(changes, rule: str, symbol: str):
    hits = [c for c in changes if c.rule == rule and c.symbol == symbol]
    assert hits, f"no {rule} on {symbol}; got: " + "; ".join(f"{c.rule} {c.symbol}" for c in changes)
    return hits[0]


def symbols(changes) -> set[str]:
    return {c.symbol for c in changes}


def test_entry_and_reexports_are_followed(ts_pair):
    contract = extract(ts_pair[0])
    # reached through index -> ./types -> ./types/index -> ./environment
    assert contract.decls["World.serverId"].type == "string"
    assert contract.decls["World.serverId"].file == "dist/types/environment.d.ts"
    # `export { startRun, legacyHelper } from`: named re-export; internalOnly is not re-exported
    assert "startRun" in contract.decls and "legacyHelper" in contract.decls
    assert "internalOnly" not in contract.decls
    assert "notReachable" not in contract.decls
    # nested object-type members, optional + readonly markers, JSDoc @deprecated with its message
    assert contract.decls["World.metadata.roles"].optional is True
    assert contract.decls["Room.source"].readonly is True
    assert contract.decls["World.legacyId"].deprecated == "Use id."
    # private class members are not part of the contract
    assert not any(p.startswith("AgentRuntime.secret") or "#private" in p for p in contract.decls)


def test_destructured_parameter_properties_have_paths(ts_pair):
    contract = extract(ts_pair[0])
    prop = contract.decls["IAgentRuntime.ensureConnection(params).serverId"]
    assert prop.kind == "parameter-property" and prop.optional and prop.type == "string"
    assert prop.extra["owner"] == "IAgentRuntime.ensureConnection"
    assert contract.decls["IAgentRuntime.getMemories(count)"].index == 1


def test_inherited_members_are_copied_and_moving_into_base_is_not_a_break(ts_pair, changes):
    contract = extract(ts_pair[0])
    assert contract.decls["Derived.baseField"].extra["inherited_from"] == "Base"
    # `moved` went from Derived into Base: Derived.moved still exists through extends
    assert "Derived.moved" not in symbols(changes)


def test_alias_rename_on_world(changes):
    c = find(changes, "TS018", "World.serverId")
    assert c.name == "renamed-with-deprecated-alias"
    assert c.renamed_to == "messageServerId" and c.rename_evidence == "alias"
    assert c.container == "World" and c.member == "serverId" and c.kind == "member"
    assert c.deprecated["new"].startswith("Use messageServerId")
    t = find(changes, "TS005", "World.serverId")
    assert (t.old, t.new, t.severity) == ("string", "UUID", "ERR")
    o = find(changes, "TS004", "World.serverId")
    assert o.severity == "WARN" and o.affects == ["readers"]


def test_parameter_property_removed_with_rename(changes):
    c = find(changes, "TS007", "IAgentRuntime.ensureConnection(params).serverId")
    assert c.severity == "ERR" and c.kind == "parameter-property"
    assert c.container == "IAgentRuntime.ensureConnection" and c.member == "serverId"
    assert c.renamed_to == "messageServerId"
    assert c.affects == ["callers"]
    assert c.location["file"] == "dist/types/runtime.d.ts"


def test_probable_rename_by_similar_name_and_same_type(changes):
    c = find(changes, "TS002", "Room.channelName")
    assert c.renamed_to == "channelTitle" and c.rename_evidence == "probable"
    # the rename target is not reported again as an addition
    assert "Room.channelTitle" not in symbols(changes)


def test_each_catalogue_kind_is_found(changes):
    assert find(changes, "TS001", "removedFn").kind == "function"
    assert find(changes, "TS002", "World.metadata.roles").severity == "ERR"
    assert find(changes, "TS003", "World.name").affects == ["writers", "implementers"]
    assert find(changes, "TS006", "IAgentRuntime.send(text)").container == "IAgentRuntime.send"
    assert find(changes, "TS008", "IAgentRuntime.getMemories(tableName)").severity == "ERR"
    assert find(changes, "TS009", "IAgentRuntime.move(b)").old == "1"
    assert find(changes, "TS010", "ChannelType.VOICE").kind == "enum-member"
    assert find(changes, "TS017", "ChannelType.GROUP").new == '"group"'
    assert find(changes, "TS016", "IAgentRuntime.createRoom(params).channelName").severity == "ERR"
    # getMemories(count) moved because tableName was inserted before it
    assert find(changes, "TS009", "IAgentRuntime.getMemories(count)").new == "2"


def test_deprecation_policy(changes):
    # legacyHelper was deprecated in OLD: its removal is downgraded from ERR to WARN
    c = find(changes, "TS001", "legacyHelper")
    assert c.severity == "WARN" and c.deprecated["old"] == "Use startRun."
    # World.legacyId was deprecated too
    assert find(changes, "TS002", "World.legacyId").severity == "WARN"
    # newly added + deprecated optional method: an INFO addition, not a rename
    assert not [c for c in changes if c.symbol == "IAgentRuntime.fetch" and c.severity == "ERR"]


def test_class_members_and_inherited_copies_are_reported_once(changes):
    # AgentRuntime implements IAgentRuntime: both declare ensureConnection, both are reported
    assert find(changes, "TS007", "AgentRuntime.ensureConnection(params).serverId").renamed_to == "messageServerId"
    # Derived inherits Base: a change in Base is not repeated on Derived
    assert not [c for c in changes if c.symbol.startswith("Derived.baseField")]


def test_unchanged_package_has_no_changes(ts_pair):
    assert diff_contracts(extract(ts_pair[0]), extract(ts_pair[0])) == []


def test_declared_rename_to_a_name_absent_from_new_is_ignored(ts_pair):
    # a typo in the config must not invent a target the codemods would then write
    cfg = Config(renames={"World.metadata.roles": "roleList"})
    chs = diff_contracts(extract(ts_pair[0]), extract(ts_pair[1]), cfg)
    assert find(chs, "TS002", "World.metadata.roles").renamed_to is None


def test_declared_rename_pairs_with_an_addition(tmp_path):
    old = write_tree(tmp_path / "o", {"index.d.ts": "export interface A { alpha: string; }\n"})
    new = write_tree(tmp_path / "n", {"index.d.ts": "export interface A { zeta: number; }\n"})
    plain = diff_contracts(extract(old), extract(new))
    assert find(plain, "TS002", "A.alpha").renamed_to is None  # too different to guess
    declared = diff_contracts(extract(old), extract(new), Config(renames={"A.alpha": "zeta"}))
    c = find(declared, "TS002", "A.alpha")
    assert c.renamed_to == "zeta" and c.rename_evidence == "declared"


def test_rename_of_a_declaration_with_the_same_members(tmp_path):
    body = "{ id: string; name: string; source: string; kind: number; }"
    old = write_tree(tmp_path / "o", {"index.d.ts": f"export interface Server {body}\n"})
    new = write_tree(tmp_path / "n", {"index.d.ts": f"export interface MessageHub {body}\n"})
    c = find(diff_contracts(extract(old), extract(new)), "TS001", "Server")
    assert c.renamed_to == "MessageHub" and "same members" in c.message


def test_ts_sources_without_package_json(tmp_path):
    old = write_tree(
        tmp_path / "o",
        {
            "src/index.ts": "export function f(a: string, b: number): void {}\n"
            "export class K { run(x: number): number { return x; } }\n"
        },
    )
    new = write_tree(
        tmp_path / "n",
        {
            "src/index.ts": "export function f(a: string): void {}\n"
            "export class K { run(x: string): number { return 1; } }\n"
        },
    )
    chs = diff_contracts(extract(old), extract(new))
    assert find(chs, "TS006", "f(b)")
    assert find(chs, "TS011", "K.run(x)").new == "string"


def test_accessors_and_overloads(tmp_path):
    src = (
        "export declare class C {\n    get ro(): number;\n    get rw(): string;\n    set rw(v: string);\n"
        "    f(a: string): void;\n    f(a: number, b: number): void;\n}\n"
        "export declare function g(x: string): void;\nexport declare function g(x: number, y: number): void;\n"
    )
    c = extract(write_tree(tmp_path / "p", {"index.d.ts": src}))
    assert c.decls["C.ro"].readonly is True and c.decls["C.rw"].readonly is False
    # the first overload speaks for the callable
    assert "C.f(b)" not in c.decls and "g(y)" not in c.decls and c.decls["g(x)"].type == "string"


def test_export_default_and_local_export_clause(tmp_path):
    src = (
        "declare function hidden(): void;\ndeclare function shown(a: string): void;\n"
        "export { shown as visible };\nexport default class Main { run(): void; }\n"
    )
    c = extract(write_tree(tmp_path / "p", {"index.d.ts": src}))
    assert "visible" in c.decls and "visible(a)" in c.decls and "hidden" not in c.decls
    assert c.decls["default"].kind == "class" and "default.run" in c.decls


def test_inline_object_to_named_type_is_one_change(tmp_path):
    old = write_tree(tmp_path / "o", {"index.d.ts": "export interface Log { body: { a: string; b: number }; }\n"})
    new = write_tree(
        tmp_path / "n",
        {"index.d.ts": "export interface LogBody { a: string; }\nexport interface Log { body: LogBody; }\n"},
    )
    chs = [c for c in diff_contracts(extract(old), extract(new)) if c.severity != "INFO"]
    assert [(c.rule, c.symbol, c.new) for c in chs] == [("TS005", "Log.body", "LogBody")]


def test_remaining_typescript_rules(tmp_path):
    old = write_tree(
        tmp_path / "o",
        {
            "index.d.ts": (
                "export interface Base { b: string; }\n"
                "export interface Child extends Base { c: string; }\n"
                "export declare class Service { id: string; }\n"
                "export interface Shape { area(): number; label: string; id: string; legacy: string; }\n"
                "export declare function make(): string;\n"
            )
        },
    )
    new = write_tree(
        tmp_path / "n",
        {
            "index.d.ts": (
                "export interface Base { b: string; }\n"
                "export interface Child { c: string; }\n"
                "export interface Service { id: string; }\n"
                "export interface Shape { area(): string; readonly label: string; /** @deprecated Use key. */ id: string;"
                " key: string; /** @deprecated Use label. */ legacy: string; size: number; color?: string; }\n"
                "export declare function make(): Promise<string>;\n"
                "export declare const VERSION: string;\n"
            )
        },
    )
    chs = diff_contracts(extract(old), extract(new))
    assert find(chs, "TS015", "Service").new == "interface"
    assert find(chs, "TS023", "Child").old == "Base"
    assert not [c for c in chs if c.symbol == "Child.b"]  # reported once, as the base removal
    assert find(chs, "TS013", "Shape.area").new == "string"
    assert find(chs, "TS013", "make").new == "Promise<string>"
    assert find(chs, "TS014", "Shape.label").affects == ["writers"]
    assert find(chs, "TS021", "Shape.size").severity == "WARN"
    assert find(chs, "TS022", "Shape.color").severity == "INFO"
    assert find(chs, "TS020", "VERSION").kind == "const"
    # deprecated in favour of a new member: a rename with an alias; the new member is not an addition
    assert find(chs, "TS018", "Shape.id").renamed_to == "key"
    assert "Shape.key" not in symbols(chs)
    # deprecated in favour of a member that already existed: a plain deprecation naming it
    plain = find(chs, "TS019", "Shape.legacy")
    assert plain.severity == "INFO" and "Use label." in plain.message and plain.renamed_to is None


def test_parameter_became_required(tmp_path):
    old = write_tree(
        tmp_path / "o", {"index.d.ts": "export declare function f(a?: string, o?: { x?: number }): void;\n"}
    )
    new = write_tree(tmp_path / "n", {"index.d.ts": "export declare function f(a: string, o?: { x: number }): void;\n"})
    chs = diff_contracts(extract(old), extract(new))
    assert find(chs, "TS012", "f(a)").affects == ["callers"]
    assert find(chs, "TS012", "f(o).x").kind == "parameter-property"
