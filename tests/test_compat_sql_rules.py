"""SQL: a column renamed and retyped in one migration is three changes, each under its own rule."""

from __future__ import annotations

from canary.compat.diff import diff_contracts
from canary.compat.sql_extract import extract

try:
    from tests.test_compat_ts import write_tree
except ImportError:  # pragma: no cover
    from test_compat_ts import write_tree

CREATE = "CREATE TABLE worlds (id UUID PRIMARY KEY, server_id TEXT DEFAULT 'none', name TEXT);\n"


def test_rename_retype_and_dropped_default_in_one_migration(tmp_path):
    old = write_tree(tmp_path / "old", {"001.sql": CREATE})
    new = write_tree(
        tmp_path / "new",
        {
            "001.sql": CREATE,
            "002.sql": (
                "ALTER TABLE worlds RENAME COLUMN server_id TO message_server_id;\n"
                "ALTER TABLE worlds ALTER COLUMN message_server_id TYPE UUID USING message_server_id::uuid;\n"
                "ALTER TABLE worlds ALTER COLUMN message_server_id DROP DEFAULT;\n"
                "ALTER TABLE worlds ALTER COLUMN message_server_id SET NOT NULL;\n"
            ),
        },
    )
    changes = {(c.rule, c.symbol): c for c in diff_contracts(extract(old, "postgres"), extract(new, "postgres"))}
    assert changes[("SQL003", "worlds.server_id")].renamed_to == "message_server_id"
    retyped = changes[("SQL004", "worlds.message_server_id")]
    assert (retyped.old, retyped.new, retyped.severity) == ("TEXT", "UUID", "ERR")
    assert changes[("SQL007", "worlds.message_server_id")].old == "'none'"
    assert ("SQL005", "worlds.message_server_id") in changes
    assert len(changes) == 4
