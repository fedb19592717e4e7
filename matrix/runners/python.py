"""Python cells: one virtualenv per cell, connector installed, core forced, core checked."""

from __future__ import annotations

import json
import os
import shutil
import sys
import zipfile
from pathlib import Path

from canary.matrix.context import CellContext
from canary.kernel.errors import CoreMismatch, InfrastructureError
from canary.kernel.locks import exclusive
from canary.matrix.registry import pip_index_args, pip_index_env
from canary.matrix.versions import in_declared_range

NAME = "python"

CHECK_SCRIPT = r"""
import importlib.metadata as m, json, sys
name, connector = sys.argv[1], sys.argv[2]
try:
    d = m.distribution(name)
except m.PackageNotFoundError:
    print(json.dumps({"version": None, "direct_url": None, "declared": None}))
    raise SystemExit(0)
declared = None
import re
try:
    for req in m.distribution(connector).requires or []:
        # name [extras] specifier ; marker  (packaging may not be installed in the cell)
        r = re.match(r"^\s*([A-Za-z0-9._-]+)\s*(?:\[[^]]*\])?\s*\(?([^;)]*)\)?\s*(;.*)?$", req)
        if r and not r.group(3) and r.group(1).lower().replace('_', '-') == name.lower().replace('_', '-'):
            declared = r.group(2).strip() or None
except m.PackageNotFoundError:
    pass
print(json.dumps({"version": d.version, "direct_url": d.read_text("direct_url.json"), "declared": declared}))
"""


def pip_env(cx: CellContext) -> dict[str, str]:
    """The matrix's index settings as PIP_* variables, so the connector's own pip calls see them too."""
    return {"PIP_DISABLE_PIP_VERSION_CHECK": "1", **pip_index_env(cx.matrix.core.index)}


def prepare(cx: CellContext) -> None:
    venv = cx.cell_dir / "venv"
    # virtualenv seeds pip from its own cache (fast, offline); the stdlib venv's ensurepip takes seconds.
    # One virtualenv creation at a time per machine: concurrent seeding from virtualenv's shared
    # app-data has been seen to leave a cell with a half-copied pip.
    with exclusive(cx.home.root / "virtualenv.lock"):
        cx.run(
            "venv",
            [sys.executable, "-m", "virtualenv", "--quiet", "--no-wheel", "--no-periodic-update", str(venv)],
            infra=True,
        )
    python = str(venv / "bin" / "python")
    cx.variables.update({"python": python, "venv": str(venv)})
    env = pip_env(cx)
    # The core under test may be on no index at all (built from git or a path: a PR's build, an
    # unreleased prerelease): a find-links directory holding only its artifact lets pip satisfy the
    # connector's declared dependency on it. The core is still forced and checked below.
    env["PIP_FIND_LINKS"] = " ".join(filter(None, [str(core_links(cx)), env.get("PIP_FIND_LINKS")]))
    cx.runner_env.update(
        {
            **env,
            "VIRTUAL_ENV": str(venv),
            "PATH": f"{venv / 'bin'}:{cx.env.get('PATH', '')}",
        }
    )
    target = str(cx.checked_out.artifact or cx.checked_out.path)
    install = cx.connector.install or ((python, "-m", "pip", "install", target),)
    for argv in install:
        cx.run("install", list(argv), cwd=cx.checked_out.path, infra=True)
    art = cx.core_under_test
    extra = [f"{c.name}=={c.version.format(core=art.version)}" for c in cx.matrix.core.companions]
    check = [python, "-c", CHECK_SCRIPT, cx.matrix.core.name, cx.connector.package]
    if not _is_installed_from(cx, cx.run("check", check, infra=True)):
        # Force the core under test: replace whatever the connector pulled in and keep the rest;
        # then, only if the forced core or a companion needs them, let pip add dependencies.
        cx.run("force-core", force_argv(python, art.path), infra=True)
    if extra or wheel_requires(art.path):
        cx.run(
            "force-core",
            [
                python,
                "-m",
                "pip",
                "install",
                "--no-compile",
                str(art.path),
                *extra,
                *pip_index_args(cx.matrix.core.index),
            ],
            infra=True,
        )
    out = cx.run("check", check, infra=True)
    check_installed(cx, out.tail[-1] if out.tail else "{}")


