"""Promotion: gather the inputs, run every check, plan the actions, and only with
--confirm and all checks passed, perform them.

Nothing is written before every check has passed. Every action first looks at
what already exists (the tag, the evidence file, the version in pyproject.toml,
the changelog heading, the npm dist-tag) and does nothing when it is already
done, so a second `--confirm` with the same inputs changes nothing.
"""

from __future__ import annotations

import datetime as _dt
import os
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from canary.matrix import waivers as _waivers
from canary.kernel.errors import UserError
from canary.matrix.model import Waiver
from canary.matrix.results import CellResult, RunRecord
from canary.matrix.store import DEFAULT_STORE, RunDir, Store, open_run
from canary.matrix.verdicts import Summary, classify
from canary.promote import checks, evidence, files, gitops
from canary.promote.freshness import ref_states, run_age
from canary.promote.model import (
    EXIT_INCONCLUSIVE,
    INCONCLUSIVE,
    PASS,
    REFUSE,
    SKIP,
    Action,
    Check,
    Promotion,
    decide,
    rel,
)
from canary.promote.versions import TagVersion, parse_tag

if TYPE_CHECKING:
    from canary.reports.explain import Explanation

ENV_NPM = "CANARY_NPM"  # the npm command (e.g. a wrapper); default `npm`
DEFAULT_MAX_AGE = "24h"
NPM_TIMEOUT_S = 120

_T = TypeVar("_T")
_Content = TypeVar("_Content", bytes, str)


@dataclass
class Request:
    prerelease_tag: str
    repo: Path = Path(".")
    to: str | None = None
    run: str | None = None
    store: Path = DEFAULT_STORE
    max_age_s: float = 86400.0
    max_age_text: str = DEFAULT_MAX_AGE
    soak_s: float | None = None
    soak_text: str = ""
    allow_flaky: int = 0
    digest: str | None = None  # sha256 of the core artifact the run must have tested
    npm_package: str | None = None
    dist_tag: str = "latest"
    npm_version: str | None = None
    npm_command: str | None = None
    pyproject: Path | None = None
    changelog: Path | None = None  # None: <repo>/CHANGELOG.md
    no_changelog: bool = False
    sign_key: Path | None = None
    evidence_dir: Path | None = None  # None: <repo>/reports/promotions
    waivers_file: Path | None = None
    matrix_file: Path | None = None  # None: the run's own matrix file
    core_label: str | None = None  # only the candidate cells of this core (a run with several candidates)
    confirm: bool = False
    now: _dt.datetime | None = None


@dataclass
class _Run:
    """A run read from the store: its directory, its record and the results of its cells."""

    dir: RunDir
    record: RunRecord
    results: dict[str, CellResult]


@dataclass(frozen=True)
class _Release:
    """What a passed tag check guarantees: the release tag and version to make, on the prerelease's commit."""

    tag: str
    version: str
    commit: str


@dataclass(frozen=True)
class _Judged:
    """A run the verdicts were computed for: all the evidence the planned actions refer to."""

    run: _Run
    summary: Summary


def _bare(digest: str | None) -> str:
    return (digest or "").rpartition(":")[2].lower()


