"""Bisection: the first bad core version (or commit) of a regressed connector ref.

A regression shows up in the matrix as a step: the connector ref passes on one core (the last
good) and fails on the next one the matrix tests (the first bad). Between the two there are
usually more versions: every published npm / PyPI version (prereleases included, in the
ecosystem's order) or, for a core from git, the first-parent commits. This module lists them and
binary-searches them with real cells: each probe is an ordinary cell (same connector ref, core =
the probe version) with `role: bisect`, run by `execute()` into the same run directory and cached
like any cell. Probes never count in the decision (canary.matrix.verdicts leaves them out).

At most ceil(log2 n) + 1 probes for n versions in between. A probe that fails and then passes on
a retry is flaky, which the regression is not (it failed on every attempt): it counts as good and
its note says so. A probe whose cell is an `error` (or skipped) says nothing about the break: it
is skipped and the search tests its neighbour; when only skipped versions separate the last good
from the first bad, the answer is not conclusive and says which versions could be the first bad.

The result is `<run>/bisect.json` (schema `canary/bisect/v1`, matrix/schemas/bisect.schema.json).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from functools import lru_cache
from importlib import resources
from pathlib import Path
from collections.abc import Callable

from canary.kernel.atomic import write_bytes_atomic
from canary.kernel.errors import UserError
from canary.kernel.home import Home
from canary.matrix import waivers as _waivers
from canary.matrix.execute import RunOptions, execute, planned
from canary.matrix.model import CoreSpec, Matrix, cell_id
from canary.matrix.plan import make_cell, resolve_core_versions
from canary.matrix.registry import available_versions
from canary.matrix.results import CellResult
from canary.matrix.sources import git as gitsrc
from canary.kernel.atomic import write_json_atomic
from canary.matrix.store import RunDir, Store, read_json
from canary.matrix.verdicts import Verdict, classify, effective_status
from canary.matrix.versions import version_key

__all__ = [
    "SCHEMA",
    "FILE",
    "PROBE_SUFFIX",
    "GOOD_VERDICTS",
    "Probe",
    "Search",
    "BisectDocument",
    "read",
    "Step",
    "max_probes",
    "find_step",
    "between",
    "search",
    "judge_probe",
    "Prober",
    "bisect_step",
    "bisect_cells",
    "write",
    "schema",
]

SCHEMA = "canary/bisect/v1"
FILE = "bisect.json"
PROBE_SUFFIX = "--bisect"
GOOD_VERDICTS = ("ok", "fixed")


@dataclass
class Probe:
    """One probe cell of a search: the core it tried, the cell's status, and what that made it."""

    label: str
    cell_id: str
    status: str  # the cell's effective status: pass | fail | flaky | error | skipped
    verdict: str  # good | bad | skipped
    note: str = ""

    @classmethod
    def from_dict(cls, data: dict) -> Probe:
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})


@dataclass
class Search:
    """One bisection (a `searches[]` entry of bisect.json): the step it narrowed and the probes it ran."""

    connector: str
    ref: str
    ecosystem: str  # npm | pypi | git
    last_good: str
    first_bad: str | None
    between: list[str] = field(default_factory=list)
    probes: list[Probe] = field(default_factory=list)
    max_probes: int = 0
    conclusive: bool = False
    note: str = ""

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Search:
        own = {f.name: data[f.name] for f in fields(cls) if f.name in data}
        own["between"] = list(own.get("between") or [])
        own["probes"] = [Probe.from_dict(p) for p in own.get("probes") or []]
        return cls(**own)

    @property
    def key(self) -> tuple:
        """One search per step: its versions in between name it."""
        return self.connector, self.ref, tuple(self.between) or self.first_bad


@dataclass
class BisectDocument:
    """`<run>/bisect.json` (schema canary/bisect/v1): the one class that writes and reads it
    (`write` here, `canary bisect --json`, canary.matrix.steps.read_bisect)."""

    searches: list[Search] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"schema": SCHEMA, "searches": [s.to_dict() for s in self.searches]}

    @classmethod
    def from_dict(cls, data: dict) -> BisectDocument:
        if not isinstance(data, dict) or data.get("schema") != SCHEMA:
            raise ValueError(f"not a bisection document (schema {SCHEMA})")
        return cls([Search.from_dict(s) for s in data.get("searches") or []])