INSTALLER_ENV = "CANARY_PY_INSTALLER"  # auto (default: uv when found, else pip) | uv | pip


def uv_path() -> str | None:
    """The uv binary to force the core with: CANARY_PY_INSTALLER=pip says none; auto takes uv from
    PATH or beside this Python (a `pip install uv` in canary's own environment)."""
    choice = os.environ.get(INSTALLER_ENV, "auto").strip().lower() or "auto"
    if choice == "pip":
        return None
    found = shutil.which("uv") or shutil.which("uv", path=str(Path(sys.executable).parent))
    if choice == "uv" and not found:
        raise InfrastructureError(f"{INSTALLER_ENV}=uv but no uv executable is on PATH")
    return found


def force_argv(python: str, artifact: Path) -> list[str]:
    """Replace the installed core by the artifact under test, nothing else (no dependency resolution,
    so pip and uv do the same thing; uv in about a fifteenth of the CPU time, docs/performance.md).
    The check after it reads the installed distribution either way (direct_url.json names the file)."""
    uv = uv_path()
    if uv:
        return [uv, "pip", "install", "--quiet", "--python", python, "--reinstall", "--no-deps", str(artifact)]
    return [python, "-m", "pip", "install", "--no-compile", "--force-reinstall", "--no-deps", str(artifact)]


def core_links(cx: CellContext) -> Path:
    """A directory in the cell holding only the core's artifact (hard link, else a copy)."""
    links = cx.cell_dir / "core-links"
    links.mkdir(parents=True, exist_ok=True)
    art = cx.core_under_test.path
    target = links / art.name
    if not target.exists():
        try:
            os.link(art, target)
        except OSError:  # another file system
            shutil.copyfile(art, target)
    return links


def _is_installed_from(cx: CellContext, outcome) -> bool:
    try:
        info = json.loads(outcome.tail[-1])
        url = json.loads(info["direct_url"] or "{}").get("url", "")
    except (IndexError, KeyError, TypeError, json.JSONDecodeError):
        return False
    return info.get("version") == cx.core_under_test.version and url.endswith("/" + cx.core_under_test.path.name)


def wheel_requires(path: Path) -> list[str]:
    """Requires-Dist of a wheel (an sdist is assumed to need its dependencies)."""
    if not path.name.endswith(".whl"):
        return ["?"]
    with zipfile.ZipFile(path) as zf:
        meta = next((n for n in zf.namelist() if n.endswith(".dist-info/METADATA")), None)
        text = zf.read(meta).decode("utf-8", "replace") if meta else ""
    return [line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("Requires-Dist:")]


def check_installed(cx: CellContext, line: str) -> None:
    try:
        info = json.loads(line)
    except json.JSONDecodeError:
        raise InfrastructureError(f"check: could not read the installed core version ({line[:120]})") from None
    resolved = info.get("version")
    cx.core_record.resolved = resolved
    direct = json.loads(info["direct_url"]) if info.get("direct_url") else {}
    url = direct.get("url", "")
    declared = info.get("declared")
    cx.connector_record.declared_core_range = declared
    if declared and resolved and not in_declared_range("pypi", resolved, declared):
        cx.unsupported = True
        cx.note(f"core {resolved} is outside the connector's declared range {declared}: unsupported")
    expected = cx.core_under_test.version
    if resolved != expected or not url.endswith(cx.core_under_test.path.name):
        raise CoreMismatch(
            f"core mismatch: the environment loads {cx.matrix.core.name} {resolved} "
            f"(from {url or 'an index'}), not the core under test {expected} ({cx.core_under_test.path.name})"
        )
    cx.note(f"verified: {cx.matrix.core.name} {resolved} installed from {cx.core_under_test.path.name}")
