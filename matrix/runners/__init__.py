"""Runners: set up a cell's environment for one ecosystem and check what it really loads.

A runner's `prepare(cx)` installs the connector, forces the core under test,
and verifies inside the environment which core version the connector
resolves. It fills `cx.core_record.resolved`, sets `cx.runner_env` and
`cx.variables` for the test commands, and raises InfrastructureError when
setup fails or CoreMismatch when the environment loads another core.
"""

from __future__ import annotations

import importlib

RUNNERS = {"pypi": "canary.matrix.runners.python", "npm": "canary.matrix.runners.node"}


def for_ecosystem(ecosystem: str):
    return importlib.import_module(RUNNERS[ecosystem])
