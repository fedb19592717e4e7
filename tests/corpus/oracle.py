"""The labelling oracle of the compat corpus: is a change `canary diff` reports a real break for a caller?

  python -m tests.corpus.oracle label [--pair ID]   diff each pair, ask the oracle about every ERR/WARN
                                                    change, merge into labels.json (manual labels kept)
  python -m tests.corpus.oracle measure             precision / recall at ERR per language (a table)

TypeScript: both versions are unpacked under node_modules as `old` and `new` (no dependencies:
types imported from dependencies become `any`), then one check per change is written from the OLD
declarations and type-checked with `tsc` against the NEW ones: an import, a property read and
write, a call with the old parameters. A control file does the same against OLD; a check whose
control fails (generic types, overloads the spread cannot express) is left to a manual label.
Python: the NEW version is installed in a real virtualenv and tests/corpus/py_probe.py exercises
the OLD API there: imports and attribute lookups, calls bound against the new signatures in every
way the old signature allowed, annotations compared after evaluation.
Fetched packages live in the cache ($CANARY_HOME/cache/corpus), never in the repository.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
PAIRS_FILE = HERE / "pairs.json"
LABELS_FILE = HERE / "labels.json"
TYPESCRIPT = "typescript@5.6.3"
LABELLED = ("ERR", "WARN")


def load_pairs() -> list[dict]:
    return json.loads(PAIRS_FILE.read_text())["pairs"]


def load_labels() -> dict:
    if not LABELS_FILE.is_file():
        return {"schema": "canary/compat-corpus-labels/v1", "pairs": {}}
    return json.loads(LABELS_FILE.read_text())


def spec(pair: dict, which: str) -> str:
    sep = "@" if pair["registry"] == "npm" else "=="
    return f"{pair['registry']}:{pair['name']}{sep}{pair[which]}"


def cache_root() -> Path:
    from canary.kernel.home import Home

    return Home.default().dir("cache", "corpus")


def diff(pair: dict) -> dict:
    from canary import compat

    return compat.compare(spec(pair, "old"), spec(pair, "new"), language=pair["lang"]).to_dict()


def key(change: dict) -> str:
    return f"{change['rule']} {change['symbol']}"


# ---------------------------------------------------------------- TypeScript


def _ts_workdir(pair: dict) -> Path:
    from canary.compat.sources import resolve_side

    work = cache_root() / "ts" / pair["id"]
    nm = work / "node_modules"
    for alias in ("old", "new"):
        if not (nm / alias).is_dir():
            side = resolve_side(spec(pair, alias))
            shutil.copytree(side.path, nm / alias, symlinks=False)
    tsc = cache_root() / "typescript" / "node_modules" / "typescript" / "bin" / "tsc"
    if not tsc.is_file():
        tsc.parents[3].mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["npm", "install", "--no-save", "--ignore-scripts", "--no-audit", "--no-fund", TYPESCRIPT],
            cwd=tsc.parents[3],
            check=True,
            capture_output=True,
            text=True,
            timeout=600,
        )
    return work


class _TsExpr:
    """Type expressions for a symbol path of compat's grammar, on one side (`O` or `N`)."""

    _PARAM = re.compile(r"^(?P<callable>[^()]+)\((?P<param>[^()]+)\)(?:\.(?P<prop>.+))?$")

    def __init__(self, contract) -> None:
        self.decls = contract.decls

    def root(self, ns: str, name: str) -> str:
        d = self.decls.get(name)
        if d is not None and d.kind in ("function", "const", "variable"):
            return f"typeof {ns}.{name}"
        return f"{ns}.{name}"

    def member(self, ns: str, path: str) -> str:
        root, *rest = path.split(".")
        expr = self.root(ns, root)
        for part in rest:
            expr = f"({expr})[{json.dumps(part)}]"
        return expr