def _matrix_inputs(req: Request, record: RunRecord) -> tuple[dict[str, str], tuple[Waiver, ...], Check]:
    """Connector git urls and waivers from the run's matrix file (and waivers.yaml beside it).

    The file must be the one the run used: found at the absolute path run.json records (or named
    by --matrix) with the same content digest, and the waivers.yaml beside it unchanged. Anything
    else would judge the run with other waivers or other connector urls: inconclusive.
    """
    from canary.matrix import config  # the matrix loader; imported late so `canary --help` stays light
    from canary.kernel.digest import file_sha256

    recorded = record.matrix_path or record.matrix_file
    file = req.matrix_file or (Path(recorded) if recorded else None)
    extra = _waivers.load_waivers(req.waivers_file) if req.waivers_file else ()
    if file is None or not file.is_file():
        why = f"matrix file {str(file)!r} not found" if file else "the run names no matrix file"
        return (
            {},
            extra,
            Check(
                "matrix",
                INCONCLUSIVE,
                f"{why}: its waivers and connector urls are unknown; "
                "pass --matrix FILE with the run's matrix (digest "
                f"{_bare(record.matrix_digest)[:16] or 'not recorded'})",
            ),
        )
    try:
        matrix = config.load(file)
        beside = _waivers.load_beside(file)
    except UserError as exc:
        return {}, extra, Check("matrix", INCONCLUSIVE, f"cannot read the run's matrix file: {exc}")
    if not record.matrix_digest or _bare(record.matrix_digest) != _bare(matrix.digest):
        got = _bare(matrix.digest)[:16]
        want = _bare(record.matrix_digest)[:16] or "not recorded"
        return (
            {},
            extra,
            Check(
                "matrix",
                INCONCLUSIVE,
                f"{file} is not the matrix the run used (digest {got}, the "
                f"run's {want}): pass --matrix FILE with the run's matrix, or run the matrix again",
            ),
        )
    beside_file = _waivers.beside(file)
    beside_digest = file_sha256(beside_file) if beside_file.is_file() else None
    if record.matrix_path and beside_digest != record.waivers_digest:
        return (
            {},
            extra,
            Check(
                "matrix",
                INCONCLUSIVE,
                f"{beside_file} changed since the run (digest "
                f"{(beside_digest or 'none')[:16]}, the run's {(record.waivers_digest or 'none')[:16]}): "
                "its waivers are not the ones the run was judged with; run the matrix again",
            ),
        )
    urls = {c.name: c.source.url for c in matrix.connectors if c.source.kind == "git" and c.source.url}
    waivers = _waivers.combine(tuple(matrix.waivers), beside, extra)
    return (
        urls,
        waivers,
        Check(
            "matrix", PASS, f"{file}: the run's matrix (digest {_bare(matrix.digest)[:16]}), {len(waivers)} waiver(s)"
        ),
    )


def _default_run(req: Request) -> RunDir:
    """The latest complete run of the matrix (not partial, not a reproduction); the latest run when
    there is none, which the coverage check then refuses to take as evidence."""
    store = Store(req.store)
    wanted = str(Path(req.matrix_file).resolve()) if req.matrix_file else None
    return store.latest_complete(wanted) or store.latest()


def _load_run(req: Request) -> _Run | str:
    """The run to judge, or why it cannot be read."""
    try:
        run_dir = open_run(req.run, req.store) if req.run is not None else _default_run(req)
        out = _Run(run_dir, run_dir.read_run(), run_dir.read_cells(strict=True))
    except UserError as exc:
        # A missing or corrupt results file makes the run unusable as evidence: inconclusive, not a crash.
        return str(exc)
    if req.core_label is not None:
        # Judge only this candidate core (and the baselines): the other candidates are another release.
        keep = [p for p in out.record.cells if p.role == "baseline" or p.core == req.core_label]
        if not any(p.role == "candidate" for p in keep):
            labels = sorted({p.core for p in out.record.cells if p.role == "candidate"})
            raise UserError(
                f"the run has no candidate cells with core {req.core_label!r}",
                key="--core",
                hint=f"candidate cores: {', '.join(labels) or 'none'}",
            )
        out.record.cells = keep
        ids = {p.id for p in keep}
        out.results = {k: v for k, v in out.results.items() if k in ids}
    return out


def _npm_argv(req: Request, version: str) -> list[str]:
    base = shlex.split(req.npm_command or os.environ.get(ENV_NPM) or "npm")
    return [*base, "dist-tag", "add", f"{req.npm_package}@{req.npm_version or version}", req.dist_tag]