@dataclass(frozen=True)
class Step:
    """The matrix step of a regressed connector ref: it passed on `good`, regressed on `bad`."""

    connector: str
    ref: str
    good: CoreSpec
    bad: CoreSpec


def max_probes(n: int) -> int:
    """ceil(log2 n) + 1 for n versions in between (0 when there is none)."""
    return 0 if n <= 0 else (n - 1).bit_length() + 1


# ---------------------------------------------------------------- which step


def _order(matrix: Matrix, specs: list[CoreSpec], home: Home) -> list[CoreSpec]:
    """Core versions in release order: the ecosystem's version order, commit order for one git
    repository (by the number of ancestors), else the matrix's own order."""
    if all(s.kind == "registry" for s in specs):
        return sorted(specs, key=lambda s: version_key(matrix.core.ecosystem, s.version or ""))
    if all(s.kind == "git" for s in specs) and len({s.url for s in specs}) == 1:
        repo = gitsrc.mirror(home.mirrors, specs[0].url or "")
        return sorted(
            specs, key=lambda s: int(repo.git.rev_list("--count", gitsrc.resolve(repo, s.ref or "") or s.ref))
        )
    return specs


def find_step(matrix: Matrix, verdicts: list[Verdict], cell: str, home: Home) -> Step:
    """The step that explains the regressed cell `cell`: the newest core at or before its core on
    which the connector ref passed, and the first core after it on which the ref regressed."""
    target = next((v for v in verdicts if v.cell_id == cell), None)
    if target is None:
        raise UserError(f"no cell {cell!r} in this run", hint="`canary verdicts` lists the run's cells")
    if target.verdict != "regressed":
        raise UserError(f"cell {cell!r} is {target.label}, not regressed: nothing to bisect")
    specs, _ = resolve_core_versions(matrix)
    by_label = {s.label: s for s in specs}
    mine = {v.core: v for v in verdicts if (v.connector, v.ref) == (target.connector, target.ref)}
    good = bad = None
    for spec in _order(matrix, [s for s in specs if s.label in mine], home):
        verdict = mine[spec.label].verdict
        if verdict in GOOD_VERDICTS:
            good, bad = spec, None
        elif verdict == "regressed" and good is not None and bad is None:
            bad = spec
        if spec.label == target.core:
            break
    if good is None or bad is None or target.core not in by_label:
        raise UserError(f"cell {cell!r}: no core before {target.core} on which {target.connector}@{target.ref} passed")
    return Step(target.connector, target.ref, good, bad)


# ---------------------------------------------------------------- what is in between


def between(matrix: Matrix, good: CoreSpec, bad: CoreSpec, home: Home) -> tuple[str, list[CoreSpec]]:
    """(ecosystem, the versions strictly between good and bad, oldest first)."""
    core = matrix.core
    if good.kind == bad.kind == "registry":
        eco = core.ecosystem
        lo, hi = version_key(eco, good.version or ""), version_key(eco, bad.version or "")
        published = available_versions(eco, core.name, core.index)
        inside = sorted((v for v in set(published) if lo < version_key(eco, v) < hi), key=lambda v: version_key(eco, v))
        return eco, [CoreSpec(label=v, kind="registry", version=v) for v in inside]
    if good.kind == bad.kind == "git" and good.url == bad.url and good.subdir == bad.subdir:
        repo = gitsrc.mirror(home.mirrors, bad.url or "")
        g, b = gitsrc.resolve(repo, good.ref or ""), gitsrc.resolve(repo, bad.ref or "")
        if g is None or b is None:
            raise UserError(f"git: {good.ref if g is None else bad.ref!r} does not exist in {bad.url}")
        commits = repo.git.rev_list("--first-parent", "--reverse", f"{g}..{b}").split()
        commits = [c for c in commits if c != b]
        return "git", [
            CoreSpec(label=f"git:{c[:12]}", kind="git", url=bad.url, ref=c, subdir=bad.subdir) for c in commits
        ]
    raise UserError(
        f"cannot list the versions between core {good.label} ({good.kind}) and {bad.label} ({bad.kind})",
        hint="bisection needs two registry versions or two commits of one git repository",
    )


