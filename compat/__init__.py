"""compat: breaking changes between two versions of a core (TypeScript, Python, SQL).

Public face (other packages use these, never the internals):
  compare(old, new, language=None, config_file=None, baseline_file=None) -> dict   the
      `canary/compat-diff/v1` document (schema: compat/schemas/diff.schema.json)
  SCHEMA_FILE: path of that schema
Kept import-light: extractors load only when a diff runs.
"""

from __future__ import annotations

from pathlib import Path

SCHEMA_FILE = Path(__file__).with_name("schemas") / "diff.schema.json"


def compare(
    old: str, new: str, language: str | None = None, config_file: str | None = None, baseline_file: str | None = None
) -> dict:
    """Diff two sides (npm:/pypi:/git: specs or directories) and return the JSON document."""
    from canary.compat.baseline import load_baseline
    from canary.compat.config import load_config
    from canary.compat.report import build
    from canary.compat.sources import resolve_sides

    old_side, new_side, language = resolve_sides(old, new, language)
    return build(old_side, new_side, language, load_config(config_file), load_baseline(baseline_file))
