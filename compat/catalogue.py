"""Render the rule catalogue as Markdown (`python -m canary.compat.catalogue > part of docs/compat.md`).

docs/compat.md carries this output; a test checks that every rule is documented there.
"""

from __future__ import annotations

from canary.compat.rules import RULES

_LANG = {"ts": "TypeScript", "py": "Python", "sql": "SQL"}


def markdown() -> str:
    out = []
    for lang in ("ts", "py", "sql"):
        out += [f"### {_LANG[lang]}", ""]
        for r in RULES.values():
            if r.language != lang:
                continue
            affects = ", ".join(r.affects) or "nobody"
            out += [
                f"#### `{r.id}` {r.name} ({r.severity}, semver {r.semver})",
                "",
                f"- **Detects:** {r.detects}",
                f"- **Breaks:** {affects}",
                f"- **Example:** {r.example}",
                f"- **Migrate:** {r.migration}",
                "",
            ]
    return "\n".join(out)


if __name__ == "__main__":  # pragma: no cover
    print(markdown())
