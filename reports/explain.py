"""Why a run regressed: root-cause groups, the probable breaking change of each, and the fix.

  groups   regressed cells whose failures share a signature (the first error line and the failing
           test or command, with numbers, ids, paths and hex normalised) form one group
  causes   the breaking changes of the group's step (canary.matrix.steps), ranked by the connector's
           static exposure to the changed symbol (a rename takes the places of its old name), the
           words the failure and the symbol share ("server ID" <-> serverId), then severity.
           Nothing scores: "no matching change", never a silent guess
  fixes    (a) another ref of the same connector that passes on the same cores, (b) the migration
           that covers the cause (`canary fix --migration M`), (c) a waiver ready to paste

Every output (terminal, HTML, Markdown, report.json, verdicts.json, promote) renders this one
`Explanation`; its JSON form is `explain.json` beside the run (schema reports/schemas/explain.schema.json).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from canary.kernel.errors import UserError
from canary.matrix.fanout import DIFF_FILE
from canary.matrix.results import CellResult, RunRecord
from canary.matrix.steps import Step, attribute_run, is_regression, sort_if_versions, step_diff_path
from canary.matrix.store import RunDir
from canary.matrix.verdicts import Summary, Verdict
from canary.matrix.exposure import Exposure, load_exposure
from canary.compat.document import CompatDiff, load_diff
from canary.reports.logs import first_failing_lines, read_log

__all__ = [
    "EXPLAIN_SCHEMA",
    "EXPLAIN_FILE",
    "WAIVER_DAYS",
    "TOP_CAUSES",
    "normalise",
    "Signature",
    "signature",
    "words",
    "overlap",
    "Cause",
    "Fix",
    "Group",
    "Explanation",
    "exposure_by_change",
    "rank_causes",
    "explain",
    "ecosystem_of_refs",
    "write",
    "read",
]

EXPLAIN_SCHEMA = "canary/explain/v1"
EXPLAIN_FILE = "explain.json"
WAIVER_DAYS = 30  # a pasted waiver expires: a regression is not accepted for ever
TOP_CAUSES = 3
_SEVERITY_RANK = {"ERR": 3, "error": 3, "WARN": 2, "warning": 2, "INFO": 1, "info": 1}
_PASSED = ("ok", "fixed")

# ---------------------------------------------------------------- signatures

_UUID = re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b")
_PATH = re.compile(r"(?:[A-Za-z]:)?(?:[\\/][\w.@+~-]+){2,}[\\/]?")
_HEX = re.compile(r"\b0x[0-9a-fA-F]+\b|\b(?=[0-9a-f]*[a-f])(?=[0-9a-f]*\d)[0-9a-f]{7,}\b")
_NUMBER = re.compile(r"\d+(?:\.\d+)*")
_QUOTED_ID = re.compile(r"(['\"])[\w-]*\d[\w-]*\1")  # 'guild-10', "user_42": an id in quotes

# A line with an exception (or a scenario's own verdict) and its message: what a reader quotes.
_ERROR_LINE = re.compile(r"^\s*(?:Uncaught\s+)?(?:[\w.$]*(?:Error|Exception)|SCENARIO FAIL|FAIL(?:ED)?)\b\s*[:\[(]")
# Lines that say where, not what: stack frames, traceback headers, test-runner totals.
_FRAME = re.compile(
    r"^\s*(?:at\s|File\s\"|Traceback\b|-{3,}|={3,}|Ran \d+ tests?|FAILED \(|npm ERR! (?:A complete log|\s*$))"
)
_TEST = re.compile(r"^(?:FAIL|ERROR): (\w+) \(([\w.]+?)(?:\.\1)?\)|^\s*(?:[✗✘×]|not ok \d+ -)\s*(.+)$")


def normalise(text: str) -> str:
    """The part of a failure line that is the same every time it happens."""
    s = " ".join(text.split())
    s = _UUID.sub("<id>", s)
    s = _PATH.sub("<path>", s)
    s = _HEX.sub("<hex>", s)
    s = _QUOTED_ID.sub(r"\1<id>\1", s)
    return _NUMBER.sub("<n>", s)


@dataclass
class Signature:
    """A failure's root-cause signature: its first error line and failing test, normalised."""

    error: str  # the normalised first error line
    test: str  # the failing test(s), else the failing command, normalised
    example: str  # the first error line as one cell printed it
    lines: list[str] = field(default_factory=list)  # the failure lines the words of a cause are read from

    @property
    def key(self) -> str:
        return f"{self.error}\n{self.test}"

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.key.encode()).hexdigest()[:10]

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Signature:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