# ---------------------------------------------------------------- the search


def search(labels: list[str], probe: Callable[[int], Probe], budget: int) -> tuple[int, int, list[Probe]]:
    """Binary search over `labels` (the versions in between, then the first bad, which is known
    bad; index -1 is the last good). Returns (last good index, first bad index, probes)."""
    lo, hi = -1, len(labels) - 1
    probes: list[Probe] = []
    skipped: set[int] = set()
    while hi - lo > 1 and len(probes) < budget:
        index = _pick(lo, hi, skipped)
        if index is None:
            break
        if probes and probes[-1].verdict == "skipped":
            probes[-1].note += f"; skipped, its neighbour {labels[index]} tested instead"
        result = probe(index)
        probes.append(result)
        if result.verdict == "good":
            lo = index
        elif result.verdict == "bad":
            hi = index
        else:
            skipped.add(index)
    return lo, hi, probes


def _pick(lo: int, hi: int, skipped: set[int]) -> int | None:
    """The middle of (lo, hi), or its nearest neighbour that was not skipped."""
    mid = (lo + hi) // 2
    for distance in range(hi - lo):
        for index in (mid + distance, mid - distance):
            if lo < index < hi and index not in skipped:
                return index
    return None


def judge_probe(result: CellResult | None, run_path: Path) -> tuple[str, str, str]:
    """(status, verdict, note) of a probe cell."""
    if result is None:
        return "error", "skipped", "error: no result"
    status, reason = effective_status(result, run_path)
    if status == "pass":
        return "pass", "good", ""
    if status == "fail":
        failed = [a.number for a in result.attempts if a.status in ("fail", "timeout")]
        passed = [a.number for a in result.attempts if a.status == "pass"]
        if passed:
            return (
                "flaky",
                "good",
                (
                    f"flaky: failed on attempt {failed[0]}, passed on attempt {passed[0]} (retried); "
                    "counted as good, the regression fails on every attempt"
                ),
            )
        return "fail", "bad", reason
    return status, "skipped", f"{status}: {reason or 'no reason given'}"


class Prober:
    """Runs probe cells into the run directory, one `execute()` per probe (the search is sequential)."""

    def __init__(self, matrix: Matrix, run: RunDir, home: Home, *, use_cache: bool = True, progress: str = "auto"):
        self.matrix, self.run, self.home = matrix, run, home
        self.use_cache, self.progress = use_cache, progress
        self.baseline = resolve_core_versions(matrix)[1]
        self.cell_runs = 0  # cells actually executed (a probe already in the run is read back)

    def __call__(self, connector: str, ref: str, spec: CoreSpec) -> Probe:
        cell = make_cell(self.matrix, self.matrix.connector(connector), ref, spec, self.baseline)
        cell = replace(
            cell, id=cell_id(connector, ref, spec.label) + PROBE_SUFFIX, role="bisect", tags=(*cell.tags[:-1], "bisect")
        )
        record = self.run.read_run()
        if cell.id not in {p.id for p in record.cells}:
            record.cells += planned([cell], self.matrix.file)
            self.run.write_run(record)
        if self.run.read_cell(cell.id) is None:
            # A flaky probe must get its retry even when the matrix retries nothing.
            options = RunOptions(
                retries=max(1, self.matrix.settings.retries), use_cache=self.use_cache, progress=self.progress
            )
            self._execute_keeping_verdicts(cell, options)
            self.cell_runs += 1
        status, verdict, note = judge_probe(self.run.read_cell(cell.id), self.run.path)
        return Probe(label=spec.label, cell_id=cell.id, status=status, verdict=verdict, note=note)

    def _execute_keeping_verdicts(self, cell, options: RunOptions) -> None:
        # Probes change no verdict, and later steps (or `canary bisect` after the run) may have
        # enriched verdicts.json: execute() re-judges the run, so the file is kept as it was.
        verdicts_file = self.run.path / "verdicts.json"
        kept = verdicts_file.read_bytes() if verdicts_file.exists() else None
        execute(self.matrix, [cell], options, store=Store(self.run.path.parent), resume=self.run, home=self.home)
        if kept is not None:
            write_bytes_atomic(verdicts_file, kept)


