"""Prerelease tags and the release they promote to.

Two spellings are understood, because cores are published to npm and to PyPI:
  npm semver  `v1.7.1-beta.2`, `1.7.1-rc.1`   -> release `1.7.1`
  PEP 440     `1.7.1b2`, `v1.7.1rc1`, `1.7.1.dev3` -> release `1.7.1`
A tag may carry a prefix (`v`, `core-v`, `@scope/pkg@`); the release tag keeps it,
so `v1.7.1-beta.2` becomes `v1.7.1` and `core-1.7.1rc1` becomes `core-1.7.1`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from packaging.version import InvalidVersion, Version

# semver 2.0.0 with a required prerelease part (build metadata allowed, dropped on release).
_SEMVER_PRE = re.compile(
    r"^(?P<core>(?:0|[1-9]\d*)\.(?:0|[1-9]\d*)\.(?:0|[1-9]\d*))"
    r"-(?P<pre>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$"
)
_SEMVER_ANY = re.compile(r"^(?:0|[1-9]\d*)\.(?:0|[1-9]\d*)\.(?:0|[1-9]\d*)(?:[-+].*)?$")
# Where a version may start inside a tag: the beginning, or after one of these.
_PREFIX_END = "v@/-_"


@dataclass(frozen=True)
class TagVersion:
    tag: str
    prefix: str  # everything before the version, e.g. "v"
    version: str  # the prerelease version as written in the tag
    style: str  # "npm" | "pep440"
    prerelease: bool
    release: str  # the release version: "1.7.1"

    @property
    def release_tag(self) -> str:
        return f"{self.prefix}{self.release}"


def _split(tag: str) -> list[tuple[str, str]]:
    """Candidate (prefix, version) splits, shortest prefix first."""
    out = []
    for i, ch in enumerate(tag):
        if ch.isdigit() and (i == 0 or tag[i - 1] in _PREFIX_END):
            out.append((tag[:i], tag[i:]))
    return out


def parse_tag(tag: str) -> TagVersion | None:
    """The version a tag names, or None when no part of it is a version."""
    for prefix, text in _split(tag):
        m = _SEMVER_PRE.match(text)
        if m:
            return TagVersion(tag, prefix, text, "npm", True, m.group("core"))
        if _SEMVER_ANY.match(text) and "-" not in text:
            # 1.7.1 or 1.7.1+build: a semver release, not a prerelease.
            return TagVersion(tag, prefix, text, "npm", False, text.split("+")[0])
        try:
            v = Version(text)
        except InvalidVersion:
            continue
        if v.local:
            continue
        # PEP 440 also accepts `-beta.2`-like spellings; the semver branch above caught those.
        prerelease = v.pre is not None or v.dev is not None
        return TagVersion(tag, prefix, text, "pep440", prerelease, v.base_version)
    return None


def normalize_target(text: str, parsed: TagVersion) -> str:
    """`--to` as a bare release version (drops the tag's prefix or a leading v)."""
    text = text.strip()
    if parsed.prefix and text.startswith(parsed.prefix):
        text = text[len(parsed.prefix) :]
    if text[:1] in ("v", "V") and text[1:2].isdigit():
        text = text[1:]
    return text


def same_release(target: str, release: str, style: str) -> bool:
    if target == release:
        return True
    if style == "pep440":
        try:
            return Version(target) == Version(release) and not Version(target).is_prerelease
        except InvalidVersion:
            return False
    return False
