"""The matrix as data: what matrix.yaml describes, and the cells planned from it.

These dataclasses cross package borders (compat, codemods, reports and promote
read them), so they hold plain values only and serialize with `to_dict`.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from canary.kernel.errors import UserError

if TYPE_CHECKING:
    from canary.kernel.yamlpos import Positions

__all__ = [
    "Ecosystem",
    "Tier",
    "Role",
    "slug",
    "CoreSpec",
    "Companion",
    "Condition",
    "Core",
    "Source",
    "Connector",
    "Waiver",
    "Settings",
    "Matrix",
    "Cell",
    "cell_id",
]

Ecosystem = Literal["pypi", "npm"]
Tier = Literal["required", "optional"]
Role = Literal["baseline", "candidate", "bisect"]  # bisect: a probe of canary.matrix.bisect, never judged

_UNSAFE = re.compile(r"[^A-Za-z0-9._+@-]+")


def slug(text: str) -> str:
    """A file- and nox-safe form of a label (`feature/x` -> `feature_x`)."""
    return _UNSAFE.sub("_", text).strip("_") or "_"


@dataclass(frozen=True)
class CoreSpec:
    """One core version to test.

    kind: `registry` (an exact published version), `git` (a ref of a core
    repository) or `path` (a local directory). `label` is what people read in
    plans and reports: the version, `git:<ref>` or `path:<dir>`.
    """

    label: str
    kind: Literal["registry", "git", "path"]
    version: str | None = None
    url: str | None = None
    ref: str | None = None
    path: str | None = None
    subdir: str | None = None

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass(frozen=True)
class Companion:
    """A package that must move in lockstep with the core (elizaOS plugin-sql).

    `version` is a template: `{core}` is replaced by the cell's core version.
    """

    name: str
    version: str = "{core}"


@dataclass(frozen=True)
class Condition:
    """A citgm-style rule: skip / flaky / expect_fail on a core version range."""

    core: str  # a version specifier (PEP 440 or npm-style, see canary.matrix.versions)
    reason: str = ""
    refs: tuple[str, ...] = ()  # empty: every ref of the connector


@dataclass(frozen=True)
class Core:
    """The core package under test: its name, ecosystem and versions."""

    name: str
    ecosystem: Ecosystem
    versions: tuple[CoreSpec | dict[str, Any], ...]  # a dict: a range config.load leaves to the planner
    baseline: CoreSpec | None
    companions: tuple[Companion, ...] = ()
    index: dict = field(default_factory=dict)  # registry options: find_links, index_url


@dataclass(frozen=True)
class Source:
    """Where a connector's refs come from: git, a registry (pypi/npm) or a path."""

    kind: Literal["git", "pypi", "npm", "path"]
    refs: tuple[str, ...]  # branches/tags, versions, or the single path
    url: str | None = None  # git url
    package: str | None = None  # registry package name
    subdir: str | None = None


@dataclass(frozen=True)
class Connector:
    """A downstream package tested against the core: where it comes from, its refs and commands."""

    name: str
    package: str
    source: Source
    test: tuple[tuple[str, ...], ...]
    install: tuple[tuple[str, ...], ...] = ()
    setup: tuple[tuple[str, ...], ...] = ()
    env: dict = field(default_factory=dict)
    pass_env: tuple[str, ...] = ()
    timeout: float = 600.0  # each test command
    install_timeout: float = 900.0  # each setup command (download, install, build)
    tier: Tier = "required"
    skip: tuple[Condition, ...] = ()
    flaky: tuple[Condition, ...] = ()
    expect_fail: tuple[Condition, ...] = ()
    junit: str | None = None  # path (relative to the connector checkout) of a JUnit XML the tests write
    install_scripts: bool = False  # npm lifecycle scripts are off unless asked for
    infra_exit_codes: tuple[int, ...] = ()  # test exit codes that mean "could not set up", not "failed"
    runner: str | None = None  # local | docker; None: settings.runner
    image: str | None = None  # docker runner: this connector's image (None: settings.docker.images)


@dataclass(frozen=True)
class Waiver:
    """An accepted failure: the cells it covers (fnmatch), why, and until when."""

    cell: str  # fnmatch pattern over cell ids
    reason: str
    issue: str = ""
    expires: str | None = None  # ISO date; expired waivers no longer apply


