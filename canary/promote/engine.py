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
from dataclasses import dataclass, field
from pathlib import Path

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

ENV_NPM = "CANARY_NPM"  # the npm command (e.g. a wrapper); default `npm`
DEFAULT_MAX_AGE = "24h"
NPM_TIMEOUT_S = 120


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
    dir: RunDir | None = None
    record: RunRecord | None = None
    results: dict[str, CellResult] = field(default_factory=dict)
    summary: Summary | None = None
    error: str | None = None


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


def _load_run(req: Request) -> _Run:
    out = _Run()
    try:
        out.dir = open_run(req.run, req.store) if req.run is not None else _default_run(req)
        out.record = out.dir.read_run()
        out.results = out.dir.read_cells(strict=True)
    except UserError as exc:
        # A missing or corrupt results file makes the run unusable as evidence: inconclusive, not a crash.
        out.error = str(exc)
        return out
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

    run = _load_run(req)
    promo = Promotion(
        prerelease_tag=tag,
        release_tag=release_tag,
        version=version,
        commit=commit,
        run_id=run.record.run_id if run.record else None,
        dry_run=not req.confirm,
    )
    cs = promo.checks
    tag_check = checks.check_tag(tag, commit, parsed, req.to)
    cs.append(tag_check)
    tag_ok = tag_check.outcome == PASS
    if tag_ok:
        cs.append(checks.check_release_tag(repo, release_tag, commit))
    else:
        cs.append(Check("release-tag", SKIP, "no release to tag"))

    if run.error is not None:
        cs.append(Check("results", INCONCLUSIVE, f"results unreadable: {run.error}"))
    else:
        urls, waivers, matrix_check = _matrix_inputs(req, run.record)
        cs.append(matrix_check)
        try:
            run.summary = classify(run.dir, run.record, run.results, waivers=waivers, today=now.date())
        except UserError as exc:  # e.g. a corrupt JUnit file a verdict is built from
            run.error = str(exc)
            cs.append(Check("results", INCONCLUSIVE, f"results unreadable: {exc}"))
    if run.summary is not None:
        cs.append(checks.check_coverage(run.record, run.summary))
        cs.append(checks.check_core(run.record, run.results, commit, digest))
        required = [
            r for r in run.results.values() if r.tier == "required" and any(p.id == r.cell_id for p in run.record.cells)
        ]
        states = ref_states(required, urls, "" if urls else "connector urls unknown (no matrix file)")
        age = run_age(run.record.started_at, run.record.finished_at, now)
        cs.append(checks.check_freshness(states, age, req.max_age_s, req.max_age_text))
        cs.append(checks.check_results(run.summary, run.results))
        verdicts_check = checks.check_verdicts(run.summary, _explanation(run))
        if matrix_check.outcome == INCONCLUSIVE and verdicts_check.outcome == REFUSE:
            # Without the run's own matrix its waivers are unknown: a regression it may have
            # waived is not a proven refusal either. Nothing is promoted; the run is inconclusive.
            verdicts_check.outcome = INCONCLUSIVE
            verdicts_check.message += " (waivers unknown: not the run's matrix file)"
        cs.append(verdicts_check)
        cs.append(checks.check_flaky(run.summary, req.allow_flaky))
        cs.append(checks.check_waivers(run.summary))
    cs.append(checks.check_soak(gitops.tag_created(repo, tag) if commit else None, req.soak_s, req.soak_text, tag, now))

    plan_ok = tag_ok and run.summary is not None
    actions = _plan_actions(req, repo, promo, run, now) if plan_ok else []
    promo.actions = actions
    promo.decision, promo.exit_code = decide(cs)
    if req.confirm and promo.exit_code == 0:
        _perform(req, repo, promo)
    return promo


# ---- actions ---------------------------------------------------------------------------------


