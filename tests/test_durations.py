"""One duration grammar (canary.kernel.durations) for matrix.yaml and `canary promote` (issue 14 item 7):
matrix.yaml used to reject `1h30m` while promote accepted `1d12h`."""

from __future__ import annotations

import json
import re

import pytest

from canary.kernel.durations import PATTERN, parse_duration, seconds_of
from canary.kernel.errors import UserError
from canary.matrix import config
from tests.conftest import ROOT
from tests.test_config import GOOD, write


@pytest.mark.parametrize(
    "text,seconds", [("90s", 90), ("10m", 600), ("1h30m", 5400), ("1d12h", 129600), ("2w", 1209600), ("1.5h", 5400)]
)
def test_matrix_and_promote_read_the_same_durations(tmp_path, text, seconds):
    matrix = config.load(write(tmp_path, GOOD.replace("timeout: 2m", f"timeout: {text}")))
    assert matrix.connector("alpha").timeout == seconds == parse_duration(text, "--max-age")


@pytest.mark.parametrize("text", ["soon", "1h30", "m", "", "1x", "-5s"])
def test_not_a_duration_anywhere(tmp_path, text):
    assert seconds_of(text) is None
    with pytest.raises(UserError):
        parse_duration(text, "--soak")
    with pytest.raises(UserError) as info:
        config.load(write(tmp_path, GOOD.replace("timeout: 2m", f"timeout: '{text}'")))
    assert "timeout" in str(info.value)


def test_the_schema_pattern_is_the_grammar():
    schema = json.loads((ROOT / "matrix" / "schemas" / "matrix.schema.json").read_text())
    string_form = next(s for s in schema["$defs"]["duration"]["oneOf"] if s.get("type") == "string")
    assert string_form["pattern"] == PATTERN
    for text in ("90s", "1h30m", "1d12h", "1.5h", "soon", "1h30"):
        assert bool(re.match(PATTERN, text)) == (seconds_of(text) is not None)
