"""A real docker engine and a local test image for the docker runner's tests and bench.

The engine: one that answers at $DOCKER_HOST (or the default socket) is used as
it is; otherwise `dockerd` (installed with apt-get when missing, as root) is
started without a bridge network under ENGINE_DIR and stopped by `stop()`.

The image: registries here serve no images, so it is built from the machine's
own apt sources: `mmdebstrap` makes a minimal Debian root with python3, venv,
pip and virtualenv (about 2 minutes once), kept as a tarball under IMAGE_DIR
(named by the recipe's hash) and `docker import`ed under a tag with that hash.
The engine's data root is kept too, so later sessions find the image at once.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path

ENGINE_DIR = Path(os.environ.get("CANARY_TEST_DOCKER_DIR", "/var/tmp/canary-docker"))
IMAGE_DIR = Path(os.environ.get("CANARY_TEST_IMAGE_DIR", "/var/tmp/canary-images"))
SUITE = "bookworm"
PACKAGES = ("python3", "python3-venv", "python3-pip", "python3-virtualenv", "ca-certificates")
RECIPE = f"mmdebstrap --variant=minbase --include={','.join(PACKAGES)} {SUITE}"
IMAGE = f"canary-test/python:{hashlib.sha256(RECIPE.encode()).hexdigest()[:12]}"


class HostServer:
    """A TCP server on the host's loopback that counts the connections it accepts: what a cell's
    commands can reach with the host's network (install, setup) and not without it (tests)."""

    def __init__(self) -> None:
        import socket
        import threading

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port: int = self.sock.getsockname()[1]
        self.accepted = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        self.sock.close()


class Unavailable(Exception):
    """No engine can be started here (the reason says why)."""


@dataclass
class Engine:
    host: str  # a DOCKER_HOST value
    started: subprocess.Popen | None  # the dockerd we started, None when one was running already

    def client(self):
        import docker

        return docker.DockerClient(base_url=self.host, timeout=300)

    def stop(self) -> None:
        if self.started is None or self.started.poll() is not None:
            return
        self.started.send_signal(signal.SIGTERM)
        try:
            self.started.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.started.kill()
            self.started.wait(timeout=10)


def _answers(host: str) -> bool:
    import docker

    try:
        docker.DockerClient(base_url=host, timeout=10).ping()
        return True
    except Exception:
        return False


def _apt_install(*packages: str) -> None:
    if os.getuid() != 0 or not shutil.which("apt-get"):
        raise Unavailable(f"{packages[0]} is missing and cannot be installed here (needs root and apt-get)")
    proc = subprocess.run(
        ["apt-get", "install", "-y", "-q", *packages],
        capture_output=True,
        text=True,
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        timeout=900,
    )
    if proc.returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], capture_output=True, timeout=600)
        proc = subprocess.run(
            ["apt-get", "install", "-y", "-q", *packages],
            capture_output=True,
            text=True,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
            timeout=900,
        )
    if proc.returncode != 0:
        raise Unavailable(f"apt-get install {' '.join(packages)} failed: {proc.stderr.strip()[-200:]}")


