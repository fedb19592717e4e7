"""The results store: run ids in creation order, atomic files, corrupt files named."""

import json

import pytest

from canary.kernel.errors import UserError
from canary.kernel.atomic import write_json_atomic
from canary.matrix.store import Store


def test_runs_started_in_one_second_keep_their_order(tmp_path):
    store = Store(tmp_path)
    made = []
    for _ in range(5):
        run = store.new_run()
        write_json_atomic(run.run_file, {"run_id": run.run_id})
        made.append(run.run_id)
    assert [r.run_id for r in store.runs()] == made
    assert store.latest().run_id == made[-1]


def test_atomic_write_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "cells" / "x.json"
    write_json_atomic(path, {"a": 1})
    write_json_atomic(path, {"a": 2})
    assert json.loads(path.read_text()) == {"a": 2}
    assert [p.name for p in path.parent.iterdir()] == ["x.json"]


def test_corrupt_cell_file_is_named_with_its_line(tmp_path):
    run = Store(tmp_path).new_run()
    (run.cells_dir / "bad.json").write_text('{"run_id": "x",\n  "cell_id": oops}\n')
    with pytest.raises(UserError) as info:
        run.read_cells()
    assert info.value.file.endswith("bad.json") and info.value.line == 2
    assert run.read_cells(strict=False) == {}


def test_unknown_run_lists_recent_ones(tmp_path):
    store = Store(tmp_path)
    run = store.new_run()
    write_json_atomic(run.run_file, {"run_id": run.run_id})
    with pytest.raises(UserError, match=f"no run 'nope'.*{run.run_id}"):
        store.run("nope")