def _failed_command(result: CellResult | None) -> str:
    attempt = next((a for a in (result.attempts if result else []) if a.status != "pass"), None)
    for cmd in attempt.commands if attempt else ():
        if cmd.timed_out or cmd.exit_code not in (0, None):
            argv = [Path(a).name if "/" in a else a for a in cmd.argv]
            return " ".join(argv)
    return ""


def signature(
    log_text: str, result: CellResult | None = None, reason: str = "", tests: list[str] | None = None
) -> Signature:
    """The signature of one failed cell, from its log (the output of the first failing command)."""
    _kind, hits = first_failing_lines(log_text, limit=40)
    lines = [h.text.strip() for h in hits if h.text.strip()]
    failing_tests = list(tests or [])
    for line in lines:
        m = _TEST.match(line)
        if m:
            name = f"{m.group(2)}.{m.group(1)}" if m.group(1) else m.group(3).strip()
            failing_tests.append(name)
    words = [line for line in lines if not _FRAME.match(line) and not _TEST.match(line)]
    first = next(
        (line for line in words if _ERROR_LINE.match(line) and not line.startswith(("FAIL:", "ERROR:"))), None
    ) or (words[0] if words else (reason or "").strip() or "no failure line in the log")
    test = ", ".join(sorted(dict.fromkeys(normalise(t) for t in failing_tests))) or normalise(_failed_command(result))
    return Signature(error=normalise(first)[:300], test=test[:300], example=first[:300], lines=words[:12])


# ---------------------------------------------------------------- words of a failure and a symbol

_STOP = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "can",
        "cannot",
        "could",
        "does",
        "error",
        "errors",
        "exception",
        "expected",
        "fail",
        "failed",
        "failure",
        "false",
        "file",
        "for",
        "found",
        "from",
        "get",
        "has",
        "have",
        "in",
        "is",
        "it",
        "line",
        "missing",
        "must",
        "no",
        "none",
        "not",
        "null",
        "object",
        "of",
        "on",
        "or",
        "property",
        "read",
        "set",
        "should",
        "than",
        "that",
        "the",
        "this",
        "to",
        "true",
        "type",
        "undefined",
        "value",
        "was",
        "with",
    ]
)


