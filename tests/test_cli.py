"""The `canary` command line: every command is reachable and owned by exactly one module."""

import argparse

import pytest

from canary import cli


def _registered() -> set[str]:
    parser = cli.build_parser([])
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return set(sub.choices)


def test_owner_table_lists_every_command():
    assert _registered() == set(cli.OWNER)


@pytest.mark.parametrize("command", sorted(cli.OWNER))
def test_each_command_builds_alone(command):
    parser = cli.build_parser([command])
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert command in sub.choices


def test_unknown_command_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["no-such-command"])
    assert info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err
