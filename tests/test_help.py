"""`canary --help` names every subcommand with one line; each subcommand's --help shows examples."""

from __future__ import annotations

import argparse
import shlex

import pytest

from canary.cli import COMMAND_MODULES, OWNER, build_parser


def _subparsers() -> argparse._SubParsersAction:
    return next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))


def test_every_subcommand_has_a_one_line_description():
    sub = _subparsers()
    described = {c.dest: c.help for c in sub._choices_actions}
    assert set(described) == set(sub.choices) == set(OWNER)
    for name, text in described.items():
        assert text and "\n" not in text and len(text) <= 100, (name, text)


@pytest.mark.parametrize("command", sorted(OWNER))
def test_help_of_each_subcommand_lists_examples_that_parse(command, capsys):
    parser = build_parser([command])
    with pytest.raises(SystemExit):
        parser.parse_args([command, "--help"])
    text = capsys.readouterr().out
    assert "\nexamples:\n" in text
    examples = [ln.strip() for ln in text.split("\nexamples:\n", 1)[1].splitlines() if ln.strip()]
    assert examples and all(e.startswith(f"canary {command}") for e in examples)
    for example in examples:
        # Each example is a command line argparse accepts (its options exist, its arguments fit).
        argv = shlex.split(example.split("  #")[0].split(" >")[0], comments=True)[1:]
        args = build_parser(argv).parse_args(argv)
        assert args.command == command


def test_modules_listed_once():
    assert len(COMMAND_MODULES) == len(set(COMMAND_MODULES))
