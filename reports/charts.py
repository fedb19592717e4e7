"""Small inline SVG drawings: a cell's verdict history strip and the per-connector badge.

Inline SVG keeps the report self-contained (no image files, no scripts). Every
drawing carries role="img", an aria-label and a <title>, so screen readers and
text browsers get the same facts as the colours.
"""

from __future__ import annotations

from html import escape

from canary.reports.history import CellHistory
from canary.reports.style import look

CELL = 14
GAP = 3


def _attr(text: str) -> str:
    return escape(text, quote=True)


def history_label(h: CellHistory) -> str:
    if not h.points:
        return f"No history for {h.cell_id}"
    seq = ", ".join(p.verdict for p in h.points)
    return (
        f"Verdicts of {h.cell_id} over {h.runs} run{'s' if h.runs != 1 else ''}, oldest first: {seq}; "
        f"flake rate {h.flake_rate:.0%}"
    )


def history_strip(h: CellHistory) -> str:
    """One square per run (oldest left), coloured and marked with the verdict symbol; flaky runs underlined."""
    label = history_label(h)
    n = max(len(h.points), 1)
    width = n * (CELL + GAP) - GAP
    height = CELL + 4
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="history" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{_attr(label)}">',
        f"<title>{escape(label)}</title>",
    ]
    for i, p in enumerate(h.points):
        lk = look(p.verdict)
        x = i * (CELL + GAP)
        parts.append(
            f"<g><title>{escape(p.run_id)}: {escape(p.verdict)}{' (flaked)' if p.flaked else ''}</title>"
            f'<rect x="{x}" y="0" width="{CELL}" height="{CELL}" rx="2" fill="{lk.bg}" stroke="{lk.fg}"/>'
            f'<text x="{x + CELL / 2}" y="{CELL - 3.5}" font-size="10" text-anchor="middle" fill="{lk.fg}" '
            f'font-family="sans-serif">{escape(lk.symbol)}</text>'
        )
        if p.flaked:
            parts.append(f'<rect x="{x}" y="{CELL + 1}" width="{CELL}" height="2" fill="#b08800"/>')
        parts.append("</g>")
    parts.append("</svg>")
    return "".join(parts)


BADGE_COLOURS = {
    "compatible": "#2e7d32",
    "regressed": "#c62828",
    "untested": "#6a737d",
    "promotable": "#2e7d32",
    "inconclusive": "#b26a00",
    "partial": "#6a737d",
}


def _text_width(text: str) -> int:
    # Verdana 11px averages ~6.5px a glyph; badges do not need exact metrics.
    return int(len(text) * 6.5) + 10


def badge(label: str, status: str) -> str:
    """A shields-style flat badge: `<label>` on grey, `<status>` on its colour."""
    lw, sw = _text_width(label), _text_width(status)
    width = lw + sw
    colour = BADGE_COLOURS.get(status, BADGE_COLOURS["untested"])
    full = f"{label}: {status}"
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="20" viewBox="0 0 {width} 20" '
        f'role="img" aria-label="{_attr(full)}">'
        f"<title>{escape(full)}</title>"
        f'<rect width="{lw}" height="20" fill="#555"/>'
        f'<rect x="{lw}" width="{sw}" height="20" fill="{colour}"/>'
        f'<g fill="#fff" text-anchor="middle" font-family="Verdana,DejaVu Sans,sans-serif" font-size="11">'
        f'<text x="{lw / 2}" y="14">{escape(label)}</text>'
        f'<text x="{lw + sw / 2}" y="14">{escape(status)}</text>'
        f"</g></svg>\n"
    )


STACK = ("regressed", "error", "broken", "flaky", "skipped", "unsupported", "fixed", "ok")  # bottom first


def trend(run_ids: list[str], counts: dict[str, dict[str, int]]) -> str:
    """Verdict counts per run (oldest left) as stacked bars; `counts[run_id][verdict] = n`."""
    bar, gap, height = 22, 8, 80
    total_max = max((sum(c.values()) for c in counts.values()), default=0) or 1
    width = max(len(run_ids), 1) * (bar + gap)
    summary = "; ".join(
        f"{rid}: " + ", ".join(f"{counts.get(rid, {}).get(v, 0)} {v}" for v in STACK if counts.get(rid, {}).get(v))
        for rid in run_ids
    )
    label = f"Verdicts per run, oldest first: {summary}"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="trend" width="{width}" height="{height + 2}" '
        f'viewBox="0 0 {width} {height + 2}" role="img" aria-label="{_attr(label)}">',
        f"<title>{escape(label)}</title>",
    ]
    for i, rid in enumerate(run_ids):
        x, y = i * (bar + gap), float(height)
        for v in STACK:
            n = counts.get(rid, {}).get(v, 0)
            if not n:
                continue
            h = n / total_max * height
            y -= h
            lk = look(v)
            parts.append(
                f'<rect x="{x}" y="{y:.2f}" width="{bar}" height="{h:.2f}" fill="{lk.bg}" stroke="{lk.fg}" '
                f'stroke-width="0.6"><title>{escape(rid)}: {n} {escape(v)}</title></rect>'
            )
    parts.append("</svg>")
    return "".join(parts)
