"""Version ranges for both ecosystems: PEP 440 (packaging) and npm semver.

npm ranges are evaluated here rather than by shelling out to node so that
planning stays fast and works on a machine without Node for a PyPI matrix.
Supported npm syntax: comparators (<, <=, >, >=, =), x-ranges (1.x, 1.2.*),
tilde, caret, hyphen ranges (1.2 - 1.4), `||` unions, `*` and ``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

_SEMVER = re.compile(
    r"^v?(?P<major>0|[1-9]\d*)\.(?P<minor>0|[1-9]\d*)\.(?P<patch>0|[1-9]\d*)"
    r"(?:-(?P<pre>[0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$"
)
_PARTIAL = re.compile(
    r"^v?(?P<major>\d+|[xX*])(?:\.(?P<minor>\d+|[xX*]))?(?:\.(?P<patch>\d+|[xX*]))?(?:-(?P<pre>[0-9A-Za-z.-]+))?$"
)


@dataclass(frozen=True, order=False)
class SemVer:
    major: int
    minor: int
    patch: int
    pre: tuple = ()

    @classmethod
    def parse(cls, text: str) -> SemVer:
        m = _SEMVER.match(text.strip())
        if not m:
            raise ValueError(f"not a semver version: {text!r}")
        pre = tuple(int(p) if p.isdigit() else p for p in m["pre"].split(".")) if m["pre"] else ()
        return cls(int(m["major"]), int(m["minor"]), int(m["patch"]), pre)

    def _key(self):
        # A prerelease sorts before its release; numeric identifiers before alphanumeric ones.
        pre = tuple((0, p, "") if isinstance(p, int) else (1, 0, p) for p in self.pre)
        return (self.major, self.minor, self.patch, 0 if self.pre else 1, pre)

    def __lt__(self, other):
        return self._key() < other._key()

    def __le__(self, other):
        return self._key() <= other._key()

    def __gt__(self, other):
        return self._key() > other._key()

    def __ge__(self, other):
        return self._key() >= other._key()

    def __str__(self) -> str:
        base = f"{self.major}.{self.minor}.{self.patch}"
        return base + ("-" + ".".join(str(p) for p in self.pre) if self.pre else "")


def _partial(text: str):
    m = _PARTIAL.match(text.strip())
    if not m:
        raise ValueError(f"not a version in a range: {text!r}")
    parts = []
    for name in ("major", "minor", "patch"):
        v = m[name]
        parts.append(None if v is None or v in "xX*" else int(v))
    pre = tuple(int(p) if p.isdigit() else p for p in m["pre"].split(".")) if m["pre"] else ()
    return parts, pre


def _comparators(token: str) -> list[tuple[str, SemVer]]:
    """Expand one npm comparator token into primitive (op, version) pairs."""
    m = re.match(r"^(<=|>=|<|>|=|\^|~>?|)\s*(.*)$", token)
    if m is None:  # the operator may be empty and the rest anything: only a line break fails
        raise ValueError(f"not a version in a range: {token!r}")
    op, rest = m.group(1), m.group(2)
    if rest in ("", "*", "x", "X"):
        return []
    (ma, mi, pa), pre = _partial(rest)
    if ma is None:
        return []
    lo = SemVer(ma, mi or 0, pa or 0, pre)
    if op in ("^",):
        if ma > 0 or mi is None:
            hi = SemVer(ma + 1, 0, 0, (0,))
        elif mi > 0 or pa is None:
            hi = SemVer(0, mi + 1, 0, (0,))
        else:
            hi = SemVer(0, 0, pa + 1, (0,))
        return [(">=", lo), ("<", hi)]
    if op in ("~", "~>"):
        hi = SemVer(ma + 1, 0, 0, (0,)) if mi is None else SemVer(ma, mi + 1, 0, (0,))
        return [(">=", lo), ("<", hi)]
    if mi is None or pa is None:  # x-range
        if op in ("", "="):
            hi = SemVer(ma + 1, 0, 0, (0,)) if mi is None else SemVer(ma, mi + 1, 0, (0,))
            return [(">=", lo), ("<", hi)]
        if op == ">":
            return [(">=", SemVer(ma + 1, 0, 0) if mi is None else SemVer(ma, mi + 1, 0))]
        if op == "<=":
            return [("<", SemVer(ma + 1, 0, 0, (0,)) if mi is None else SemVer(ma, mi + 1, 0, (0,)))]
        return [(op, lo)]
    return [(op or "=", lo)]


def _ok(op: str, v: SemVer, ref: SemVer) -> bool:
    return {
        "=": v._key() == ref._key(),
        "<": v < ref,
        "<=": v <= ref,
        ">": v > ref,
        ">=": v >= ref,
    }[op]


def npm_satisfies(version: str, rng: str, include_prerelease: bool = False) -> bool:
    """Whether `version` satisfies the npm range `rng` (npm's own rules for prereleases)."""
    v = SemVer.parse(version)
    for alt in rng.split("||"):
        alt = alt.strip()
        hy = re.match(r"^(\S+)\s+-\s+(\S+)$", alt)
        if hy:
            (ma, mi, pa), pre = _partial(hy.group(2))
            upper = [("<=", SemVer(ma, mi, pa, pre))] if pa is not None else _comparators("<=" + hy.group(2))
            (lo_ma, lo_mi, lo_pa), lo_pre = _partial(hy.group(1))
            comps = [(">=", SemVer(lo_ma or 0, lo_mi or 0, lo_pa or 0, lo_pre))] + upper
        else:
            tokens = re.findall(r"(?:<=|>=|<|>|=|\^|~>?)?\s*[^\s<>=^~]+", alt) if alt else []
            comps = [c for t in tokens for c in _comparators(t.replace(" ", ""))]
        if not all(_ok(op, v, ref) for op, ref in comps):
            continue
        # npm: a prerelease only matches a comparator on the same [major, minor, patch] with a prerelease.
        if (
            v.pre
            and not include_prerelease
            and not any(
                ref.pre and (ref.major, ref.minor, ref.patch) == (v.major, v.minor, v.patch) for _, ref in comps
            )
        ):
            continue
        return True
    return False


def is_npm_range(text: str) -> bool:
    return not _SEMVER.match(text.strip())


def validate_npm_range(text: str) -> None:
    npm_satisfies("0.0.0", text)  # raises ValueError when the range does not parse


def pep440_satisfies(version: str, spec: str, include_prerelease: bool = False) -> bool:
    return SpecifierSet(spec).contains(Version(version), prereleases=include_prerelease)


def is_pep440_range(text: str) -> bool:
    return bool(re.search(r"[<>=!~,*]", text))


def satisfies(ecosystem: str, version: str, spec: str, include_prerelease: bool = False) -> bool:
    """Version in range, for the given ecosystem; PEP 440 specifiers are also accepted for npm."""
    if ecosystem == "npm":
        try:
            return npm_satisfies(version, spec, include_prerelease)
        except ValueError:
            pass
    try:
        return pep440_satisfies(version, spec, include_prerelease)
    except (InvalidSpecifier, InvalidVersion):
        try:
            return npm_satisfies(version, spec, include_prerelease)
        except ValueError:
            return False


def in_declared_range(ecosystem: str, version: str, declared: str) -> bool:
    """Whether a core version is inside the range a connector declares for it.

    A prerelease core is judged as if it were its release (npm `includePrerelease`, PEP 440
    `prereleases=True`): a connector declaring `>=1` or `^1.6.4` is meant to run on
    `2.1.0b1` / `1.7.1-beta.2`, and calling those cells unsupported would hide exactly the
    regressions a prerelease is tested for.
    """
    return satisfies(ecosystem, version, declared, include_prerelease=True)


def version_key(ecosystem: str, version: str) -> tuple:
    """The ecosystem's order (npm semver, PEP 440); versions that do not parse sort last, by text."""
    try:
        return (0, SemVer.parse(version)._key()) if ecosystem == "npm" else (0, Version(version))
    except (ValueError, InvalidVersion):
        return (1, version)


def sort_versions(ecosystem: str, versions: list[str]) -> list[str]:
    return sorted(versions, key=lambda v: version_key(ecosystem, v))


def is_prerelease(ecosystem: str, version: str) -> bool:
    if ecosystem == "npm":
        try:
            return bool(SemVer.parse(version).pre)
        except ValueError:
            return False
    try:
        return Version(version).is_prerelease
    except InvalidVersion:
        return False
