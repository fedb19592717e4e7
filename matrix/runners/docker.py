"""Cells in containers (runner: docker): every command of the cell in a fresh container.

Like crater, two phases: the set-up commands (venv, install, core check,
`setup:`) run with the host's network (`network_mode: host`: the engine here
runs without a bridge), the test commands with `network_mode: none`. Each
command is its own container from the cell's image, so the test phase cannot
inherit a process, a socket or a network namespace from the install phase.

Only the cell's own directory is mounted (at the same path, so a venv's
absolute paths hold in every phase); what the cell installs from (the core
artifact, find_links directories, a registry connector's artifact, npm
tarballs) is copied into it first (docker_python.py, docker_node.py). Every container: read-only root, tmpfs /tmp, memory (swap
included), CPU and pids limits, all capabilities dropped, no-new-privileges,
not privileged, no docker socket, a non-root user (the caller's uid, or 65534
when canary runs as root), and labels naming its run, so the next run removes
the containers of a canary that was killed (`reap`). See docs/docker.md.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections import deque
from dataclasses import asdict
from pathlib import Path

from canary.kernel import runlock
from canary.kernel.errors import InfrastructureError, UserError
from canary.kernel.redact import redact
from canary.matrix.proc import Outcome
from canary.matrix.results import CommandRecord

NAME = "docker"
# For real use; any image with python3 (+ venv) or node + npm on its PATH works (docs/docker.md).
DEFAULT_IMAGES = {"pypi": "python:3.11-slim", "npm": "node:20-slim"}
LABEL = "dev.canary.managed"
LABEL_RUN, LABEL_RUN_PATH, LABEL_CELL = "dev.canary.run", "dev.canary.run-path", "dev.canary.cell"
LABEL_CELL_DIR = "dev.canary.cell-dir"
CONTAINER_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
NOBODY = "65534:65534"
# Host paths that mean nothing in the container (and would point pip/npm at files it cannot see).
HOST_ONLY_ENV = {
    "TMPDIR",
    "SHELL",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "NODE_EXTRA_CA_CERTS",
    "PIP_CONFIG_FILE",
    "PIP_CERT",
    "NPM_CONFIG_USERCONFIG",
    "npm_config_userconfig",
    "npm_config_globalconfig",
    "npm_config_cache",
    "npm_config_prefix",
}
OOM_EXIT = 137

_engine = None
_engine_lock = threading.Lock()


def engine():
    """The docker engine ($DOCKER_HOST, else the default socket), pinged once per process."""
    global _engine
    with _engine_lock:
        if _engine is None:
            import docker

            try:
                client = docker.from_env(timeout=120)
                client.ping()
            except Exception as exc:  # docker-py raises DockerException, requests errors, OSError
                raise InfrastructureError(f"docker engine not reachable at {engine_address()}: {_short(exc)}") from None
            _engine = client
        return _engine


def engine_address() -> str:
    return os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    line = text[-1] if text else type(exc).__name__
    return line[:200]


def container_user() -> str:
    uid = os.getuid()
    return NOBODY if uid == 0 else f"{uid}:{os.getgid()}"


class DockerRunner:
    NAME = NAME

    def __init__(self, ecosystem: str) -> None:
        self.ecosystem = ecosystem
        self._images: dict[str, object] = {}
        self._lock = threading.Lock()

    # -- the image ----------------------------------------------------------
    def image_name(self, cx) -> str:
        settings = cx.matrix.settings.docker
        return cx.connector.image or settings.images.get(self.ecosystem) or DEFAULT_IMAGES[self.ecosystem]

    def image(self, name: str):
        """The image on the engine (pulled once when absent); its id is the digest the cache key holds."""
        with self._lock:
            if name not in self._images:
                import docker

                client = engine()
                try:
                    img = client.images.get(name)
                except docker.errors.ImageNotFound:
                    try:
                        img = client.images.pull(name)
                    except Exception as exc:
                        raise InfrastructureError(
                            f"docker image {name!r} is not on the engine and could not be pulled: {_short(exc)}"
                        ) from None
                except Exception as exc:
                    raise InfrastructureError(f"docker engine error for image {name!r}: {_short(exc)}") from None
                self._images[name] = img
            return self._images[name]

    def identity(self, cx) -> dict:
        name = self.image_name(cx)
        return {
            "image": name,
            "image_id": self.image(name).id,
            "limits": asdict(cx.matrix.settings.docker) | {"images": None},
        }

    # -- one cell -----------------------------------------------------------
    def prepare(self, cx) -> None:
        name = self.image_name(cx)
        img = self.image(name)
        limits = cx.matrix.settings.docker
        commands = ContainerCommands(cx, img.id, container_user())
        cx.sandbox = {
            "runner": NAME,
            "image": name,
            "image_id": img.id,
            "repo_digests": list(img.attrs.get("RepoDigests") or []),
            "user": commands.user,
            "network": {"install": "host", "test": "none"},
            "read_only_root": True,
            "limits": {"memory": limits.memory, "cpus": limits.cpus, "pids": limits.pids, "tmp": limits.tmp},
        }
        cx.note(
            f"docker: image {name} ({img.id[:19]}), user {commands.user}, network host while installing, "
            f"none while testing; memory {limits.memory}, cpus {limits.cpus:g}, pids {limits.pids}"
        )
        if self.ecosystem == "pypi":
            from canary.matrix.runners.docker_python import prepare_python

            cx.executor = commands
            prepare_python(cx, commands)
        elif self.ecosystem == "npm":
            from canary.matrix.runners.docker_node import prepare_node, stage_inputs

            inputs = stage_inputs(cx)  # on the host (packing, scripts off), before any container
            cx.executor = commands
            prepare_node(cx, commands, inputs)
        else:  # select() only builds runners for the ecosystems in RUNNERS
            raise InfrastructureError(f"the docker runner has no {self.ecosystem} support")

    # -- what dead runs left --------------------------------------------------
    def reap(self, store_root, own_run, required: bool = False) -> int:
        """Remove canary's containers (and their anonymous volumes) whose run has no live owner."""
        try:
            client = engine()
        except InfrastructureError as exc:
            if required:  # every cell needs the engine: one line, exit 2
                raise UserError(exc.reason, hint="start the docker engine or point DOCKER_HOST at it") from None
            return 0  # only some cells use docker: they each become `error` with the reason
        removed = 0
        try:
            # sparse: the list's own fields; a full inspect per container races with their removal.
            found = client.containers.list(all=True, filters={"label": LABEL}, sparse=True)
        except Exception as exc:
            if required:
                raise UserError(f"docker engine error while listing containers: {_short(exc)}") from None
            return 0
        for c in found:
            labels = c.attrs.get("Labels") or {}
            run_path = labels.get(LABEL_RUN_PATH, "")
            if run_path and run_path != str(own_run) and runlock.is_held(Path(run_path)):
                continue  # a live canary's cell
            try:
                c.remove(force=True, v=True)
                removed += 1
            except Exception:  # gone meanwhile
                continue
            _remove_cell_dir(labels.get(LABEL_CELL_DIR, ""), labels.get(LABEL_CELL, ""))
        return removed


