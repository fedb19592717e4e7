"""The contract of one side: a flat map of declaration paths to Decl.

A flat map (rather than a tree) keeps the diff engine language-neutral: every
language extractor emits the same Decl records, and the engine compares them by
path, container and kind.

Path grammar (stable: codemods parse it):
  Export            `World`
  Member            `World.serverId`, nested `World.metadata.a`
  Parameter         `IAgentRuntime.ensureConnection(entityId)`
  Destructured      `IAgentRuntime.ensureConnection(params)` and its properties
                    `IAgentRuntime.ensureConnection(params).serverId`
  Enum member       `Role.OWNER`
  Python            dotted module path `pkg.mod.Class.method(arg)`
  SQL               `users`, `users.email`
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Files the TypeScript extractor reads (besides package.json): what an npm side unpacks for a ts diff.
TS_SUFFIXES = (".d.ts", ".d.mts", ".d.cts", ".ts", ".tsx", ".mts", ".cts")


@dataclass
class Decl:
    path: str
    kind: str  # see KINDS
    name: str  # leaf name
    container: str | None = None  # owning declaration path
    type: str | None = None  # type text (return type for callables)
    optional: bool = False
    readonly: bool = False
    deprecated: str | None = None  # deprecation message ('' when no message); None = not deprecated
    file: str = ""
    line: int = 0
    index: int | None = None  # parameter position
    default: str | None = None
    extra: dict = field(default_factory=dict)


# Kinds an extractor may emit. Top-level kinds are "exports".
EXPORT_KINDS = frozenset(
    {"interface", "type", "class", "function", "enum", "const", "variable", "namespace", "module", "table"}
)
KINDS = EXPORT_KINDS | {
    "member",
    "method",
    "constructor",
    "parameter",
    "parameter-property",
    "enum-member",
    "attribute",
    "column",
}


@dataclass
class Contract:
    language: str  # ts | py | sql
    decls: dict[str, Decl] = field(default_factory=dict)
    root: str = ""  # where it was read from
    # Renames the side itself records (SQL `ALTER TABLE .. RENAME COLUMN a TO b`): old path -> new leaf.
    renames: dict[str, str] = field(default_factory=dict)
    # TS: aliases of a predefined type (`type Milliseconds = number`), exported or not: a member
    # retyped from `number` to `Milliseconds` has the same type.
    aliases: dict[str, str] = field(default_factory=dict)

    def add(self, decl: Decl) -> None:
        # First declaration wins: overloads and duplicate re-exports keep the first one seen.
        self.decls.setdefault(decl.path, decl)

    def children(self, path: str | None) -> list[Decl]:
        return [d for d in self.decls.values() if d.container == path]