def promote(req: Request) -> Promotion:
    now = req.now or _dt.datetime.now(_dt.UTC)
    repo = gitops.ensure_repo(Path(req.repo))
    tag = req.prerelease_tag
    commit = gitops.tag_commit(repo, tag)
    parsed: TagVersion | None = parse_tag(tag)
    release_tag = parsed.release_tag if parsed else None
    version = parsed.release if parsed else None
    digest = (req.digest or "").lower().removeprefix("sha256:") or None

    loaded = _load_run(req)
    run = loaded if isinstance(loaded, _Run) else None
    promo = Promotion(
        prerelease_tag=tag,
        release_tag=release_tag,
        version=version,
        commit=commit,
        run_id=run.record.run_id if run else None,
        dry_run=not req.confirm,
    )
    cs = promo.checks
    tag_check = checks.check_tag(tag, commit, parsed, req.to)
    cs.append(tag_check)
    release: _Release | None = None
    if tag_check.outcome == PASS and parsed is not None and commit is not None:
        release = _Release(parsed.release_tag, parsed.release, commit)
        cs.append(checks.check_release_tag(repo, release.tag, release.commit))
    else:
        cs.append(Check("release-tag", SKIP, "no release to tag"))

    judged: _Judged | None = None
    if run is None:
        cs.append(Check("results", INCONCLUSIVE, f"results unreadable: {loaded}"))
    else:
        urls, waivers, matrix_check = _matrix_inputs(req, run.record)
        cs.append(matrix_check)
        try:
            summary = classify(run.dir, run.record, run.results, waivers=waivers, today=now.date())
        except UserError as exc:  # e.g. a corrupt JUnit file a verdict is built from
            cs.append(Check("results", INCONCLUSIVE, f"results unreadable: {exc}"))
        else:
            judged = _Judged(run, summary)
    if judged is not None:
        run, summary = judged.run, judged.summary
        cs.append(checks.check_coverage(run.record, summary))
        cs.append(checks.check_core(run.record, run.results, commit, digest))
        required = [
            r for r in run.results.values() if r.tier == "required" and any(p.id == r.cell_id for p in run.record.cells)
        ]
        states = ref_states(required, urls, "" if urls else "connector urls unknown (no matrix file)")
        age = run_age(run.record.started_at, run.record.finished_at, now)
        cs.append(checks.check_freshness(states, age, req.max_age_s, req.max_age_text))
        cs.append(checks.check_results(summary, run.results))
        verdicts_check = checks.check_verdicts(summary, _explanation(judged))
        if matrix_check.outcome == INCONCLUSIVE and verdicts_check.outcome == REFUSE:
            # Without the run's own matrix its waivers are unknown: a regression it may have
            # waived is not a proven refusal either. Nothing is promoted; the run is inconclusive.
            verdicts_check.outcome = INCONCLUSIVE
            verdicts_check.message += " (waivers unknown: not the run's matrix file)"
        cs.append(verdicts_check)
        cs.append(checks.check_flaky(summary, req.allow_flaky))
        cs.append(checks.check_waivers(summary))
    cs.append(checks.check_soak(gitops.tag_created(repo, tag) if commit else None, req.soak_s, req.soak_text, tag, now))

    if release is not None and judged is not None:
        promo.actions = _plan_actions(req, repo, promo, release, judged, now)
    promo.decision, promo.exit_code = decide(cs)
    if req.confirm and promo.exit_code == 0 and release is not None:
        _perform(req, repo, promo, release)
    return promo


# ---- actions ---------------------------------------------------------------------------------


