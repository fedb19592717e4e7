"""matrix.yaml: load, validate against the shipped JSON Schema, and build a Matrix.

Every problem becomes one UserError naming file:line:column and the key path,
with a did-you-mean for misspelt keys. Registry ranges are resolved later, by
the planner (canary.matrix.plan), which may need the network.
"""

from __future__ import annotations

import datetime as _dt
import difflib
import hashlib
import json
import os
import re
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Literal

import jsonschema

from canary.kernel.durations import seconds_of
from canary.kernel.errors import UserError
from canary.matrix.model import (
    Companion,
    Condition,
    Connector,
    Core,
    CoreSpec,
    DockerSettings,
    Matrix,
    Settings,
    Source,
    Waiver,
    slug,
)
from canary.matrix.versions import is_npm_range, is_pep440_range, validate_npm_range
from canary.kernel.yamlpos import Positions, dotted, load_yaml, read_text

DEFAULT_MATRIX = "matrix.yaml"
ENV_MATRIX = "CANARY_MATRIX"
SOURCE_KEYS: tuple[Literal["git", "pypi", "npm", "path"], ...] = ("git", "pypi", "npm", "path")


@lru_cache(maxsize=1)
def schema() -> dict:
    """The JSON Schema of matrix.yaml."""
    return json.loads(resources.files("canary.matrix").joinpath("schemas/matrix.schema.json").read_text())


def default_path() -> str:
    """The matrix file to read when none is given: $CANARY_MATRIX, else matrix.yaml."""
    return os.environ.get(ENV_MATRIX) or DEFAULT_MATRIX


def load(path: str | os.PathLike | None = None) -> Matrix:
    """Read and validate a matrix file; a mistake is a UserError naming file:line:column."""
    file = str(path or default_path())
    if not os.path.lexists(file):
        raise UserError("matrix file not found", file=file, hint=f"pass -c FILE or set {ENV_MATRIX}")
    return loads(read_text(file, "matrix file"), file)


def loads(text: str, file: str = DEFAULT_MATRIX) -> Matrix:
    """Validate a matrix given as text (`file` names it in errors)."""
    check_waiver_dates(text, file)
    data, pos = load_yaml(file, text)
    if data is None:
        raise UserError("the file is empty; it needs `core` and `connectors`", file=file, line=1, column=1)
    if not isinstance(data, dict):
        raise pos.error("expected a mapping with `core` and `connectors` at the top", ())
    _validate(data, pos)
    check_duplicate_refs(data, pos)
    matrix = _build(data, pos)
    digest = hashlib.sha256(text.encode()).hexdigest()
    return Matrix(
        file=file,
        core=matrix["core"],
        connectors=matrix["connectors"],
        include=tuple(data.get("include", ())),
        exclude=tuple(data.get("exclude", ())),
        waivers=matrix["waivers"],
        settings=matrix["settings"],
        digest=digest,
        exposure_migration=(data.get("exposure") or {}).get("migration"),
        exposure_verify=bool((data.get("exposure") or {}).get("verify")),
        positions=pos,
        compat=dict(data.get("compat") or {}),
    )


# --- validation -------------------------------------------------------------


def _schema_at(path: tuple, root: dict) -> dict:
    """The (sub)schema that describes the object at `path`, for did-you-mean."""
    node = root
    defs = root["$defs"]

    def deref(n):
        while "$ref" in n:
            n = defs[n["$ref"].split("/")[-1]]
        return n

    node = deref(node)
    for part in path:
        if isinstance(part, int):
            items = node.get("items")
            if items is None:
                return {}
            node = deref(items)
        else:
            props = node.get("properties", {})
            if part not in props:
                return {}
            node = deref(props[part])
        if "oneOf" in node:
            # Prefer the object alternative: that is where keys can be misspelt.
            objs = [deref(o) for o in node["oneOf"] if deref(o).get("type") == "object"]
            node = objs[0] if len(objs) == 1 else node
    return node


def _did_you_mean(word: str, choices) -> str | None:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None


