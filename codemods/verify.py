"""`canary fix --verify`: a fix counts only once the fixed connector passes its cell.

Reparsing proves nothing about run time (the plain serverId rename parsed, was idempotent, linted
clean and failed every insert). So the fix is applied to a scratch copy of the connector and that
copy runs the connector's own cell of the matrix (same runner, same install, same core forcing,
same test command) on the candidate core, through `canary.matrix.execute` like `canary run`.

The scratch copy:
- a source tree (git or path connector): copied without node_modules/.git, then fixed;
- a published npm package (a tarball or an unpacked package, only dist/): its dist/ is patched
  through its source maps. The sources in the maps' sourcesContent are fixed as any source tree;
  each edit (a token-level diff of the source before and after) is placed in the compiled file at
  the position the map gives for its source position, and only where the compiled text there is
  the source text the edit replaces. The imports the fix needs are added to the compiled file.
  An edit that cannot be placed makes the verification an error, never a silent partial patch.

Outcomes: `verified` (the cell passes), `fails after fix` (the cell fails or times out: the first
line of the log that names an error is reported), `error` (the cell could not be run, or the fix
could not be applied): the fix stays unverified.
"""

from __future__ import annotations

import bisect
import contextlib
import json
import re
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from canary.kernel.atomic import write_text_atomic
from canary.kernel.errors import UserError

from ast_grep_py import SgRoot

from canary.codemods.engine import Match, _match, _prune_utils, compile_migration, find_all, scan
from canary.codemods.imports import ensure_imports
from canary.codemods.languages import language_of
from canary.codemods.lint import resolve_migration
from canary.codemods.migration import Migration
from canary.codemods.safe_files import MAX_SOURCEMAP_BYTES, Skipped, read_regular
from canary.codemods.sources import sourcemap_files, unpack_tarball

__all__ = [
    "VERIFIED",
    "FAILS",
    "ERROR",
    "UNVERIFIED",
    "Verification",
    "decode_mappings",
    "DistPatch",
    "patch_dist",
    "fixed_copy",
    "failing_line",
    "verify_fix",
]

