"""A migration as plain ast-grep rule YAML, for `sg scan --rule FILE` (and for comparing with it).

ast-grep's `language:` names one grammar, so the family expansion canary does
in its engine is written out: one document per rule and language, pruned the
same way, with the language in the id (`rule-id@tsx`).
"""

from __future__ import annotations

import yaml

from canary.codemods.engine import compile_migration
from canary.codemods.languages import SG_NAMES
from canary.codemods.migration import Migration


def export_sg_rules(migration: Migration) -> str:
    docs = []
    for lang, compiled in compile_migration(migration).items():
        for c in compiled:
            r = c.rule
            doc = {"id": f"{r.id}@{lang}", "language": SG_NAMES[lang], "severity": r.severity, "message": r.message}
            if r.note:
                doc["note"] = r.note
            doc.update({k: v for k, v in c.config.items()})
            if r.fix is not None:
                doc["fix"] = r.fix
            docs.append(doc)
    return yaml.safe_dump_all(docs, sort_keys=False, width=120)