def _describe(error: jsonschema.ValidationError) -> str:
    validator = error.validator
    if validator == "required":
        missing = re.findall(r"'([^']+)' is a required property", error.message)
        return f"missing required key '{missing[0]}'" if missing else error.message
    if validator == "enum" and isinstance(error.validator_value, list):
        return f"expected one of {', '.join(map(repr, error.validator_value))}, got {error.instance!r}"
    if validator == "type":
        return f"expected {error.validator_value}, got {type(error.instance).__name__} {error.instance!r}"
    if validator == "minItems":
        return f"expected at least {error.validator_value} item(s)"
    if validator == "const":
        return f"expected {error.validator_value!r}, got {error.instance!r}"
    if validator == "pattern":
        return f"{error.instance!r} does not match the expected form {error.validator_value}"
    if validator == "oneOf":
        return f"unexpected value {json.dumps(error.instance)[:80]}; see the schema description"
    return error.message


def _validate(data: dict, pos: Positions) -> None:
    validator = jsonschema.Draft202012Validator(schema())
    errors = sorted(validator.iter_errors(data), key=lambda e: (len(e.absolute_path), list(map(str, e.absolute_path))))
    if not errors:
        return
    # Unknown keys first: a misspelt key usually also causes a "missing required" error.
    unknown = [e for e in errors if e.validator == "additionalProperties"]
    error = unknown[0] if unknown else jsonschema.exceptions.best_match(errors)
    path = tuple(error.absolute_path)
    if error.validator == "additionalProperties":
        allowed = _schema_at(path, schema()).get("properties", {})
        extra = [k for k in error.instance if k not in allowed]
        key = extra[0] if extra else "?"
        raise pos.error(
            f"unknown key '{key}'",
            path + (key,),
            key=True,
            hint=_did_you_mean(key, allowed) or f"allowed keys: {', '.join(allowed)}",
        )
    if error.validator == "oneOf" and isinstance(error.instance, dict):
        # Descend into the alternative whose keys fit best to report its own error.
        for sub in sorted(error.context or [], key=lambda e: -len(e.absolute_path)):
            if sub.validator == "additionalProperties":
                allowed = sub.schema.get("properties", {})
                extra = [k for k in sub.instance if k not in allowed]
                if extra and len(extra) < len(sub.instance):
                    key = extra[0]
                    raise pos.error(f"unknown key '{key}'", path + (key,), key=True, hint=_did_you_mean(key, allowed))
    if error.validator == "required":
        missing = re.findall(r"'([^']+)' is a required property", error.message)
        hint = None
        if missing and isinstance(error.instance, dict):
            near = _did_you_mean(missing[0], error.instance.keys())
            hint = near.replace("did you mean", "found") + " (misspelt?)" if near else None
            if missing[0] == "test":
                hint = hint or "every connector needs a `test` command (an argv list)"
        raise pos.error(_describe(error), path, hint=hint)
    raise pos.error(_describe(error), path)


# --- duplicates and waiver dates (gate: a wrong promotion starts with a wrong input) -----------


def check_waiver_dates(text: str, file: str) -> None:
    """Every `waivers[i].expires` is a real calendar date (`2026-02-30` is not), checked when the
    matrix loads: a waiver date the gate cannot read would otherwise surface mid-run."""
    import yaml

    from canary.kernel.yamlpos import check_text

    check_text(file, text)  # the composer below must never see an alias bomb or deep nesting
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return  # a syntax error: load_yaml reports it with its position
    if not isinstance(root, yaml.MappingNode):
        return
    waivers = next((v for k, v in root.value if getattr(k, "value", None) == "waivers"), None)
    if not isinstance(waivers, yaml.SequenceNode):
        return
    for i, item in enumerate(waivers.value):
        if not isinstance(item, yaml.MappingNode):
            continue
        for knode, vnode in item.value:
            if knode.value != "expires" or not isinstance(vnode, yaml.ScalarNode):
                continue
            try:
                _dt.date.fromisoformat(str(vnode.value).strip())
            except ValueError:
                raise UserError(
                    f"not a calendar date: {vnode.value!r}",
                    file=file,
                    line=vnode.start_mark.line + 1,
                    column=vnode.start_mark.column + 1,
                    key=f"waivers[{i}].expires",
                    hint="write YYYY-MM-DD, a day that exists",
                ) from None


