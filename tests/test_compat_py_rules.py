"""Python rules that know what breaks a caller: synthetic packages diffed for real (griffe, no mocks).

Each case is a false ERR seen on a real release (tests/corpus/): typing respelled (click 8.2),
names kept importable through module __getattr__ or an import (click 8.2, flask 3.0), members
moved into a base class in a folder without __init__.py (flask 3.0 sansio), positional-only and
**kwargs renames (click 8.2).
"""

from __future__ import annotations

from canary.compat.diff import diff_contracts
from canary.compat.py_extract import extract
from canary.compat.pytypes import canonical

try:
    from tests.test_compat_ts import write_tree
except ImportError:  # pragma: no cover
    from test_compat_ts import write_tree

PYPROJECT = '[project]\nname = "pk"\nversion = "1.0.0"\n'


def diff(tmp_path, old: dict, new: dict):
    o = write_tree(tmp_path / "old", {"pyproject.toml": PYPROJECT, **old})
    n = write_tree(tmp_path / "new", {"pyproject.toml": PYPROJECT, **new})
    return diff_contracts(extract(o), extract(n))


def at(changes, severity: str) -> list[str]:
    return sorted(f"{c.rule} {c.symbol}" for c in changes if c.severity == severity)


def test_canonical_spelling_of_annotations():
    assert canonical("t.List[str]") == canonical("list[str]")
    assert canonical("t.Optional[t.MutableMapping[str, t.Any]]") == canonical("cabc.MutableMapping[str, t.Any] | None")
    assert canonical("Union[int, str]") == canonical("str | int")
    assert canonical("t.Optional[t.Callable[[str], str]]") == canonical("t.Callable[[str], str] | None")
    assert canonical("list[int]") != canonical("list[str]")
    assert canonical("RawURL") != canonical("tuple[bytes, bytes]")


def test_typing_respelling_is_not_a_change_but_a_new_type_is(tmp_path):
    old = {
        "pk/__init__.py": "import typing as t\nfrom typing import Optional, Union\n"
        "class C:\n    names: t.List[str] = []\n    port: Optional[int] = None\n    key: Union[int, str] = 0\n"
        "    raw: t.Tuple[int, int] = (0, 0)\n"
    }
    new = {
        "pk/__init__.py": "class C:\n    names: list[str] = []\n    port: int | None = None\n"
        "    key: str | int = 0\n    raw: tuple[int, str] = (0, '')\n"
    }
    assert at(diff(tmp_path, old, new), "ERR") == ["PY010 pk.C.raw"]


def test_name_served_by_module_getattr_or_an_import_is_a_deprecation(tmp_path):
    old = {
        "pk/__init__.py": "",
        "pk/core.py": "class BaseCommand:\n    pass\n\nclass Kept:\n    pass\n\nclass Gone:\n    pass\n",
    }
    new = {
        "pk/__init__.py": "",
        "pk/impl.py": "class Kept:\n    pass\n\nclass Gone:\n    pass\n",
        "pk/core.py": "import typing\nimport warnings\nfrom .impl import Kept\nif typing.TYPE_CHECKING:\n"
        "    from .impl import Gone\n\nclass Command:\n    pass\n\n"
        "def __getattr__(name):\n    if name == 'BaseCommand':\n"
        "        warnings.warn('use Command', DeprecationWarning)\n        return Command\n"
        "    raise AttributeError(name)\n",
    }
    changes = diff(tmp_path, old, new)
    assert at(changes, "ERR") == ["PY001 pk.core.Gone"]
    deprecated = {c.symbol: c for c in changes if c.rule == "PY014"}
    assert "__getattr__" in deprecated["pk.core.BaseCommand"].message
    assert "imported" in deprecated["pk.core.Kept"].message


def test_member_moved_to_a_base_class_in_a_namespace_folder_is_not_removed(tmp_path):
    old = {
        "pk/__init__.py": "",
        "pk/scaffold.py": "class Scaffold:\n    def route(self, rule):\n        pass\n",
        "pk/app.py": "from .scaffold import Scaffold\n\nclass App(Scaffold):\n    def run(self):\n        pass\n"
        "    def add_url_rule(self, rule):\n        pass\n",
    }
    new = {
        "pk/__init__.py": "",
        # no __init__.py: griffe skips the folder, Python imports it all the same
        "pk/sansio/scaffold.py": "class Scaffold:\n    def route(self, rule):\n        pass\n",
        "pk/sansio/app.py": "from .scaffold import Scaffold\n\nclass App(Scaffold):\n"
        "    def add_url_rule(self, rule):\n        pass\n",
        "pk/app.py": "from .sansio.app import App as SansioApp\n\nclass App(SansioApp):\n"
        "    def run(self):\n        pass\n",
    }
    changes = diff(tmp_path, old, new)
    errs = at(changes, "ERR")
    assert "PY001 pk.app.App.add_url_rule" not in errs and "PY012 pk.app.App" not in errs
    assert errs == ["PY001 pk.scaffold"]  # the module itself is gone: a real break


