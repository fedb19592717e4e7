"""Fixtures for npm cells: fake packages packed by the tests, and a local npm registry serving them.

The fake ecosystem (all written here, packed with the real `npm pack`):
- @canary-fake/core 1.0.0 and 2.0.0 (ESM, export VERSION)
- @canary-fake/plugin: lists the core as a plain dependency `^2.0.0` (like elizaOS connectors)
- @canary-fake/mid: a library that also depends on the core `^2.0.0` (the nested-copy case)
- @canary-fake/plugin-nested: depends on the core and on mid
- @canary-fake/plugin-missing / plugin-absent: depend on a version / a package the registry lacks
- @canary-fake/core 1.1.0 (needs @canary-fake/util), @canary-fake/sql 1.0.0/1.1.0/2.0.0 (a companion)

The registry is a small HTTP server on 127.0.0.1 speaking the npm registry
protocol (packuments + tarballs), so real `npm install` / `npm pack` run
offline; tests select it with the `npm_config_registry` variable.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import subprocess
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote

import pytest

FAKE_PACKAGES = [
    ("@canary-fake/core", "1.0.0", {}, "export const VERSION = '1.0.0';\n"),
    ("@canary-fake/core", "2.0.0", {}, "export const VERSION = '2.0.0';\n"),
    (
        "@canary-fake/mid",
        "0.1.0",
        {"@canary-fake/core": "^2.0.0"},
        "export { VERSION as MID_CORE } from '@canary-fake/core';\n",
    ),
    (
        "@canary-fake/plugin",
        "0.1.0",
        {"@canary-fake/core": "^2.0.0"},
        "export { VERSION } from '@canary-fake/core';\nexport default { name: 'fake' };\n",
    ),
    (
        "@canary-fake/plugin-nested",
        "0.1.0",
        {"@canary-fake/core": "^2.0.0", "@canary-fake/mid": "^0.1.0"},
        "export { VERSION } from '@canary-fake/core';\nexport { MID_CORE } from '@canary-fake/mid';\n",
    ),
    (
        "@canary-fake/plugin-missing",
        "0.1.0",
        {"@canary-fake/core": "^2.0.0", "@canary-fake/mid": "^9.0.0"},
        "export const X = 1;\n",
    ),
    (
        "@canary-fake/plugin-absent",
        "0.1.0",
        {"@canary-fake/core": "^2.0.0", "@canary-fake/absent": "^1.0.0"},
        "export const X = 1;\n",
    ),
    # For npm templates (tests/test_npm_template.py): a core whose dependencies moved (1.1.0 needs
    # util), and a companion released in lockstep with the core (sql X needs core X exactly).
    ("@canary-fake/util", "1.0.0", {}, "export const UTIL = 1;\n"),
    ("@canary-fake/core", "1.1.0", {"@canary-fake/util": "^1.0.0"}, "export const VERSION = '1.1.0';\n"),
    ("@canary-fake/sql", "1.0.0", {"@canary-fake/core": "1.0.0"}, "export const SQL = '1.0.0';\n"),
    ("@canary-fake/sql", "1.1.0", {"@canary-fake/core": "1.1.0"}, "export const SQL = '1.1.0';\n"),
    ("@canary-fake/sql", "2.0.0", {"@canary-fake/core": "2.0.0"}, "export const SQL = '2.0.0';\n"),
]


@dataclass
class FakeNpm:
    root: Path
    tarballs: dict  # (name, version) -> Path
    registry: str  # http://127.0.0.1:<port>/
    npm_cache: Path
    handler: type | None = None  # the server's own handler class: what it serves (packuments, files)

    def tgz(self, name: str, version: str) -> Path:
        return self.tarballs[(name, version)]

    def env(self) -> dict:
        return {"npm_config_registry": self.registry, "npm_config_fetch_retries": "0"}


def write_package(dest: Path, name: str, version: str, deps: dict, code: str) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    manifest = {
        "name": name,
        "version": version,
        "type": "module",
        "main": "index.js",
        "exports": {".": "./index.js", "./package.json": "./package.json"},
        "dependencies": deps,
    }
    (dest / "package.json").write_text(json.dumps(manifest, indent=2))
    (dest / "index.js").write_text(code)
    # declarations too, as published packages have them: `canary diff npm:...` reads these
    (dest / "index.d.ts").write_text(
        "".join(f"export declare const {name}: string;\n" for name in re.findall(r"export const (\w+)", code))
    )
    return dest


def npm_pack_dir(src: Path, out: Path, cache: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    before = set(out.glob("*.tgz"))
    subprocess.run(
        ["npm", "pack", str(src), "--pack-destination", str(out), "--cache", str(cache), "--ignore-scripts"],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return (set(out.glob("*.tgz")) - before).pop()


class _Registry(BaseHTTPRequestHandler):
    packuments: dict = {}
    files: dict = {}

    def do_GET(self):  # noqa: N802 (http.server naming)
        path = unquote(self.path.split("?", 1)[0]).lstrip("/")
        if path.startswith("-/tarballs/"):
            blob = self.files.get(path[len("-/tarballs/") :])
            return self._send(200, blob, "application/octet-stream") if blob else self._send(404, b"{}")
        doc = self.packuments.get(path)
        if doc is None:
            return self._send(404, json.dumps({"error": "Not found"}).encode())
        return self._send(200, json.dumps(doc).encode())

    def _send(self, code: int, body: bytes, ctype: str = "application/json"):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # keep pytest output clean
        pass


def serve_tarballs(tarballs: dict) -> tuple[ThreadingHTTPServer, str]:
    """A registry on 127.0.0.1 serving `tarballs` ((name, version) -> .tgz); (server, url).
    Each server has its own handler class, so several can run in one session."""
    handler = type("Registry", (_Registry,), {"packuments": {}, "files": {}})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    for (name, version), tgz in tarballs.items():
        blob = tgz.read_bytes()
        handler.files[tgz.name] = blob
        manifest = json.loads(
            subprocess.run(["tar", "-xzOf", str(tgz), "package/package.json"], capture_output=True, check=True).stdout
        )
        doc = handler.packuments.setdefault(name, {"name": name, "dist-tags": {}, "versions": {}})
        doc["versions"][version] = {
            **manifest,
            "dist": {
                "tarball": f"{url}-/tarballs/{tgz.name}",
                "integrity": "sha512-" + base64.b64encode(hashlib.sha512(blob).digest()).decode(),
                "shasum": hashlib.sha1(blob).hexdigest(),
            },
        }
        doc["dist-tags"]["latest"] = max(doc["versions"], key=lambda v: tuple(map(int, v.split("."))))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, url


def npm_shim(directory: Path) -> tuple[Path, Path]:
    """A PATH entry whose `npm` logs its arguments (one line per call) and runs the real npm.
    Returns (the directory to put first on PATH, the log)."""
    real = shutil.which("npm")
    assert real, "npm is not installed"
    directory.mkdir(parents=True, exist_ok=True)
    log = directory / "npm-calls.log"
    shim = directory / "npm"
    shim.write_text(f'#!/bin/sh\nprintf \'%s\\n\' "$*" >> "{log}"\nexec "{real}" "$@"\n')
    shim.chmod(0o755)
    return directory, log


def npm_calls(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


@pytest.fixture(scope="session")
def fake_npm(tmp_path_factory):
    root = tmp_path_factory.mktemp("fake-npm")
    cache = root / "npm-cache"
    tarballs = {}
    for name, version, deps, code in FAKE_PACKAGES:
        src = write_package(root / "src" / f"{name.split('/')[-1]}-{version}", name, version, deps, code)
        tarballs[(name, version)] = npm_pack_dir(src, root / "tgz", cache)
    server, url = serve_tarballs(tarballs)
    yield FakeNpm(root=root, tarballs=tarballs, registry=url, npm_cache=cache, handler=server.RequestHandlerClass)
    server.shutdown()
    shutil.rmtree(root / "src", ignore_errors=True)


@pytest.fixture
def fake_registry_env(fake_npm, monkeypatch):
    """Point every npm command of the test at the fake registry (no network)."""
    for key, value in fake_npm.env().items():
        monkeypatch.setenv(key, value)
    return fake_npm