def _remove_cell_dir(path: str, cell_id: str) -> None:
    """The killed cell's work directory (<home>/work/<run>/<cell>), named by its container's label;
    only a directory of that shape is removed, whatever the label says."""
    p = Path(path)
    if cell_id and p.name == cell_id and p.parent.parent.name == "work" and p.is_dir():
        shutil.rmtree(p, ignore_errors=True)
        try:
            p.parent.rmdir()  # the run's work directory, when this was its last cell
        except OSError:
            pass


def runner_for(ecosystem: str) -> DockerRunner:
    return DockerRunner(ecosystem)


class ContainerCommands:
    """The cell's executor (CellContext.executor): one container per command, run_command's contract.

    A test command runs with no network; an out-of-memory kill is an InfrastructureError (the cell is
    `error`, not `fail`: the limit stopped it, not the connector's assertions)."""

    def __init__(self, cx, image_id: str, user: str) -> None:
        self.cx, self.image_id, self.user = cx, image_id, user
        self.mounts = [str(cx.cell_dir)]
        self.labels = {
            LABEL: "1",
            LABEL_RUN: cx.run_id,
            LABEL_CELL: cx.cell.id,
            LABEL_RUN_PATH: str(cx.run_path or ""),
            LABEL_CELL_DIR: str(cx.cell_dir),
        }

    def mount(self, path: Path) -> None:
        where = str(Path(path).resolve())
        if not any(where == m or where.startswith(m + os.sep) for m in self.mounts):
            self.mounts.append(where)

    def __call__(
        self,
        phase: str,
        argv: list[str],
        *,
        cwd: str,
        env: dict,
        timeout: float,
        log,
        secrets=(),
        tail_lines: int = 60,
        token: str = "",
    ) -> Outcome:
        import docker
        from docker.types import Mount

        limits = self.cx.matrix.settings.docker
        network = "none" if phase == "test" else "host"
        env = {k: v for k, v in env.items() if k not in HOST_ONLY_ENV}
        env.setdefault("TMPDIR", "/tmp")
        log.write(
            redact(
                f"\n$ [{phase}] {' '.join(argv)}\n    (container, network {network}, cwd {cwd}, "
                f"timeout {timeout:g}s)\n",
                secrets,
            )
        )
        log.flush()
        started = time.monotonic()
        tail: deque[str] = deque(maxlen=tail_lines)
        client = engine()
        try:
            container = client.containers.create(
                self.image_id,
                list(argv),
                working_dir=cwd,
                environment=env,
                user=self.user,
                network_mode=network,
                mounts=[Mount(target=m, source=m, type="bind") for m in self.mounts],
                read_only=True,
                tmpfs={"/tmp": f"rw,nosuid,nodev,exec,size={limits.tmp}"},
                mem_limit=limits.memory,
                memswap_limit=limits.memory,
                nano_cpus=int(limits.cpus * 1e9),
                pids_limit=limits.pids,
                cap_drop=["ALL"],
                security_opt=["no-new-privileges"],
                privileged=False,
                init=True,
                labels=self.labels,
                hostname="canary-cell",
                stdin_open=False,
                tty=False,
            )
        except docker.errors.APIError as exc:
            raise InfrastructureError(f"{phase}: docker could not create the container: {_short(exc)}") from None
        count = 0
        timed_out = threading.Event()
        try:
            try:
                container.start()
            except docker.errors.APIError as exc:  # the program is missing in the image, the cwd is unusable
                msg = f"cannot start {argv[0]!r} in the container: {_short(exc)}"
                log.write(msg + "\n")
                return Outcome(CommandRecord(phase, list(argv), 127, 0.0, False, cwd), [msg], 1)

            def pump() -> None:
                nonlocal count
                pending = ""
                for chunk in container.logs(stream=True, follow=True):
                    pending += chunk.decode("utf-8", "replace")
                    *lines, pending = pending.split("\n")
                    for line in lines:
                        line = redact(line, secrets)
                        log.write(line + "\n")
                        tail.append(line)
                        count += 1
                if pending:
                    line = redact(pending, secrets)
                    log.write(line + "\n")
                    tail.append(line)
                    count += 1
                log.flush()

            reader = threading.Thread(target=pump, daemon=True)
            reader.start()

            def expire() -> None:
                timed_out.set()
                try:
                    container.kill()
                except Exception:
                    pass

            timer = threading.Timer(timeout, expire)
            timer.daemon = True
            timer.start()
            try:
                status = container.wait()
            finally:
                timer.cancel()
            reader.join(timeout=10)
            container.reload()
            oom = bool(container.attrs.get("State", {}).get("OOMKilled"))
        finally:
            try:
                container.remove(force=True, v=True)
            except Exception:  # the next run's reap removes it (labelled)
                pass
        duration = time.monotonic() - started
        code = status.get("StatusCode")
        if timed_out.is_set():
            log.write(f"!! timed out after {timeout:g}s: container killed\n")
        log.write(f"-> exit {code} in {duration:.2f}s\n")
        log.flush()
        record = CommandRecord(
            phase, list(argv), None if timed_out.is_set() else code, round(duration, 3), timed_out.is_set(), cwd
        )
        outcome = Outcome(record, list(tail), count)
        if oom and not timed_out.is_set():
            self.cx.commands.append(record)  # cx.run never sees this command return: keep its record
            raise InfrastructureError(
                f"out of memory: {phase} command hit the container's memory limit ({limits.memory}) and was killed",
                "\n".join(list(tail)[-20:]),
            )
        return outcome


def own_cell_dir(cell_dir: Path, user: str) -> None:
    """Give the cell's directory to the container's user (needed when canary is root and the
    container runs as 65534); the host process, root, can still remove it afterwards."""
    if os.getuid() != 0:
        return
    uid, gid = (int(x) for x in user.split(":"))
    for root, dirs, files in os.walk(cell_dir):
        for name in [*dirs, *files]:
            try:
                os.lchown(os.path.join(root, name), uid, gid)
            except OSError:
                pass
    os.lchown(cell_dir, uid, gid)


def stage(path: Path, into: Path) -> Path:
    """`path` (a file or a directory's files) copied into the cell. Never a hard link: the cell
    directory becomes the container user's and is mounted read-write, so a linked file would let an
    install script rewrite the shared artifact cache's copy (the same inode) for every later cell."""
    into.mkdir(parents=True, exist_ok=True)
    sources = sorted(p for p in Path(path).iterdir() if p.is_file()) if Path(path).is_dir() else [Path(path)]
    for src in sources:
        dest = into / src.name
        if not dest.exists():
            shutil.copyfile(src, dest)
    return into if Path(path).is_dir() else into / Path(path).name