def test_positional_only_and_kwargs_renames_are_not_breaking(tmp_path):
    old = {
        "pk/__init__.py": "def forward(__self, __cmd, *args, **attrs):\n    pass\n\n"
        "def f(a, /, b):\n    pass\n\ndef g(key):\n    pass\n\n"
        "class C:\n    def url_for(self, endpoint):\n        pass\n"
    }
    new = {
        "pk/__init__.py": "def forward(self, cmd, /, *rest, **kwargs):\n    pass\n\n"
        "def f(x, /, b):\n    pass\n\ndef g(name):\n    pass\n\n"
        "class C:\n    def url_for(self, /, endpoint):\n        pass\n"
    }
    changes = diff(tmp_path, old, new)
    # a keyword-capable parameter renamed still breaks `g(key=...)`
    assert at(changes, "ERR") == ["PY003 pk.g(key)"]


def test_rename_target_from_a_deprecation_message_must_be_usable(tmp_path):
    old = {
        "pk/__init__.py": "class Client:\n    def send(self):\n        pass\n\n    def fetch(self):\n        pass\n\n"
        "    def close(self):\n        pass\n"
    }
    new = {
        "pk/__init__.py": (
            "class Client:\n"
            "    send_options: dict = {}\n"
            "    def send(self):\n        '''Send.\n\n        .. deprecated:: use send_options\n        '''\n\n"
            "    def fetch(self):\n        '''Fetch.\n\n        .. deprecated:: use fetch_all\n        '''\n\n"
            "    def fetch_all(self):\n        '''All.\n\n        .. deprecated:: going away\n        '''\n\n"
            "    def close(self):\n        '''Close.\n\n        .. deprecated:: use shutdown\n        '''\n\n"
            "    def shutdown(self):\n        pass\n"
        )
    }
    changes = diff(tmp_path, old, new)
    renamed = {c.symbol: c.renamed_to for c in changes if c.rule == "PY013"}
    # a method is not replaced by a dict attribute, nor by something itself deprecated
    assert renamed == {"pk.Client.close": "shutdown"}
    assert {c.symbol for c in changes if c.rule == "PY014"} >= {"pk.Client.send", "pk.Client.fetch"}


def test_keyword_capable_parameter_renamed_in_place_is_one_change(tmp_path):
    old = {"pk/__init__.py": "class C:\n    def add_source(self, multi_cmd):\n        pass\n"}
    new = {"pk/__init__.py": "class C:\n    def add_source(self, group):\n        pass\n"}
    changes = diff(tmp_path, old, new)
    assert at(changes, "ERR") == ["PY003 pk.C.add_source(multi_cmd)"]
    assert changes[0].renamed_to == "group" and changes[0].rename_evidence == "positional"


def test_public_name_reexported_from_a_private_module_is_api(tmp_path):
    # markupsafe 2.0 -> 2.1: `from ._native import soft_unicode` (no __all__) went away
    old = {
        "pk/__init__.py": "try:\n    from ._speedups import soft_str as soft_str\n    from ._speedups import soft_unicode\n"
        "except ImportError:\n    from ._native import soft_str as soft_str\n    from ._native import soft_unicode\n",
        "pk/_native.py": "def soft_str(s):\n    return str(s)\n\ndef soft_unicode(s):\n    return str(s)\n",
        "pk/_typing.py": "",
        "pk/types.py": "import typing as t\nif t.TYPE_CHECKING:\n    from ._typing import Hidden\n",
    }
    new = {
        "pk/__init__.py": "from ._native import soft_str as soft_str\n",
        "pk/_native.py": "def soft_str(s):\n    return str(s)\n",
        "pk/types.py": "",
    }
    assert at(diff(tmp_path, old, new), "ERR") == ["PY001 pk.soft_unicode"]


def test_variance_widened_parameter_and_narrowed_return_are_not_breaking(tmp_path):
    old = {"pk/__init__.py": "def get(key: int) -> str | None:\n    pass\n\ndef put(key: int) -> str:\n    pass\n"}
    new = {
        "pk/__init__.py": "def get(key: int | str) -> str:\n    pass\n\ndef put(key: int) -> str | None:\n    pass\n"
    }
    changes = {c.symbol: c for c in diff(tmp_path, old, new)}
    assert "pk.get(key)" not in changes  # a parameter accepting more breaks no caller
    assert changes["pk.get"].severity == "INFO" and "narrowed" in changes["pk.get"].message
    assert changes["pk.put"].severity == "WARN"  # a caller may now receive None
