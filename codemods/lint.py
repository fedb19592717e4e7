"""`lint_paths`: every place a connector still uses what a migration renames or removes."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field

from canary.codemods import config_files
from canary.codemods.discover import SourceFile, discover
from canary.codemods.engine import CompiledRule, Match, compile_migration, scan
from canary.codemods.migration import SEVERITIES, Migration, load_migration
from canary.codemods.safe_files import Skipped, read_regular

__all__ = [
    "LINT_SCHEMA_VERSION",
    "Fix",
    "Finding",
    "LintReport",
    "finding_from_match",
    "read_text",
    "scan_source",
    "resolve_migration",
    "PARALLEL_MIN_FILES",
    "lint_paths",
]

LINT_SCHEMA_VERSION = 1


@dataclass
class Fix:
    """The replacement a rule proposes for one finding, and the imports it needs."""

    replacement: str
    preview: str  # the finding's first line as it reads after the fix
    imports: list[dict] = field(default_factory=list)  # [{name, from}] the fix adds to the file
    # Lint never runs the fixed connector: its fixes are unverified until `canary fix --verify` passes.
    verification: str = "unverified"


@dataclass
class Finding:
    """One match of a migration rule in a source file (1-based line and column)."""

    file: str
    line: int  # 1-based
    column: int  # 1-based, in characters
    end_line: int
    end_column: int
    rule: str
    message: str
    severity: str
    symbol: str | None
    text: str  # the matched source text
    source_line: str  # the finding's first line as it reads now
    fix: Fix | None
    note: str = ""
    origin: str = "source"

    def to_dict(self) -> dict:
        # By hand: dataclasses.asdict deep-copies every value, a third of a large tree's JSON time.
        fix = self.fix
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "end_line": self.end_line,
            "end_column": self.end_column,
            "rule": self.rule,
            "message": self.message,
            "severity": self.severity,
            "symbol": self.symbol,
            "text": self.text,
            "source_line": self.source_line,
            "fix": None
            if fix is None
            else {
                "replacement": fix.replacement,
                "preview": fix.preview,
                "imports": [dict(i) for i in fix.imports],
                "verification": fix.verification,
            },
            "note": self.note,
            "origin": self.origin,
        }


@dataclass
class LintReport:
    """The findings of one migration over a tree, and how many files were scanned."""

    migration: dict
    findings: list[Finding] = field(default_factory=list)
    files_scanned: int = 0
    lines_scanned: int = 0
    errors: list[dict] = field(default_factory=list)  # {file, message}: files that could not be read
    skipped: list[dict] = field(default_factory=list)  # {file, reason}: symlinks, FIFOs, devices, oversized

    def counts(self) -> dict[str, int]:
        out = {s: 0 for s in SEVERITIES}
        for f in self.findings:
            out[f.severity] = out.get(f.severity, 0) + 1
        return out

    def at_or_above(self, severity: str) -> list[Finding]:
        if severity == "never":
            return []
        floor = SEVERITIES.index(severity)
        return [f for f in self.findings if SEVERITIES.index(f.severity) >= floor]

    def to_dict(self) -> dict:
        return {
            "schema_version": LINT_SCHEMA_VERSION,
            "migration": self.migration,
            "files_scanned": self.files_scanned,
            "lines_scanned": self.lines_scanned,
            "counts": self.counts(),
            "findings": [f.to_dict() for f in self.findings],
            "errors": self.errors,
            "skipped": self.skipped,
        }


def _line_bounds(text: str, offset: int) -> tuple[int, int]:
    start = text.rfind("\n", 0, offset) + 1
    end = text.find("\n", offset)
    return start, len(text) if end < 0 else end


def finding_from_match(sf: SourceFile, text: str, m: Match) -> Finding:
    """A Finding (with its fix, when the rule has one) from an ast-grep match in `text`."""
    ls, le = _line_bounds(text, m.start)
    fix = None
    if m.replacement is not None:
        after = text[ls : m.start] + m.replacement + text[m.end : max(le, m.end)]
        fix = Fix(
            m.replacement,
            (after.split("\n", 1)[0] if m.end <= le else after).rstrip("\r"),
            [dict(i) for i in m.rule.imports if i["name"] in m.replacement],
        )
    return Finding(
        file=sf.display,
        line=m.line,
        column=m.column,
        end_line=m.end_line,
        end_column=m.end_column,
        rule=m.rule.id,
        message=m.rule.message,
        severity=m.rule.severity,
        symbol=m.rule.symbol,
        text=m.text,
        source_line=text[ls:le].rstrip("\r"),
        fix=fix,
        note=m.rule.note,
        origin=sf.origin,
    )


def read_text(sf: SourceFile) -> str:
    """The file's text; Skipped when it is no longer a regular file of a sane size."""
    return read_regular(sf.path)


