"""The explanation as plain lines: the end of `canary run`, `canary report`'s summary, `promote`'s refusal."""

from __future__ import annotations

from canary.reports.explain import Cause, Explanation, Group

__all__ = ["MAX_GROUPS", "MAX_CELLS", "cells_of", "step_text", "cause_text", "group_lines", "explanation_lines"]

MAX_GROUPS = 4  # the terminal shows the first groups; explain.json and the report have them all
MAX_CELLS = 4


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def cells_of(group: Group) -> str:
    """ "plugin-discord@1.3.3 on core 1.6.5, 1.7.0, 1.7.2" (refs with their cores)."""
    parts = []
    for ref, cores in group.cores_by_ref.items():
        more = f" and {len(cores) - MAX_CELLS} more" if len(cores) > MAX_CELLS else ""
        parts.append(f"{ref} on core {', '.join(cores[:MAX_CELLS])}{more}")
    return "; ".join(parts)


def step_text(group: Group) -> str:
    """The group's step in words: last good -> first bad, and whether bisection found it."""
    pairs = {(s.last_good, s.first_bad, s.source) for s in group.steps}
    if len(pairs) == 1:  # one step for every ref of the group: say it once
        s = group.steps[0]
        how = " (bisection)" if s.source == "bisect" else ""
        return f"first bad core {s.first_bad}{how}" + (f", last good {s.last_good}" if s.last_good else "")
    out = []
    for s in group.steps:
        how = " (bisection)" if s.source == "bisect" else ""
        last = f"last good {s.last_good}" if s.last_good else "never passed before"
        out.append(f"{s.key}: first bad core {s.first_bad}{how}, {last}")
    return "; ".join(out)


def cause_text(c: Cause, places: int = 2) -> str:
    """One probable cause in a line: rule, change, its places per connector, the words it shares."""
    exposed = ", ".join(f"{_plural(n, 'place')} in {k}" for k, n in c.exposure.items())
    where = f" ({', '.join(p.split(': ', 1)[-1] for p in c.places[:places])})" if c.places else ""
    said = f"; the failure says {'/'.join(c.words)}" if c.words else ""
    return (
        f"[{c.rule}] {c.what} ({c.severity}, step {c.step}): {c.message}"
        + (f"; {exposed}{where}" if exposed else "")
        + said
    )


def group_lines(group: Group, indent: str = "  ") -> list[str]:
    """A group as terminal lines: title and cells, step, top cause, fixes."""
    lines = [f"{'✘ ' if group.blocking else ''}{group.title} — {cells_of(group)}"]
    if group.steps:
        lines.append(f"{indent}{step_text(group)}")
    if group.causes:
        lines.append(f"{indent}probable cause: {cause_text(group.causes[0])}")
    else:
        lines.append(f"{indent}{group.no_match}")
    for f in group.fixes:
        if f.kind == "waiver":
            continue
        lines.append(f"{indent}fix: {f.text}")
    return lines


def explanation_lines(explanation: Explanation, max_groups: int = MAX_GROUPS) -> list[str]:
    """Groups first, each with its step, its top probable cause and its fixes; [] when nothing regressed."""
    groups = explanation.groups
    if not groups:
        return []
    cells = sum(len(g.cells) for g in groups)
    lines = [f"why: {_plural(len(groups), 'cause')}, {_plural(cells, 'cell')}"]
    for g in groups[:max_groups]:
        lines += group_lines(g)
    if len(groups) > max_groups:
        lines.append(f"… {_plural(len(groups) - max_groups, 'more group')} in explain.json and the report")
    waivers = [f.waiver for g in groups for f in g.fixes if f.kind == "waiver" and f.waiver is not None]
    if waivers:
        n = len(waivers)
        lines.append(
            f"or waive: {n} waivers.yaml entr{'y' if n == 1 else 'ies'} ready to paste (expiring {waivers[0]['expires']}) in the report and explain.json"
        )
    return lines