def bisect_step(step: Step, matrix: Matrix, prober: Prober, home: Home) -> Search:
    """Binary-search the versions between a step's last good and first bad core with probe cells."""
    ecosystem, inside = between(matrix, step.good, step.bad, home)
    labels = [s.label for s in inside] + [step.bad.label]
    specs = [*inside, step.bad]
    budget = max_probes(len(inside))
    lo, hi, probes = search(labels, lambda i: prober(step.connector, step.ref, specs[i]), budget)
    last_good = labels[lo] if lo >= 0 else step.good.label
    first_bad = labels[hi]
    untested = labels[lo + 1 : hi]
    conclusive = not untested
    note = (
        f"{len(inside)} version(s) between {step.good.label} and {step.bad.label}; "
        f"{len(probes)} probe(s) of at most {budget}"
    )
    skipped = [p.label for p in probes if p.verdict == "skipped"]
    flaky = [p.label for p in probes if p.status == "flaky"]
    if skipped:
        note += f"; skipped (error): {', '.join(skipped)}"
    if flaky:
        note += f"; flaky, retried and counted as good: {', '.join(flaky)}"
    if conclusive:
        note += f"; first bad: {first_bad} (last good {last_good})"
    else:
        why = "only skipped versions are left" if set(untested) <= set(skipped) else "the probe budget is spent"
        note += f"; not conclusive ({why}): the first bad is {first_bad} or one of the untested {', '.join(untested)}"
    return Search(
        connector=step.connector,
        ref=step.ref,
        ecosystem=ecosystem,
        last_good=last_good,
        first_bad=first_bad,
        between=[s.label for s in inside],
        probes=probes,
        max_probes=budget,
        conclusive=conclusive,
        note=note,
    )


def bisect_cells(
    matrix: Matrix,
    run: RunDir,
    cells: list[str],
    home: Home | None = None,
    *,
    use_cache: bool = True,
    progress: str = "auto",
) -> list[Search]:
    """Bisect the regressed cells `cells` of `run` (one search per step, however many cells share
    it) and write `<run>/bisect.json`, keeping the searches of other steps already in it."""
    home = home or Home.default()
    summary = classify(run, waivers=_waivers.combine(matrix.waivers, _waivers.load_beside(matrix.file)))
    steps: list[Step] = []
    for cell in cells:
        step = find_step(matrix, summary.verdicts, cell, home)
        if step not in steps:
            steps.append(step)
    prober = Prober(matrix, run, home, use_cache=use_cache, progress=progress)
    searches = [bisect_step(step, matrix, prober, home) for step in steps]
    write(run, searches)
    return searches


def write(run: RunDir, searches: list[Search]) -> Path:
    """`<run>/bisect.json`: these searches, and the earlier ones of other steps."""
    path = run.path / FILE
    earlier = read(path) if path.exists() else BisectDocument()
    fresh = {s.key for s in searches}
    kept = [s for s in earlier.searches if s.key not in fresh]
    write_json_atomic(path, BisectDocument(kept + list(searches)).to_dict())
    return path


def read(path: Path) -> BisectDocument:
    """bisect.json; a broken one is an error naming the file."""
    try:
        return BisectDocument.from_dict(read_json(path))
    except (ValueError, KeyError, TypeError) as exc:
        raise UserError(f"malformed bisection document: {exc}", file=str(path)) from None


@lru_cache(maxsize=1)
def schema() -> dict:
    """The JSON Schema of bisect.json (matrix/schemas/bisect.schema.json)."""
    return json.loads(resources.files("canary.matrix").joinpath("schemas/bisect.schema.json").read_text())