def _plan_actions(
    req: Request, repo: Path, promo: Promotion, release: _Release, judged: _Judged, now: _dt.datetime
) -> list[Action]:
    cs = promo.checks
    run = judged.run
    actions: list[Action] = []
    doc = evidence.statement(
        release_tag=release.tag,
        prerelease_tag=promo.prerelease_tag,
        version=release.version,
        commit=release.commit,
        artifact_digest=(req.digest or "").lower().removeprefix("sha256:") or None,
        run=run.dir,
        record=run.record,
        results=run.results,
        summary=judged.summary,
    )
    data, digest = evidence.encode(doc)
    ev_dir = Path(req.evidence_dir) if req.evidence_dir else repo / "reports" / "promotions"
    ev_path = ev_dir / evidence.file_name(release.tag, digest)
    promo.evidence_path, promo.evidence_digest = str(ev_path), f"sha256:{digest}"
    shown = rel(ev_path, repo)
    ev = Action("evidence", f"write the in-toto evidence {shown} (sha256:{digest})", path=str(ev_path))
    if ev_path.is_file():
        if ev_path.read_bytes() == data:
            ev.state, ev.note = "no-op", "already written"
        else:
            cs.append(Check("evidence", REFUSE, f"{ev_path} exists with other content"))
    elif ev_path.exists():
        cs.append(Check("evidence", REFUSE, f"{ev_path} exists and is not a file"))
    ev.payload = data
    actions.append(ev)

    if req.sign_key:
        problem = evidence.check_sign_key(Path(req.sign_key))
        cs.append(
            Check("sign-key", REFUSE, problem)
            if problem
            else Check("sign-key", PASS, f"{req.sign_key} signs without a prompt")
        )
        sig = ev_path.with_name(ev_path.name + ".sig")
        act = Action(
            "sign",
            f"sign the evidence: {sig.name} (namespace {evidence.SIGN_NAMESPACE})",
            argv=["ssh-keygen", "-Y", "sign", "-n", evidence.SIGN_NAMESPACE, "-f", str(req.sign_key), str(ev_path)],
            path=str(sig),
        )
        if sig.is_file():
            act.state, act.note = "no-op", "signature already there"
        actions.append(act)

    if req.pyproject:
        try:
            text, current = files.plan_pyproject(Path(req.pyproject), release.version)
        except UserError as exc:
            cs.append(Check("pyproject", REFUSE, str(exc)))
        else:
            shown_py = rel(Path(req.pyproject), repo)
            act = Action(
                "pyproject", f"set the version in {shown_py}: {current} -> {release.version}", path=str(req.pyproject)
            )
            if text is None:
                act.description, act.state = f"version in {shown_py} is {current}", "no-op"
            act.payload = text
            actions.append(act)

    if not req.no_changelog:
        path = Path(req.changelog) if req.changelog else repo / "CHANGELOG.md"
        passed, warned, _ = evidence.classify_tests(judged.summary.verdicts)
        entry = (
            f"## {release.tag} ({now.date().isoformat()})\n\n"
            f"Promoted from `{promo.prerelease_tag}` (commit `{release.commit[:12]}`) after matrix run "
            f"`{run.record.run_id}`: {len(passed)} candidate cell(s) passed, {len(warned)} with warnings.\n"
            f"Evidence: `{shown}` (sha256:{digest}).\n"
        )
        entry += "".join(f"- warning: {w}\n" for w in warned)
        try:
            text = files.plan_changelog(path, release.tag, release.version, entry)
        except (UserError, OSError) as exc:
            cs.append(Check("changelog", REFUSE, str(exc)))
        else:
            act = Action("changelog", f"add a {release.tag} entry to {rel(path, repo)}", path=str(path))
            if text is None:
                act.state, act.note = "no-op", "entry already there"
            act.payload = text
            actions.append(act)

    message = (
        f"{release.tag}\n\nPromoted from {promo.prerelease_tag} ({release.commit}) by canary promote.\n"
        f"Matrix run: {run.record.run_id}\nEvidence: {shown} sha256:{digest}\n"
    )
    tag_act = Action(
        "tag",
        f"annotated tag {release.tag} on {release.commit[:12]}" + (" (SSH-signed)" if req.sign_key else ""),
        argv=[
            "git",
            "-C",
            str(repo),
            "tag",
            "-s" if req.sign_key else "-a",
            release.tag,
            release.commit,
            "-m",
            message,
        ],
    )
    if gitops.tag_commit(repo, release.tag) == release.commit:
        tag_act.state, tag_act.note = "no-op", "tag already on this commit"
    tag_act.payload = message
    actions.append(tag_act)

    if req.npm_package:
        argv = _npm_argv(req, release.version)
        if shutil.which(argv[0]) is None:
            cs.append(Check("npm", REFUSE, f"npm command {argv[0]!r} not found (set --npm-command or {ENV_NPM})"))
        actions.append(Action("npm", f"point the npm dist-tag {req.dist_tag} at {argv[-2]}", argv=argv))
    return actions


