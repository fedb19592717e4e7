"""The docker engine for tests marked `docker` (tests/docker_engine.py does the work).

Session-scoped: the engine is started once (installed first when missing) and
stopped at the end if this session started it; the test image is built once
per machine and reused. Tests are skipped, with the reason, only when no
engine can be started here.
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def docker_engine():
    from tests import docker_engine as engine_mod

    try:
        engine = engine_mod.start()
    except engine_mod.Unavailable as exc:
        pytest.skip(f"no docker engine: {exc}")
    try:
        image = engine_mod.ensure_image(engine)
    except engine_mod.Unavailable as exc:
        engine.stop()
        pytest.skip(f"no docker test image: {exc}")
    mp = pytest.MonkeyPatch()
    mp.setenv("DOCKER_HOST", engine.host)
    yield {"host": engine.host, "image": image, "client": engine.client()}
    mp.undo()
    engine.stop()


@pytest.fixture(scope="session")
def docker_node_image(docker_engine):
    """The test image with node and npm (the Python one plus this machine's node; a few seconds once)."""
    from tests import docker_engine as engine_mod

    try:
        return engine_mod.ensure_node_image(engine_mod.Engine(docker_engine["host"], None))
    except engine_mod.Unavailable as exc:
        pytest.skip(f"no docker node test image: {exc}")