def scan_source(sf: SourceFile, text: str, compiled: dict[str, list[CompiledRule]]) -> list[Finding]:
    """Findings in one file (code or config)."""
    if sf.language is not None:
        return [finding_from_match(sf, text, m) for m in scan(text, sf.language, compiled.get(sf.language, []))]
    hits, _ = config_files.scan_config(text, sf.config_format, list(sf.renames))
    out = []
    lines = text.split("\n")
    for h in hits:
        src = lines[h.line - 1].rstrip("\r") if h.line - 1 < len(lines) else ""
        key = h.path[-1]
        col = h.column - 1
        preview = src[:col] + src[col:].replace(key, h.rename.rename_to, 1)
        out.append(
            Finding(
                file=sf.display,
                line=h.line,
                column=h.column,
                end_line=h.line,
                end_column=h.column + len(key),
                rule=h.rename.id,
                message=h.rename.message or f"rename key {'.'.join(h.path)} to {h.rename.rename_to}",
                severity=h.rename.severity,
                symbol=h.rename.symbol,
                text=key,
                source_line=src,
                fix=Fix(h.rename.rename_to, preview),
                note=h.rename.note,
                origin=sf.origin,
            )
        )
    return out


def resolve_migration(migration: str | Migration) -> Migration:
    """A Migration object from one, or from a migration's name or file."""
    return migration if isinstance(migration, Migration) else load_migration(migration)


def _scan_files(files: list[SourceFile], compiled: dict[str, list[CompiledRule]]) -> LintReport:
    part = LintReport(migration={})
    for sf in files:
        try:
            text = read_text(sf)
        except Skipped as why:
            part.skipped.append({"file": sf.display, "reason": str(why)})
            continue
        except (OSError, UnicodeDecodeError) as exc:
            part.errors.append({"file": sf.display, "message": f"unreadable: {exc}"})
            continue
        part.files_scanned += 1
        part.lines_scanned += text.count("\n") + (1 if text and not text.endswith("\n") else 0)
        try:
            part.findings.extend(scan_source(sf, text, compiled))
        except ValueError as exc:  # a config file that does not parse
            part.errors.append({"file": sf.display, "message": str(exc)})
    return part


# Set in the parent just before forking workers, so the compiled rules are inherited, not pickled.
_WORKER_RULES: dict[str, list[CompiledRule]] = {}


def _worker(files: list[SourceFile]) -> LintReport:
    return _scan_files(files, _WORKER_RULES)


PARALLEL_MIN_FILES = 200  # below this, starting workers costs more than it saves


def lint_paths(
    paths: list[str],
    migration: str | Migration,
    exclude: list[str] | None = None,
    jobs: int = 1,
    compiled: dict[str, list[CompiledRule]] | None = None,
) -> LintReport:
    """Lint files, directories, npm package directories or tarballs with one migration.

    `migration` is a shipped migration id, a migration file path or a loaded Migration.
    `jobs` > 1 scans large trees in that many forked worker processes (ast-grep-py holds the
    GIL, so threads would not help); 0 means one per CPU. The default, 1, never forks, which
    keeps the API safe to call from threaded code. `compiled`: the migration's rules as
    compile_migration (or the cache, canary.codemods.compiled) gave them.
    """
    global _WORKER_RULES
    mig = resolve_migration(migration)
    compiled = compile_migration(mig) if compiled is None else compiled
    report = LintReport(migration={"id": mig.id, "version": mig.version, "core": mig.core})
    jobs = jobs or os.cpu_count() or 1
    with contextlib.ExitStack() as stack:
        files = discover(paths, mig, stack, exclude, report.skipped)
        parallel = jobs > 1 and len(files) >= PARALLEL_MIN_FILES
        if parallel:
            import multiprocessing as mp  # only large trees fork workers

            parallel = "fork" in mp.get_all_start_methods()
        if parallel:
            size = max(16, len(files) // (jobs * 8))
            chunks = [files[i : i + size] for i in range(0, len(files), size)]
            _WORKER_RULES = compiled
            try:
                with mp.get_context("fork").Pool(jobs) as pool:
                    parts = pool.map(_worker, chunks)
            finally:
                _WORKER_RULES = {}
        else:
            parts = [_scan_files(files, compiled)]
    for part in parts:
        report.findings.extend(part.findings)
        report.files_scanned += part.files_scanned
        report.lines_scanned += part.lines_scanned
        report.errors.extend(part.errors)
        report.skipped.extend(part.skipped)
    report.findings.sort(key=lambda f: (f.file, f.line, f.column, f.rule))
    return report
