"""compat on Python (griffe) and SQL (sqlglot): packages and schemas written here, diffed for real."""

from __future__ import annotations


import pytest

from canary.compat.config import Config
from canary.compat.diff import diff_contracts
from canary.compat.py_extract import extract as py_extract
from canary.compat.sql_extract import extract as sql_extract
from canary.kernel.errors import UserError

try:  # tests/ may or may not be a package
    from tests.test_compat_ts import find, symbols, write_tree
except ImportError:  # pragma: no cover
    from test_compat_ts import find, symbols, write_tree

PY_OLD = {
    "pyproject.toml": '[project]\nname = "fxpkg"\nversion = "2.3.0"\n',
    "src/fxpkg/__init__.py": '"""Fixture package."""\nfrom .client import Client\n\n__all__ = ["Client", "connect", "TIMEOUT"]\n'
    "TIMEOUT = 10\n\ndef connect(host, port, secure=False):\n    return Client(host)\n",
    "src/fxpkg/client.py": '''
DEFAULT_PORT: int = 80


class Base:
    pass


class Client(Base):
    server_id: str = ""

    def __init__(self, host: str, port: int = 80) -> None:
        self.host = host

    def send(self, text: str, retries: int = 3) -> str:
        return text

    def fetch(self, key, limit=10):
        return []

    def close(self) -> None:
        pass

    def legacy(self):
        """Old API.

        .. deprecated:: use close
        """


def helper(a, b, c=1):
    return a


def _private():
    pass
''',
}

PY_NEW = {
    "pyproject.toml": '[project]\nname = "fxpkg"\nversion = "2.4.0"\n',
    "src/fxpkg/__init__.py": '"""Fixture package."""\nfrom .client import Client\n\n__all__ = ["Client", "connect", "TIMEOUT"]\n'
    "TIMEOUT = 30\n\ndef connect(host, *, port, secure=False):\n    return Client(host)\n",
    "src/fxpkg/client.py": """
DEFAULT_PORT: str = "80"


class Base:
    pass


class Client:
    server_id: bytes = b""

    def __init__(self, host: str, port: int = 8080) -> None:
        self.host = host

    def send(self, text: str, retries: int) -> bytes:
        return text

    def fetch(self, key, table, limit=10):
        return []

    def close(self) -> None:
        pass


def helper(b, a, c=1):
    return a


def _private(x):
    pass
""",
}


@pytest.fixture(scope="module")
def py_changes(tmp_path_factory):
    base = tmp_path_factory.mktemp("py")
    old = write_tree(base / "old", PY_OLD)
    new = write_tree(base / "new", PY_NEW)
    return diff_contracts(py_extract(old), py_extract(new))


def test_python_contract_is_public_api_only(tmp_path):
    contract = py_extract(write_tree(tmp_path / "p", PY_OLD))
    assert "fxpkg.client.Client.send(retries)" in contract.decls
    assert contract.decls["fxpkg.client.Client.send(retries)"].default == "3"
    assert contract.decls["fxpkg.client.Client.send"].type == "str"
    assert "fxpkg.client._private" not in contract.decls
    # re-exported through __all__
    assert contract.decls["fxpkg.Client"].kind == "class"
    assert contract.decls["fxpkg.client.Client.legacy"].deprecated == "use close"


def test_python_griffe_kinds(py_changes):
    assert find(py_changes, "PY001", "fxpkg.client.Client.legacy").severity == "WARN"  # was deprecated
    assert find(py_changes, "PY012", "fxpkg.client.Client").old == "Base"
    assert find(py_changes, "PY004", "fxpkg.client.helper(b)").new == "0"
    assert find(py_changes, "PY005", "fxpkg.connect(port)").new == "keyword-only"
    assert find(py_changes, "PY006", "fxpkg.client.Client.__init__(port)").new == "8080"
    assert find(py_changes, "PY007", "fxpkg.client.Client.send(retries)").severity == "ERR"
    assert find(py_changes, "PY008", "fxpkg.client.Client.fetch(table)").affects == ["callers"]
    assert find(py_changes, "PY009", "fxpkg.client.Client.send").new == "bytes"
    assert find(py_changes, "PY010", "fxpkg.client.DEFAULT_PORT").old == "int"
    assert find(py_changes, "PY011", "fxpkg.TIMEOUT").new == "30"
    assert all(c.language == "py" for c in py_changes)
    assert not [s for s in symbols(py_changes) if "_private" in s]