def _ts_check(change: dict, ex: _TsExpr, i: int, ns_new: str) -> str | None:
    """TypeScript lines that compile iff the OLD use still works against `ns_new`."""
    rule, sym = change["rule"], change["symbol"]
    O = "O"
    m = _TsExpr._PARAM.match(sym)
    if m:
        callable_, param, prop = m.group("callable"), m.group("param"), m.group("prop")
        pdecl = ex.decls.get(f"{callable_}({param})")
        idx = pdecl.index if pdecl is not None and pdecl.index is not None else 0
        old_c, new_c = ex.member(O, callable_), ex.member(ns_new, callable_)
        if prop is None:
            return f"declare const a{i}: Parameters<{old_c}>;\ndeclare const f{i}: {new_c};\nf{i}(...a{i});\n"
        # an object literal the old caller wrote: the property, with its old type, next to the rest
        return (
            f"declare const v{i}: NonNullable<Parameters<{old_c}>[{idx}]>[{json.dumps(prop)}];\n"
            f"type P{i} = NonNullable<Parameters<{new_c}>[{idx}]>;\n"
            f"declare const rest{i}: Omit<P{i}, {json.dumps(prop)}>;\n"
            f"const o{i}: P{i} = {{ ...rest{i}, {json.dumps(prop)}: v{i} }};\n"
        )
    if rule == "TS001":
        root = sym.split(".")[0]
        return f'import type {{ {root} as X{i} }} from "{"new" if ns_new == "N" else "old"}";\ntype U{i} = X{i};\n'
    old_t, new_t = ex.member(O, sym), ex.member(ns_new, sym)
    if rule in ("TS002", "TS010"):
        if rule == "TS010":
            return f"const e{i} = {ns_new}.{sym};\n"
        return f"type T{i} = {new_t};\n"
    if rule in ("TS005", "TS015", "TS023", "TS004"):
        lines = f"declare const n{i}: {new_t};\nconst r{i}: {old_t} = n{i};\n"
        if rule != "TS004":
            lines += f"declare const o{i}: {old_t};\nconst w{i}: {new_t} = o{i};\n"
        return lines
    if rule == "TS003":
        parent, leaf = sym.rsplit(".", 1)
        return (
            f"type Q{i} = {{}} extends Pick<{ex.member(ns_new, parent)}, {json.dumps(leaf)}> ? 1 : 0;\n"
            f"const q{i}: Q{i} = 1;\n"
        )
    if rule == "TS014":
        parent, leaf = sym.rsplit(".", 1)
        return f"declare const x{i}: {ex.member(ns_new, parent)};\nx{i}[{json.dumps(leaf)}] = null!;\n"
    if rule == "TS013":
        return (
            f"declare const f{i}: {new_t};\n"
            f"const r{i}: ReturnType<{old_t}> = f{i}(...(null! as Parameters<{new_t}>));\n"
        )
    return None


def _tsc_errors(work: Path, files: dict[str, str]) -> dict[str, list[str]]:
    checks = work / "checks"
    if checks.exists():
        shutil.rmtree(checks)
    checks.mkdir()
    for name, body in files.items():
        (checks / name).write_text(body)
    tsc = cache_root() / "typescript" / "node_modules" / "typescript" / "bin" / "tsc"
    (work / "tsconfig.json").write_text(
        json.dumps(
            {
                "compilerOptions": {
                    "noEmit": True,
                    "strict": True,
                    "skipLibCheck": True,
                    "target": "es2022",
                    "module": "esnext",
                    "moduleResolution": "bundler",
                    "types": [],
                },
                "include": ["checks/*.mts"],
            }
        )
    )
    proc = subprocess.run(
        ["node", str(tsc), "-p", "tsconfig.json"], cwd=work, capture_output=True, text=True, timeout=900
    )
    errors: dict[str, list[str]] = {}
    for line in proc.stdout.splitlines():
        m = re.match(r"^checks/([^(]+)\(\d+,\d+\): error (TS\d+: .*)$", line)
        if m:
            errors.setdefault(m.group(1), []).append(m.group(2)[:200])
    return errors


