"""Python cells in a container: the local runner's steps with the image's python3 and staged inputs.

As on the host (canary.matrix.runners.python): a virtualenv, the connector
installed, the core under test forced, then checked from inside the
environment (its version and the file it was installed from). The differences:
the venv comes from the image's `python3 -m venv`; the core artifact, the
matrix's find_links directories and a registry connector's artifact are copied
into the cell directory (the only mount) and pip is pointed at those copies.
"""

from __future__ import annotations

import json
from pathlib import Path

from canary.matrix.runners.docker import CONTAINER_PATH, ContainerCommands, own_cell_dir, stage
from canary.matrix.runners.python import CHECK_SCRIPT, check_installed, wheel_requires


VENV_SCRIPT = (
    'if python3 -c "import virtualenv" 2>/dev/null; '
    'then exec python3 -m virtualenv --quiet --no-periodic-update "$0"; else exec python3 -m venv "$0"; fi'
)


def prepare_python(cx, commands: ContainerCommands) -> None:
    index = cx.matrix.core.index
    inputs = cx.cell_dir / "inputs"
    # A directory with only the core's artifact, as the local runner's core_links(), but a copy:
    # a hard link would hand the shared cache's file (same inode) to the container user.
    core_file = stage(cx.core_artifact.path, cx.cell_dir / "core-links")
    links = [str(core_file.parent)]
    for i, place in enumerate(index.get("find_links") or ()):
        links.append(str(stage(Path(place), inputs / f"find-links-{i}")) if Path(place).is_dir() else place)
    target = str(stage(cx.checkout.artifact, inputs) if cx.checkout.artifact else cx.checkout.path)
    if not Path(cx.checkout.path).resolve().is_relative_to(cx.cell_dir.resolve()):
        commands.mount(cx.checkout.path)  # a `path:` connector: its own directory, as the local runner uses it
    home = cx.cell_dir / "home"
    home.mkdir(exist_ok=True)
    own_cell_dir(cx.cell_dir, commands.user)
    venv = cx.cell_dir / "venv"
    cx.runner_env.update({"HOME": str(home), "PATH": CONTAINER_PATH})
    # virtualenv (when the image has it) seeds pip, setuptools and wheel as the local runner's venv
    # has them; the stdlib venv's ensurepip brings no `wheel`, which old setuptools need to build.
    cx.run("venv", ["sh", "-c", VENV_SCRIPT, str(venv)], infra=True)
    python = str(venv / "bin" / "python")
    cx.variables.update({"python": python, "venv": str(venv)})
    env = {"PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_CACHE_DIR": "1", "PIP_FIND_LINKS": " ".join(links)}
    if index.get("index_url"):
        env["PIP_INDEX_URL"] = index["index_url"]
    if index.get("no_index"):
        env["PIP_NO_INDEX"] = "1"
    cx.runner_env.update(
        {**env, "VIRTUAL_ENV": str(venv), "PATH": f"{venv / 'bin'}:{CONTAINER_PATH}", "HOME": str(home)}
    )
    for argv in cx.connector.install or ((python, "-m", "pip", "install", target),):
        cx.run("install", list(argv), cwd=cx.checkout.path, infra=True)
    art = cx.core_artifact
    extra = [f"{c.name}=={c.version.format(core=art.version)}" for c in cx.matrix.core.companions]
    check = [python, "-c", CHECK_SCRIPT, cx.matrix.core.name, cx.connector.package]
    if not _installed_from(cx.run("check", check, infra=True).tail, art.version, core_file.name):
        cx.run(
            "force-core",
            [python, "-m", "pip", "install", "--no-compile", "--force-reinstall", "--no-deps", str(core_file)],
            infra=True,
        )
    if extra or wheel_requires(core_file):
        cx.run("force-core", [python, "-m", "pip", "install", "--no-compile", str(core_file), *extra], infra=True)
    out = cx.run("check", check, infra=True)
    check_installed(cx, out.tail[-1] if out.tail else "{}")


def _installed_from(tail: list[str], version: str, file_name: str) -> bool:
    try:
        info = json.loads(tail[-1])
        url = json.loads(info["direct_url"] or "{}").get("url", "")
    except (IndexError, KeyError, TypeError, json.JSONDecodeError):
        return False
    return info.get("version") == version and url.endswith("/" + file_name)
