"""The HTML report: one self-contained index page and one page per cell (inline CSS and SVG only)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import jinja2
from markupsafe import Markup

from canary.kernel.atomic import write_text_atomic
from canary.kernel.redact import redact
from canary.reports.charts import history_strip, trend
from canary.reports.model import Report
from canary.reports.style import LOOKS, look

TEMPLATES = Path(__file__).parent / "templates"


def cell_file(cell_id: str) -> str:
    """File name of a cell page (cell ids are already file-safe; quote what a URL would misread)."""
    return quote(cell_id, safe="@+-._") + ".html"


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,  # logs and messages come from untrusted connectors
        undefined=jinja2.StrictUndefined,
        trim_blocks=False,
    )
    env.globals.update(
        looks=LOOKS,
        look=look,
        cell_file=cell_file,
        strip=lambda h: Markup(history_strip(h)),
        trend=lambda hist: Markup(trend(hist.run_ids, hist.counts())),
    )
    return env


def all_exposure_symbols(report: Report) -> list[str]:
    """The diff's changed symbols, else every symbol the lint counted."""
    if report.changes:
        return list(dict.fromkeys(ch.symbol for ch in report.changes))
    if not report.exposure:
        return []
    return sorted({s for e in report.exposure.connectors.values() for s in e.by_symbol})


def exposure_symbols(report: Report) -> list[str]:
    """Columns of the exposure table: the symbols some connector touches (a column of zeros says nothing)."""
    conns = report.exposure.connectors.values() if report.exposure else []
    return [s for s in all_exposure_symbols(report) if any(e.touches(s) for e in conns)]


def _context(report: Report) -> dict:
    return {
        "r": report,
        "exposure_symbols": exposure_symbols(report),
        "all_exposure_symbols": all_exposure_symbols(report),
        "expired_waivers": list(getattr(report.summary, "expired_waivers", []) or []),
        "removable_waivers": list(getattr(report.summary, "removable_waivers", []) or []),
    }


def render_index(report: Report, env: jinja2.Environment | None = None) -> str:
    env = env or environment()
    return env.get_template("index.html.j2").render(**_context(report))


def render_cell(report: Report, cell_id: str, env: jinja2.Environment | None = None) -> str:
    env = env or environment()
    return env.get_template("cell.html.j2").render(c=report.cell(cell_id), **_context(report))


def write(report: Report, out_dir: Path) -> Path:
    env = environment()
    cells_dir = out_dir / "cells"
    cells_dir.mkdir(parents=True, exist_ok=True)
    for c in report.cells:
        write_text_atomic(cells_dir / cell_file(c.id), redact(render_cell(report, c.id, env)))
    index = out_dir / "index.html"
    write_text_atomic(index, redact(render_index(report, env)))
    return index
