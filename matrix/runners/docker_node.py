"""npm cells in a container: the local node runner's install and check, run in the cell's image.

As on the host (canary.matrix.runners.node): a package.json that depends on the
connector, core and companion tarballs and forces the core with `overrides`,
`npm install` (lifecycle scripts off unless the connector sets
`install_scripts`), then the same check script, run by the image's node, from
the connector's own directory. The differences:
- always a plain `npm install` in the cell: no templates and no overlay mounts
  (a cell shares nothing with another cell);
- every tarball is copied into the cell directory (`inputs/`, the only mount),
  and npm's cache is the cell's own (`npm-cache/`): an install script never
  sees, let alone writes, the shared artifact cache or the host's npm cache;
- what runs on the host is only packing (a git or `path:` connector, the
  companions), and that with `--ignore-scripts`: npm runs none of the
  connector's lifecycle scripts (prepack, prepare, postpack) there.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from canary.matrix.npm_artifacts import materialize_npm_all, pack_directory
from canary.matrix.runners.docker import CONTAINER_PATH, ContainerCommands, own_cell_dir, stage
from canary.matrix.runners.node import prepare_node_cell, record_cell, record_declared


@dataclass
class NodeInputs:
    """The cell's tarballs, copied into the cell directory."""

    connector: Path
    core: Path
    companions: list[tuple[str, str]]  # (name, "file:<tarball in the cell>")


def stage_inputs(cx) -> NodeInputs:
    """On the host, before any container: pack what is not a tarball yet (scripts off) and copy the
    connector, core and companion tarballs into `<cell>/inputs`."""
    from canary.matrix.sources.npm import artifacts_dir, cx_run

    run = cx_run(cx)
    inputs = cx.cell_dir / "inputs"
    connector_tgz = cx.checkout.artifact
    if connector_tgz is None:  # git or path source: packed as it is, like the local runner does
        connector_tgz = pack_directory(
            cx.checkout.path, cx.cell_dir / "connector-pack", cx.home.npm_cache, run=run
        ).path
    art = cx.core_artifact
    specs = [f"{c.name}@{c.version.format(core=art.version)}" for c in cx.matrix.core.companions]
    companions = materialize_npm_all(specs, artifacts_dir(cx), cx.home.npm_cache, run=run) if specs else []
    return NodeInputs(
        connector=stage(connector_tgz, inputs),
        core=stage(art.path, inputs),
        companions=[(a.name, f"file:{stage(a.path, inputs)}") for a in companions],
    )


def prepare_node(cx, commands: ContainerCommands, inputs: NodeInputs) -> None:
    art = cx.core_artifact
    record_declared(cx, inputs.connector)
    install_dir, npm_cache, home = cx.cell_dir / "node", cx.cell_dir / "npm-cache", cx.cell_dir / "home"
    for directory in (install_dir, npm_cache, home):
        directory.mkdir(parents=True, exist_ok=True)
    own_cell_dir(cx.cell_dir, commands.user)
    cx.runner_env.update({"HOME": str(home), "PATH": CONTAINER_PATH, "npm_config_update_notifier": "false"})
    from canary.matrix.sources.npm import cx_run

    cell = prepare_node_cell(
        install_dir,
        cx.connector.package,
        inputs.connector,
        cx.matrix.core.name,
        inputs.core,
        art.version,
        inputs.companions,
        npm_cache,
        run=cx_run(cx),
        scripts=cx.connector.install_scripts,
        install=[list(a) for a in cx.connector.install],
    )
    cx.note(f"installed: {cell.installed_via} (container; cell-local npm cache)")
    record_cell(cx, cell, CONTAINER_PATH)
