"""`Matrix.error`: an error at a key of the matrix names its matrix.yaml line when the matrix was read
from a file, and the key alone when it was built in code (no positions), where the checks used to
fail with an AttributeError on `None.error` (issue 14 item 6: positions typed, not `object`)."""

from __future__ import annotations

import pytest

from canary.kernel.errors import UserError
from canary.kernel.home import Home
from canary.matrix import sources
from canary.matrix.model import Connector, Core, CoreSpec, Matrix, Source


def test_a_check_on_a_matrix_built_in_code_is_an_error_naming_the_key(tmp_path):
    missing = str(tmp_path / "no-such-connector")
    matrix = Matrix(
        file="built-in-code",
        core=Core(name="democore", ecosystem="pypi", versions=(CoreSpec("1.0.0", "registry", "1.0.0"),), baseline=None),
        connectors=(Connector("alpha", "alpha", Source("path", (missing,), url=missing), test=(("true",),)),),
    )
    assert matrix.positions is None
    with pytest.raises(UserError) as err:
        sources.check_refs(matrix, Home(tmp_path / "home"))
    assert err.value.key == "connectors[0].path" and "connector path does not exist" in str(err.value)