VERIFIED, FAILS, ERROR, UNVERIFIED = "verified", "fails after fix", "error", "unverified"
_B64 = {c: i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")}
# Node's `Error: ...` / `TypeError: ...` line first (not the `file:///...:9` frame above it), then any
# line that says it failed.
_THROWN = re.compile(r"^(Uncaught )?([A-Z]\w*)?(Error|Exception)\b:?")
_ERROR_LINE = re.compile(r"\b(error|failed|failure|FAIL)\b", re.I)


@dataclass
class Verification:
    """Whether a connector's tests pass against the new core after the fix was applied."""

    status: str  # verified | fails after fix | error
    connector: str
    core: str | None = None
    cell_id: str | None = None
    cell_status: str | None = None
    line: str = ""  # the failing line (fails after fix) or what went wrong (error)
    edits: int = 0  # edits the fix made in the scratch copy
    run: str | None = None  # the run directory with the cell's log
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    def sentence(self) -> str:
        where = f"{self.connector} on core {self.core}" if self.core else self.connector
        if self.status == VERIFIED:
            return f"verified: {where} passes its cell after the fix ({self.edits} edit(s))"
        if self.status == FAILS:
            return f"fails after fix: {where}: {self.line}"
        return f"unverified (error): {where}: {self.line}"


# --- source maps ------------------------------------------------------------------------


def _vlq(segment: str) -> list[int]:
    values, shift, value = [], 0, 0
    for ch in segment:
        digit = _B64[ch]
        value += (digit & 31) << shift
        if digit & 32:
            shift += 5
            continue
        values.append(-(value >> 1) if value & 1 else value >> 1)
        shift = value = 0
    return values


def decode_mappings(mappings: str) -> list[tuple[int, int, int, int, int]]:
    """(generated line, generated column, source index, source line, source column), all 0-based."""
    out = []
    src = sline = scol = 0
    for gline, line in enumerate(mappings.split(";")):
        gcol = 0
        for seg in line.split(","):
            if not seg:
                continue
            v = _vlq(seg)
            gcol += v[0]
            if len(v) >= 4:
                src += v[1]
                sline += v[2]
                scol += v[3]
                out.append((gline, gcol, src, sline, scol))
    return out


class _Positions:
    """Offsets <-> (line, column) of one text."""

    def __init__(self, text: str) -> None:
        self.starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def offset(self, line: int, col: int) -> int:
        return self.starts[line] + col if line < len(self.starts) else -1

    def line_col(self, offset: int) -> tuple[int, int]:
        line = bisect.bisect_right(self.starts, offset) - 1
        return line, offset - self.starts[line]


@dataclass
class DistPatch:
    """The fix applied to a package's built dist/ files, and the source matches it could not place there."""

    files: dict[str, str] = field(default_factory=dict)  # dist path -> new text
    edits: int = 0
    unplaced: list[str] = field(default_factory=list)  # "src/a.ts:12:5 rule" of matches not found in dist/


def _relaxed(rule) -> dict:
    """A rule reduced to its own node test (pattern / kind / regex) for JavaScript: the context it
    needs in TypeScript (`as World`) is erased from compiled code, where the source match vouches for it."""
    config = rule.config()
    body = {k: v for k, v in config["rule"].items() if k in ("pattern", "kind", "regex")} or config["rule"]
    ctx = {k: v for k, v in config.items() if k in ("constraints", "transform")}
    utils = _prune_utils(config.get("utils") or {}, "javascript", ctx)
    return {**ctx, "utils": utils, "rule": body}


def _dist_matches(text: str, js_rules: list, anchors: dict[int, set[str]], rules_by_id: dict) -> list[Match]:
    """Matches in the compiled text that start where a source match maps to, for that same rule."""
    root = SgRoot(text, "javascript").root()
    found: list[Match] = []
    matched: set[tuple[int, str]] = set()
    for compiled in js_rules:
        for node in find_all(root, compiled.config):
            start = node.range().start.index
            if compiled.rule.id in anchors.get(start, ()):
                found.append(_match(compiled.rule, node, text, compiled.rule.fix))
                matched.add((start, compiled.rule.id))
    for start, rule_ids in anchors.items():
        for rid in rule_ids - {r for s, r in matched if s == start}:
            rule = rules_by_id.get(rid)
            if rule is None:
                continue
            for node in find_all(root, _relaxed(rule)):
                if node.range().start.index == start:
                    found.append(_match(rule, node, text, rule.fix))
    return [m for m in found if m.replacement is not None and m.replacement != m.text]


def patch_dist(package_dir: str, migration: Migration, max_passes: int = 64) -> DistPatch:
    """The fix of a published package's sources, carried into its compiled dist/ files.

    Each match in the sources (from the maps' sourcesContent) is mapped to the compiled file;
    there the same rule is matched again at that position (or, when its TypeScript context was
    erased, its node test alone) and its fix rendered from the compiled text, innermost edits
    first, in passes until nothing changes, as `fix` does. Matches that cannot be found are
    listed in `unplaced`."""
    compiled = compile_migration(migration)
    js_rules = compiled.get("javascript", [])
    imports = [i for r in migration.rules for i in r.imports]
    out = DistPatch()
    for map_file in sourcemap_files(package_dir):
        try:
            smap = json.loads(read_regular(str(map_file), MAX_SOURCEMAP_BYTES))
            js = Path(str(map_file)[: -len(".map")])
            dist_text = read_regular(str(js), MAX_SOURCEMAP_BYTES)
        except (Skipped, OSError, ValueError):
            continue
        if not isinstance(smap, dict):
            continue
        dist_pos = _Positions(dist_text)
        exact: dict[tuple[int, int, int], tuple[int, int]] = {}
        for gline, gcol, src, sline, scol in decode_mappings(smap.get("mappings") or ""):
            exact.setdefault((src, sline, scol), (gline, gcol))
        anchors: dict[int, set[str]] = {}
        for idx, (source, content) in enumerate(zip(smap.get("sources") or [], smap.get("sourcesContent") or [])):
            lang = language_of(str(source))
            if not isinstance(content, str) or "node_modules" in str(source) or lang is None:
                continue
            for m in scan(content, lang, compiled.get(lang, [])):
                if m.replacement is None or m.replacement == m.text:
                    continue
                gen = exact.get((idx, m.line - 1, m.column - 1))
                at = dist_pos.offset(*gen) if gen else -1
                if at < 0:
                    out.unplaced.append(f"{source}:{m.line}:{m.column} {m.rule.id}")
                    continue
                anchors.setdefault(at, set()).add(m.rule.id)
        if not anchors:
            continue
        text, edits, used = dist_text, 0, set()
        for _ in range(max_passes):
            matches = _dist_matches(text, js_rules, anchors, {r.id: r for r in migration.rules})
            if not matches:
                break
            picked: list[Match] = []
            for m in sorted(matches, key=lambda m: (m.end - m.start, m.start)):  # innermost first
                if all(m.end <= p.start or m.start >= p.end for p in picked):
                    picked.append(m)
            for m in sorted(picked, key=lambda m: m.start, reverse=True):  # from the end: earlier offsets hold
                if m.replacement is None:  # a lint-only rule (anchors hold only rules that fix): nothing to write
                    continue
                text = text[: m.start] + m.replacement + text[m.end :]
                delta = len(m.replacement) - (m.end - m.start)
                used.add(m.start)
                anchors = {
                    (a + delta if a >= m.end else a): r for a, r in anchors.items() if a <= m.start or a >= m.end
                }
                used = {(u + delta if u >= m.end else u) for u in used if u <= m.start or u >= m.end}
                edits += 1
        for at in sorted(set(anchors) - used):
            line, col = _Positions(text).line_col(at)
            out.unplaced.append(f"{js.name}:{line + 1}:{col + 1} {', '.join(sorted(anchors[at]))}")
        if not edits:
            continue
        needed = [i for i in imports if i["name"] in text and i["name"] not in dist_text]
        if needed:
            text = ensure_imports(text, "javascript", needed, str(js))
        out.files[str(js)] = text
        out.edits += edits
    return out


# --- the scratch copy ---------------------------------------------------------------------


def _is_published(path: Path) -> bool:
    if path.is_file():
        return True
    has_sources = any(
        language_of(str(p))
        for p in path.rglob("*")
        if p.is_file() and not {"node_modules", "dist", ".git"} & set(p.parts)
    )
    return (path / "package.json").is_file() and not has_sources


def fixed_copy(path: str, migration: Migration, scratch: Path) -> tuple[Path, int]:
    """A copy of the connector at `path` with the fix applied: (its directory, edits made)."""
    src = Path(path)
    dest = scratch / "connector"
    if src.is_file():  # a package tarball
        pkg = Path(unpack_tarball(str(src), str(scratch / "unpacked")))
        shutil.copytree(pkg, dest, symlinks=True)
    else:
        shutil.copytree(src, dest, symlinks=True, ignore=shutil.ignore_patterns("node_modules", ".git"))
    if _is_published(src):
        patch = patch_dist(str(dest), migration)
        if patch.unplaced:
            raise UserError(
                f"the fix could not be carried into dist/ at {', '.join(patch.unplaced[:5])}",
                hint="fix the connector's sources and verify the source tree instead",
            )
        for file, text in patch.files.items():
            write_text_atomic(file, text, keep_mode=True)  # a killed verify never leaves a half-patched dist file
        return dest, patch.edits
    from canary.codemods.fix import plan_fixes, write_fixes

    result = plan_fixes([str(dest)], migration)
    if result.rejected:
        raise UserError(f"the fix was not applied: {result.rejected[0]['file']}: {result.rejected[0]['reason']}")
    write_fixes(result)
    return dest, sum(c.edits for c in result.changes)


# --- the cell ----------------------------------------------------------------------------


def _matrix_for(matrix_file: str, connector: str, fixed_dir: Path, core: str | None, scratch: Path) -> tuple[Path, str]:
    """A one-cell matrix: the connector from `fixed_dir` on the candidate core; (file, core label)."""
    from canary.matrix import config
    from canary.matrix.coresides import newest_candidate
    from canary.matrix.plan import resolve_core_versions

    matrix = config.load(matrix_file)
    if connector not in {c.name for c in matrix.connectors}:
        known = ", ".join(c.name for c in matrix.connectors)
        raise UserError(f"no connector {connector!r} in the matrix", file=matrix_file, hint=f"connectors: {known}")
    if core is None:
        specs, baseline = resolve_core_versions(matrix)
        cand = newest_candidate(matrix, [s.label for s in specs if s.label != baseline.label], specs)
        if cand is None or cand.version is None:
            raise UserError(
                "the matrix has no registry candidate core to verify on", file=matrix_file, hint="pass --core VERSION"
            )
        core = cand.version
    with open(matrix_file, encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    base = Path(matrix_file).resolve().parent
    entry = dict(next(c for c in data["connectors"] if c["name"] == connector))
    for key in ("npm", "git", "pypi", "path"):
        entry.pop(key, None)
    entry["path"] = str(fixed_dir)
    for key in ("tier",):
        entry[key] = "required"
    data["connectors"] = [entry]
    data["core"] = {**data["core"], "versions": [core], "baseline": core}
    for key in ("exposure", "compat", "include", "exclude", "waivers"):
        data.pop(key, None)
    data["settings"] = {**(data.get("settings") or {}), "retries": 0, "jobs": 1}
    # Relative paths in the user's matrix stay relative to the user's matrix file.
    for c in data["connectors"]:
        for key in ("test", "setup", "install"):
            if isinstance(c.get(key), list):
                c[key] = [str(base / v) if isinstance(v, str) and v.startswith("./") else v for v in c[key]]
    out = scratch / "matrix.yaml"
    out.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return out, core


def failing_line(log: str) -> str:
    """The first line the failing (last) command printed that names an error, else its last line."""
    from canary.matrix.verdicts import last_command_output  # the harness's own lines stripped, as verdicts do

    lines = [ln.strip() for ln in last_command_output(log).splitlines() if ln.strip()]
    body = [ln for ln in lines if not ln.startswith("at ")]  # a stack frame is not the failure
    for pattern in (_THROWN, _ERROR_LINE):
        for ln in body:
            if pattern.search(ln) and not ln.startswith("file://"):
                return ln[:300]
    return (body or lines or [""])[-1][:300]


def verify_fix(
    path: str,
    migration: str | Migration,
    matrix_file: str,
    connector: str,
    core: str | None = None,
    keep: str | None = None,
) -> Verification:
    """Apply the fix to a scratch copy of the connector at `path` and run its cell on the candidate core."""
    from canary.matrix import config
    from canary.matrix.execute import RunOptions, execute
    from canary.kernel.home import Home
    from canary.matrix.plan import plan
    from canary.matrix.store import Store

    mig = resolve_migration(migration)
    with contextlib.ExitStack() as stack:
        scratch = (
            Path(keep) if keep else Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="canary-verify-")))
        )
        scratch.mkdir(parents=True, exist_ok=True)
        result = Verification(status=ERROR, connector=connector, core=core)
        try:
            fixed_dir, result.edits = fixed_copy(path, mig, scratch)
        except UserError as exc:
            result.line = str(exc.args[0] if exc.args else exc)
            return result
        matrix_path, result.core = _matrix_for(matrix_file, connector, fixed_dir, core, scratch)
        matrix = config.load(str(matrix_path))
        cells = plan(matrix)
        home = Home.default()
        outcome = execute(
            matrix,
            cells,
            RunOptions(jobs=1, retries=0, use_cache=False, progress="none", argv=["fix", "--verify"]),
            store=Store(scratch / "runs"),
            home=home,
        )
        cell = next(iter(outcome.run.read_cells().values()), None)
        if keep:
            result.run = str(outcome.run.path)
        if cell is None:
            result.line = "the cell produced no result"
            return result
        result.cell_id, result.cell_status = cell.cell_id, cell.status
        log = ""
        if cell.log:
            with contextlib.suppress(OSError):
                log = (outcome.run.path / cell.log).read_text(encoding="utf-8", errors="replace")
        if cell.status == "pass":
            result.status = VERIFIED
        elif cell.status in ("fail", "timeout"):
            result.status = FAILS
            result.line = failing_line(log) or cell.reason
        else:
            result.line = cell.reason or failing_line(log)
        return result
