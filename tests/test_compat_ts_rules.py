"""TypeScript rules that follow variance: synthetic .d.ts packages diffed for real (ast-grep, no mocks).

Each case is a false ERR seen on a real release (tests/corpus/): a widened parameter
(@elizaos/core 1.6.5 sendMessage), a positional parameter renamed (reported as TS006 + TS008),
`any` made specific and an alias of `number` (axios 1.0), overloads (commander 12).
"""

from __future__ import annotations

import json

from canary.compat.diff import diff_contracts
from canary.compat.ts_extract import extract

try:
    from tests.test_compat_ts import write_tree
except ImportError:  # pragma: no cover
    from test_compat_ts import write_tree

PKG = json.dumps({"name": "@fx/v", "version": "1.0.0", "types": "index.d.ts"})


def diff(tmp_path, old: str, new: str):
    o = write_tree(tmp_path / "old", {"package.json": PKG, "index.d.ts": old})
    n = write_tree(tmp_path / "new", {"package.json": PKG, "index.d.ts": new})
    return diff_contracts(extract(o), extract(n))


def listed(changes, severity: str | None = None) -> list[str]:
    return sorted(f"{c.rule} {c.symbol}" for c in changes if severity is None or c.severity == severity)


def test_parameter_type_widened_is_info_narrowed_is_err(tmp_path):
    old = "export declare function send(id: string, kind: 'a' | 'b'): void;\n"
    new = "export declare function send(id: string | number, kind: 'a'): void;\n"
    changes = diff(tmp_path, old, new)
    assert listed(changes, "ERR") == ["TS011 send(kind)"]
    widened = next(c for c in changes if c.symbol == "send(id)")
    assert (widened.rule, widened.severity) == ("TS011", "INFO") and "widened" in widened.message


def test_positional_rename_is_one_info_change(tmp_path):
    old = "export declare class Hub { send(agentId: string, text: string): void; post(to: string): void; }\n"
    new = "export declare class Hub { send(target: string | object, text: string): void; post(dest: number): void; }\n"
    changes = diff(tmp_path, old, new)
    assert not [c for c in changes if c.rule in ("TS006", "TS008")]
    renamed = {c.symbol: c for c in changes if c.rule == "TS024"}
    assert set(renamed) == {"Hub.send(agentId)", "Hub.post(to)"}
    assert renamed["Hub.send(agentId)"].severity == "INFO" and renamed["Hub.send(agentId)"].renamed_to == "target"
    # the rename is harmless, the narrowed type is not: reported once, on its own
    assert listed(changes, "ERR") == ["TS011 Hub.post(dest)"]


def test_any_made_specific_and_alias_of_a_predefined_type_are_no_change(tmp_path):
    old = "export interface Config { onProgress?: (e: any) => void; timeout?: number; service: any | null; }\n"
    new = (
        "type Milliseconds = number;\nexport interface ProgressEvent { loaded: number; }\n"
        "export interface Config { onProgress?: (e: ProgressEvent) => void; timeout?: Milliseconds;"
        " service: Service | null; }\nexport interface Service { run(): void; }\n"
    )
    changes = diff(tmp_path, old, new)
    assert not [c for c in changes if c.symbol.startswith("Config.")], listed(changes)


def test_another_overload_still_accepting_the_old_argument_is_not_err(tmp_path):
    old = "export declare class Command { addHelpCommand(enableOrName?: string | boolean, description?: string): this; }\n"
    new = (
        "export declare class Command {\n  addHelpCommand(cmd: Command): this;\n"
        "  addHelpCommand(nameAndArgs: string, description?: string): this;\n"
        "  addHelpCommand(enable?: boolean): this;\n}\n"
    )
    assert listed(diff(tmp_path, old, new), "ERR") == []


def test_overloads_that_all_reject_the_old_argument_stay_err(tmp_path):
    old = "export declare class C { add(items: string[]): void; }\n"
    new = "export declare class C {\n  add(items: number[]): void;\n  add(item: number): void;\n}\n"
    assert listed(diff(tmp_path, old, new), "ERR") == ["TS011 C.add(items)"]


def test_return_type_narrowed_is_info(tmp_path):
    old = "export declare function get(): string | undefined;\nexport declare function put(): string;\n"
    new = "export declare function get(): string;\nexport declare function put(): string | undefined;\n"
    changes = {c.symbol: c for c in diff(tmp_path, old, new)}
    assert changes["get"].severity == "INFO" and "narrowed" in changes["get"].message
    assert changes["put"].severity == "WARN"


def test_long_types_are_shown_around_the_difference(tmp_path):
    fields = "; ".join(f"field{i}: string" for i in range(30))
    old = f"export interface A {{ x: Array<{{ {fields}; last: string }}>; }}\n"
    new = f"export interface A {{ x: Array<{{ {fields}; last: number }}>; }}\n"
    change = next(c for c in diff(tmp_path, old, new) if c.symbol == "A.x")
    shown_old, shown_new = change.message.split(" changed from ", 1)[1].split(" to ", 1)
    assert "last: string" in shown_old and "last: number" in shown_new
    assert shown_old != shown_new and len(shown_old) < 160


def test_semver_and_fail_on_count_only_what_the_rules_call_breaking(tmp_path):
    from canary.compat.rules import RULES
    from canary.compat.semver import verdict

    old = "export declare function send(agentId: string): string | undefined;\n"
    new = "export declare function send(target: string | number): string;\n"  # renamed, widened, narrowed
    changes = [c.to_dict() for c in diff(tmp_path, old, new)]
    assert changes and all(c["severity"] == "INFO" for c in changes)
    sem = {r.id: r.semver for r in RULES.values()}
    assert verdict("1.0.0", "1.1.0", changes, sem)["required"] == "minor"  # more accepted: a feature, no break
    # a WARN (a return type that may now be undefined) is a caution, not a reason for a major step
    warn = [{"rule": "TS013", "severity": "WARN", "accepted": None}]
    assert verdict("1.0.0", "1.1.0", warn, sem)["sufficient"] is True
