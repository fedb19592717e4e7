"""Run directories for the reports tests, built with the shared dataclasses.

These are data fixtures (what `canary run` writes), not mocks: the renderers read
them through canary.matrix.store and canary.matrix.verdicts exactly as they read a real run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from canary.matrix.model import cell_id
from canary.matrix.results import (
    Attempt,
    CellResult,
    CommandRecord,
    ConnectorRecord,
    CoreRecord,
    PlannedCell,
    RunRecord,
)
from canary.matrix.store import RunDir

CORE = "@elizaos/core"

DISCORD_FAIL_LOG = """\
> @elizaos/plugin-discord@1.3.3 smoke
> node scenarios/discord-voice-state.mjs
[plugin-sql] PGlite data dir /tmp/pglite-4711
Info: migrations applied (plugin-sql 1.7.2)
Warn: DISCORD_API_TOKEN not set, the Discord service stays offline
provider voiceState: composing state for room 6c1f...
Error: No server ID found 10
    at Object.get (file:///w/node_modules/@elizaos/plugin-discord/dist/index.js:2874:15)
    at async AgentRuntime.composeState (file:///w/node_modules/@elizaos/core/dist/index.js:9012:22)
scenario voice-state: FAIL (1 of 3 checks failed)
"""

PASS_LOG = """\
> node scenarios/smoke.mjs
[plugin-sql] PGlite data dir /tmp/pglite-1
Info: migrations applied
scenario smoke: 3 checks passed, 0 failed
"""

FARCASTER_LOG = """\
npm ERR! code E404
npm ERR! 404 Not Found - GET @standard-crypto/farcaster-js-hub-rest - not found
npm ERR! 404  '@standard-crypto/farcaster-js-hub-rest@^1.0.0' is not in this registry.
"""

QUIET_FAIL_LOG = "\n".join(f"step {i}: running" for i in range(1, 40)) + "\nexit status 7\n"


@dataclass
class Spec:
    connector: str
    ref: str
    core: str
    role: str = "candidate"
    tier: str = "required"
    status: str | None = "pass"  # None: planned but no result written (a missing cell)
    attempts: tuple = ()  # statuses per attempt; default one attempt with `status`
    log: str = PASS_LOG
    reason: str = ""
    unsupported: bool = False
    extra: dict = field(default_factory=dict)

    @property
    def id(self) -> str:
        return cell_id(self.connector, self.ref, self.core)


def write_run(
    store: Path,
    run_id: str,
    specs: list[Spec],
    baseline: str = "1.6.4",
    candidates: tuple = ("1.7.2",),
    state: str = "complete",
) -> RunDir:
    path = store / run_id
    (path / "cells").mkdir(parents=True)
    (path / "logs").mkdir()
    run = RunDir(path)
    planned = [
        PlannedCell(
            id=s.id, tier=s.tier, role=s.role, connector=s.connector, ref=s.ref, core=s.core, nox=f'nox -s "{s.id}"'
        )
        for s in specs
    ]
    run.write_run(
        RunRecord(
            run_id=run_id,
            matrix_file=str(store.parent / "matrix.yaml"),
            matrix_digest="sha256:" + "ab" * 32,
            started_at="2026-11-21T08:00:00+00:00",
            finished_at="2026-11-21T08:20:00+00:00",
            cells=planned,
            state=state,
            core_name=CORE,
            ecosystem="npm",
            baseline=baseline,
            candidates=list(candidates),
            exit_code=None,
            tool_version="0.1.0",
        )
    )
    for s in specs:
        if s.status is None:
            continue
        statuses = s.attempts or (s.status,)
        attempts = []
        for n, st in enumerate(statuses, start=1):
            log = run.log_file(s.id, n)
            log.write_text(s.log if st != "pass" or len(statuses) == 1 else PASS_LOG, encoding="utf-8")
            attempts.append(
                Attempt(
                    number=n,
                    status=st,
                    reason=s.reason if st != "pass" else "",
                    duration_s=12.5 + n,
                    log=str(log.relative_to(path)),
                    started_at="2026-11-21T08:01:00+00:00",
                    commands=[
                        CommandRecord("install", ["npm", "install", "--ignore-scripts"], 0, 9.1),
                        CommandRecord("test", ["node", "scenarios/smoke.mjs"], 0 if st == "pass" else 1, 3.4),
                    ],
                )
            )
        run.write_cell(
            CellResult(
                run_id=run_id,
                cell_id=s.id,
                tier=s.tier,
                role=s.role,
                core=CoreRecord(
                    name=CORE,
                    label=s.core,
                    kind="registry",
                    requested=s.core,
                    resolved=s.core,
                    digest="sha256:" + "c0" * 32,
                ),
                connector=ConnectorRecord(
                    name=s.connector,
                    package=f"@elizaos/{s.connector}",
                    source="npm",
                    ref=s.ref,
                    version=s.ref,
                    digest="sha512-" + "Zm9v" * 10,
                    declared_core_range="^1.6.4",
                ),
                status=s.status,
                reason=s.reason,
                unsupported=s.unsupported,
                attempts=attempts,
                started_at="2026-11-21T08:01:00+00:00",
                finished_at="2026-11-21T08:01:30+00:00",
                duration_s=sum(a.duration_s for a in attempts),
                runner="node",
                tool_version="0.1.0",
                nox=f'nox -s "{s.id}"',
                **s.extra,
            )
        )
    return run


def demo_specs(discord_regressed: bool = True, twitter_flaky: bool = True) -> list[Spec]:
    """The elizaOS demo: baseline core 1.6.4, candidate 1.7.2, the serverId break in plugin-discord 1.3.3."""
    specs = []
    for core, role in (("1.6.4", "baseline"), ("1.7.2", "candidate")):
        cand = role == "candidate"
        specs += [
            Spec(
                "plugin-discord",
                "1.3.3",
                core,
                role,
                status="fail" if cand and discord_regressed else "pass",
                attempts=("fail", "fail", "fail") if cand and discord_regressed else (),
                log=DISCORD_FAIL_LOG if cand and discord_regressed else PASS_LOG,
                reason="Error: No server ID found 10" if cand and discord_regressed else "",
            ),
            Spec("plugin-discord", "1.3.8", core, role, unsupported=not cand),
            Spec("plugin-telegram", "1.6.4", core, role),
            Spec(
                "plugin-twitter",
                "1.2.22",
                core,
                role,
                tier="optional",
                status="fail" if cand and twitter_flaky else "pass",
                attempts=("fail", "pass") if cand and twitter_flaky else (),
                log=QUIET_FAIL_LOG,
                reason="exit status 7" if cand and twitter_flaky else "",
            ),
            Spec(
                "plugin-farcaster",
                "1.7.2",
                core,
                role,
                tier="optional",
                status="error",
                log=FARCASTER_LOG,
                reason="install: @standard-crypto/farcaster-js-hub-rest not in the registry",
            ),
            Spec(
                "plugin-openai",
                "1.5.0",
                core,
                role,
                tier="optional",
                status="fail",
                log=QUIET_FAIL_LOG,
                reason="exit status 7",
            ),
        ]
    return specs


DIFF = {
    "schema": "canary/compat-diff/v1",
    "old": "1.6.4",
    "new": "1.7.2",
    "changes": [
        {
            "rule": "TS-PROP-REMOVED-FROM-PARAM",
            "severity": "breaking",
            "symbol": "IAgentRuntime.ensureConnection.serverId",
            "message": "ensureConnection() no longer accepts serverId",
            "renamed_to": "messageServerId",
        },
        {
            "rule": "TS-PROP-DEPRECATED",
            "severity": "warning",
            "symbol": "Room.serverId",
            "message": "Room.serverId is deprecated; use messageServerId",
            "renamed_to": "Room.messageServerId",
        },
    ],
}

EXPOSURE = {
    "schema": "canary/exposure/v1",
    "migration": "elizaos-core-1.6.5-serverid",
    "connectors": {
        "plugin-discord@1.3.3": {
            "findings": 9,
            "by_rule": {"server-id-param": 2, "server-id-read": 7},
            "by_symbol": {"IAgentRuntime.ensureConnection.serverId": 2, "Room.serverId": 7},
            "files": ["src/service.ts", "src/providers/voiceState.ts"],
        },
        "plugin-discord@1.3.8": {"findings": 0, "by_rule": {}, "by_symbol": {}, "files": []},
        "plugin-telegram@1.6.4": {
            "findings": 3,
            "by_rule": {"server-id-param": 3},
            "by_symbol": {"serverId": 3},
            "files": ["src/messageManager.ts"],
        },
    },
}


@pytest.fixture
def demo_store(tmp_path):
    """A store with two earlier runs and the current one (regressed discord 1.3.3, flaky twitter)."""
    store = tmp_path / "runs"
    write_run(store, "20261119T080000Z-aaaaaa", demo_specs(discord_regressed=False, twitter_flaky=False))
    write_run(store, "20261120T080000Z-bbbbbb", demo_specs(discord_regressed=False, twitter_flaky=True))
    run = write_run(store, "20261121T080000Z-cccccc", demo_specs())
    (run.path / "exposure.json").write_text(json.dumps(EXPOSURE), encoding="utf-8")
    diff = tmp_path / "diff.json"
    diff.write_text(json.dumps(DIFF), encoding="utf-8")
    return store, run, diff


def big_specs(
    connectors: int = 50, cores: tuple = ("1.6.4", "1.7.0", "1.7.2", "2.0.0-alpha.1"), fail_every: int = 3
) -> list[Spec]:
    """A 200-cell matrix with long reasons and failing logs in many cells (the Markdown budget case).

    fail_every=1 is the worst case: every candidate cell of every connector regressed."""
    specs = []
    for i in range(connectors):
        for core in cores:
            role = "baseline" if core == cores[0] else "candidate"
            failing = role == "candidate" and i % fail_every == 0
            specs.append(
                Spec(
                    f"plugin-connector-with-a-long-name-{i:03d}",
                    f"1.{i}.0-next.{i}",
                    core,
                    role,
                    tier="required" if i % 2 == 0 else "optional",
                    status="fail" if failing else ("error" if i % 7 == 0 and role == "candidate" else "pass"),
                    log=DISCORD_FAIL_LOG * 3 if failing else PASS_LOG,
                    reason=("Error: No server ID found 10 " + "while composing the voice state " * 8)
                    if failing
                    else ("install failed: " + "E404 " * 40 if i % 7 == 0 and role == "candidate" else ""),
                )
            )
    return specs


# ---------------------------------------------------------------- reading HTML back

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


@dataclass
class Node:
    tag: str
    attrs: dict
    children: list = field(default_factory=list)
    parent: Node | None = None

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def iter(self, tag: str | None = None):
        for c in self.children:
            if isinstance(c, Node):
                if tag is None or c.tag == tag:
                    yield c
                yield from c.iter(tag)

    def find(self, tag: str, **attrs) -> Node | None:
        return next((n for n in self.iter(tag) if all(n.attrs.get(k) == v for k, v in attrs.items())), None)


def parse_html(text: str) -> Node:
    """A small DOM from HTML (stdlib parser): enough to query what a reader sees."""
    from html.parser import HTMLParser

    root = Node("#document", {})

    class Builder(HTMLParser):
        cur = root

        def handle_starttag(self, tag, attrs):
            node = Node(tag, {k: (v or "") for k, v in attrs}, parent=self.cur)
            self.cur.children.append(node)
            if tag not in VOID:
                self.cur = node

        def handle_startendtag(self, tag, attrs):
            self.cur.children.append(Node(tag, {k: (v or "") for k, v in attrs}, parent=self.cur))

        def handle_endtag(self, tag):
            n = self.cur
            while n is not None and n.tag != tag:
                n = n.parent
            if n is not None and n.parent is not None:
                self.cur = n.parent

        def handle_data(self, data):
            self.cur.children.append(data)

    b = Builder(convert_charrefs=True)
    b.feed(text)
    b.close()
    return root


def first_sentence(text: str) -> str:
    """Up to the first full stop that ends a sentence (not the dots inside 1.7.2)."""
    import re

    text = " ".join(text.split())
    m = re.search(r"\.(\s|$)", text)
    return text[: m.start() + 1] if m else text
