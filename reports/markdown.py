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
    sections: list[Section] = []

    if report.blocking:
        items = []
        for c in report.blocking:
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
        sections.append(Section(
            f"\n<details><summary>Inconclusive required cells ({len(items)})</summary>\n\n", items, "\n</details>\n",
            share=0.1))

    if report.changes:
        table = ("| rule | severity | symbol | change | connectors exposed (places) |\n"
                 "|---|---|---|---|---|\n")

        def change_row(ch) -> str:
            exposed = ", ".join(f"{k} ({n})" for k, n in sorted(ch.exposure.items()) if n)
            renamed = f" → {_code(ch.renamed_to, 120)}" if ch.renamed_to else ""
            return (f"| {_code(ch.rule, 80)} | {_text(ch.severity, 20)} | {_code(ch.symbol, 120)}{renamed} | "
                    f"{_text(ch.message, 200)} | {_text(exposed, 600) or ('none' if report.exposure else 'n/a')} |\n")

        breaking = [change_row(ch) for ch in report.changes if ch.severity != "INFO"]
        notes = [change_row(ch) for ch in report.changes if ch.severity == "INFO"]
        if breaking:
            sections.append(Section(
                f"\n<details open><summary>Breaking changes ({len(breaking)}) and connectors exposed</summary>\n\n"
                + table, breaking, "\n</details>\n", share=0.15))
        if notes:  # additions and other compatible changes: folded, they explain no regression
            sections.append(Section(
                f"\n<details><summary>Compatible changes (INFO, {len(notes)})</summary>\n\n" + table,
                notes, "\n</details>\n", share=0.05))

    # Candidate cells only: baseline problems are context, visible in the grid.
    others = [c for c in report.cells if c.planned.role == "candidate"
              and c.verdict.verdict in ("regressed", "broken", "flaky", "error", "unsupported")
              and not c.verdict.blocking and not c.verdict.inconclusive]
    if others:
        items = [f"- {_verdict(c)}: {_text(c.title)}{': ' + _text(c.verdict.reason) if c.verdict.reason else ''}\n"
                 for c in others]
        sections.append(Section(
            f"\n<details><summary>Other cells to look at ({len(items)})</summary>\n\n", items, "\n</details>\n",
            share=0.1))

    cols = report.columns
    header = "| connector ref | tier | " + " | ".join(f"core {_text(c, 40)}" for c in cols) + " |\n"
    header += "|---|---|" + "---|" * len(cols) + "\n"
    items = [f"| {_text(row.key, 120)} | {row.tier} | " + " | ".join(_verdict(row.cells.get(col)) for col in cols) + " |\n"
             for row in report.rows]
    sections.append(Section(
        f"\n<details><summary>Verdict grid ({len(report.rows)} connector refs × {len(cols)} cores)</summary>\n\n" + header,
        items, "\n</details>\n",
        more_note="\n… {n} more rows not shown here (see the HTML report or report.json).\n"))
    return _within(_fit(fixed, sections, max_chars), max_chars)


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