def ts_oracle(pair: dict, changes: list[dict]) -> dict[str, dict]:
    from canary.compat.sources import resolve_side
    from canary.compat.ts_extract import extract

    work = _ts_workdir(pair)
    ex = _TsExpr(extract(resolve_side(spec(pair, "old")).path))
    header_n = 'import * as O from "old";\nimport * as N from "new";\n'
    header_c = 'import * as O from "old";\n'
    files, plan = {}, {}
    for i, c in enumerate(changes):
        body_n, body_c = _ts_check(c, ex, i, "N"), _ts_check(c, ex, i, "O")
        if body_n is None:
            continue
        files[f"c{i}.mts"] = header_n + body_n
        files[f"k{i}.mts"] = header_c + body_c
        plan[i] = c
    errors = _tsc_errors(work, files)
    out = {}
    for i, c in plan.items():
        if errors.get(f"k{i}.mts"):
            continue  # the check itself does not hold on OLD: no verdict
        errs = errors.get(f"c{i}.mts")
        out[key(c)] = {
            "label": bool(errs),
            "by": "oracle-tsc",
            "reason": ("tsc on the old use against NEW: " + errs[0])
            if errs
            else "the old use type-checks against NEW (tsc --strict)",
        }
    return out


# ---------------------------------------------------------------- Python


def _py_venv(pair: dict, which: str = "new") -> Path:
    venv = cache_root() / "py" / (pair["id"] if which == "new" else f"{pair['id']}-old")
    py = venv / "bin" / "python"
    if not py.is_file():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
        env = {**os.environ, "PIP_CONSTRAINT": ""}
        subprocess.run(
            [str(py), "-m", "pip", "install", "-q", f"{pair['name']}=={pair[which]}"],
            check=True,
            timeout=900,
            env=env,
            capture_output=True,
            text=True,
        )
    return py


def _probe(py: Path, items: list[dict]) -> dict:
    proc = subprocess.run(
        [str(py), str(HERE / "py_probe.py")],
        input=json.dumps(items),
        capture_output=True,
        text=True,
        timeout=900,
        cwd=cache_root(),
    )
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-2000:])
    return json.loads(proc.stdout)


def _py_probe_spec(change: dict, old_decls: dict) -> dict:
    sym = change["symbol"]
    item = {
        "key": key(change),
        "rule": change["rule"],
        "symbol": sym,
        "old": change.get("old"),
        "new": change.get("new"),
    }
    m = re.match(r"^(?P<callable>[^()]+)\((?P<param>[^()]+)\)$", sym)
    if m:
        callable_ = m.group("callable")
        item["callable"] = callable_
        item["param"] = m.group("param")
        params = sorted(
            (d for d in old_decls.values() if d.container == callable_ and d.kind == "parameter"),
            key=lambda d: d.index or 0,
        )
        item["old_params"] = [{"name": d.name, "kind": d.extra.get("pkind"), "optional": d.optional} for d in params]
    d = old_decls.get(sym)
    if d is not None:
        item["kind"] = d.kind
        if d.kind == "class":
            item["bases"] = d.extra.get("bases", [])
    return item


def py_oracle(pair: dict, changes: list[dict]) -> dict[str, dict]:
    from canary.compat.py_extract import extract
    from canary.compat.sources import resolve_side

    old = extract(resolve_side(spec(pair, "old")).path)
    items = [_py_probe_spec(c, old.decls) for c in changes]
    on_new = _probe(_py_venv(pair, "new"), items)
    # control: the same use on OLD must work, else the probe says nothing (a name only imported
    # under TYPE_CHECKING, an attribute set elsewhere)
    on_old = _probe(_py_venv(pair, "old"), items)
    return {
        k: {**v, "by": "oracle-py"}
        for k, v in on_new.items()
        if v.get("label") is not None and on_old.get(k, {}).get("label") is not True
    }


# ---------------------------------------------------------------- labels and figures


