"""Run inside a virtualenv holding the NEW version: exercise the OLD API described on stdin.

Input: a JSON list of items (one per reported change) with the symbol, the rule and, for
parameters, the OLD signature. Output: {key: {"label": true|false|null, "reason": ...}}.
A label is true when a use the OLD version allowed fails on the NEW one: an import or attribute
lookup, a call bound with `inspect.Signature.bind` in every way the old parameter could be passed
(positionally at its old position, by keyword), a value landing on another parameter, an
annotation that means another type once evaluated, a base class no longer in the MRO.
Standalone on purpose: it must not import the project (it runs in the package's own venv).
"""

from __future__ import annotations

import importlib
import inspect
import json
import sys
import types
import typing
import warnings


class Missing(Exception):
    pass


def resolve(path: str):
    """Import the longest module prefix, then getattr the rest (module __getattr__ included)."""
    parts = path.split(".")
    obj, i = None, len(parts)
    while i > 0:
        try:
            obj = importlib.import_module(".".join(parts[:i]))
            break
        except ImportError:
            i -= 1
    if obj is None:
        raise Missing(f"cannot import {parts[0]}")
    owner = obj
    for part in parts[i:]:
        owner = obj
        try:
            obj = getattr(obj, part)
        except AttributeError:
            if isinstance(owner, type) and _instance_attribute(owner, part):
                return _InstanceAttr(owner, part)
            raise Missing(f"{'.'.join(parts[: parts.index(part) + 1])} not found") from None
    return obj


class _InstanceAttr:
    def __init__(self, cls, name):
        self.cls, self.name = cls, name


def _instance_attribute(cls: type, name: str) -> bool:
    """Set on instances (`self.name = ...` in the class or a base, or a slot/annotation)."""
    for klass in cls.__mro__:
        if name in getattr(klass, "__annotations__", {}) or name in getattr(klass, "__slots__", ()):
            return True
        try:
            src = inspect.getsource(klass)
        except (OSError, TypeError):
            continue
        if f"self.{name} =" in src or f"self.{name}:" in src:
            return True
    return False


def _old_passing(item: dict) -> list[tuple[list, dict, str]]:
    """The calls an OLD caller could write that involve the changed parameter."""
    params = item["old_params"]
    name = item["param"]
    idx = next(i for i, p in enumerate(params) if p["name"] == name)
    target = params[idx]

    def positional_ok(p):
        return p["kind"] in ("positional-only", "positional or keyword")

    required_pos = [p for p in params if positional_ok(p) and not p["optional"]]
    required_kw = [p for p in params if p["kind"] == "keyword-only" and not p["optional"]]
    calls = []
    base_kw = {p["name"]: p["name"] for p in required_kw}
    if target["kind"] == "variadic keyword":
        calls.append(
            ([p["name"] for p in required_pos], {**base_kw, "some_extra_keyword": "x"}, "an extra keyword argument")
        )
        return calls
    if target["kind"] == "variadic positional":
        pos = [p["name"] for p in params[:idx] if positional_ok(p)]
        calls.append((pos + ["extra1", "extra2"], base_kw, "extra positional arguments"))
        return calls
    dunder = name.startswith("__") and not name.endswith("__")  # PEP 484 positional-only spelling
    if positional_ok(target) and all(positional_ok(p) for p in params[:idx]):
        later = [p["name"] for p in params[idx + 1 :] if positional_ok(p) and not p["optional"]]
        calls.append(([p["name"] for p in params[: idx + 1]] + later, base_kw, f"{name} passed at position {idx}"))
    if (
        target["kind"] in ("positional or keyword", "keyword-only")
        and not dunder
        and not (idx == 0 and name in ("self", "cls"))
    ):
        before = [p["name"] for p in required_pos if params.index(p) < idx]
        after = {p["name"]: p["name"] for p in required_pos if params.index(p) > idx}  # by keyword too
        calls.append((before, {**base_kw, **after, name: name}, f"{name} passed by keyword"))
    if not calls:  # a new required parameter: the plain old call
        calls.append(([p["name"] for p in required_pos], base_kw, "the old required arguments only"))
    return calls