def words(text: str) -> set[str]:
    """Lower-case words, camelCase and snake_case split: "server ID" and `serverId` both give {server, id}."""
    out = set()
    for token in re.findall(r"[A-Za-z0-9]+", text):
        for part in re.findall(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+", token):
            if not part.isdigit():
                out.add(part.lower())
    return out


def overlap(failure: set[str], symbol: str) -> tuple[float, list[str]]:
    """How much of the symbol's own name the failure says (its container counts a quarter)."""
    if symbol.endswith(")") and "(" in symbol:  # `make_room(server_id)`: the parameter changed
        head, _, param = symbol[:-1].rpartition("(")
        leaf, container = words(param) - _STOP, words(head) - _STOP
    else:  # `Room.server_id`, `ensureConnection(params).serverId`: the last name changed
        head, _, name = symbol.rpartition(".")
        leaf, container = words(name or symbol) - _STOP, words(head) - _STOP
    container -= leaf
    hit_leaf, hit_container = leaf & failure, container & failure
    if not any(len(w) >= 4 for w in hit_leaf):  # "id" alone matches half of any API
        return 0.0, []
    score = len(hit_leaf) / len(leaf) + 0.25 * (len(hit_container) / len(container) if container else 0)
    return round(score, 3), sorted(hit_leaf | hit_container)


# ---------------------------------------------------------------- the explanation


@dataclass
class Cause:
    """A probable cause of a group: a breaking change of its step, with its score and exposure."""

    rule: str
    severity: str
    symbol: str
    message: str
    renamed_to: str | None
    step: str  # "<old> -> <new>": the diff it comes from
    score: float
    exposure: dict[str, int] = field(default_factory=dict)  # "<connector>@<ref>" -> places
    places: list[str] = field(default_factory=list)  # first file:line in the connectors
    words: list[str] = field(default_factory=list)  # what the failure and the symbol share

    @property
    def exposed(self) -> int:
        return sum(self.exposure.values())

    @property
    def what(self) -> str:
        return f"{self.symbol} -> {self.renamed_to}" if self.renamed_to else self.symbol

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Cause:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


@dataclass
class Fix:
    """A way out of a group: a newer passing ref, the migration that covers the cause, or a waiver."""

    kind: str  # newer-ref | migration | waiver
    text: str  # one sentence
    connector: str
    ref: str
    command: str | None = None
    other_ref: str | None = None
    cores: list[str] = field(default_factory=list)
    places: int | None = None
    verified: str | None = None  # migration: pass | fail | error | unverified
    waiver: dict | None = None
    snippet: str | None = None  # waiver: the YAML to paste

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Fix:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


@dataclass
class Group:
    """Cells that fail with one signature: their step, probable causes and fixes."""

    id: str  # "g-<digest of the signature>": stable across runs
    number: int  # 1-based, in the order the outputs list groups
    signature: Signature
    cells: list[str]
    refs: list[str]  # "<connector>@<ref>"
    cores: list[str]
    blocking: bool
    steps: list[Step] = field(default_factory=list)
    diff_files: list[str] = field(default_factory=list)  # the step diffs the causes come from
    causes: list[Cause] = field(default_factory=list)
    no_match: str = ""  # why no change is named (set when causes is empty)
    fixes: list[Fix] = field(default_factory=list)
    cores_by_ref: dict[str, list[str]] = field(default_factory=dict)  # "<connector>@<ref>" -> its cores here
    cell_refs: list[tuple[str, str]] = field(default_factory=list)  # (cell id, "<connector>@<ref>")

    @property
    def title(self) -> str:
        return f"{len(self.cells)} cell{'s' if len(self.cells) != 1 else ''}: `{self.signature.error}`"

    @property
    def first_bad(self) -> list[str]:
        return list(dict.fromkeys(s.first_bad for s in self.steps))

    @property
    def ref_of(self) -> dict[str, str]:
        return dict(self.cell_refs)

    def step_of(self, ref_key: str) -> Step | None:
        return next((s for s in self.steps if s.key == ref_key), None)

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "number": self.number,
            "title": self.title,
            "signature": self.signature.to_dict(),
            "cells": self.cells,
            "refs": self.refs,
            "cores": self.cores,
            "blocking": self.blocking,
            "first_bad": self.first_bad,
            "steps": [s.to_dict() for s in self.steps],
            "diff_files": self.diff_files,
            "probable_causes": [c.to_dict() for c in self.causes],
            "no_match": self.no_match,
            "fixes": [f.to_dict() for f in self.fixes],
            "cores_by_ref": self.cores_by_ref,
            "cell_refs": [list(p) for p in self.cell_refs],
        }

    @classmethod
    def from_dict(cls, data: dict) -> Group:
        return cls(
            id=data["id"],
            number=int(data["number"]),
            signature=Signature.from_dict(data["signature"]),
            cells=list(data["cells"]),
            refs=list(data["refs"]),
            cores=list(data["cores"]),
            blocking=bool(data["blocking"]),
            steps=[Step.from_dict(s) for s in data.get("steps", [])],
            diff_files=list(data.get("diff_files", [])),
            causes=[Cause.from_dict(c) for c in data.get("probable_causes", [])],
            no_match=str(data.get("no_match", "")),
            fixes=[Fix.from_dict(f) for f in data.get("fixes", [])],
            cores_by_ref={k: list(v) for k, v in (data.get("cores_by_ref") or {}).items()},
            cell_refs=[(str(a), str(b)) for a, b in data.get("cell_refs") or []],
        )


