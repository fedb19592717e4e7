"""Is a run still about today's connectors?

A connector ref that is a git branch (or a tag, which can be re-pointed) has
moved when the remote's commit differs from the one the cell recorded; that is
checked with `git ls-remote` against the url in the run's matrix file. Exact
registry versions and commit hashes never move. What cannot be checked (a
registry dist-tag, a local path, an unreachable remote, a cell that recorded no
commit) falls back on the age of the run against --max-age, and the report says so.
Only required cells are looked at: optional cells never block a promotion.
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass, field

from packaging.version import InvalidVersion, Version

from canary.matrix.results import CellResult
from canary.kernel.durations import format_duration
from canary.promote.gitops import RemoteRef, remote_ref

_HEX40 = re.compile(r"^[0-9a-f]{40}$")
_SEMVER = re.compile(r"^v?\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$")
_REGISTRY = ("npm", "pypi", "registry")


@dataclass
class RefState:
    connector: str
    ref: str
    recorded: str | None
    state: str  # unchanged | moved | immutable | unchecked
    current: str | None = None
    reason: str = ""
    cells: list[str] = field(default_factory=list)

    def describe(self) -> str:
        where = f"{self.connector}@{self.ref}"
        cells = f" (cells: {', '.join(self.cells)})"
        if self.state == "moved":
            now = self.current[:12] if self.current else "gone"
            return f"{where} moved: tested {(self.recorded or '?')[:12]}, now {now}{cells}"
        if self.state == "unchecked":
            return f"{where} not checkable: {self.reason}{cells}"
        return f"{where} {self.state}{cells}"


def _exact_version(ref: str) -> bool:
    if _SEMVER.match(ref):
        return True
    try:
        Version(ref)
    except InvalidVersion:
        return False
    return True


def _git_url(result: CellResult, urls: dict[str, str]) -> str | None:
    source = result.connector.source or ""
    if "://" in source or source.startswith(("git@", "/", "file:")):
        return source  # a writer that records the url itself
    return urls.get(result.connector.name)


def ref_states(results: list[CellResult], urls: dict[str, str], unknown_urls_reason: str = "") -> list[RefState]:
    """One RefState per (connector, ref, recorded commit) among the given cell results."""
    groups: dict[tuple[str, str, str | None], RefState] = {}
    remote_cache: dict[tuple[str, str], RemoteRef] = {}
    for r in results:
        c = r.connector
        key = (c.name, c.ref, c.commit)
        if key in groups:
            groups[key].cells.append(r.cell_id)
            continue
        st = RefState(c.name, c.ref, c.commit, "unchecked", cells=[r.cell_id])
        groups[key] = st
        source = (c.source or "").lower()
        if source in _REGISTRY:
            if _exact_version(c.ref):
                st.state, st.reason = "immutable", "exact registry version"
            else:
                st.reason = f"registry ref {c.ref!r} is not an exact version"
            continue
        if source == "path":
            st.reason = "a local path has no history to compare"
            continue
        if _HEX40.match(c.ref):
            st.state, st.reason = "immutable", "a commit hash"
            continue
        url = _git_url(r, urls)
        if url is None:
            st.reason = unknown_urls_reason or "no git url for this connector in the run's matrix file"
            continue
        if not c.commit:
            st.reason = "the cell recorded no commit"
            continue
        if (url, c.ref) not in remote_cache:
            remote_cache[(url, c.ref)] = remote_ref(url, c.ref)
        remote = remote_cache[(url, c.ref)]
        if remote.kind == "unreachable":
            st.reason = f"remote unreachable ({remote.detail})"
        elif remote.kind == "missing":
            st.state, st.reason = "moved", "the ref no longer exists"
        elif remote.commit == c.commit:
            st.state, st.current = "unchanged", remote.commit
        else:
            st.state, st.current, st.reason = "moved", remote.commit, f"{remote.kind} has new commits"
    return list(groups.values())


def run_age(started_at: str, finished_at: str | None, now: _dt.datetime) -> float | None:
    """Seconds since the run finished (or started); None when neither time is readable."""
    for stamp in (finished_at, started_at):
        if not stamp:
            continue
        try:
            when = _dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        except ValueError:
            continue
        if when.tzinfo is None:
            when = when.replace(tzinfo=_dt.UTC)
        return (now - when).total_seconds()
    return None


def age_text(age: float | None) -> str:
    return "of unknown age" if age is None else f"{format_duration(age)} old"
