"""npm semver ranges (evaluated in Python) and PEP 440 specifiers."""

import pytest

from canary.matrix.versions import SemVer, npm_satisfies, satisfies, sort_versions


@pytest.mark.parametrize(
    "version,rng,expected",
    [
        ("1.6.5", "^1.6.4", True),
        ("2.0.0", "^1.6.4", False),
        ("1.6.3", "^1.6.4", False),
        ("0.2.5", "^0.2.3", True),
        ("0.3.0", "^0.2.3", False),
        ("0.0.4", "^0.0.3", False),
        ("1.2.9", "~1.2.3", True),
        ("1.3.0", "~1.2.3", False),
        ("1.7.2", "1.6.4 - 1.7.2", True),
        ("1.7.3", "1.6.4 - 1.7.2", False),
        ("1.4.0", "1.x", True),
        ("2.0.0", "1.x", False),
        ("3.1.0", "1.x || >=3", True),
        ("1.7.0", ">=1.6 <1.8", True),
        ("1.8.0", ">=1.6 <1.8", False),
        ("9.9.9", "*", True),
        # npm's prerelease rule: only ranges that name the same [major, minor, patch] with a prerelease
        ("1.7.3-alpha.4", "^1.7.2", False),
        ("1.7.3-alpha.4", "^1.7.3-alpha.1", True),
        ("2.0.0-alpha.3", ">=1.7.0", False),
    ],
)
def test_npm_ranges(version, rng, expected):
    assert npm_satisfies(version, rng) is expected


def test_semver_ordering_puts_prereleases_first():
    assert SemVer.parse("1.7.3-alpha.4") < SemVer.parse("1.7.3")
    assert SemVer.parse("1.7.3-alpha.4") < SemVer.parse("1.7.3-alpha.10")
    assert sort_versions("npm", ["1.10.0", "1.7.2", "1.7.3-alpha.4"]) == ["1.7.2", "1.7.3-alpha.4", "1.10.0"]


def test_pep440_for_pypi():
    assert satisfies("pypi", "2.0.0", ">=2,<3")
    assert not satisfies("pypi", "2.0.0b1", ">=1")  # prereleases excluded unless asked