def label(pair_ids: list[str] | None = None) -> dict:
    labels = load_labels()
    for pair in load_pairs():
        if pair_ids and pair["id"] not in pair_ids:
            continue
        doc = diff(pair)
        changes = [c for c in doc["changes"] if c["severity"] in LABELLED]
        entry = labels["pairs"].setdefault(pair["id"], {"items": {}})
        reported = {key(c) for c in changes}
        # oracle labels of changes no longer reported are checked again (they count for recall)
        for k, item in list(entry["items"].items()):
            if k not in reported and item.get("by", "").startswith("oracle"):
                rule, symbol = k.split(" ", 1)
                changes.append({"rule": rule, "symbol": symbol, "old": None, "new": None, "severity": "ERR"})
        verdicts = (ts_oracle if pair["lang"] == "ts" else py_oracle)(pair, changes)
        for c in changes:
            k = key(c)
            prev = entry["items"].get(k)
            if prev is not None and prev.get("by") == "manual":
                continue
            if k in verdicts:
                entry["items"][k] = verdicts[k]
            elif c["severity"] != "ERR" or k not in reported:
                entry["items"].pop(k, None)  # only ERR changes and known real breaks need a label
            elif prev is None or prev.get("by", "").startswith("oracle"):
                entry["items"][k] = {"label": None, "by": "todo", "reason": "no oracle verdict: label by hand"}
        print(f"{pair['id']}: {len(changes)} ERR/WARN changes, {len(verdicts)} by oracle", file=sys.stderr)
    LABELS_FILE.write_text(json.dumps(labels, indent=1, sort_keys=True) + "\n")
    return labels


def measure(docs: dict[str, dict] | None = None) -> dict:
    """Precision and recall at ERR per language. A real break counts as found when some ERR change
    names its symbol (a change may be reported under another rule after a rule fix)."""
    labels = load_labels()["pairs"]
    out: dict[str, dict] = {}
    for pair in load_pairs():
        doc = docs[pair["id"]] if docs and pair["id"] in docs else diff(pair)
        items = labels.get(pair["id"], {}).get("items", {})
        err = [c for c in doc["changes"] if c["severity"] == "ERR"]
        lang = out.setdefault(
            pair["lang"],
            {
                "pairs": 0,
                "changes": 0,
                "err": 0,
                "tp": 0,
                "fp": 0,
                "unlabelled": [],
                "real": 0,
                "found": 0,
                "missed": [],
                "false_by_rule": {},
            },
        )
        lang["pairs"] += 1
        lang["changes"] += len(doc["changes"])
        lang["err"] += len(err)
        for c in err:
            item = items.get(key(c))
            if item is None or item.get("label") is None:
                lang["unlabelled"].append(f"{pair['id']}: {key(c)}")
            elif item["label"]:
                lang["tp"] += 1
            else:
                lang["fp"] += 1
                lang["false_by_rule"][c["rule"]] = lang["false_by_rule"].get(c["rule"], 0) + 1
        err_symbols = {c["symbol"] for c in err}
        for k, item in items.items():
            if item.get("label"):
                lang["real"] += 1
                if k.split(" ", 1)[1] in err_symbols:
                    lang["found"] += 1
                else:
                    lang["missed"].append(f"{pair['id']}: {k}")
    for lang in out.values():
        judged = lang["tp"] + lang["fp"]
        lang["precision"] = lang["tp"] / judged if judged else 1.0
        lang["recall"] = lang["found"] / lang["real"] if lang["real"] else 1.0
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.corpus.oracle")
    ap.add_argument("command", choices=("label", "measure"))
    ap.add_argument("--pair", action="append")
    args = ap.parse_args(argv)
    if args.command == "label":
        label(args.pair)
        return 0
    figures = measure()
    print("| language | pairs | changes | ERR | precision at ERR | recall at ERR | false alarms by rule |")
    print("|---|---|---|---|---|---|---|")
    for lang, f in sorted(figures.items()):
        rules = ", ".join(f"{r} ({n})" for r, n in sorted(f["false_by_rule"].items())) or "none"
        print(
            f"| {lang} | {f['pairs']} | {f['changes']} | {f['err']} | {f['precision']:.1%} ({f['tp']}/"
            f"{f['tp'] + f['fp']}) | {f['recall']:.1%} ({f['found']}/{f['real']}) | {rules} |"
        )
    for lang, f in sorted(figures.items()):
        for line in f["unlabelled"]:
            print(f"unlabelled ({lang}): {line}")
        for line in f["missed"]:
            print(f"missed ({lang}): {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