def test_python_parameter_removed(tmp_path):
    old = write_tree(tmp_path / "o", {"m/__init__.py": "def f(a, b):\n    pass\n"})
    new = write_tree(tmp_path / "n", {"m/__init__.py": "def f(a):\n    pass\n"})
    c = find(diff_contracts(py_extract(old), py_extract(new)), "PY003", "m.f(b)")
    assert c.container == "m.f" and c.member == "b"


def test_python_rename_with_deprecated_alias_and_plain_deprecation(tmp_path):
    old = write_tree(
        tmp_path / "o",
        {"m/__init__.py": "def server_id():\n    pass\n\ndef keep():\n    pass\n\ndef other():\n    pass\n"},
    )
    new = write_tree(
        tmp_path / "n",
        {
            "m/__init__.py": (
                "def message_server_id():\n    pass\n\n"
                'def server_id():\n    """Old name.\n\n    .. deprecated:: use message_server_id\n    """\n\n'
                'def keep():\n    """Deprecated: use other"""\n\ndef other():\n    pass\n'
            )
        },
    )
    chs = diff_contracts(py_extract(old), py_extract(new))
    alias = find(chs, "PY013", "m.server_id")
    assert alias.renamed_to == "message_server_id" and alias.severity == "WARN"
    # `other` already existed: deprecating keep in its favour is a plain deprecation, not a rename
    plain = find(chs, "PY014", "m.keep")
    assert plain.severity == "INFO" and "use other" in plain.message and plain.renamed_to is None
    assert "m.message_server_id" not in symbols(chs)


SQL_OLD = """
CREATE TABLE rooms (
    id UUID PRIMARY KEY,
    server_id TEXT,
    name TEXT NOT NULL,
    topic TEXT,
    created_at TIMESTAMP DEFAULT now(),
    world_id UUID
);
CREATE TABLE servers (id UUID PRIMARY KEY, label TEXT);
CREATE TABLE logs (id SERIAL PRIMARY KEY, body TEXT);
"""

SQL_NEW_001 = SQL_OLD
SQL_NEW_002 = """
ALTER TABLE rooms RENAME COLUMN server_id TO message_server_id;
ALTER TABLE rooms DROP COLUMN topic;
ALTER TABLE rooms ALTER COLUMN name TYPE VARCHAR(200);
ALTER TABLE rooms ALTER COLUMN world_id SET NOT NULL;
ALTER TABLE rooms ALTER COLUMN created_at DROP DEFAULT;
ALTER TABLE rooms ADD COLUMN kind TEXT NOT NULL;
ALTER TABLE rooms ADD COLUMN note TEXT;
ALTER TABLE servers RENAME TO message_servers;
DROP TABLE logs;
"""


@pytest.fixture(scope="module")
def sql_changes(tmp_path_factory):
    base = tmp_path_factory.mktemp("sql")
    old = write_tree(base / "old", {"schema.sql": SQL_OLD})
    new = write_tree(base / "new", {"migrations/001_init.sql": SQL_NEW_001, "migrations/002_rename.sql": SQL_NEW_002})
    return diff_contracts(sql_extract(old), sql_extract(new))


def test_sql_contract(tmp_path):
    c = sql_extract(write_tree(tmp_path / "s", {"schema.sql": SQL_OLD}))
    assert c.decls["rooms.id"].optional is False and c.decls["rooms"].extra["primary_key"] == ["id"]
    assert c.decls["rooms.created_at"].default == "CURRENT_TIMESTAMP"  # sqlglot normalizes now()
    assert c.decls["rooms.name"].line == 5 and c.decls["rooms.name"].file == "schema.sql"


def test_sql_rules(sql_changes):
    renamed = find(sql_changes, "SQL003", "rooms.server_id")
    assert renamed.renamed_to == "message_server_id" and renamed.rename_evidence == "declared"
    assert find(sql_changes, "SQL002", "rooms.topic").kind == "column"
    assert find(sql_changes, "SQL004", "rooms.name").new == "VARCHAR(200)"
    assert find(sql_changes, "SQL005", "rooms.world_id").new == "NOT NULL"
    assert find(sql_changes, "SQL006", "rooms.kind").severity == "ERR"
    assert find(sql_changes, "SQL007", "rooms.created_at").severity == "WARN"
    assert find(sql_changes, "SQL010", "rooms.note").severity == "INFO"
    assert find(sql_changes, "SQL011", "servers").renamed_to == "message_servers"
    assert find(sql_changes, "SQL001", "logs").affects == ["readers", "writers"]
    assert "rooms.message_server_id" not in symbols(sql_changes)


