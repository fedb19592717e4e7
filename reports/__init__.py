"""reports: renderers and templates for runs (code only, no run data).

Public face:
  render_all(run_dir, formats, out_dir, diff=None, badge_label=None) -> {format: path}
  FORMATS: the formats render_all knows (html, md, junit, json, badges)
"""

from __future__ import annotations

from pathlib import Path

from canary.kernel.errors import UserError
from canary.matrix.fanout import DIFF_FILE
from canary.matrix.store import RunDir

__all__ = ["FORMATS", "FORMAT_ALIASES", "parse_formats", "RUN_DIFF_FILE", "render_all"]

FORMATS = ("html", "md", "junit", "json", "badges")


def parse_formats(text: str | list[str] | tuple[str, ...]) -> list[str]:
    """The report formats asked for (comma-separated or a list), checked and without repeats."""
    items = text.split(",") if isinstance(text, str) else list(text)
    out: list[str] = []
    for item in (i.strip() for i in items):
        if not item:
            continue
        item = FORMAT_ALIASES.get(item, item)
        if item == "all":
            out.extend(f for f in FORMATS if f not in out)
            continue
        if item not in FORMATS:
            raise UserError(f"unknown report format {item!r}", key="--format", hint=f"choose from {', '.join(FORMATS)}")
        if item not in out:
            out.append(item)
    if not out:
        raise UserError("no report format given", key="--format", hint=f"choose from {', '.join(FORMATS)}")
    return out


# Spellings other commands use for the same format (`canary diff --format markdown`).
FORMAT_ALIASES = {"markdown": "md"}

RUN_DIFF_FILE = DIFF_FILE  # the run directory's compat diff, named once in canary.matrix.fanout


def render_all(
    run_dir: RunDir | Path | str,
    formats=FORMATS,
    out_dir: Path | str | None = None,
    diff=None,
    badge_label: str | None = None,
    history_depth: int | None = None,
    waivers: tuple | None = None,
) -> dict[str, Path]:
    """Render the chosen formats of one run; returns where each went (badges: their directory).

    `diff` is a path to a compat diff JSON (or an already loaded canary.compat.document.CompatDiff); default: the
    run's own `compat-diff.json` when there is one.
    `out_dir` defaults to `<run>/report/`. `waivers` default: those of the run's matrix
    file (its `waivers:` key and the waivers.yaml beside it), as `canary verdicts` applies.
    """
    from canary.reports import badges, html, json_report, junit, markdown
    from canary.reports.history import DEFAULT_DEPTH
    from canary.compat.document import CompatDiff, load_diff
    from canary.reports.model import build

    run = run_dir if isinstance(run_dir, RunDir) else RunDir(Path(run_dir))
    if not run.run_file.exists():
        raise UserError("not a run directory (no run.json)", file=str(run.path))
    wanted = parse_formats(formats)
    if diff is None and (run.path / RUN_DIFF_FILE).is_file():
        diff = run.path / RUN_DIFF_FILE  # written by `canary run` when the matrix asks for a compat diff
    loaded = diff if isinstance(diff, CompatDiff) or diff is None else load_diff(diff)
    out = Path(out_dir) if out_dir is not None else run.path / "report"
    report = build(
        run, diff=loaded, badge_label=badge_label, history_depth=history_depth or DEFAULT_DEPTH, waivers=waivers
    )
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for fmt in wanted:
        if fmt == "html":
            written[fmt] = html.write(report, out)
        elif fmt == "md":
            written[fmt] = markdown.write(report, out)
        elif fmt == "junit":
            written[fmt] = junit.write(report, out)
        elif fmt == "json":
            written[fmt] = json_report.write(report, out)
        elif fmt == "badges":
            badges.write(report, out / "badges")
            written[fmt] = out / "badges"
    return written