@dataclass
class Explanation:
    """Why a run regressed (explain.json, `canary/explain/v1`): its groups and steps."""

    run_id: str
    groups: list[Group] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)

    @property
    def cause_count(self) -> int:
        return len(self.groups)

    def group_of(self, cell_id: str) -> Group | None:
        return next((g for g in self.groups if cell_id in g.cells), None)

    def for_cell(self, cell_id: str) -> dict:
        """The fields a verdict gains: group, first_bad, probable_causes, fixes (empty when not regressed)."""
        g = self.group_of(cell_id)
        if g is None:
            return {"group": None, "first_bad": None, "probable_causes": [], "fixes": []}
        ref_key = g.ref_of.get(cell_id)
        step = g.step_of(ref_key) if ref_key else None
        return {
            "group": g.id,
            "first_bad": step.first_bad if step else (g.first_bad[0] if g.first_bad else None),
            "probable_causes": [c.to_dict() for c in g.causes],
            "fixes": [f.to_dict() for f in g.fixes if ref_key is None or f"{f.connector}@{f.ref}" == ref_key],
        }

    def to_dict(self) -> dict:
        return {
            "schema": EXPLAIN_SCHEMA,
            "run_id": self.run_id,
            "groups": [g.to_dict() for g in self.groups],
            "steps": [s.to_dict() for s in self.steps],
        }

    @classmethod
    def from_dict(cls, data: dict) -> Explanation:
        return cls(
            run_id=str(data.get("run_id", "")),
            groups=[Group.from_dict(g) for g in data.get("groups", [])],
            steps=[Step.from_dict(s) for s in data.get("steps", [])],
        )


# ---------------------------------------------------------------- causes


def _is_rename(ch) -> bool:
    return bool(ch.renamed_to) or "renam" in ch.rule


def exposure_by_change(
    diff: CompatDiff, exposure: Exposure | None, refs: dict[str, str], keep_zero: bool = False
) -> list[dict[str, int]]:
    """Places per connector ref for each change. Where a rename and another change (its deprecated
    alias's type, say) name the same symbol, the places belong to the rename: the lint rule that
    counted them is the rename's migration."""
    renamed = {ch.symbol for ch in diff.changes if _is_rename(ch)}
    out = []
    for ch in diff.changes:
        counts = {}
        if exposure is not None:
            shadowed = ch.symbol in renamed and not _is_rename(ch)
            for key, package_key in refs.items():
                exp = exposure.connectors.get(key) or exposure.connectors.get(package_key)
                if exp is None:
                    continue
                n = 0 if shadowed else exp.touches(ch.symbol)
                if n or keep_zero:
                    counts[key] = n
        out.append(counts)
    return out


def _places(exposure: Exposure | None, keys: list[str], symbol: str, limit: int = 5) -> list[str]:
    if exposure is None:
        return []
    out: list[str] = []
    for key in keys:
        exp = exposure.connectors.get(key)
        places = getattr(exp, "places", None) or {}
        for sym, where in places.items():
            if sym == symbol or sym.endswith("." + symbol) or symbol.endswith("." + sym):
                out += [f"{key}: {w}" for w in where]
    return out[:limit]


def rank_causes(
    diff: CompatDiff, step: str, failure: set[str], exposure: Exposure | None, refs: dict[str, str]
) -> list[Cause]:
    """Breaking changes of one step that could explain the failure, best first; [] when none scores."""
    causes = []
    for ch, counts in zip(diff.changes, exposure_by_change(diff, exposure, refs)):
        if ch.severity == "INFO":
            continue
        ov, shared = overlap(failure, ch.symbol)
        score = (1.0 if counts else 0.0) + ov
        if score <= 0:
            continue
        causes.append(
            Cause(
                ch.rule,
                ch.severity,
                ch.symbol,
                ch.message,
                ch.renamed_to,
                step,
                round(score, 3),
                counts,
                _places(exposure, list(counts), ch.symbol),
                shared,
            )
        )
    causes.sort(key=lambda c: (-c.score, -c.exposed, -_SEVERITY_RANK.get(c.severity, 0), not c.renamed_to))
    return causes


# ---------------------------------------------------------------- fixes


def _newer_ref_fix(
    connector: str, ref: str, bad_cores: list[str], verdicts: list[Verdict], ecosystem: str
) -> Fix | None:
    by_ref: dict[str, dict[str, Verdict]] = {}
    for v in verdicts:
        if v.connector == connector and v.ref != ref:
            by_ref.setdefault(v.ref, {})[v.core] = v
    passing = [r for r, cells in by_ref.items() if all(c in cells and _passed(cells[c]) for c in bad_cores)]
    versions = _versions_newer_than(ecosystem, ref, passing)
    if not versions:
        return None
    best = versions[-1]
    return Fix(
        "newer-ref",
        f"{connector}@{best} passes on core {', '.join(bad_cores)} (instead of {ref})",
        connector,
        ref,
        other_ref=best,
        cores=list(bad_cores),
    )


def _passed(v: Verdict) -> bool:
    """Passed on that core: ok or fixed, also where the core is outside the ref's declared range
    (plugin-discord 1.3.8 declares ^1.7.2 and still passes on 1.6.5)."""
    return v.verdict in _PASSED or (v.verdict == "unsupported" and v.judged in _PASSED)


