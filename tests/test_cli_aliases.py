"""CLI options agree across commands (issue 14 item 7): the documented spelling (`--out`, `-c`,
`md`) and the other one every command used somewhere (`--output`/`-o`, `--matrix`, `markdown`)
are accepted everywhere they mean the same thing."""

from __future__ import annotations

import pytest

from canary.cli import build_parser
from canary.reports import parse_formats


def _parse(argv: list[str]):
    return build_parser(argv).parse_args(argv)


@pytest.mark.parametrize(
    "argv,dest",
    [
        (["report", "--out", "X"], "out"),
        (["report", "--output", "X"], "out"),
        (["report", "-o", "X"], "out"),
        (["merge", "d", "--out", "X"], "out"),
        (["merge", "d", "--output", "X"], "out"),
        (["diff", "a", "b", "--out", "X"], "output"),
        (["diff", "a", "b", "-o", "X"], "output"),
        (["lint", "src", "-m", "m", "--out", "X"], "output"),
    ],
)
def test_out_and_output(argv, dest):
    assert getattr(_parse(argv), dest) == "X"


@pytest.mark.parametrize("command", [["run"], ["plan"], ["ci-matrix"], ["verdicts"], ["promote", "v1.0.0-rc.1"]])
def test_c_and_matrix(command):
    dest = "matrix" if command[0] == "promote" else "config"
    assert getattr(_parse([*command, "-c", "m.yaml"]), dest) == "m.yaml"
    assert getattr(_parse([*command, "--matrix", "m.yaml"]), dest) == "m.yaml"


def test_md_and_markdown():
    assert parse_formats("markdown,html") == ["md", "html"]
    assert _parse(["diff", "a", "b", "--format", "md"]).format == "markdown"
