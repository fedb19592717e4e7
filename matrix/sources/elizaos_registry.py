"""The elizaOS plugin registry's `generated-registry.json` as a connector list.

The registry (repository elizaos-plugins/registry) publishes, per plugin:
  git.repo, git.{v0,v1,alpha,...}.{version,branch}
  npm.repo, npm.{v0,v1,alpha,...} (a version), npm.<band>CoreRange
  supports.{v0,v1,alpha,...}
either under a top-level `registry` mapping (name -> entry), as a bare mapping,
or as a list of entries with an `id`. `parse` reads any of these; `connectors`
turns one band into matrix.yaml connector entries (npm versions or git branches),
and `render_matrix` writes a whole matrix.yaml around them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from canary.kernel.errors import UserError

# Connectors with a smoke scenario shipped in scenarios/elizaos/; the others get load.mjs.
SCENARIOS = {
    "@elizaos/plugin-discord": "discord.mjs",
    "@elizaos/plugin-telegram": "telegram.mjs",
    "@elizaos/plugin-twitter": "twitter.mjs",
}
DEFAULT_SCENARIO = "load.mjs"


@dataclass(frozen=True)
class RegistryPlugin:
    name: str  # npm package name
    repo: str | None = None  # git repository, "owner/name" or a URL
    npm: dict[str, str | None] = field(default_factory=dict)  # band -> version or None
    core_range: dict[str, Any] = field(default_factory=dict)  # band -> declared core range or None
    git: dict[str, dict[str, Any]] = field(default_factory=dict)  # band -> {"version": ..., "branch": ...}
    supports: dict[str, bool] = field(default_factory=dict)  # band -> bool

    @property
    def short(self) -> str:
        return self.name.rsplit("/", 1)[-1]


def _position(text: str, pos: int) -> tuple[int, int]:
    line = text.count("\n", 0, pos) + 1
    return line, pos - (text.rfind("\n", 0, pos) + 1) + 1


def parse(text: str, file: str = "generated-registry.json") -> list[RegistryPlugin]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(f"not valid JSON: {exc.msg}", file=file, line=exc.lineno, column=exc.colno) from None
    if isinstance(data, dict) and isinstance(data.get("registry"), (dict, list)):
        data = data["registry"]
    items: list[tuple[str, object]] = []
    if isinstance(data, list):
        for i, entry in enumerate(data):
            name = entry.get("id") or entry.get("name") if isinstance(entry, dict) else None
            if not isinstance(name, str):
                raise UserError(
                    "a registry entry needs an `id` (the npm package name)", file=file, key=f"registry[{i}]"
                )
            items.append((name, entry))
    elif isinstance(data, dict):
        items = list(data.items())
    else:
        raise UserError("expected a mapping of plugin names to entries (or `registry: {...}`)", file=file)
    plugins = []
    for name, entry in items:
        if not isinstance(entry, dict):
            raise UserError("expected a mapping", file=file, key=f"registry.{name}", line=_line_of(text, name))
        plugins.append(_plugin(name, entry, file, text))
    return plugins


def _line_of(text: str, name: str) -> int | None:
    at = text.find(json.dumps(name))
    return _position(text, at)[0] if at >= 0 else None


def _plugin(name: str, entry: dict[str, Any], file: str, text: str) -> RegistryPlugin:
    git = entry.get("git") or {}
    npm = entry.get("npm") or {}
    supports = entry.get("supports") or {}
    for key, value in (("git", git), ("npm", npm), ("supports", supports)):
        if not isinstance(value, dict):
            raise UserError(
                f"expected a mapping, got {type(value).__name__}",
                file=file,
                key=f"registry.{name}.{key}",
                line=_line_of(text, name),
            )
    bands = {k for k in (*git, *npm, *supports) if k not in ("repo",) and not k.endswith("CoreRange")}
    npm_versions = {b: npm.get(b) for b in bands if isinstance(npm.get(b), (str, type(None)))}
    ranges = {b: npm.get(f"{b}CoreRange") for b in bands}
    git_bands: dict[str, dict[str, Any]] = {}
    for b in bands:
        v = git.get(b)
        if isinstance(v, dict):
            git_bands[b] = {"version": v.get("version"), "branch": v.get("branch")}
    return RegistryPlugin(
        name=name,
        repo=git.get("repo"),
        npm=npm_versions,
        core_range=ranges,
        git=git_bands,
        supports={b: bool(supports.get(b)) for b in bands},
    )


def load(path: str | Path) -> list[RegistryPlugin]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError("registry file not found", file=str(path)) from None
    return parse(text, str(path))


def git_url(repo: str, base: str) -> str:
    if "://" in repo or repo.startswith("git@") or repo.startswith("/"):
        return repo
    return base.rstrip("/") + "/" + repo.removeprefix("github:")


def connectors(
    plugins: list[RegistryPlugin],
    *,
    band: str = "v1",
    source: str = "npm",
    names: list[str] | None = None,
    required: Sequence[str] = (),
    git_base: str = "https://github.com",
    timeout: str = "5m",
) -> list[dict[str, Any]]:
    """matrix.yaml connector entries for one band; plugins without that band are left out.

    source "npm": the band's published version; "git": the band's branch of the plugin's repo.
    `names` keeps only those plugins (package or short names), in that order.
    """
    if source not in ("npm", "git"):
        raise UserError(f"source must be npm or git, got {source!r}")
    chosen = plugins
    if names:
        by_name = {p.name: p for p in plugins} | {p.short: p for p in plugins}
        missing = [n for n in names if n not in by_name]
        if missing:
            raise UserError(f"not in the registry: {', '.join(missing)}")
        chosen = [by_name[n] for n in names]
    out = []
    for p in chosen:
        if p.supports and not p.supports.get(band, False):
            continue
        entry: dict[str, Any] = {"name": p.short, "package": p.name}
        if source == "npm":
            version = p.npm.get(band)
            if not version:
                continue
            entry["npm"] = {"versions": [version]}
        else:
            branch = (p.git.get(band) or {}).get("branch")
            if not branch or not p.repo:
                continue
            entry["git"] = {"url": git_url(p.repo, git_base), "refs": [branch]}
        entry["test"] = ["node", "--liftoff-only", "{scenarios}/elizaos/" + SCENARIOS.get(p.name, DEFAULT_SCENARIO)]
        entry["tier"] = "required" if (p.name in required or p.short in required) else "optional"
        entry["timeout"] = timeout
        out.append(entry)
    return out


def render_matrix(
    entries: list[dict[str, Any]],
    core_versions: list[str],
    baseline: str | None = None,
    core: str = "@elizaos/core",
    companions: tuple[str, ...] = ("@elizaos/plugin-sql",),
) -> str:
    doc = {
        "version": 1,
        "core": {
            "name": core,
            "ecosystem": "npm",
            "versions": list(core_versions),
            "baseline": baseline or core_versions[0],
            "companions": [{"name": c, "version": "{core}"} for c in companions],
        },
        "connectors": entries,
    }
    header = "# Generated from the elizaOS plugin registry (generated-registry.json) by `canary import-registry`.\n"
    return header + yaml.safe_dump(doc, sort_keys=False, width=120)