def _versions_newer_than(ecosystem: str, ref: str, refs: list[str]) -> list[str]:
    """Refs newer than `ref` oldest first; refs that are not versions (git branches) all count, as listed."""
    ordered = sort_if_versions(ecosystem, [ref, *refs])
    return refs if ordered is None else ordered[ordered.index(ref) + 1 :]


def _migration_fix(connector: str, ref: str, key: str, exposure: Exposure | None, cause: Cause | None) -> Fix | None:
    if exposure is None or not exposure.migration or cause is None or not cause.exposure.get(key):
        return None
    exp = exposure.connectors.get(key)
    places = exp.findings if exp else cause.exposure[key]
    raw = getattr(exp, "verification", None)
    verified = (raw.get("status") if isinstance(raw, dict) else raw) or "unverified"
    core = raw.get("core") if isinstance(raw, dict) else None
    how = {
        "pass": f"verified: passes on core {core}" if core else "verified: passes",
        "fail": "verified: still fails",
        "error": "verification could not run",
    }.get(verified, "not verified")
    command = f"canary fix --migration {exposure.migration}"
    return Fix(
        "migration",
        f"`{command}`: {places} place{'s' if places != 1 else ''} in {key}, {how}",
        connector,
        ref,
        command=command,
        places=places,
        verified=verified,
    )


def _waiver_fix(connector: str, ref: str, cells: list[str], cause: Cause | None, error: str, today: _dt.date) -> Fix:
    pattern = cells[0] if len(cells) == 1 else cells[0].rsplit("--core-", 1)[0] + "--core-*"
    why = f"{cause.what} ({cause.rule})" if cause else error
    expires = (today + _dt.timedelta(days=WAIVER_DAYS)).isoformat()
    waiver = {"cell": pattern, "reason": f"known regression: {why}"[:200], "issue": "", "expires": expires}
    snippet = (
        f'- cell: "{pattern}"\n  reason: "{_yaml_text(waiver["reason"])}"\n'
        f'  issue: ""  # the issue that tracks it\n  expires: {expires}\n'
    )
    return Fix(
        "waiver", f"waive {pattern} until {expires} (waivers.yaml)", connector, ref, waiver=waiver, snippet=snippet
    )


def _yaml_text(s: str) -> str:
    return s.replace("\\", "\\\\").replace('"', '\\"')


# ---------------------------------------------------------------- building it


def _diff_for(run_path: Path, step: Step, record: RunRecord, cache: dict) -> tuple[CompatDiff | None, str]:
    """The compat diff of a step: its own file, else the run's baseline -> newest diff;
    (None, "") when the run has neither (no `compat: {diff: true}`)."""
    candidates = []
    if step.pair:
        candidates.append(step_diff_path(run_path, *step.pair))
    whole = run_path / DIFF_FILE
    candidates.append(whole)
    for path in candidates:
        if path in cache:
            if cache[path] is not None:
                return cache[path], str(path)
            continue
        diff = None
        if path.is_file():
            try:
                diff = load_diff(path)
            except UserError:
                diff = None
        cache[path] = diff
        if diff is not None:
            return diff, str(path)
    return None, ""


def _log_text(run: RunDir, result: CellResult | None) -> str:
    if result is None:
        return ""
    attempt = next((a for a in result.attempts if a.status != "pass"), result.attempts[-1] if result.attempts else None)
    if attempt is None:
        return ""
    rel = attempt.log or str(run.log_file(result.cell_id, attempt.number).relative_to(run.path))
    return read_log(run.path, rel).text