def _npm_already(argv: list[str], package: str, dist_tag: str, target: str) -> bool:
    """True when `npm dist-tag ls` says the dist-tag already points at the version."""
    ls = [*argv[: argv.index("dist-tag")], "dist-tag", "ls", package]
    proc = subprocess.run(ls, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=NPM_TIMEOUT_S)
    if proc.returncode != 0:
        return False
    return any(line.strip() == f"{dist_tag}: {target}" for line in proc.stdout.splitlines())


def _planned(value: _T | None, act: Action, what: str) -> _T:
    """A value the planning of this action guarantees (its path, its key); a programming error without it."""
    if value is None:
        raise TypeError(f"the {act.name} action was planned without {what}")
    return value


def _payload(act: Action, kind: type[_Content]) -> _Content:
    """The bytes or text the planning of this action stored to be written."""
    if not isinstance(act.payload, kind):
        raise TypeError(f"the {act.name} action was planned without its {kind.__name__} content")
    return act.payload


def _perform(req: Request, repo: Path, promo: Promotion, release: _Release) -> None:
    for act in promo.actions:
        if act.state == "no-op":
            continue
        try:
            if act.name == "evidence":
                files.write_bytes_atomic(Path(_planned(act.path, act, "a path")), _payload(act, bytes))
            elif act.name == "sign":
                evidence.sign(
                    Path(_planned(promo.evidence_path, act, "the evidence")),
                    Path(_planned(req.sign_key, act, "a key")),
                )
            elif act.name in ("pyproject", "changelog"):
                files.write_text_atomic(Path(_planned(act.path, act, "a path")), _payload(act, str))
            elif act.name == "tag":
                gitops.create_tag(
                    repo,
                    release.tag,
                    release.commit,
                    _payload(act, str),
                    Path(req.sign_key) if req.sign_key else None,
                )
            elif act.name == "npm":
                target = act.argv[-2].rpartition("@")[2]
                package = _planned(req.npm_package, act, "a package")
                if _npm_already(act.argv, package, req.dist_tag, target):
                    act.state, act.note = "no-op", f"{req.dist_tag} already {target}"
                    continue
                proc = subprocess.run(
                    act.argv, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=NPM_TIMEOUT_S
                )
                if proc.returncode != 0:
                    raise UserError(
                        f"{shlex.join(act.argv)} exited {proc.returncode}: "
                        f"{(proc.stderr or proc.stdout).strip()[-300:]}"
                    )
        except (UserError, OSError, subprocess.TimeoutExpired) as exc:
            act.state, act.note = "failed", str(exc)
            promo.decision, promo.exit_code = "failed", EXIT_INCONCLUSIVE
            return  # stop: the rest is done by running --confirm again (every action is idempotent)
        act.state = "done"
    promo.decision = "promoted"


def _explanation(judged: _Judged) -> Explanation | None:
    """Why the run regressed (groups, causes, fixes), so a refusal names the cause. Advisory: a run
    whose logs or diffs cannot be read is still judged, only without the cause."""
    from canary.reports.explain import explain

    run = judged.run
    try:
        return explain(run.dir, judged.summary, run.record, run.results)
    except Exception:  # noqa: BLE001 - the verdicts decide, the explanation only adds words
        return None