def start() -> Engine:
    for host in filter(
        None, [os.environ.get("DOCKER_HOST"), f"unix://{ENGINE_DIR / 'docker.sock'}", "unix:///var/run/docker.sock"]
    ):
        if _answers(host):
            return Engine(host, None)
    if not shutil.which("dockerd"):
        _apt_install("docker.io")
    if os.getuid() != 0:
        raise Unavailable("no docker engine answers and dockerd needs root to start")
    ENGINE_DIR.mkdir(parents=True, exist_ok=True)
    host = f"unix://{ENGINE_DIR / 'docker.sock'}"
    last = ""
    for driver in ("overlay2", "vfs"):
        log = open(ENGINE_DIR / f"dockerd-{driver}.log", "w")  # noqa: SIM115 (dockerd writes to it after we return)
        proc = subprocess.Popen(
            [
                "dockerd",
                "--iptables=false",
                "--ip-masq=false",
                "--bridge=none",
                f"--storage-driver={driver}",
                "--data-root",
                str(ENGINE_DIR / f"data-{driver}"),
                "--exec-root",
                str(ENGINE_DIR / "exec"),
                "-H",
                host,
                "--pidfile",
                str(ENGINE_DIR / "pid"),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if _answers(host):
                return Engine(host, proc)
            time.sleep(0.5)
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=30)
        last = (ENGINE_DIR / f"dockerd-{driver}.log").read_text(errors="replace").strip().splitlines()[-1:]
    raise Unavailable(f"dockerd did not start: {last[0] if last else 'no output'}")


def _has_image(client, tag: str) -> bool:
    import docker

    try:
        client.images.get(tag)
    except docker.errors.ImageNotFound:
        return False
    return True


def ensure_image(engine: Engine) -> str:
    """The test image's tag, imported from the cached tarball (built first when there is none)."""
    client = engine.client()
    if _has_image(client, IMAGE):
        return IMAGE
    tar = IMAGE_DIR / f"{IMAGE.rsplit(':', 1)[1]}.tar"
    if not tar.exists():
        if not shutil.which("mmdebstrap"):
            _apt_install("mmdebstrap")
        IMAGE_DIR.mkdir(parents=True, exist_ok=True)
        partial = tar.with_suffix(".partial")
        proc = subprocess.run(
            [
                "mmdebstrap",
                "--variant=minbase",
                f"--include={','.join(PACKAGES)}",
                "--mode=root",
                "--format=tar",
                SUITE,
                str(partial),
            ],
            capture_output=True,
            text=True,
            timeout=1800,
        )
        if proc.returncode != 0:
            raise Unavailable(f"could not build the test image: {proc.stderr.strip()[-300:]}")
        partial.rename(tar)
    repo, tag = IMAGE.rsplit(":", 1)
    with open(tar, "rb") as fh:
        client.api.import_image_from_data(fh, repository=repo, tag=tag)
    return IMAGE


# --- the node image: the Python test image plus this machine's own node and npm -------------------

NODE_INTO = "/usr/local"  # node at /usr/local/bin/node, npm at /usr/local/lib/node_modules/npm


def host_node() -> tuple[Path, Path]:
    """This machine's node binary and npm package directory (what the npm tests run on the host)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        raise Unavailable("node and npm are not on PATH: no node test image can be made from them")
    npm_dir = Path(npm).resolve().parent.parent  # .../node_modules/npm/bin/npm-cli.js -> .../node_modules/npm
    if not (npm_dir / "package.json").is_file():
        raise Unavailable(f"npm at {npm} is not an npm package directory")
    return Path(node).resolve(), npm_dir


def node_image_tag(node: Path, npm_dir: Path) -> str:
    """Named by its recipe: the base image's tag, the node binary's digest, npm's version."""
    digest = hashlib.sha256()
    with open(node, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    npm_version = json.loads((npm_dir / "package.json").read_text())["version"]
    recipe = f"{IMAGE} + node sha256:{digest.hexdigest()} + npm {npm_version} at {NODE_INTO}"
    return f"canary-test/node:{hashlib.sha256(recipe.encode()).hexdigest()[:12]}"


def _node_layer(node: Path, npm_dir: Path, dest: Path) -> Path:
    """A tar of node, npm and the npm/npx links, laid out under NODE_INTO."""
    root = NODE_INTO.lstrip("/")
    with tarfile.open(dest, "w") as tar:
        tar.add(node, f"{root}/bin/node")
        tar.add(npm_dir, f"{root}/lib/node_modules/npm")
        for tool in ("npm", "npx"):
            link = tarfile.TarInfo(f"{root}/bin/{tool}")
            link.type, link.linkname, link.mode = tarfile.SYMTYPE, f"../lib/node_modules/npm/bin/{tool}-cli.js", 0o777
            tar.addfile(link)
    return dest


def ensure_node_image(engine: Engine) -> str:
    """The Python test image plus the host's node and npm, committed under a tag named by its recipe.

    No second root filesystem to bootstrap: node is one dynamically linked binary whose libraries
    (libc, libstdc++, libgcc_s) the Debian minbase image already has, npm is plain JavaScript. A few
    seconds once per engine (the data root is kept); checked by running node and npm in it."""
    import docker

    node, npm_dir = host_node()
    tag = node_image_tag(node, npm_dir)
    client = engine.client()
    if _has_image(client, tag):
        return tag
    base = ensure_image(engine)
    IMAGE_DIR.mkdir(parents=True, exist_ok=True)
    layer = _node_layer(node, npm_dir, IMAGE_DIR / f"{tag.rsplit(':', 1)[1]}.node-layer.tar")
    container = client.containers.create(base, ["true"], network_mode="none")
    try:
        with open(layer, "rb") as fh:
            container.put_archive("/", fh)
        repo, version = tag.rsplit(":", 1)
        container.commit(repository=repo, tag=version, changes=[f"ENV PATH={NODE_INTO}/bin:/usr/bin:/bin"])
    finally:
        container.remove(force=True)
        layer.unlink(missing_ok=True)
    try:
        out = client.containers.run(
            tag, ["sh", "-c", "node --version && npm --version"], network_mode="none", remove=True
        )
    except docker.errors.ContainerError as exc:
        client.images.remove(tag, force=True)
        raise Unavailable(f"node from {node} does not run in {base}: {str(exc)[-300:]}") from None
    if not out.decode().startswith("v"):
        raise Unavailable(f"node in {tag} printed {out[:100]!r}")
    return tag
