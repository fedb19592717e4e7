"""`canary run` computes the compat diff while the cells run, through the cells' artifact cache.

A real run of a fake npm matrix (tests/conftest_npm.py): the baseline cell's test waits until
the candidate core's tarball is in the artifact cache. Only the compat diff can put it there
while the baseline cell runs (candidate cells start after every baseline cell), so the cell
passes only if the diff runs concurrently with the cells; after them, it would time out.
Each core tarball is still fetched once (one `npm pack` per version, whoever asks first).
"""

from __future__ import annotations

import json
import textwrap

import pytest

from canary.matrix.store import Store
from tests.conftest import canary
from tests.conftest_npm import npm_calls, npm_shim

WAIT = (
    "const fs=require('fs'),path=require('path');"
    "const dir=path.join(process.argv[1],'cache','artifacts','npm');"
    "const t0=Date.now();"
    "(function poll(){"
    " const hit=fs.existsSync(dir)&&fs.readdirSync(dir).some(p=>fs.existsSync(path.join(dir,p,'1.0.0')));"
    " if(hit){console.log('candidate core cached while the baseline cell ran');process.exit(0);}"
    " if(Date.now()-t0>90000){console.log('Error: the candidate core never arrived');process.exit(1);}"
    " setTimeout(poll,200);})();"
)


@pytest.mark.slow
def test_compat_diff_runs_while_the_cells_run(fake_npm, tmp_path):
    home = tmp_path / "home"
    (tmp_path / "matrix.yaml").write_text(
        textwrap.dedent(f"""\
        version: 1
        core:
          name: "@canary-fake/core"
          ecosystem: npm
          versions: ["2.0.0", "1.0.0"]
          baseline: "2.0.0"
        connectors:
          - name: plugin
            package: "@canary-fake/plugin"
            npm: {{versions: ["0.1.0"]}}
            test: ["node", "-e", {json.dumps(WAIT)}, {json.dumps(str(home))}]
        settings:
          retries: 0
        compat:
          diff: true
        """)
    )
    shim_dir, log = npm_shim(tmp_path / "shim")
    import os

    env = {"CANARY_HOME": str(home), "PATH": f"{shim_dir}{os.pathsep}{os.environ['PATH']}", **fake_npm.env()}
    proc = canary(
        "run", "-c", "matrix.yaml", "-j", "2", "--progress", "none", "--report", "none", cwd=tmp_path, env=env
    )
    run = Store(home / "runs").latest()
    base = run.read_cell("plugin@0.1.0--core-2.0.0")
    assert base.status == "pass", proc.stdout + proc.stderr
    assert (run.path / "compat-diff.json").is_file()
    packed = [c for c in npm_calls(log) if c.startswith("pack ")]
    for version in ("2.0.0", "1.0.0"):
        assert sum(f"@canary-fake/core@{version}" in c for c in packed) == 1, packed