@dataclass(frozen=True)
class DockerSettings:
    """settings.docker: the image per ecosystem and the limits of every container (docs/docker.md)."""

    images: dict = field(default_factory=dict)  # ecosystem -> image; missing: canary.matrix.runners.docker defaults
    memory: str = "2g"  # swap included: a container cannot swap its way past the limit
    cpus: float = 2.0
    pids: int = 512
    tmp: str = "512m"  # tmpfs on /tmp


@dataclass(frozen=True)
class Settings:
    """Run-wide settings of matrix.yaml (retries, the A/A check, parallel jobs, ...)."""

    retries: int = 2  # extra attempts for a regressed candidate cell (flaky detection)
    aa_check: bool = False  # run baseline cells twice
    jobs: int = 1
    bisect: bool = False  # bisect every blocking regression after the run (canary.matrix.bisect)
    runner: str = "local"  # local | docker (a connector's own `runner` wins)
    docker: DockerSettings = field(default_factory=DockerSettings)


@dataclass(frozen=True)
class Matrix:
    """A validated matrix.yaml: the core, the connectors, settings and waivers."""

    file: str
    core: Core
    connectors: tuple[Connector, ...]
    include: tuple[dict, ...] = ()
    exclude: tuple[dict, ...] = ()
    waivers: tuple[Waiver, ...] = ()
    settings: Settings = field(default_factory=Settings)
    digest: str = ""
    exposure_migration: str | None = None
    exposure_verify: bool = False  # exposure.verify: run each fixed connector's cell (canary fix --verify)
    compat: dict = field(default_factory=dict)  # {diff: bool, language, config}
    # Where each key stood in the file, so later checks (ranges, refs) can name file:line.
    positions: Positions | None = field(default=None, compare=False, repr=False)

    def connector(self, name: str) -> Connector:
        for c in self.connectors:
            if c.name == name:
                return c
        raise KeyError(name)

    def error(self, message: str, path: tuple[str | int, ...], hint: str | None = None) -> UserError:
        """An error naming the matrix.yaml line of the key at `path` (only the key for a matrix built in code)."""
        if self.positions is not None:
            return self.positions.error(message, path, hint=hint)
        from canary.kernel.yamlpos import dotted

        return UserError(message, key=dotted(path) or None, hint=hint)

    def runner_of(self, connector: Connector) -> str:
        """`local` or `docker`: the connector's own choice, else the matrix's."""
        return connector.runner or self.settings.runner


@dataclass(frozen=True)
class Cell:
    """One core version x one connector ref: the unit that is run and judged."""

    id: str
    core: CoreSpec
    connector: str
    package: str
    ref: str
    source_kind: str
    tier: Tier
    role: Role
    tags: tuple[str, ...]
    expectation: str | None = None  # skip | flaky | expect_fail
    expectation_reason: str = ""

    @property
    def session(self) -> str:
        """The nox session name that runs this cell alone."""
        return self.id

    def nox_command(self, matrix_file: str | None = None) -> str:
        """The line that reproduces this cell alone, runnable from any directory."""
        project = Path(__file__).resolve().parent.parent
        if matrix_file is None or Path(matrix_file).resolve() == project / "matrix.yaml":
            return f'nox -f {shlex.quote(str(project / "noxfile.py"))} -s "{self.session}"'
        return (
            f"CANARY_MATRIX={shlex.quote(str(Path(matrix_file).resolve()))} "
            f'nox -f {shlex.quote(str(project / "noxfile.py"))} -s "{self.session}"'
        )

    def to_dict(self, matrix_file: str | None = None) -> dict:
        return {
            "id": self.id,
            "core": self.core.to_dict(),
            "connector": self.connector,
            "package": self.package,
            "ref": self.ref,
            "source": self.source_kind,
            "tier": self.tier,
            "role": self.role,
            "tags": list(self.tags),
            "expectation": self.expectation,
            "expectation_reason": self.expectation_reason,
            "nox": self.nox_command(matrix_file),
        }


def cell_id(connector: str, ref: str, core_label: str, disambiguate: bool = False) -> str:
    """`<connector>@<ref>--core-<label>`, slugged. With disambiguate (canary.matrix.plan.unique_ids, when
    two cells' slugs collide) the ref carries 6 hex of a hash of the exact connector, ref and core."""
    ref_part = slug(ref)
    if disambiguate:
        import hashlib

        ref_part += "-" + hashlib.sha256(f"{connector}\0{ref}\0{core_label}".encode()).hexdigest()[:6]
    return f"{slug(connector)}@{ref_part}--core-{slug(core_label)}"
