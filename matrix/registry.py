"""Published versions of a package, asked of the ecosystem's own client.

pip and npm know the user's index, proxies and certificates, so asking them
(rather than calling an HTTP API here) keeps canary correct behind mirrors.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from functools import lru_cache

from canary.kernel.errors import UserError
from canary.kernel.exitcodes import ExitCode

__all__ = ["pip_index_args", "pip_index_env", "npm_versions", "pypi_versions", "available_versions"]


def pip_index_args(index: dict) -> list[str]:
    """pip's index options (--index-url, --find-links, ...) from a matrix's index settings."""
    args: list[str] = []
    for link in index.get("find_links", ()):
        args += ["--find-links", link]
    if index.get("index_url"):
        args += ["--index-url", index["index_url"]]
    if index.get("no_index"):
        args.append("--no-index")
    return args


def pip_index_env(index: dict) -> dict[str, str]:
    """The same index settings as PIP_* variables, for pip calls this process does not build."""
    env = {}
    if index.get("find_links"):
        env["PIP_FIND_LINKS"] = " ".join(index["find_links"])
    if index.get("index_url"):
        env["PIP_INDEX_URL"] = index["index_url"]
    if index.get("no_index"):
        env["PIP_NO_INDEX"] = "1"
    return env


@lru_cache(maxsize=64)
def _pypi_versions(name: str, index_key: tuple) -> tuple[str, ...]:
    index = dict(index_key)
    index["find_links"] = list(index.get("find_links", ()))
    argv = [
        sys.executable,
        "-m",
        "pip",
        "index",
        "versions",
        name,
        "--pre",
        "--disable-pip-version-check",
        *pip_index_args(index),
    ]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or [""]
        if "No matching distribution" in proc.stderr:
            return ()
        raise UserError(
            f"could not list versions of {name} from the package index: {tail[0]}", exit_code=ExitCode.INCONCLUSIVE
        )
    m = re.search(r"Available versions:\s*(.*)", proc.stdout)
    return tuple(v.strip() for v in m.group(1).split(",")) if m else ()


@lru_cache(maxsize=64)
def _npm_versions(name: str) -> tuple[str, ...]:
    proc = subprocess.run(["npm", "view", name, "versions", "--json"], capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        err = proc.stderr
        if "E404" in err:
            return ()
        code = re.search(r"npm error code (\S+)", err)
        raise UserError(
            f"could not list versions of {name} from the npm registry: {code.group(1) if code else err.strip()[:200]}",
            exit_code=ExitCode.INCONCLUSIVE,
        )
    data = json.loads(proc.stdout or "[]")
    return tuple(data if isinstance(data, list) else [data])


def npm_versions(name: str) -> list[str]:
    """The published versions of an npm package (none when the registry does not know it)."""
    return list(_npm_versions(name))


def pypi_versions(name: str, index: dict | None = None) -> list[str]:
    """The published versions of a Python package in PyPI or the matrix's index (find-links, index-url)."""
    index = {k: v for k, v in (index or {}).items() if not k.startswith("_")}
    key = tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in index.items()))
    return list(_pypi_versions(name, key))


def available_versions(ecosystem: str, name: str, index: dict | None = None) -> list[str]:
    """The published versions of a package, asked of the source of its ecosystem (an ecosystem no
    source serves is a UserError, never PyPI)."""
    # The sources import this module (pip's index options): the registry of sources is read late.
    from canary.matrix.sources import select_core

    return select_core(ecosystem).published_versions(name, dict(index or {}))
