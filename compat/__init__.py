"""compat: breaking changes between two versions of a core (TypeScript, Python, SQL).

Public face (other packages use these, never the internals):
  compare(old, new, language=None, config_file=None, baseline_file=None) -> CompatDiff   the
      `canary/compat-diff/v1` document (canary.compat.document; schema: compat/schemas/diff.schema.json)
  canary.compat.document: CompatDiff (to_dict/from_dict), load_diff: how every reader reads one
  SCHEMA_FILE: path of that schema
Kept import-light: extractors load only when a diff runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from canary.compat.document import CompatDiff

SCHEMA_FILE = Path(__file__).with_name("schemas") / "diff.schema.json"


def compare(
    old: str, new: str, language: str | None = None, config_file: str | None = None, baseline_file: str | None = None
) -> CompatDiff:
    """Diff two sides (npm:/pypi:/git: specs or directories): the document (`.to_dict()` for its JSON)."""
    from canary.compat.baseline import load_baseline
    from canary.compat.config import load_config
    from canary.compat.report import build
    from canary.compat.sources import resolve_sides

    old_side, new_side, language = resolve_sides(old, new, language)
    return build(old_side, new_side, language, load_config(config_file), load_baseline(baseline_file))