def test_sql_probable_column_rename(tmp_path):
    old = write_tree(tmp_path / "o", {"s.sql": "CREATE TABLE t (id INT, owner_name TEXT);"})
    new = write_tree(tmp_path / "n", {"s.sql": "CREATE TABLE t (id INT, owner_full_name TEXT);"})
    c = find(diff_contracts(sql_extract(old), sql_extract(new)), "SQL003", "t.owner_name")
    assert c.rename_evidence == "probable" and c.renamed_to == "owner_full_name"


def test_sql_parse_error_names_the_file(tmp_path):
    bad = write_tree(tmp_path / "b", {"bad.sql": "CREATE TABLE t (id INT;\nSELECT FROM WHERE ((;"})
    with pytest.raises(UserError) as exc:
        sql_extract(bad)
    assert "bad.sql" in str(exc.value)


def test_config_rename_for_sql(tmp_path):
    old = write_tree(tmp_path / "o", {"s.sql": "CREATE TABLE t (id INT, a TEXT);"})
    new = write_tree(tmp_path / "n", {"s.sql": "CREATE TABLE t (id INT, zzz TEXT);"})
    assert find(diff_contracts(sql_extract(old), sql_extract(new)), "SQL002", "t.a")
    c = find(diff_contracts(sql_extract(old), sql_extract(new), Config(renames={"t.a": "zzz"})), "SQL003", "t.a")
    assert c.rename_evidence == "declared"


def test_sql_keys(tmp_path):
    old = write_tree(
        tmp_path / "o",
        {
            "s.sql": "CREATE TABLE worlds (id UUID PRIMARY KEY);\n"
            "CREATE TABLE rooms (id UUID, world_id UUID, name TEXT, UNIQUE (name));"
        },
    )
    new = write_tree(
        tmp_path / "n",
        {
            "s.sql": "CREATE TABLE worlds (id UUID PRIMARY KEY);\n"
            "CREATE TABLE rooms (id UUID, world_id UUID, name TEXT);\n"
            "ALTER TABLE rooms ADD CONSTRAINT fk_w FOREIGN KEY (world_id) "
            "REFERENCES worlds (id);"
        },
    )
    chs = diff_contracts(sql_extract(old), sql_extract(new))
    added = find(chs, "SQL012", "rooms")
    assert added.new == "FOREIGN KEY (world_id) REFERENCES worlds (id)" and added.affects == ["writers"]
    assert find(chs, "SQL013", "rooms").old == "UNIQUE (name)"


def test_python_kind_change_and_additions(tmp_path):
    old = write_tree(tmp_path / "o", {"m/__init__.py": "LIMIT = 3\n\ndef f(a):\n    pass\n"})
    new = write_tree(
        tmp_path / "n",
        {"m/__init__.py": "def LIMIT():\n    return 3\n\ndef f(a, b=1):\n    pass\n\nclass New:\n    pass\n"},
    )
    chs = diff_contracts(py_extract(old), py_extract(new))
    assert find(chs, "PY002", "m.LIMIT").new == "function"
    assert find(chs, "PY015", "m.f(b)").severity == "INFO"
    assert find(chs, "PY015", "m.New").kind == "class"


def test_sql_primary_key_and_nullability(tmp_path):
    old = write_tree(tmp_path / "o", {"s.sql": "CREATE TABLE t (id INT PRIMARY KEY, agent_id INT NOT NULL);"})
    new = write_tree(
        tmp_path / "n",
        {
            "s.sql": "CREATE TABLE t (id INT NOT NULL, agent_id INT, PRIMARY KEY (id, agent_id));"
            "\nALTER TABLE t ALTER COLUMN agent_id DROP NOT NULL;"
        },
    )
    chs = diff_contracts(sql_extract(old), sql_extract(new))
    pk = find(chs, "SQL008", "t")
    assert (pk.old, pk.new) == ("id", "id, agent_id")
    assert find(chs, "SQL009", "t.agent_id").new == "NULL"