def explain(
    run: RunDir,
    summary: Summary,
    record: RunRecord | None = None,
    results: dict[str, CellResult] | None = None,
    today: _dt.date | None = None,
) -> Explanation:
    """The explanation of one judged run (reads its logs, step diffs, exposure.json and bisect.json)."""
    record = record or run.read_run()
    results = results if results is not None else run.read_cells()
    today = today or _dt.date.today()
    cores = list(dict.fromkeys([*record.candidates, *(p.core for p in record.cells)]))
    ecosystem = record.ecosystem  # "" (a run recorded before the field): the cores in the matrix's order
    steps = attribute_run(summary.verdicts, ecosystem, record.baseline, cores, run.path)
    step_by_ref = {s.key: s for s in steps}
    exposure = load_exposure(run)
    packages: dict[str, str] = {}  # connector@ref -> package@ref
    for p in record.cells:
        result = results.get(p.id)
        packages[f"{p.connector}@{p.ref}"] = f"{result.connector.package if result else ''}@{p.ref}"

    regressed = [v for v in summary.verdicts if is_regression(v)]
    by_sig: dict[str, tuple[Signature, list[Verdict]]] = {}
    for v in regressed:
        result = results.get(v.cell_id)
        sig = signature(_log_text(run, result), result, v.reason, v.newly_failing_tests)
        by_sig.setdefault(sig.key, (sig, []))[1].append(v)

    ordered = sorted(
        by_sig.values(), key=lambda item: (not any(v.blocking for v in item[1]), -len(item[1]), item[1][0].cell_id)
    )
    diff_cache: dict = {}
    groups = []
    for number, (sig, members) in enumerate(ordered, 1):
        refs = list(dict.fromkeys(f"{v.connector}@{v.ref}" for v in members))
        group_steps = [step_by_ref[r] for r in refs if r in step_by_ref]
        failure = words(" ".join([sig.example, *sig.lines]))
        causes: list[Cause] = []
        diff_files: list[str] = []
        seen_steps = set()
        for st in group_steps:
            diff, file = _diff_for(run.path, st, record, diff_cache)
            if diff is None or file in seen_steps:
                continue
            seen_steps.add(file)
            diff_files.append(file)
            label = f"{diff.old_label or st.last_good} -> {diff.new_label or st.first_bad}"
            causes += rank_causes(diff, label, failure, exposure, {r: packages.get(r, r) for r in refs})
        causes.sort(key=lambda c: (-c.score, -c.exposed, -_SEVERITY_RANK.get(c.severity, 0)))
        causes = _dedupe(causes)[:TOP_CAUSES]
        no_match = ""
        if not causes:
            no_match = (
                (
                    "no matching change: no breaking change of the step touches what this connector uses "
                    "or is named by its failure"
                )
                if diff_files
                else ("no matching change: the run has no compat diff of this step (compat: {diff: true})")
            )
        group = Group(
            f"g-{sig.digest}",
            number,
            sig,
            [v.cell_id for v in members],
            refs,
            list(dict.fromkeys(v.core for v in members)),
            any(v.blocking for v in members),
            group_steps,
            diff_files,
            causes,
            no_match,
        )
        for v in members:
            key = f"{v.connector}@{v.ref}"
            group.cores_by_ref.setdefault(key, []).append(v.core)
            group.cell_refs.append((v.cell_id, key))
        top = causes[0] if causes else None
        for ref_key in refs:
            mine = [v for v in members if f"{v.connector}@{v.ref}" == ref_key]
            connector, ref = mine[0].connector, mine[0].ref
            bad_cores = [v.core for v in mine]
            fix = _newer_ref_fix(connector, ref, bad_cores, summary.verdicts, ecosystem_of_refs(record, connector))
            if fix:
                group.fixes.append(fix)
            fix = _migration_fix(connector, ref, ref_key, exposure, top)
            if fix:
                group.fixes.append(fix)
            group.fixes.append(_waiver_fix(connector, ref, [v.cell_id for v in mine], top, sig.error, today))
        groups.append(group)
    return Explanation(record.run_id, groups, steps)


def ecosystem_of_refs(record: RunRecord, connector: str) -> str:
    """How a connector's refs are ordered: as versions when the run's ecosystem has them."""
    return record.ecosystem if record.ecosystem in ("npm", "pypi") else ""


def _dedupe(causes: list[Cause]) -> list[Cause]:
    seen, out = set(), []
    for c in causes:
        key = (c.rule, c.symbol)
        if key not in seen:
            seen.add(key)
            out.append(c)
    return out


def write(explanation: Explanation, run_path: Path) -> Path:
    """Write `<run>/explain.json` atomically and return its path."""
    from canary.kernel.atomic import write_json_atomic

    path = Path(run_path) / EXPLAIN_FILE
    write_json_atomic(path, explanation.to_dict())
    return path


def read(run_path: Path) -> Explanation | None:
    """explain.json of a run, or None (older runs, or one that regressed nowhere)."""
    import json

    try:
        return Explanation.from_dict(json.loads((Path(run_path) / EXPLAIN_FILE).read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError):
        return None