def _plan_actions(req: Request, repo: Path, promo: Promotion, run: _Run, now: _dt.datetime) -> list[Action]:
    cs = promo.checks
    actions: list[Action] = []
    doc = evidence.statement(
        release_tag=promo.release_tag,
        prerelease_tag=promo.prerelease_tag,
        version=promo.version,
        commit=promo.commit,
        artifact_digest=(req.digest or "").lower().removeprefix("sha256:") or None,
        run=run.dir,
        record=run.record,
        results=run.results,
        summary=run.summary,
    )
    data, digest = evidence.encode(doc)
    ev_dir = Path(req.evidence_dir) if req.evidence_dir else repo / "reports" / "promotions"
    ev_path = ev_dir / evidence.file_name(promo.release_tag, digest)
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
            text, current = files.plan_pyproject(Path(req.pyproject), promo.version)
        except UserError as exc:
            cs.append(Check("pyproject", REFUSE, str(exc)))
        else:
            shown_py = rel(Path(req.pyproject), repo)
            act = Action(
                "pyproject", f"set the version in {shown_py}: {current} -> {promo.version}", path=str(req.pyproject)
            )
            if text is None:
                act.description, act.state = f"version in {shown_py} is {current}", "no-op"
            act.payload = text
            actions.append(act)

    if not req.no_changelog:
        path = Path(req.changelog) if req.changelog else repo / "CHANGELOG.md"
        passed, warned, _ = evidence.classify_tests(run.summary.verdicts)
        entry = (
            f"## {promo.release_tag} ({now.date().isoformat()})\n\n"
            f"Promoted from `{promo.prerelease_tag}` (commit `{promo.commit[:12]}`) after matrix run "
            f"`{run.record.run_id}`: {len(passed)} candidate cell(s) passed, {len(warned)} with warnings.\n"
            f"Evidence: `{shown}` (sha256:{digest}).\n"
        )
        entry += "".join(f"- warning: {w}\n" for w in warned)
        try:
            text = files.plan_changelog(path, promo.release_tag, promo.version, entry)
        except (UserError, OSError) as exc:
            cs.append(Check("changelog", REFUSE, str(exc)))
        else:
            act = Action("changelog", f"add a {promo.release_tag} entry to {rel(path, repo)}", path=str(path))
            if text is None:
                act.state, act.note = "no-op", "entry already there"
            act.payload = text
            actions.append(act)

    message = (
        f"{promo.release_tag}\n\nPromoted from {promo.prerelease_tag} ({promo.commit}) by canary promote.\n"
        f"Matrix run: {run.record.run_id}\nEvidence: {shown} sha256:{digest}\n"
    )
    tag_act = Action(
        "tag",
        f"annotated tag {promo.release_tag} on {promo.commit[:12]}" + (" (SSH-signed)" if req.sign_key else ""),
        argv=[
            "git",
            "-C",
            str(repo),
            "tag",
            "-s" if req.sign_key else "-a",
            promo.release_tag,
            promo.commit,
            "-m",
            message,
        ],
    )
    if gitops.tag_commit(repo, promo.release_tag) == promo.commit:
        tag_act.state, tag_act.note = "no-op", "tag already on this commit"
    tag_act.payload = message
    actions.append(tag_act)

    if req.npm_package:
        argv = _npm_argv(req, promo.version)
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


def _perform(req: Request, repo: Path, promo: Promotion) -> None:
    for act in promo.actions:
        if act.state == "no-op":
            continue
        try:
            if act.name == "evidence":
                files.write_bytes_atomic(Path(act.path), act.payload)
            elif act.name == "sign":
                evidence.sign(Path(promo.evidence_path), Path(req.sign_key))
            elif act.name in ("pyproject", "changelog"):
                files.write_text_atomic(Path(act.path), act.payload)
            elif act.name == "tag":
                gitops.create_tag(
                    repo, promo.release_tag, promo.commit, act.payload, Path(req.sign_key) if req.sign_key else None
                )
            elif act.name == "npm":
                target = act.argv[-2].rpartition("@")[2]
                if _npm_already(act.argv, req.npm_package, req.dist_tag, target):
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


def _explanation(run):
    """Why the run regressed (groups, causes, fixes), so a refusal names the cause. Advisory: a run
    whose logs or diffs cannot be read is still judged, only without the cause."""
    from canary.reports.explain import explain

    try:
        return explain(run.dir, run.summary, run.record, run.results)
    except Exception:  # noqa: BLE001 - the verdicts decide, the explanation only adds words
        return None
