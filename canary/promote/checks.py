"""The checks a promotion must pass, each a pure function returning a Check.

Every check runs (none short-circuits the others) so that a dry run lists all
that is wrong at once. Nothing here writes anything.
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import TYPE_CHECKING, Any

from canary.matrix.results import CellResult, RunRecord
from canary.matrix.verdicts import Summary, Verdict
from canary.promote import gitops
from canary.kernel.durations import format_duration
from canary.promote.freshness import RefState, age_text
from canary.promote.model import INCONCLUSIVE, PASS, REFUSE, SKIP, Check
from canary.promote.versions import TagVersion, normalize_target, same_release

if TYPE_CHECKING:
    from canary.reports.explain import Explanation

ACCEPTED = ("ok", "fixed", "unsupported")  # unsupported: outside the connector's declared range, never blocks


def _short(sha: str | None) -> str:
    return sha[:12] if sha else "none"


def check_tag(tag: str, commit: str | None, parsed: TagVersion | None, to: str | None) -> Check:
    if commit is None:
        return Check("tag", REFUSE, f"no tag {tag!r} in the core repository")
    if parsed is None:
        return Check("tag", REFUSE, f"{tag} does not name a version (expected e.g. v1.7.1-beta.2 or 1.7.1rc1)")
    if not parsed.prerelease:
        return Check(
            "tag",
            REFUSE,
            f"{tag} is not a prerelease ({parsed.style} version {parsed.version}); only a prerelease is promoted",
        )
    if to is not None:
        target = normalize_target(to, parsed)
        if not same_release(target, parsed.release, parsed.style):
            return Check("tag", REFUSE, f"--to {to} is not the release of {tag}: that is {parsed.release}")
    return Check("tag", PASS, f"{tag} is a prerelease ({parsed.style}) of {parsed.release} at {_short(commit)}")


def check_release_tag(repo: Path, release_tag: str, commit: str) -> Check:
    if not gitops.valid_tag_name(repo, release_tag):
        return Check("release-tag", REFUSE, f"{release_tag!r} is not a valid tag name")
    existing = gitops.tag_commit(repo, release_tag)
    if existing is None:
        return Check("release-tag", PASS, f"{release_tag} does not exist yet: it will be made on {_short(commit)}")
    if existing == commit:
        return Check("release-tag", PASS, f"{release_tag} already exists on {_short(commit)}: nothing to tag")
    return Check(
        "release-tag",
        REFUSE,
        f"{release_tag} already exists on another commit {_short(existing)} (the prerelease is on "
        f"{_short(commit)}); a release tag is never moved",
        details=[f"{release_tag} -> {existing}", f"prerelease -> {commit}"],
    )


def _commit_matches(recorded: str | None, commit: str) -> bool:
    return recorded is not None and len(recorded) >= 7 and commit.startswith(recorded.lower())


def check_coverage(record: RunRecord, summary: Summary) -> Check:
    """The run covers the whole matrix: a run of some cells (`--cells`, a nox reproduction) proves
    nothing about the cells it left out, so it is never evidence for a release."""
    if record.partial or record.kind == "repro":
        return Check(
            "coverage",
            INCONCLUSIVE,
            f"{summary.reasons[0] if summary.reasons else 'partial run'}: "
            "not evidence for a release; run the whole matrix (or pass --run with a complete run)",
            details=[f"selection: {' '.join(record.selection) or '-'}", f"kind: {record.kind}"],
        )
    return Check("coverage", PASS, f"the run planned the whole matrix ({len(record.cells)} cells)")


def check_core(record: RunRecord, results: dict[str, CellResult], commit: str | None, digest: str | None) -> Check:
    candidates = [p for p in record.cells if p.role == "candidate"]
    if not candidates:
        return Check("core", INCONCLUSIVE, "the run planned no candidate cells")
    if commit is None:
        return Check("core", SKIP, "no tag commit to compare with")
    present = [results[p.id] for p in candidates if p.id in results]
    if not present:
        return Check("core", INCONCLUSIVE, "no candidate cell has a result")
    wrong = []
    for r in present:
        if r.core.tree in ("dirty", "untracked"):
            what_tree = (
                f"uncommitted changes (diff sha256:{(r.core.diff_digest or '')[:16]})"
                if r.core.tree == "dirty"
                else "files not in git"
            )
            wrong.append(
                (
                    r.cell_id,
                    f"{r.cell_id}: core {r.core.label} was built from a {r.core.tree} tree "
                    f"({what_tree}), not from a commit",
                )
            )
            continue
        if _commit_matches(r.core.commit, commit) or (
            digest and (r.core.digest or "").lower().removeprefix("sha256:") == digest
        ):
            continue
        got = f"commit {_short(r.core.commit)}" + (f", digest {r.core.digest[:16]}" if r.core.digest else "")
        wrong.append((r.cell_id, f"{r.cell_id}: core {r.core.label} ({got})"))
    what = f"commit {_short(commit)}" + (f" or artifact sha256:{digest[:16]}" if digest else "")
    if wrong:
        return Check(
            "core",
            REFUSE,
            f"{len(wrong)} of {len(present)} candidate cells did not test {what}",
            details=[d for _, d in wrong],
            cells=[c for c, _ in wrong],
        )
    return Check("core", PASS, f"all {len(present)} candidate cells tested {what}")


def check_freshness(
    states: list[RefState], age: float | None, max_age_s: float, max_age_text: str, note: str = ""
) -> Check:
    moved = [s for s in states if s.state == "moved"]
    unchecked = [s for s in states if s.state == "unchecked"]
    cells = sorted({c for s in moved + unchecked for c in s.cells})
    if moved:
        return Check(
            "freshness",
            INCONCLUSIVE,
            f"{len(moved)} connector ref(s) moved since the run: its results are stale; run the matrix again",
            details=[s.describe() for s in moved + unchecked],
            cells=cells,
        )
    checked = len(states) - len(unchecked)
    if not unchecked:
        return Check(
            "freshness",
            PASS,
            f"{checked} connector ref(s) of required cells unchanged since the run" + (f" ({note})" if note else ""),
        )
    young = age is not None and age <= max_age_s
    fallback = (
        f"{len(unchecked)} ref(s) not checkable, so the run's age decides: "
        f"it is {age_text(age)}, --max-age {max_age_text}"
    )
    if young:
        return Check("freshness", PASS, fallback, details=[s.describe() for s in unchecked])
    return Check(
        "freshness",
        INCONCLUSIVE,
        fallback + ": too old to trust; run the matrix again",
        details=[s.describe() for s in unchecked],
        cells=cells,
    )


def _line(v: Verdict) -> str:
    text = f"{v.cell_id}: {v.label}"
    if v.waived:
        text += " (waived" + (f": {v.waiver.get('reason')}" if v.waiver and v.waiver.get("reason") else "") + ")"
    if v.reason:
        text += f" - {v.reason}"
    return text


def check_results(summary: Summary, results: dict[str, CellResult]) -> Check:
    required = [v for v in summary.verdicts if v.tier == "required"]
    missing = [v for v in required if v.status is None]
    errors = [v for v in required if v.status is not None and v.verdict == "error" and not v.waived]
    # A candidate that failed with no usable baseline is neither a regression nor a pass.
    unjudged = [
        v
        for v in required
        if v.role == "candidate" and v.verdict == "skipped" and not v.waived and v.status not in ("skipped", "pass")
    ]
    bad = missing + errors + unjudged
    if bad:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing")
        if errors:
            parts.append(f"{len(errors)} infrastructure error(s)")
        if unjudged:
            parts.append(f"{len(unjudged)} without a usable baseline")
        return Check(
            "results",
            INCONCLUSIVE,
            f"required cells without a usable result: {', '.join(parts)}",
            details=[_line(v) for v in bad],
            cells=[v.cell_id for v in bad],
        )
    return Check("results", PASS, f"all {len(required)} required cells have a result")


def _why(v: Verdict, explanation: Explanation | None) -> str:
    """The probable cause and first fix of a refused cell (canary.reports.explain), or ""."""
    g = explanation.group_of(v.cell_id) if explanation is not None else None
    if g is None:
        return ""
    if g.causes:
        c = g.causes[0]
        places = f", {c.exposed} place(s) in the connector" if c.exposed else ""
        why = f"probable cause: [{c.rule}] {c.what} (step {c.step}{places})"
    else:
        why = g.no_match
    fix = next(
        (f for f in g.fixes if f.kind != "waiver" and v.cell_id.startswith(f"{f.connector}@{f.ref}--")), None
    ) or next((f for f in g.fixes if f.kind != "waiver"), None)
    return f"; group {g.number} ({len(g.cells)} cell(s)); {why}" + (f"; fix: {fix.text}" if fix else "")


def check_verdicts(summary: Summary, explanation: Explanation | None = None) -> Check:
    cands = [v for v in summary.verdicts if v.role == "candidate"]
    required = [v for v in cands if v.tier == "required"]
    blocking = [
        v for v in required if not v.waived and v.verdict not in ACCEPTED + ("flaky", "error", "skipped", "waived")
    ]
    blocking += [v for v in required if v.blocking and v not in blocking]
    waived = [v for v in cands if v.waived or v.verdict == "waived"]
    optional = [v for v in cands if v.tier != "required" and v.verdict not in ACCEPTED and not v.waived]
    outside = [v for v in cands if v.regressed_outside_range]
    info = (
        [f"waived: {_line(v)}" for v in waived]
        + [f"optional, not blocking: {_line(v)}" for v in optional]
        + [f"outside the declared core range, not blocking: {_line(v)}" for v in outside]
    )
    if blocking:
        return Check(
            "verdicts",
            REFUSE,
            f"{len(blocking)} required cell(s) not green: " + ", ".join(f"{v.cell_id} {v.verdict}" for v in blocking),
            details=[_line(v) + _why(v, explanation) for v in blocking] + info,
            cells=[v.cell_id for v in blocking],
        )
    ok = sum(1 for v in required if v.verdict in ACCEPTED and not v.waived and not v.regressed_outside_range)
    return Check(
        "verdicts",
        PASS,
        f"no unwaived regression: {ok} required candidate cell(s) green, "
        f"{len(waived)} waived, {len(optional)} optional not green"
        + (f", {len(outside)} regressed outside the declared range" if outside else ""),
        details=info,
        cells=[v.cell_id for v in outside],
    )


def check_flaky(summary: Summary, allow: int) -> Check:
    flaky = [
        v
        for v in summary.verdicts
        if v.role == "candidate" and v.tier == "required" and v.verdict == "flaky" and not v.waived
    ]
    if len(flaky) > allow:
        return Check(
            "flaky",
            REFUSE,
            f"{len(flaky)} required cell(s) flaky, --allow-flaky {allow}",
            details=[_line(v) for v in flaky],
            cells=[v.cell_id for v in flaky],
        )
    return Check(
        "flaky",
        PASS,
        f"{len(flaky)} required cell(s) flaky (allowed: {allow})",
        details=[_line(v) for v in flaky],
        cells=[v.cell_id for v in flaky],
    )


def check_waivers(summary: Summary) -> Check:
    """An expired waiver that names a cell of this run refuses: its promise (fixed by a date) was not kept.

    One that matches no cell of the run cannot affect this promotion; it is listed for clean-up.
    """

    def line(w: dict[str, Any]) -> str:
        cells = w.get("cells") or []
        return f"{w.get('cell')} expired {w.get('expires')}: {w.get('reason', '')}" + (
            f" (cells: {', '.join(cells)})" if cells else " (matches no cell of this run: remove it)"
        )

    live = [w for w in summary.expired_waivers if w.get("cells")]
    idle = [w for w in summary.expired_waivers if not w.get("cells")]
    if live:
        return Check(
            "waivers",
            REFUSE,
            f"{len(live)} expired waiver(s) on cells of this run: renew or remove them",
            details=[line(w) for w in live + idle],
            cells=sorted({c for w in live for c in w["cells"]}),
        )
    return Check("waivers", PASS, "no expired waiver on a cell of this run", details=[line(w) for w in idle])


def check_soak(created: int | None, soak_s: float | None, soak_text: str, tag: str, now: _dt.datetime) -> Check:
    if soak_s is None:
        return Check("soak", SKIP, "no --soak given")
    if created is None:
        return Check("soak", REFUSE, f"cannot tell when {tag} was made")
    age = now.timestamp() - created
    if age < soak_s:
        ready = _dt.datetime.fromtimestamp(created + soak_s, _dt.UTC).isoformat(timespec="minutes")
        return Check(
            "soak",
            REFUSE,
            f"{tag} was tagged {format_duration(age)} ago; --soak {soak_text} needs it to wait until {ready}",
        )
    return Check("soak", PASS, f"{tag} was tagged {format_duration(age)} ago (--soak {soak_text})")