def check_duplicate_refs(data: dict, pos: Positions) -> None:
    """A connector ref listed twice plans two cells with one id: one result would overwrite the other."""
    for i, c in enumerate(data.get("connectors") or ()):
        kind = next((k for k in ("git", "pypi", "npm") if isinstance(c.get(k), dict)), None)
        if kind is None:
            continue
        key = "refs" if kind == "git" else "versions"
        seen: dict[str, int] = {}
        for j, ref in enumerate(c[kind].get(key) or ()):
            if str(ref) in seen:
                raise pos.error(
                    f"{key[:-1]} {ref!r} of connector {c.get('name')!r} is listed twice "
                    f"(first at index {seen[str(ref)]})",
                    ("connectors", i, kind, key, j),
                )
            seen[str(ref)] = j


# --- building ---------------------------------------------------------------


def parse_duration(value, pos: Positions, path: tuple) -> float:
    """Seconds of a duration in matrix.yaml: a number of seconds, or the grammar of every duration
    (canary.kernel.durations: `90s`, `10m`, `1h30m`, `1d`)."""
    if isinstance(value, (int, float)):
        return float(value)
    seconds = seconds_of(str(value))
    if seconds is None:
        raise pos.error(f"not a duration: {value!r} (use seconds, or 90s, 10m, 1h30m)", path)
    if seconds <= 0:
        raise pos.error(f"a duration must be more than zero, got {value!r}", path)
    return seconds


def _commands(value) -> tuple[tuple[str, ...], ...]:
    if not value:
        return ()
    if isinstance(value[0], str):
        return (tuple(value),)
    return tuple(tuple(argv) for argv in value)


def _check_range(ecosystem: str, spec: str, pos: Positions, path: tuple) -> None:
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    try:
        if ecosystem == "npm":
            validate_npm_range(spec)
        else:
            SpecifierSet(spec)
    except (ValueError, InvalidSpecifier):
        raise pos.error(f"not a valid {ecosystem} version range: {spec!r}", path) from None


def _core_spec(item, ecosystem: str, pos: Positions, path: tuple, base_dir: Path) -> CoreSpec | dict:
    """A concrete CoreSpec, or a dict describing a range the planner resolves."""
    if isinstance(item, str):
        looks_like_range = is_npm_range(item) if ecosystem == "npm" else is_pep440_range(item)
        if looks_like_range:
            _check_range(ecosystem, item, pos, path)
            return {"range": item, "path": path}
        return CoreSpec(label=item, kind="registry", version=item)
    if "range" in item:
        _check_range(ecosystem, item["range"], pos, path + ("range",))
        return {**item, "path": path}
    if "git" in item:
        ref = item.get("ref", "HEAD")
        url = _local_or_url(item["git"], base_dir)
        return CoreSpec(
            label=item.get("label") or f"git:{ref}", kind="git", url=url, ref=ref, subdir=item.get("subdir")
        )
    p = str((base_dir / item["path"]).resolve())
    return CoreSpec(label=item.get("label") or f"path:{Path(item['path']).name}", kind="path", path=p)


def _local_or_url(url: str, base_dir: Path) -> str:
    if "://" in url or url.startswith("git@") or os.path.isabs(url):
        return url
    return str((base_dir / url).resolve())


def _conditions(items, pos) -> tuple[Condition, ...]:
    return tuple(
        Condition(core=c["core"], reason=c.get("reason", ""), refs=tuple(c.get("refs", ()))) for c in items or ()
    )


def _docker_settings(data: dict) -> DockerSettings:
    d = DockerSettings()
    return DockerSettings(
        images=dict(data.get("images") or {}),
        memory=data.get("memory", d.memory),
        cpus=float(data.get("cpus", d.cpus)),
        pids=data.get("pids", d.pids),
        tmp=data.get("tmp", d.tmp),
    )


