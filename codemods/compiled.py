"""A migration loaded, validated and compiled once, then cached by content digest.

Loading a migration means a YAML parse, a schema validation (jsonschema) and a
compile that prunes every rule per language (hundreds of trial compiles): ~0.3 s
before the first file is read, on every `canary lint`. The result depends only on
the migration's text and on the code that compiles it, so it is kept as JSON in
`$CANARY_HOME/cache/lint/<digest>.json` (without CANARY_HOME: the user cache
directory, `$XDG_CACHE_HOME/canary/lint`) and read back when both are unchanged.
A cache that cannot be read or written is ignored: it only ever saves time.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict
from pathlib import Path

import ast_grep_py

from canary.codemods.engine import CompiledRule, compile_migration
from canary.codemods.migration import SHIPPED_DIR, ConfigRename, Migration, Rule, load_migration

CACHE_FORMAT = 2  # 2: words are the prefilter's clauses (a list of word lists)
_HERE = Path(__file__).parent
# The modules whose code decides what a migration compiles to: a change to any of them (an edited
# checkout, a new release) is a different cache key, as is a new ast-grep.
_COMPILER_SOURCES = (
    "engine.py",
    "migration.py",
    "generate.py",
    "languages.py",
    "compiled.py",
    "schemas/migration.schema.json",
)


def cache_dir() -> Path:
    home = os.environ.get("CANARY_HOME")
    if home:
        return Path(home).absolute() / "cache" / "lint"
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "canary" / "lint"


def _compiler_digest() -> str:
    h = hashlib.sha256(f"{CACHE_FORMAT}".encode())
    for name in _COMPILER_SOURCES:
        h.update((_HERE / name).read_bytes())
    # The ast-grep build in use (importlib.metadata would cost ~50 ms of imports on every run).
    st = os.stat(ast_grep_py.ast_grep_py.__file__)
    h.update(f"{ast_grep_py.ast_grep_py.__file__}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()


def cache_key(text: str, source: str) -> str:
    # The source is part of the key: error messages and the SARIF carry it.
    h = hashlib.sha256(_compiler_digest().encode())
    h.update(source.encode())
    h.update(b"\0")
    h.update(text.encode())
    return h.hexdigest()[:40]


def _is_shipped_id(ref: str) -> bool:
    return os.path.sep not in ref and not ref.endswith((".yaml", ".yml"))


def _migration_file(ref: str) -> tuple[Path, str] | None:
    """The file a migration reference names and the `source` load_migration gives it, when that
    is known without parsing anything (shipped migrations are named by id; checked after loading)."""
    if _is_shipped_id(ref):
        path = SHIPPED_DIR / f"{ref}.yaml"
        return (path, str(path)) if path.is_file() else None
    path = Path(ref)
    return (path, ref) if path.is_file() else None


def to_json(migration: Migration, compiled: dict[str, list[CompiledRule]]) -> dict:
    index = {id(r): i for i, r in enumerate(migration.rules)}
    return {
        "format": CACHE_FORMAT,
        "migration": asdict(migration),
        "compiled": {
            lang: [
                {
                    "rule": index[id(c.rule)],
                    "config": c.config,
                    "words": [sorted(clause) for clause in c.words],
                }
                for c in rules
            ]
            for lang, rules in compiled.items()
        },
    }


def from_json(doc: dict) -> tuple[Migration, dict[str, list[CompiledRule]]]:
    data = dict(doc["migration"])
    rules = [Rule(**r) for r in data.pop("rules")]
    config = [ConfigRename(**c) for c in data.pop("config")]
    migration = Migration(rules=rules, config=config, **data)
    compiled = {
        lang: [
            CompiledRule(rules[c["rule"]], lang, c["config"], tuple(frozenset(clause) for clause in c["words"]))
            for c in items
        ]
        for lang, items in doc["compiled"].items()
    }
    return migration, compiled


def load_compiled(ref: str) -> tuple[Migration, dict[str, list[CompiledRule]]]:
    """The migration `ref` names (shipped id or file) and its rules compiled per language."""
    found = _migration_file(ref)
    if found is None:
        migration = load_migration(ref)  # the usual error for an unknown id or a missing file
        return migration, compile_migration(migration)
    path, source = found
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        migration = load_migration(ref)
        return migration, compile_migration(migration)
    entry = cache_dir() / f"{cache_key(text, source)}.json"
    try:
        migration, compiled = from_json(json.loads(entry.read_text(encoding="utf-8")))
        if not _is_shipped_id(ref) or migration.id == ref:
            return migration, compiled
    except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError):
        pass  # no entry yet, or one this code cannot read: compile again
    migration = load_migration(ref)
    compiled = compile_migration(migration)
    if migration.source == source:
        _store(entry, to_json(migration, compiled))
    return migration, compiled


def _store(entry: Path, doc: dict) -> None:
    text = json.dumps(doc, separators=(",", ":"))
    if json.loads(text) != doc:
        return  # something JSON cannot say (a YAML date, a non-string key): not cached
    from canary.kernel.atomic import write_text_atomic  # only on a miss: tempfile is ~6 ms of imports

    try:
        write_text_atomic(entry, text)
    except OSError:
        pass