def probe_call(item: dict):
    obj = resolve(item["callable"])
    if isinstance(obj, type):
        obj = obj.__init__ if item["callable"].endswith("__init__") else obj
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return None, "no signature to bind against"
    old_names = [p["name"] for p in item["old_params"]]
    if item["param"] not in old_names:  # added parameter: the old required call
        calls = [
            (
                [
                    p["name"]
                    for p in item["old_params"]
                    if not p["optional"] and p["kind"] in ("positional-only", "positional or keyword")
                ],
                {},
                "the old required arguments",
            )
        ]
    else:
        calls = _old_passing(item)
    for args, kwargs, how in calls:
        try:
            bound = sig.bind(*args, **kwargs)
        except TypeError as exc:
            return True, f"old call ({how}) does not bind to the new signature {sig}: {exc}"
        new_names = set(sig.parameters)
        for pname, value in bound.arguments.items():
            param = sig.parameters[pname]
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                continue
            meant = value[2:] if value.startswith("__") and not value.endswith("__") else value
            if meant == pname:
                continue
            # a positional value on a parameter of another name is fine for a rename, not for a move or
            # an insertion (the old name, or the new one, lives at another position)
            if meant in new_names or pname in old_names:
                return True, f"old call ({how}): the value meant for {value} lands on {pname}"
    return False, "every way the old signature allowed to pass it still binds to the same parameter"


def canon(tp):
    if tp is None:
        tp = type(None)
    if isinstance(tp, str):
        return ("str", tp)
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        return ("union", frozenset(canon(a) for a in args))
    if origin is None:
        return ("t", tp)
    return (origin, tuple(canon(a) if not isinstance(a, list) else tuple(canon(x) for x in a) for a in args))


def _namespace(symbol: str) -> dict:
    parts = symbol.split(".")
    ns = {"t": typing, "typing": typing}
    for i in range(len(parts), 0, -1):
        try:
            mod = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        ns.update(vars(mod))
        break
    import collections.abc as cabc

    ns.setdefault("cabc", cabc)
    return ns


def probe_type(item: dict):
    ns = _namespace(item["symbol"])
    try:
        old = eval(item["old"], ns)  # noqa: S307 - annotations of the package under test
        new = eval(item["new"], ns)  # noqa: S307
    except Exception as exc:  # noqa: BLE001
        return None, f"annotation does not evaluate: {exc}"
    if canon(old) == canon(new):
        return False, f"{item['old']} and {item['new']} evaluate to the same type"
    return None, f"{item['old']} and {item['new']} evaluate to different types: label by hand"


def probe(item: dict):
    rule = item["rule"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            if rule in ("PY003", "PY004", "PY005", "PY007", "PY008"):
                return probe_call(item)
            if rule in ("PY010", "PY009") and item.get("old") and item.get("new"):
                return probe_type(item)
            if rule not in ("PY001", "PY002", "PY012"):
                return None, "no probe for this rule"
            obj = resolve(item["symbol"])
            if rule == "PY012":
                names = {k.__name__ for k in inspect.getmro(obj)} if isinstance(obj, type) else set()
                missing = [b for b in item.get("bases", []) if b.rsplit(".", 1)[-1] not in names]
                if missing:
                    return True, f"{', '.join(missing)} no longer in the MRO of {item['symbol']}"
                return False, "the old base is still in the MRO"
            if rule in ("PY001", "PY002"):
                how = "an instance attribute" if isinstance(obj, _InstanceAttr) else "importable"
                warned = [str(w.message) for w in caught]
                if rule == "PY002":
                    return None, "kind change: label by hand"
                return False, f"still {how} on NEW" + (f" (warns: {warned[0][:100]})" if warned else "")
        except Missing as exc:
            return True, f"{exc} on NEW"
    return None, "no probe for this rule"


def main() -> int:
    items = json.loads(sys.stdin.read())
    out = {}
    for item in items:
        try:
            label, reason = probe(item)
        except Exception as exc:  # noqa: BLE001 - a probe that crashes gives no verdict
            label, reason = None, f"probe failed: {type(exc).__name__}: {exc}"
        out[item["key"]] = {"label": label, "reason": reason}
    json.dump(out, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
