"""The Docker boundary: every call to Docker and Compose, on python-on-whales and the docker CLI.

No other module imports python-on-whales or runs the docker CLI. It is
imported here on first use (it costs about a quarter of a second of CPU), so
a session that never starts a stack never pays for it.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import shutil
import signal
import subprocess
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

from pytest_tel3sis_compose.core import engine_memo
from pytest_tel3sis_compose.core.boundary import CommandResult, ContainerEvent, ContainerStatus, EngineInfo
from pytest_tel3sis_compose.core.docker_host import LOCAL, context_name, host_of, is_loopback
from pytest_tel3sis_compose.core.ownership import PROJECT_LABEL, SERVICE_LABEL
from pytest_tel3sis_compose.errors import ConfigError, EngineError

# libyaml's safe loader where PyYAML was built with it: the same documents, a tenth of the CPU.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_START_ENGINE = (
    "start a Docker engine (Docker Desktop, `sudo systemctl start docker`, or on a bare "
    "Debian/Ubuntu machine `bash scripts/bootstrap-docker.sh` from this project), or point "
    "DOCKER_HOST at one that runs"
)
_INSTALL_COMPOSE = (
    "install Compose v2 as a Docker CLI plugin (Debian/Ubuntu: the docker-compose-plugin "
    "package; or `bash scripts/bootstrap-docker.sh` from this project); the old Python "
    "`docker-compose` v1 is not supported"
)


#: Lines of a failed build's output that its error shows.
BUILD_LINES = 30
_COMPOSE_WARNING = re.compile(r'^time="[^"]*" level=warning msg=')


def _whales() -> ModuleType:
    import python_on_whales

    return python_on_whales


class DockerEngine:
    """The engine the docker CLI reaches in this environment (DOCKER_HOST, docker contexts)."""

    def __init__(self) -> None:
        self._checked = False
        self._info: EngineInfo | None = None
        self._host: str | None = None
        self._prefetched: dict[tuple[object, ...], tuple[Future[Mapping[str, Any]], str]] = {}
        self._lock = threading.Lock()
        self._info_lock = threading.Lock()  # one asking at a time: a warm-up's answer serves the rest

    def check(self) -> None:
        """The engine and Compose v2 answer (what `info()` asked tells), or say how to fix it."""
        if self._checked:
            return
        info = self.info()
        if info.version and info.compose_version:
            return
        if shutil.which("docker") is None:
            raise EngineError(f"the `docker` command is not installed.\nFix: {_START_ENGINE}.")
        if not info.version:
            done = subprocess.run(
                ["docker", "version"], capture_output=True, text=True, timeout=30, check=False
            )
            reason = done.stderr.strip() or f"`docker version` exited with {done.returncode}"
            raise EngineError(f"no Docker engine answers: {reason}\nFix: {_START_ENGINE}.")
        raise EngineError(f"`docker compose version` failed.\nFix: {_INSTALL_COMPOSE}.")

    def versions(self) -> str:
        """For the report header; a remote engine is named, not asked.

        Over ssh or a slow link the question alone could hold the session up;
        the stack's start asks anyway.
        """
        host = self.host()
        if not is_loopback(host):
            return f"docker engine at {host}"
        context = context_name()
        if context is not None and not os.environ.get("DOCKER_HOST"):
            return f"docker engine of context {context}"
        info = self.info()
        engine = info.describe() if info.version else "docker engine not reachable"
        return f"{engine}; Compose {info.compose_version or 'v2 not installed'}"

    def info(self) -> EngineInfo:
        """Asked of the CLI once; an engine that does not answer is asked again later.

        `docker version` is asked every session; `docker info`, the costly one,
        only when no answer is remembered (engine_memo) for this same CLI,
        configuration, Compose and `docker version` answer.
        """
        with self._info_lock:
            if self._info is not None:
                return self._info
            remembered = self._remembered
            if remembered is not None:
                version = _ask(_INFO_COMMANDS[0])
                details = remembered.details if version == remembered.version else _ask(_INFO_COMMANDS[1])
            else:
                with ThreadPoolExecutor(2) as pool:
                    version, details = pool.map(_ask, _INFO_COMMANDS)
            info = parse_info(version, details)
            if not info.compose_version:  # not among the plugins `docker info` lists: ask Compose itself
                info = replace(info, compose_version=_ask(["docker", "compose", "version", "--short"]))
            if info.version and info.compose_version:
                self._info = info
                self._checked = True  # both answered: the stack's own check need not ask again
                answer = engine_memo.Remembered(version, details, info.compose_binary)
                if self._memo is not None and info.compose_binary and answer != remembered:
                    self._memo.remember(answer)
            return info

    @property
    def known_info(self) -> EngineInfo | None:
        """What `info()` found once the engine and Compose both answered; never asks."""
        return self._info

    def _warm_up(self) -> None:
        """Ask `info()` in the background now, so the stack's start finds it answered.

        Asked while pytest collects, its CLI calls cost the stack nothing.
        A remote engine is left alone: over ssh the question may prompt.
        """
        if _is_local_engine():
            threading.Thread(target=self.info, name="engine-info", daemon=True).start()

    # Both made before the CLI is asked, so an answer is kept under the key it was asked under;
    # two threads making one at once would only both read the same.
    @functools.cached_property
    def _memo(self) -> engine_memo.Memo | None:
        return engine_memo.Memo.here() if _is_local_engine() else None

    @functools.cached_property
    def _remembered(self) -> engine_memo.Remembered | None:
        return self._memo.recall() if self._memo is not None else None

    def host(self) -> str:
        """DOCKER_HOST's host, else the current docker context's; 127.0.0.1 for a local engine."""
        if self._host is None:
            docker_host = os.environ.get("DOCKER_HOST")
            if docker_host:
                self._host = host_of(docker_host, where="DOCKER_HOST")
            else:
                endpoint = self._context_endpoint()
                self._host = host_of(endpoint, where="the current docker context") if endpoint else LOCAL
        return self._host

    def _context_endpoint(self) -> str | None:
        name = context_name()
        if name is None:
            return None
        whales = _whales()
        try:
            return str(whales.docker.context.inspect(name).endpoints["docker"].host)
        except (whales.DockerException, KeyError) as exc:
            raise ConfigError(f"cannot read docker context {name!r}: {exc}") from None

    def libpod_healthcheck(self, container_id: str) -> str | None:
        """Podman's API: run a container's healthcheck once (it records the verdict); its status.

        Podman runs healthchecks only through systemd; without it, this is how
        they run at all. The Docker-compatible socket serves the libpod API too.
        """
        import httpx

        docker_host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
        api = f"/v{self.info().api_version[0]}.{self.info().api_version[1]}"
        path = f"{api}/libpod/containers/{container_id}/healthcheck"
        try:
            if docker_host.startswith("unix://"):
                transport = httpx.HTTPTransport(uds=docker_host.removeprefix("unix://"))
                with httpx.Client(transport=transport, timeout=60) as client:
                    response = client.get(f"http://engine{path}")
            elif docker_host.startswith("tcp://"):
                response = httpx.get(f"http://{docker_host.removeprefix('tcp://')}{path}", timeout=60)
            else:
                return None  # ssh and contexts: not reachable from here without the CLI
        except httpx.HTTPError:
            return None
        if response.status_code != 200:
            return None
        status = response.json().get("Status")
        return str(status) if status else None

    def project(self, files: Sequence[Path], name: str) -> WhalesProject:
        return WhalesProject(self, files, name)

    def prefetch(self, files: Sequence[Path], name: str) -> None:
        """Run Compose's `config` as its own process while pytest collects; ask `info()`.

        Nothing is imported meanwhile: an import in a thread only competes for
        this process's CPU, and a reused stack needs no python-on-whales at all.
        The result is used only if the same files, unchanged since, and
        project ask for it; a stale or failed prefetch costs only time.
        """
        try:
            key = _prefetch_key(files, name)
        except OSError:
            return  # a missing file: the stack will say so itself
        # Started at once, through `docker compose` unless the engine has named Compose's
        # executable, this session or one before: waiting for it would make a collection wait.
        known = self._info or _as_info(self._remembered)
        future: Future[Mapping[str, Any]] = Future()
        with self._lock:
            if key in self._prefetched:
                return
            self._prefetched[key] = (future, known.compose_binary if known else "")
        self._warm_up()
        try:
            compose: subprocess.Popen[str] | None = subprocess.Popen(
                [*_compose_command(files, name, known), "config"],
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
        except OSError:
            compose = None

        def work() -> None:
            try:
                if compose is None:
                    raise OSError("docker is not installed")
                text, _ = compose.communicate(timeout=60)
                loaded = yaml.load(text, Loader=_YAML_LOADER) if compose.returncode == 0 else None
                if not isinstance(loaded, Mapping):
                    raise ValueError("compose config failed")  # the stack asks again, and reports it
                future.set_result(loaded)
            except BaseException as exc:  # handed to whoever takes it, who then asks again
                future.set_exception(exc)

        threading.Thread(target=work, name="compose-prefetch", daemon=True).start()

    def take_prefetched(self, files: Sequence[Path], name: str) -> Mapping[str, Any] | None:
        try:
            key = _prefetch_key(files, name)
        except OSError:
            return None
        with self._lock:
            future, compose = self._prefetched.pop(key, (None, ""))
        if future is None:
            return None
        try:
            config = future.result(timeout=60)
        except BaseException:
            return None
        # Run by a remembered Compose: good only if it is the one the engine names now.
        return config if not compose or compose == self.info().compose_binary else None

    def labelled(self, label: str) -> list[tuple[str, str]]:
        found: list[tuple[str, str]] = []
        for listing in (["ps", "--all"], ["network", "ls"], ["volume", "ls"]):
            lines = _cli(
                *listing,
                "--filter", f"label={label}",
                "--filter", f"label={PROJECT_LABEL}",
                "--format", f'{{{{.Label "{PROJECT_LABEL}"}}}}\t{{{{.Label "{label}"}}}}',
            )  # fmt: skip
            for line in lines.splitlines():
                project, _, value = line.partition("\t")
                if project and value:
                    found.append((project, value))
        return found

    def mark(self, project: str, labels: Mapping[str, str]) -> None:
        given = [
            arg
            for key, value in {PROJECT_LABEL: project, **labels}.items()
            for arg in ("--label", f"{key}={value}")
        ]
        _cli("volume", "create", *given, f"{project}_tel3sis-marker")

    def remove_project(self, project: str) -> None:
        by_project = f"label={PROJECT_LABEL}={project}"
        for listing, removal in (
            (["ps", "--all", "--quiet"], ["rm", "--force", "--volumes"]),
            (["network", "ls", "--quiet"], ["network", "rm"]),
            (["volume", "ls", "--quiet"], ["volume", "rm", "--force"]),
        ):
            ids = _cli(*listing, "--filter", by_project).split()
            if ids:
                _cli(*removal, *ids, missing_ok=True)
        # What Compose built and named after the project (a name of its own, such as
        # tel3sis:dev, carries the project's label too, and stays).
        images = _cli("image", "ls", "--filter", by_project, "--format", "{{.Repository}}:{{.Tag}}").split()
        built = [image for image in images if image.startswith(f"{project}-")]
        if built:
            _cli("image", "rm", *built, missing_ok=True)


class WhalesProject:
    """One compose project, driven through python-on-whales."""

    def __init__(self, engine: DockerEngine, files: Sequence[Path], name: str) -> None:
        self._engine = engine
        self.name = name
        self._files = list(files)
        self._docker: Any = None
        self._container_ids: dict[str, str] = {}

    @property
    def _whales(self) -> ModuleType:
        return _whales()

    @property
    def docker(self) -> Any:
        """python-on-whales' client, made (and python-on-whales imported) on first use."""
        if self._docker is None:
            self._docker = self._whales.DockerClient(
                compose_files=self._files, compose_project_name=self.name
            )
        return self._docker

    def _compose(self) -> list[str]:
        return _compose_command(self._files, self.name, self._engine.known_info)

    def add_compose_file(self, path: Path) -> None:
        self._files.append(path)
        self._docker = None

    def config(self) -> Mapping[str, Any]:
        ready = self._engine.take_prefetched(self._files, self.name)
        if ready is not None:
            return ready
        # The YAML form, not --format json: JSON drops service-level x- extension
        # fields, and probes are declared in one.
        done = subprocess.run([*self._compose(), "config"], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise ConfigError(
                f"the compose files are invalid:\n{done.stderr.strip()}\n"
                "Fix the file named above; `docker compose config` shows the same error."
            )
        loaded = yaml.load(done.stdout, Loader=_YAML_LOADER)
        if not isinstance(loaded, Mapping):
            raise ConfigError("`docker compose config` printed no mapping; are the compose files empty?")
        return loaded

    def build(self) -> None:
        # Streamed and kept, not printed: a test's report is no place for a build log,
        # but a failed build's last lines say why it failed.
        output: list[str] = []
        docker = self.docker
        if self._engine.info().kind == "podman":
            # Compose's BuildKit path pulls a builder image Podman's API cannot run;
            # the classic builder works.
            docker = self._whales.DockerClient(
                compose_files=self._files,
                compose_project_name=self.name,
                client_call=["env", "DOCKER_BUILDKIT=0", "docker"],
            )
        try:
            for _, line in docker.compose.build(stream_logs=True):
                output.append(line.decode(errors="replace"))
        except self._whales.DockerException as exc:
            tail = "".join(output[-BUILD_LINES:]).rstrip()
            raise EngineError(
                f"building the stack's images failed:\n{tail}\n{_stderr(exc)}".strip()
            ) from None

    def image_id(self, reference: str) -> str | None:
        # Plain CLI: a reused stack's fingerprint needs it, and nothing else of python-on-whales.
        done = subprocess.run(
            ["docker", "image", "inspect", "--format", "{{.Id}}", reference],
            capture_output=True,
            text=True,
            check=False,
        )
        return done.stdout.strip() or None if done.returncode == 0 else None

    def up(self, services: Sequence[str] = ()) -> None:
        # Plain CLI, as config(): through python-on-whales, a cold start would first
        # wait on importing it (and pydantic), a fifth of a second of CPU.
        command = [*self._compose(), "up", "--detach", "--remove-orphans", *services]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:  # its stderr carries Compose's own reason
            raise subprocess.CalledProcessError(done.returncode, command, done.stdout, done.stderr)

    def status(self, service: str) -> ContainerStatus | None:
        return self.statuses([service]).get(service)

    def statuses(self, services: Sequence[str]) -> dict[str, ContainerStatus]:
        """The services' containers now (those that have one), mostly in one `docker inspect`.

        The CLI's JSON, read here, rather than python-on-whales' typed
        objects: readiness asks many times a second, and a session that
        reuses a kept stack would otherwise import python-on-whales (and
        pydantic) for this alone, a quarter of a second of CPU. A container
        not yet known is asked for by the name Compose gives it, checked by
        its labels; only one found neither way is looked for with `docker ps`.
        """
        found = self._inspect({s: self._container_ids.get(s) or f"{self.name}-{s}-1" for s in services})
        missing = [service for service in services if service not in found]
        if missing:
            listed = self._project_containers()
            found.update(self._inspect({s: listed[s] for s in missing if s in listed}))
        return found

    def _inspect(self, containers: Mapping[str, str]) -> dict[str, ContainerStatus]:
        """Statuses by service of `containers` (service -> ID or name) that exist and are this project's."""
        if not containers:
            return {}
        # Found containers are printed even when another one is gone (exit code 1).
        done = subprocess.run(
            ["docker", "inspect", "--type=container", *containers.values()],
            capture_output=True,
            text=True,
            check=False,
        )
        statuses: dict[str, ContainerStatus] = {}
        for raw in _json_list(done.stdout):
            labels = (raw.get("Config") or {}).get("Labels") or {}
            owner = str(labels.get(SERVICE_LABEL))
            if labels.get(PROJECT_LABEL) == self.name and owner in containers:
                self._container_ids[owner] = raw["Id"]
                statuses[owner] = _status(owner, raw["Id"], raw)
        for service in containers.keys() - statuses.keys():
            # Gone (or never there): forgotten only now, as probes' `execute` reads these meanwhile.
            self._container_ids.pop(service, None)
        return statuses

    def _project_containers(self) -> dict[str, str]:
        """Container ID by service, in one `docker ps` (far quicker than `compose ps` per service)."""
        try:
            listed = _cli(
                "ps", "--all", "--no-trunc",
                "--filter", f"label={PROJECT_LABEL}={self.name}",
                "--format", f'{{{{.ID}}}} {{{{.Label "{SERVICE_LABEL}"}}}}',
            )  # fmt: skip
        except EngineError:
            return {}  # the engine hiccuped: the next poll asks again
        pairs = (line.split(" ", 1) for line in listed.splitlines() if " " in line)
        return {service: container_id for container_id, service in pairs}

    def execute(self, service: str, argv: Sequence[str]) -> CommandResult:
        """`argv` run in the service's container, as its healthcheck would be: no TTY, no stdin.

        `docker exec` on the container a status read found, else `compose exec`:
        probes run this every poll, and Compose's start-up (and, through
        python-on-whales, its import) would cost each check a tenth of a second.
        """
        container_id = self._container_ids.get(service)
        command = (
            ["docker", "exec", container_id, *argv]
            if container_id
            else [*self._compose(), "exec", "--no-TTY", service, *argv]
        )
        done = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False)
        if done.returncode == 0:
            return CommandResult(0, done.stdout.strip())
        return CommandResult(done.returncode, _failure(done.stderr, done.stdout, command, done.returncode))

    def port(self, service: str, port: int, protocol: str = "tcp") -> tuple[str, int] | None:
        try:
            host, public = self.docker.compose.port(service, port, protocol=protocol)
        except self._whales.DockerException:
            return None
        if host is None or public is None:
            return None
        return host, public

    def logs(
        self,
        service: str,
        tail: int | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> str:
        try:
            text = str(
                self.docker.compose.logs(
                    [service],
                    tail=None if tail is None else str(tail),
                    since=since.isoformat() if since else None,
                    until=until.isoformat() if until else None,
                    no_log_prefix=True,
                )
            )
        except self._whales.DockerException as exc:
            return f"(logs unavailable: {_stderr(exc)})"
        # Compose's own warnings (an obsolete `version:` key, say) are not the service's log.
        return "".join(line for line in text.splitlines(keepends=True) if not _COMPOSE_WARNING.match(line))

    def container_log(self, container_id: str) -> str:
        # Both streams, as the container wrote them; plain CLI: asked many times a second.
        done = subprocess.run(
            ["docker", "logs", container_id],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            check=False,
        )
        return done.stdout if done.returncode == 0 else f"(log unavailable: {done.stdout.strip()})"

    def follow_log(self, container_id: str) -> _LogFollower:
        return _LogFollower(container_id)

    def run_healthcheck(self, container_id: str) -> str | None:
        if self._engine.info().kind != "podman":
            return None
        return self._engine.libpod_healthcheck(container_id)

    def events(self, on_event: Callable[[ContainerEvent], None]) -> _EventStream:
        # The CLI's stream, not python-on-whales' events(): that one cannot be stopped
        # until an event arrives, and a stack's watch must end with its teardown.
        command = [
            "docker", "events", "--format", "{{json .}}",
            "--filter", "type=container", "--filter", f"label={PROJECT_LABEL}={self.name}",
        ]  # fmt: skip
        return _EventStream(command, on_event)

    def stop(self, timeout: int) -> None:
        failure = self._compose_shielded("stop", f"--timeout={timeout}")
        if failure:
            raise EngineError(f"stopping project {self.name!r} failed:\n{failure}")

    def down(self, timeout: int) -> None:
        self._container_ids.clear()  # the next `up` makes new containers
        failure = self._compose_shielded("down", "--volumes", "--remove-orphans", f"--timeout={timeout}")
        if failure:
            raise EngineError(
                f"taking project {self.name!r} down failed:\n{failure}\n"
                f"Remove it by hand: docker compose -p {self.name} down -v --remove-orphans"
            )

    def remove_images(self, references: Sequence[str]) -> None:
        for reference in references:  # one at a time: one in use must not keep the others
            with contextlib.suppress(EngineError):
                _cli("image", "rm", reference, missing_ok=True)

    def _compose_shielded(self, *args: str) -> str:
        """Run `docker compose ARGS` out of the terminal's process group; its stderr if it failed.

        A second Ctrl-C reaches every process of the foreground group: run
        in it, a `down` would die half done. In its own session it finishes.
        """
        done = subprocess.run(
            [*self._compose(), *args],
            capture_output=True, text=True, start_new_session=True, check=False,
        )  # fmt: skip
        return "" if done.returncode == 0 else (done.stderr.strip() or f"exit code {done.returncode}")


class _Tethered(subprocess.Popen[str]):
    """A command that never ends by itself (a stream), run so that it ends when this process does.

    Killed outright (SIGKILL, the OOM killer), this process could not stop
    it, and `docker events` would run on forever. So a shell holds it and
    waits on a pipe only this process writes to: the kernel closes the pipe
    when this process is gone, however it went, and the shell then stops
    the command. Its own session, so a Ctrl-C to the terminal's process
    group leaves it to teardown rather than cutting it off first.
    """

    _HOLD = '"$@" </dev/null & cat >/dev/null; kill $! 2>/dev/null; wait'

    def __init__(self, command: list[str], stderr: int) -> None:
        super().__init__(
            ["sh", "-c", self._HOLD, "sh", *command],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            start_new_session=True,
        )

    def end(self) -> None:
        """Stop the command: close our end of the pipe, as dying would."""
        assert self.stdin is not None
        with contextlib.suppress(OSError):
            self.stdin.close()
        try:
            self.wait(5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(OSError):
                os.killpg(self.pid, signal.SIGKILL)  # the shell and the command: its own group
            self.wait(5)


class _EventStream:
    """`docker events` in a process of its own, each line parsed and handed on from a thread."""

    def __init__(self, command: list[str], on_event: Callable[[ContainerEvent], None]) -> None:
        self._process = _Tethered(command, stderr=subprocess.DEVNULL)
        self._on_event = on_event
        self._closed = threading.Event()
        self._reader = threading.Thread(target=self._read, name="compose-events", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self._process.stdout is not None
        for line in self._process.stdout:
            event = parse_event(line)
            if event is not None and not self._closed.is_set():
                self._on_event(event)

    def close(self) -> None:
        self._closed.set()
        self._process.end()
        self._reader.join(5)


class _LogFollower:
    """`docker logs --follow` of one container, both streams, gathered by a thread."""

    def __init__(self, container_id: str) -> None:
        self._process = _Tethered(["docker", "logs", "--follow", container_id], stderr=subprocess.STDOUT)
        self._lines: list[str] = []
        self._size = 0
        self._grown = threading.Condition()
        threading.Thread(target=self._read, name="compose-log", daemon=True).start()

    def _read(self) -> None:
        assert self._process.stdout is not None
        for line in self._process.stdout:
            with self._grown:
                self._lines.append(line)
                self._size += len(line)
                self._grown.notify_all()

    def text(self) -> str:
        with self._grown:
            return "".join(self._lines)

    def wait(self, size: int, timeout: float) -> None:
        with self._grown:
            self._grown.wait_for(lambda: self._size > size, timeout)

    def close(self) -> None:
        self._process.end()


def parse_event(line: str) -> ContainerEvent | None:
    """One line of `docker events --format '{{json .}}'`; None for anything else."""
    try:
        raw = json.loads(line)
        attributes = raw["Actor"]["Attributes"]
        action, _, detail = str(raw.get("Action") or raw["status"]).partition(": ")
        service = attributes[SERVICE_LABEL]
    except (ValueError, KeyError, TypeError):
        return None
    exit_code = attributes.get("exitCode")
    return ContainerEvent(
        service=service,
        container_id=str(raw["Actor"].get("ID") or raw.get("id") or ""),
        action=action,
        detail=detail or str(attributes.get("health_status", "")),
        exit_code=int(exit_code) if str(exit_code).lstrip("-").isdigit() else None,
        at=int(raw.get("timeNano") or 0) / 1e9 or float(raw.get("time") or 0),
    )


_INFO_COMMANDS = (
    [
        "docker", "version", "--format",
        "{{.Client.APIVersion}}|{{.Server.Version}}|{{range .Server.Components}}{{.Name}};{{end}}",
    ],
    # Compose's version and executable from the CLI plugins `docker info` lists:
    # `docker compose version` would start Compose for it, a fifth of a second
    # before a stack can start.
    [
        "docker", "info", "--format",
        '{{json .SecurityOptions}}|{{.CgroupDriver}}|'
        '{{range .ClientInfo.Plugins}}{{if eq .Name "compose"}}{{.Version}}|{{.Path}}{{end}}{{end}}',
    ],
)  # fmt: skip


def parse_info(version: str, details: str) -> EngineInfo:
    """EngineInfo from the answers to _INFO_COMMANDS ("" where one did not answer)."""
    api, _, rest = version.partition("|")
    server, _, components = rest.partition("|")
    options, _, rest = details.partition("|")
    cgroup_driver, _, compose = rest.partition("|")
    compose_version, _, compose_binary = compose.partition("|")
    podman = "Podman" in components
    major, _, minor = api.partition(".")
    return EngineInfo(
        kind="podman" if podman else "docker",
        version=server,
        api_version=(int(major), int(minor)) if major.isdigit() and minor.isdigit() else (1, 45),
        rootless="rootless" in options,
        # Podman runs healthchecks through systemd timers, and so only with systemd.
        runs_healthchecks=not podman or cgroup_driver == "systemd",
        compose_version=compose_version.removeprefix("v"),
        compose_binary=compose_binary,
    )


def _is_local_engine() -> bool:
    """The engine is this machine's, reached without a docker context's remote endpoint."""
    docker_host = os.environ.get("DOCKER_HOST")
    try:
        local = is_loopback(host_of(docker_host, where="DOCKER_HOST")) if docker_host else True
    except ConfigError:
        return False  # said properly when the stack starts
    return local and bool(docker_host or context_name() is None)


def _as_info(remembered: engine_memo.Remembered | None) -> EngineInfo | None:
    return parse_info(remembered.version, remembered.details) if remembered else None


def _compose_command(files: Sequence[Path], name: str, info: EngineInfo | None) -> list[str]:
    """Compose for these files and project: its plugin's executable itself once `docker info` named it.

    Run standalone, Compose reads the same environment, config and context as
    through `docker compose`; the CLI's own start and its look at every plugin
    (30 ms of each call, and more of CPU) are skipped.
    """
    compose = [info.compose_binary] if info and info.compose_binary else ["docker", "compose"]
    return [*compose, *(f"--file={path}" for path in files), f"--project-name={name}"]


def _prefetch_key(files: Sequence[Path], name: str) -> tuple[object, ...]:
    return tuple((str(path), Path(path).stat().st_mtime_ns) for path in files), name


def _cli(*args: str, missing_ok: bool = False) -> str:
    """`docker ARGS`'s output; EngineError with its stderr when it fails."""
    try:
        done = subprocess.run(["docker", *args], capture_output=True, text=True, check=False)
    except OSError as exc:
        raise EngineError(f"cannot run docker: {exc}\nFix: {_START_ENGINE}.") from None
    if done.returncode != 0:
        # Gone meanwhile (another session's janitor, or its own teardown): nothing to do.
        # Docker says "No such container", Podman "no such container".
        if missing_ok and "no such" in done.stderr.lower():
            return ""
        unreachable = any(sign in done.stderr for sign in _UNREACHABLE)
        fix = f"\nFix: {_START_ENGINE}." if unreachable else ""
        raise EngineError(f"`docker {' '.join(args)}` failed: {done.stderr.strip()}{fix}")
    return done.stdout


#: What the docker CLI says when it reaches no engine at all.
_UNREACHABLE = (
    "Cannot connect to the Docker daemon",
    "connection refused",
    "no such host",
    "error during connect",
)


def _ask(command: list[str]) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def _json_list(text: str) -> list[dict[str, Any]]:
    try:
        loaded = json.loads(text or "[]")
    except ValueError:
        return []
    return [item for item in loaded if isinstance(item, dict)] if isinstance(loaded, list) else []


def _status(service: str, container_id: str, raw: Mapping[str, Any]) -> ContainerStatus:
    """A ContainerStatus from one container of `docker inspect`'s JSON."""
    state = raw.get("State") or {}
    health = state.get("Health") or None
    runs = (health or {}).get("Log") or []
    return ContainerStatus(
        service=service,
        container_id=container_id,
        state=state.get("Status") or "unknown",
        exit_code=state.get("ExitCode"),
        health=health.get("Status") if health else None,
        health_output=(runs[-1].get("Output") or "").strip() if runs else "",
        labels=dict((raw.get("Config") or {}).get("Labels") or {}),
        ports=_published((raw.get("NetworkSettings") or {}).get("Ports")),
        health_log=tuple(_run_line(run) for run in runs),
    )


def _run_line(run: Mapping[str, Any]) -> str:
    """One healthcheck run: `<start HH:MM:SS> exit <code>: <output>`."""
    return (
        f"{str(run.get('Start', ''))[11:19]} exit {run.get('ExitCode')}: {(run.get('Output') or '').strip()}"
    )


def _published(ports: Mapping[str, Any] | None) -> dict[int, tuple[str, int]]:
    """`{"3000/tcp": [{"HostIp": "127.0.0.1", "HostPort": "32768"}]}` -> `{3000: ("127.0.0.1", 32768)}`."""
    published = {}
    for key, bindings in (ports or {}).items():
        port, _, protocol = key.partition("/")
        if protocol == "tcp" and bindings:
            first = bindings[0]
            published[int(port)] = (first.get("HostIp") or "0.0.0.0", int(first["HostPort"]))
    return published


def _stderr(exc: Any) -> str:
    """A python-on-whales DockerException's reason."""
    return _failure(exc.stderr, exc.stdout, exc.docker_command, exc.return_code)


def _failure(stderr: str | None, stdout: str | None, command: Sequence[str], code: int) -> str:
    """Why a command failed: its stderr, else its stdout, else its exit code."""
    text = (stderr or "").strip() or (stdout or "").strip()
    return text or f"`{' '.join(command)}` exited with {code}"
