"""Is the version step from OLD to NEW big enough for what the diff found?

Each rule names the step it requires (major for breaking, minor for additions and
deprecations); a change needs major only when it is reported at ERR, the rules' word for a break. Before 1.0.0 the first non-zero component acts as the major one (npm and
Cargo practice). A step to a prerelease of a higher version counts as that version's step;
prerelease -> prerelease of the same version is `prerelease` and is always sufficient
(prereleases make no compatibility promise).
"""

from __future__ import annotations

import re

_V = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$")
_RANK = {"patch": 0, "minor": 1, "major": 2}


def parse(version: str | None):
    if not version:
        return None
    m = _V.match(version.strip())
    if not m:
        return None
    return int(m.group(1)), int(m.group(2)), int(m.group(3)), m.group(4)


def step(old: str | None, new: str | None) -> str | None:
    a, b = parse(old), parse(new)
    if a is None or b is None:
        return None
    if a[:3] == b[:3]:
        return "prerelease" if (a[3] or b[3]) else "patch"
    if a[0] != b[0]:
        return "major"
    if a[0] == 0:  # 0.x: minor bumps are the breaking ones, patch bumps the feature ones
        return "major" if a[1] != b[1] else "minor"
    if a[1] != b[1]:
        return "minor"
    return "patch"


def required(changes: list[dict], rule_semver: dict[str, str]) -> str:
    need = "patch"
    for c in changes:
        if c.get("accepted"):
            continue
        r = rule_semver.get(c["rule"], "major")
        if c["severity"] != "ERR" and r == "major":
            # only what the rules call breaking (ERR, after variance, overloads, policy and config)
            # needs a major step; a WARN is a caution, not a break
            r = "minor"
        if _RANK[r] > _RANK[need]:
            need = r
    return need


def verdict(old: str | None, new: str | None, changes: list[dict], rule_semver: dict[str, str]) -> dict:
    s = step(old, new)
    need = required(changes, rule_semver)
    if s is None:
        sufficient = None
    elif s == "prerelease":
        sufficient = True
    else:
        sufficient = _RANK[s] >= _RANK[need]
    return {"old": old, "new": new, "step": s, "required": need, "sufficient": sufficient}