def _build(data: dict, pos: Positions) -> dict:
    base_dir = Path(pos.file).resolve().parent
    core_data = data["core"]
    eco = core_data["ecosystem"]
    specs = [_core_spec(v, eco, pos, ("core", "versions", i), base_dir) for i, v in enumerate(core_data["versions"])]
    labels = [s.label for s in specs if isinstance(s, CoreSpec)]
    dupes = {label for label in labels if labels.count(label) > 1}
    if dupes:
        first = sorted(dupes)[0]
        i = [j for j, s in enumerate(specs) if isinstance(s, CoreSpec) and s.label == first][1]
        raise pos.error(f"core version {first!r} is listed twice", ("core", "versions", i))
    baseline_label = core_data.get("baseline")
    baseline = None
    if baseline_label is not None:
        baseline = next((s for s in specs if isinstance(s, CoreSpec) and s.label == baseline_label), None)
        if baseline is None and not any(isinstance(s, dict) for s in specs):
            raise pos.error(
                f"baseline {baseline_label!r} is not one of the core versions",
                ("core", "baseline"),
                hint=_did_you_mean(baseline_label, labels) or f"versions: {', '.join(labels)}",
            )
    elif isinstance(specs[0], CoreSpec):
        baseline = specs[0]
    core = Core(
        name=core_data["name"],
        ecosystem=eco,
        versions=tuple(specs),
        baseline=baseline,
        companions=tuple(Companion(c["name"], c.get("version", "{core}")) for c in core_data.get("companions", ())),
        index={**core_data.get("index", {}), "_baseline_label": baseline_label},
    )
    connectors = []
    seen: dict[str, int] = {}  # connector name -> its index
    for i, c in enumerate(data["connectors"]):
        path = ("connectors", i)
        if c["name"] in seen:
            raise pos.error(
                f"connector name {c['name']!r} is used twice (first at index {seen[c['name']]})", path + ("name",)
            )
        seen[c["name"]] = i
        kinds = [k for k in SOURCE_KEYS if k in c]
        if len(kinds) != 1:
            raise pos.error(
                "a connector needs exactly one source: git, pypi, npm or path"
                + (f" (found {', '.join(kinds)})" if kinds else ""),
                path,
            )
        kind = kinds[0]
        package = c.get("package", c["name"])
        if kind == "git":
            src = Source(
                "git",
                tuple(c["git"]["refs"]),
                url=_local_or_url(c["git"]["url"], base_dir),
                package=package,
                subdir=c["git"].get("subdir"),
            )
        elif kind == "path":
            src = Source("path", (c["path"],), url=str((base_dir / c["path"]).resolve()), package=package)
        else:
            src = Source(kind, tuple(c[kind]["versions"]), package=package)
        for name in ("skip", "flaky", "expect_fail"):
            for j, cond in enumerate(c.get(name, ())):
                _check_range(eco, cond["core"], pos, path + (name, j, "core"))
        connectors.append(
            Connector(
                name=c["name"],
                package=package,
                source=src,
                test=_commands(c["test"]),
                install=_commands(c.get("install")),
                setup=_commands(c.get("setup")),
                env={k: str(v) for k, v in (c.get("env") or {}).items()},
                pass_env=tuple(c.get("pass_env", ())),
                timeout=parse_duration(c.get("timeout", 600), pos, path + ("timeout",)),
                install_timeout=parse_duration(c.get("install_timeout", 900), pos, path + ("install_timeout",)),
                tier=c.get("tier", "required"),
                skip=_conditions(c.get("skip"), pos),
                flaky=_conditions(c.get("flaky"), pos),
                expect_fail=_conditions(c.get("expect_fail"), pos),
                junit=c.get("junit"),
                install_scripts=bool(c.get("install_scripts", False)),
                infra_exit_codes=tuple(c.get("infra_exit_codes", ())),
                runner=c.get("runner"),
                image=c.get("image"),
            )
        )
    settings_data = data.get("settings", {})
    settings = Settings(
        retries=settings_data.get("retries", Settings.retries),
        aa_check=settings_data.get("aa_check", Settings.aa_check),
        jobs=settings_data.get("jobs", Settings.jobs),
        bisect=settings_data.get("bisect", Settings.bisect),
        runner=settings_data.get("runner", Settings.runner),
        docker=_docker_settings(settings_data.get("docker") or {}),
    )
    waivers = tuple(
        Waiver(cell=w["cell"], reason=w["reason"], issue=w.get("issue", ""), expires=w.get("expires"))
        for w in data.get("waivers", ())
    )
    for key in ("include", "exclude"):
        for i, sel in enumerate(data.get(key, ())):
            if "connector" in sel and sel["connector"] not in seen:
                raise pos.error(
                    f"no connector named {sel['connector']!r}",
                    (key, i, "connector"),
                    hint=_did_you_mean(sel["connector"], seen) or f"connectors: {', '.join(seen)}",
                )
    return {"core": core, "connectors": tuple(connectors), "waivers": waivers, "settings": settings}


__all__ = ["load", "loads", "schema", "default_path", "parse_duration", "dotted", "slug"]
