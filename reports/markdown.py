"""A compact Markdown summary for a pull-request comment and `$GITHUB_STEP_SUMMARY`.

GitHub refuses comments over 65,536 characters, so the text is assembled within a
budget (default 60,000): the headline and counts always fit, each further section
keeps as many items as fit and then says how many it left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from canary.kernel.atomic import write_text_atomic
from canary.kernel.redact import redact
from canary.reports.model import CellView, Report
from canary.reports.style import look

MAX_CHARS = 60_000
GITHUB_LIMIT = 65_536  # what GitHub accepts in a comment body or a step summary
LINE_CAP = 300  # one reason or log line never takes more than this


def _text(s: str, cap: int = LINE_CAP) -> str:
    """Plain text for Markdown prose and table cells: no HTML, no table breaks, one line."""
    s = " ".join(str(s).split())
    if len(s) > cap:
        s = s[: cap - 1] + "…"
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|")


def _code(s: str, cap: int = LINE_CAP) -> str:
    """An inline code span for a symbol or a type (`Promise<unknown>`): GitHub shows a code span's
    text as written, so `<` stays `<` (an entity would show as `&lt;`); pipes are escaped so a
    table cell stays one cell, and a backtick in the text gets a longer fence."""
    s = " ".join(str(s).split())
    if len(s) > cap:
        s = s[: cap - 1] + "…"
    s = s.replace("|", "\\|")
    fence = "``" if "`" in s else "`"
    pad = " " if s.startswith("`") or s.endswith("`") else ""
    return f"{fence}{pad}{s}{pad}{fence}"


def _code_line(s: str, cap: int = LINE_CAP) -> str:
    s = s.replace("```", "`\u200b``")  # never close the fence from inside a log
    return s if len(s) <= cap else s[: cap - 1] + "…"


def _inline_code(s: str) -> str:
    s = " ".join(s.split()).replace("`", "'")
    return f"`{s}`"


def _verdict(c: CellView | None) -> str:
    if c is None:
        return "·"
    lk = look(c.verdict.verdict)
    extra = " (waived)" if c.verdict.waived else ""
    text = c.verdict.label if c.verdict.regressed_outside_range else lk.text
    return f"{lk.symbol} {text}{extra}"


@dataclass
class Section:
    head: str  # always emitted when the section is
    items: list[str] = field(default_factory=list)
    foot: str = ""
    more_note: str = "… {n} more not shown here (see the HTML report or report.json)."
    share: float = 1.0  # at most this fraction of the whole budget, so later sections keep room


def _fit(fixed: list[str], sections: list[Section], budget: int) -> str:
    out = "\n".join(fixed) + "\n"
    for sec in sections:
        left = min(budget - len(out), int(budget * sec.share))
        base = sec.head + sec.foot
        if len(base) + 80 > left:  # not even the heading fits: stop here, say so
            note = "\n_Further sections left out to stay within GitHub's size limit._\n"
            if len(note) <= left:
                out += note
            break
        body = ""
        for i, item in enumerate(sec.items):
            note = "\n" + sec.more_note.format(n=len(sec.items) - i) + "\n"
            if len(base) + len(body) + len(item) + len(note) + 2 > left:
                body += note
                break
            body += item
        out += sec.head + body + sec.foot
    return out


def render(report: Report, max_chars: int = MAX_CHARS) -> str:
    s = report.summary
    decision_mark = {"green": "✔", "regressed": "✘", "inconclusive": "⚠", "partial": "◐"}.get(s.decision, "")
    counts = " · ".join(f"{look(k).symbol} {k} {n}" for k, n in sorted(report.counts.items()))
    fixed = [
        f"### {decision_mark} canary: {_text(report.headline, 2000)}",
        "",
        f"Run `{report.record.run_id}` · core `{report.core_name}` · baseline `{report.baseline or 'none'}` · "
        f"candidates `{', '.join(report.candidates) or 'none'}` · decision **{s.decision}** (exit code {s.exit_code})",
        "",
        counts,
        "",
    ]
    fixed += _why(report)
    sections: list[Section] = []

    waivers = [
        f for g in (report.explanation.groups if report.explanation else []) for f in g.fixes if f.kind == "waiver"
    ]
    if waivers:  # ready to paste; after the groups, and cut before them
        sections.append(
            Section(
                f"\n<details><summary>Waivers ready to paste ({len(waivers)})</summary>\n\n```yaml\n",
                [_code_line(f.snippet or "", 1000) for f in waivers],
                "```\n\n</details>\n",
                share=0.1,
                more_note="# … {n} more in report.json and explain.json",
            )
        )
    grouped = {cid for g in (report.explanation.groups if report.explanation else []) for cid in g.cells}
    ungrouped = [c for c in report.blocking if c.id not in grouped]
    if ungrouped:
        items = []
        for c in ungrouped:
            item = f"**{_text(c.title)}**: {_text(c.verdict.reason or 'failed after passing on the baseline')}\n"
            if c.nox:
                item += f"reproduce: {_inline_code(c.nox)}\n"
            if c.failing_lines:
                lines = "\n".join(_code_line(f"{fl.number}: {fl.text}") for fl in c.failing_lines[:8])
                item += f"<details><summary>first failing lines</summary>\n\n```\n{lines}\n```\n\n</details>\n"
            item += "\n"
            items.append(item)
        sections.append(Section(f"\n#### Blocking regressions ({len(items)})\n\n", items, share=0.45))

    if report.inconclusive:
        items = [f"- {_text(c.title)}: {_text(c.verdict.reason)}\n" for c in report.inconclusive]
        sections.append(
            Section(
                f"\n<details><summary>Inconclusive required cells ({len(items)})</summary>\n\n",
                items,
                "\n</details>\n",
                share=0.1,
            )
        )

    table = "| rule | severity | symbol | change | connectors exposed (places) |\n|---|---|---|---|---|\n"

    def change_row(ch) -> str:
        exposed = ", ".join(f"{k} ({n})" for k, n in sorted(ch.exposure.items()) if n)
        renamed = f" → {_code(ch.renamed_to, 120)}" if ch.renamed_to else ""
        return (
            f"| {_code(ch.rule, 80)} | {_text(ch.severity, 20)} | {_code(ch.symbol, 120)}{renamed} | "
            f"{_text(ch.message, 200)} | {_text(exposed, 600) or ('none' if report.exposure else 'n/a')} |\n"
        )

    for sc in report.step_changes:
        step = _text(sc.label.replace("->", "→"), 80)
        if sc.key:
            sections.append(
                Section(
                    f"\n<details open><summary>Breaking changes ({len(sc.key)} of {sc.total}) of core {step}: "
                    "those a connector uses or a failure names</summary>\n\n" + table,
                    [change_row(ch) for ch in sc.key],
                    "\n</details>\n",
                    share=0.15,
                )
            )
        rest = [ch for ch in sc.rest if ch.severity != "INFO"]
        if rest:  # no connector uses them, no failure names them: folded, and cut first
            sections.append(
                Section(
                    f"\n<details><summary>Other breaking changes of core {step} ({len(rest)})</summary>\n\n" + table,
                    [change_row(ch) for ch in rest],
                    "\n</details>\n",
                    share=0.08,
                )
            )
        compatible = [ch for ch in sc.rest if ch.severity == "INFO"]
        if compatible:  # additions and notes: nothing breaks, folded apart from the breaking rows
            sections.append(
                Section(
                    f"\n<details><summary>Compatible changes of core {step} (INFO, {len(compatible)})</summary>\n\n"
                    + table,
                    [change_row(ch) for ch in compatible],
                    "\n</details>\n",
                    share=0.04,
                )
            )

    # Candidate cells only: baseline problems are context, visible in the grid.
    others = [
        c
        for c in report.cells
        if c.planned.role == "candidate"
        and c.verdict.verdict in ("regressed", "broken", "flaky", "error", "unsupported")
        and not c.verdict.blocking
        and not c.verdict.inconclusive
    ]
    if others:
        items = [
            f"- {_verdict(c)}: {_text(c.title)}{': ' + _text(c.verdict.reason) if c.verdict.reason else ''}\n"
            for c in others
        ]
        sections.append(
            Section(
                f"\n<details><summary>Other cells to look at ({len(items)})</summary>\n\n",
                items,
                "\n</details>\n",
                share=0.1,
            )
        )

    cols = report.columns
    header = "| connector ref | tier | " + " | ".join(f"core {_text(c, 40)}" for c in cols) + " |\n"
    header += "|---|---|" + "---|" * len(cols) + "\n"
    items = [
        f"| {_text(row.key, 120)} | {row.tier} | " + " | ".join(_verdict(row.cells.get(col)) for col in cols) + " |\n"
        for row in report.rows
    ]
    sections.append(
        Section(
            f"\n<details><summary>Verdict grid ({len(report.rows)} connector refs × {len(cols)} cores)</summary>\n\n"
            + header,
            items,
            "\n</details>\n",
            more_note="\n… {n} more rows not shown here (see the HTML report or report.json).\n",
        )
    )
    return _within(_fit(fixed, sections, max_chars), max_chars)


MAX_WHY_GROUPS = 10  # the explanation is never cut by the budget: so it is kept short per group
WHY_LINE_CAP = 400


def _why(report: Report) -> list[str]:
    """The root-cause groups, each with its step, top cause and fixes: part of the fixed head."""
    from canary.reports.text import cause_text, cells_of, step_text

    ex = report.explanation
    if not ex or not ex.groups:
        return []
    cells = sum(len(g.cells) for g in ex.groups)
    out = [
        f"#### Why: {len(ex.groups)} cause{'s' if len(ex.groups) != 1 else ''}, "
        f"{cells} cell{'s' if cells != 1 else ''}",
        "",
    ]
    for g in ex.groups[:MAX_WHY_GROUPS]:
        out.append(
            f"{g.number}. **{len(g.cells)} cell{'s' if len(g.cells) != 1 else ''}: "
            f"{_inline_code(g.signature.error)}**{' (blocking)' if g.blocking else ''} — "
            f"{_text(cells_of(g), WHY_LINE_CAP)}"
        )
        if g.steps:
            out.append(f"   - {_text(step_text(g).replace('->', '→'), WHY_LINE_CAP)}")
        if g.causes:
            out.append(f"   - probable cause: {_text(cause_text(g.causes[0]).replace('->', '→'), WHY_LINE_CAP)}")
        else:
            out.append(f"   - **{_text(g.no_match, WHY_LINE_CAP)}**")
        for f in g.fixes:
            if f.kind != "waiver":
                out.append(f"   - fix: {_text(f.text, WHY_LINE_CAP)}")
        waivers = [f.waiver for f in g.fixes if f.kind == "waiver" and f.waiver is not None]
        if waivers:
            out.append(
                f"   - or waive: {', '.join(_inline_code(w['cell']) for w in waivers)} "
                f"until {waivers[0]['expires']} (entries below)"
            )
    if len(ex.groups) > MAX_WHY_GROUPS:
        out.append(f"\n… {len(ex.groups) - MAX_WHY_GROUPS} more groups in report.json and the HTML report.")
    out.append("")
    return out


def _within(text: str, max_chars: int) -> str:
    """A last guard for GitHub's limit: cut at a line end and close what was left open."""
    if len(text) <= max_chars:
        return text
    note = "\n_Cut to stay within GitHub's size limit._\n"
    cut = text[: max(0, max_chars - len(note) - 40)]
    cut = cut[: cut.rfind("\n") + 1]
    if cut.count("```") % 2:
        cut += "```\n"
    cut += "</details>\n" * max(0, cut.count("<details") - cut.count("</details>"))
    return (cut + note)[:max_chars]


def write(report: Report, out_dir: Path, max_chars: int = MAX_CHARS) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "report.md"
    write_text_atomic(path, redact(render(report, max_chars)))
    return path
