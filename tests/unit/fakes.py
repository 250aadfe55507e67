"""An in-memory Docker boundary: `FakeEngine` implements `Engine` and `ComposeProject` without Docker.

Everything the core can observe is scripted up front: the compose configuration, the
sequence of container states each service goes through, the results of commands run
in containers, published ports and logs. Every call is recorded, so tests can assert
what the core did (for example that `down` ran exactly once).
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from pytest_tel3sis_compose.core.boundary import CommandResult, ContainerEvent, ContainerStatus, EngineInfo
from pytest_tel3sis_compose.core.docker_host import host_of
from pytest_tel3sis_compose.core.ownership import LABEL_FILES, LABEL_KEEP, LABEL_OWNER, Owner

#: An owner label whose process cannot exist: above Linux's largest pid.
DEAD_OWNER = Owner.of(os.getpid()).label().replace(f"@{os.getpid()}:", f"@{2**22 + 7}:", 1)


def fake_docker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, script: str) -> Path:
    """A `docker` command on PATH running `script`; it logs its arguments to the returned file."""
    folder = tmp_path / "bin"
    folder.mkdir()
    log = tmp_path / "docker.log"
    docker = folder / "docker"
    docker.write_text(f'#!/bin/sh\necho "$@" >> {log}\n{script}\n')
    docker.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    return log


# -- building compose configurations ---------------------------------------------


def port_entry(
    target: int, published: int | str | None = None, host_ip: str = "127.0.0.1", protocol: str = "tcp"
) -> dict[str, Any]:
    """One entry of `ports:` as `docker compose config` prints it (the long syntax)."""
    entry: dict[str, Any] = {"mode": "ingress", "target": target, "protocol": protocol}
    if host_ip:
        entry["host_ip"] = host_ip
    if published is not None:
        entry["published"] = str(published)
    return entry


def service(
    *,
    ports: Sequence[int | Mapping[str, Any]] = (),
    healthcheck: Sequence[str] | Mapping[str, Any] | None = None,
    probe: Any = None,
    depends_on: Mapping[str, str] | Sequence[str] | None = None,
    image: str = "busybox:latest",
) -> dict[str, Any]:
    """A service of a resolved compose configuration.

    `ports` items are container ports (published on 127.0.0.1, ephemeral) or full entries;
    `healthcheck` is a `test` list or a whole healthcheck mapping; `depends_on` maps
    a service to its condition (or is the short list form).
    """
    raw: dict[str, Any] = {"image": image}
    if ports and healthcheck is None and probe is None:
        probe = "running"  # nothing listens behind a fake's ports: the default port probe would wait
    if ports:
        raw["ports"] = [port_entry(p) if isinstance(p, int) else dict(p) for p in ports]
    if healthcheck is not None:
        raw["healthcheck"] = (
            dict(healthcheck)
            if isinstance(healthcheck, Mapping)
            else {"test": list(healthcheck), "interval": "1s", "retries": 3}
        )
    if probe is not None:
        raw["x-tel3sis-probe"] = probe
    if depends_on is not None:
        raw["depends_on"] = (
            {name: {"condition": cond, "required": True} for name, cond in depends_on.items()}
            if isinstance(depends_on, Mapping)
            else list(depends_on)
        )
    return raw


def compose(**services: Mapping[str, Any]) -> dict[str, Any]:
    """A whole `docker compose config` mapping."""
    return {"name": "unit", "services": dict(services), "networks": {"default": {"name": "unit_default"}}}


# -- container states -------------------------------------------------------------


def running(service: str, health: str | None = None, health_output: str = "") -> ContainerStatus:
    return ContainerStatus(service, f"id-{service}", "running", None, health, health_output)


def exited(service: str, exit_code: int = 1) -> ContainerStatus:
    return ContainerStatus(service, f"id-{service}", "exited", exit_code)


def created(service: str) -> ContainerStatus:
    return ContainerStatus(service, f"id-{service}", "created")


class FakeDockerException(Exception):
    """Looks like python-on-whales' DockerException: carries Compose's stderr."""

    def __init__(self, stderr: str) -> None:
        super().__init__(f"docker compose up exited with 1: {stderr}")
        self.stderr = stderr


# -- the engine ---------------------------------------------------------------------


class FakeEngine:
    """`Engine` and its one `ComposeProject` in memory (`project()` returns the engine itself).

    Thread-safe: the core probes services from several threads.

    statuses:   per service, the states returned by successive status() calls; the last
                one repeats. A service not listed is always running (and healthy when
                it has a healthcheck).
    exec_results: per service, results of successive execute() calls; the last repeats.
    ports:      (service, container port) -> (host ip, host port) or None. By default
                a port that the config publishes answers its `published` port (or
                32768 + target when ephemeral) on its `host_ip`.
    logs:       per service, the whole log; logs(tail=n) returns its last n lines.
    *_error:    raised by check(), config(), build(), up() or down(); up_interrupt=True makes
                up() raise KeyboardInterrupt (in the thread the core runs it in).
    orphans:    projects whose owner is gone, as the janitor's listings show them.
    """

    def __init__(
        self,
        config: Mapping[str, Any],
        *,
        statuses: Mapping[str, Sequence[ContainerStatus | None]] | None = None,
        exec_results: Mapping[str, Sequence[CommandResult]] | None = None,
        ports: Mapping[tuple[str, int], tuple[str, int] | None] | None = None,
        logs: Mapping[str, str] | None = None,
        check_error: BaseException | None = None,
        config_error: BaseException | None = None,
        build_error: BaseException | None = None,
        up_error: BaseException | None = None,
        up_interrupt: bool = False,
        up_release: threading.Event | None = None,
        up_ends_during_down: bool = False,
        down_error: BaseException | None = None,
        orphans: Sequence[str] = (),
        images: Mapping[str, str] | None = None,
        on_execute: Callable[[str, Sequence[str]], None] | None = None,
        engine_info: EngineInfo | None = None,
    ) -> None:
        self._config = config
        self._statuses = {name: list(seq) for name, seq in (statuses or {}).items()}
        self._exec_results = {name: list(seq) for name, seq in (exec_results or {}).items()}
        self._ports = dict(ports or {})
        self._logs = dict(logs or {})
        self.check_error = check_error
        self.config_error = config_error
        self.build_error = build_error
        self.up_error = KeyboardInterrupt() if up_interrupt else up_error
        self.up_release = up_release
        """When given, up() blocks until this event is set: by down() (removing the containers ends
        a waiting `up`, as with Docker), by the test, or after 10 s as a safety net."""
        self.up_ends_during_down = up_ends_during_down
        """With up_release: a blocked up() returns while down() runs, before down() returns
        (otherwise it returns 0.1 s after being released)."""
        self.up_entered = threading.Event()
        self.up_finished = threading.Event()
        self.down_error = down_error
        self.orphans = list(orphans)
        """Projects whose owner is gone, as the janitor's listings show them, until removed."""
        self.removed_projects: list[str] = []
        self.marks: dict[str, dict[str, str]] = {}
        self.name = "unit"
        self.project_files: list[Path] = []
        self.images = dict(images or {})
        """image reference -> local image ID, for image_id()."""
        self.on_execute = on_execute
        self._lock = threading.Lock()
        self.calls: list[tuple[Any, ...]] = []
        """Calls in order: ("check",), ("config",), ("labelled", label), ("remove_project", name),
        ("add_compose_file", path), ("build",), ("up",), ("up_done",), ("stop", timeout),
        ("down", timeout)."""
        self.status_calls: Counter[str] = Counter()
        self.exec_calls: list[tuple[str, tuple[str, ...]]] = []
        self.port_calls: list[tuple[str, int]] = []
        self.log_calls: list[tuple[str, int | None]] = []
        self.added_files: list[Path] = []
        self.streams: list[FakeStream] = []
        self.engine_info = engine_info or EngineInfo(
            kind="docker", version="26.1.5", compose_version="2.40.3"
        )
        self.healthchecks_run: list[str] = []
        self.up_services: list[tuple[str, ...]] = []

    # -- what tests look at ------------------------------------------------------

    def names(self) -> list[str]:
        """The names of every recorded call, in order ("up_done" marks up() returning)."""
        return [call[0] for call in self.calls]

    def lifecycle(self) -> list[str]:
        """The names of the main lifecycle calls only: check, config, build, up, stop, down."""
        return [name for name in self.names() if name in ("check", "config", "build", "up", "stop", "down")]

    def count(self, name: str) -> int:
        return self.names().count(name)

    @property
    def down_calls(self) -> list[tuple[Any, ...]]:
        return [call for call in self.calls if call[0] == "down"]

    def _record(self, *call: Any) -> None:
        with self._lock:
            self.calls.append(call)

    # -- Engine ----------------------------------------------------------------------

    def check(self) -> None:
        self._record("check")
        if self.check_error is not None:
            raise self.check_error

    def versions(self) -> str:
        return "fake engine"

    def info(self) -> EngineInfo:
        return self.engine_info

    def host(self) -> str:
        """As the real engine reads it: DOCKER_HOST's host, else this machine."""
        docker_host = os.environ.get("DOCKER_HOST")
        return host_of(docker_host, where="DOCKER_HOST") if docker_host else "127.0.0.1"

    def project(self, files: Sequence[Path], name: str) -> FakeEngine:
        self.name = name
        self.project_files = list(files)
        return self

    def prefetch(self, files: Sequence[Path], name: str) -> None:
        self._record("prefetch", name)

    def labelled(self, label: str) -> list[tuple[str, str]]:
        self._record("labelled", label)
        if label in (LABEL_KEEP, LABEL_FILES):
            return [(project, labels[label]) for project, labels in self.marks.items() if label in labels]
        if label != LABEL_OWNER:
            return []
        return [(project, DEAD_OWNER) for project in self.orphans]

    def mark(self, project: str, labels: Mapping[str, str]) -> None:
        self._record("mark", project, dict(labels))
        self.marks[project] = dict(labels)

    def remove_project(self, project: str) -> None:
        self._record("remove_project", project)
        if project in self.orphans:
            self.orphans.remove(project)
        self.marks.pop(project, None)
        self.removed_projects.append(project)

    def add_compose_file(self, path: Path) -> None:
        self._record("add_compose_file", path)
        self.added_files.append(path)

    def config(self) -> Mapping[str, Any]:
        self._record("config")
        if self.config_error is not None:
            raise self.config_error
        return self._config

    def build(self) -> None:
        self._record("build")
        if self.build_error is not None:
            raise self.build_error

    def image_id(self, reference: str) -> str | None:
        return self.images.get(reference)

    def up(self, services: Sequence[str] = ()) -> None:
        self._record("up")
        self.up_services.append(tuple(services))
        self.up_entered.set()
        try:
            if self.up_release is not None:
                self.up_release.wait(10)
                if not self.up_ends_during_down:
                    time.sleep(0.1)  # compose takes a moment to notice and give up
            if self.up_error is not None:
                raise self.up_error
        finally:
            self._record("up_done")
            self.up_finished.set()

    def statuses(self, services: Sequence[str]) -> dict[str, ContainerStatus]:
        found = {service: self.status(service) for service in services}
        return {service: status for service, status in found.items() if status is not None}

    def status(self, service: str) -> ContainerStatus | None:
        with self._lock:
            self.status_calls[service] += 1
            script = self._statuses.get(service)
            if not script:
                return self._default_status(service)
            return script.pop(0) if len(script) > 1 else script[0]

    def _default_status(self, service: str) -> ContainerStatus:
        """Running, and healthy when the service declares an enabled healthcheck."""
        check = self._config.get("services", {}).get(service, {}).get("healthcheck")
        healthy = isinstance(check, Mapping) and bool(check.get("test")) and not check.get("disable")
        return running(service, "healthy" if healthy else None)

    def container_log(self, container_id: str) -> str:
        """The log of the service whose container this is (the fakes' ids: `id-<service>`, `<service>-id`)."""
        owners = (s for s in self._logs if container_id in (f"id-{s}", f"{s}-id"))
        return next((self._logs[s] for s in owners), "")

    def execute(self, service: str, argv: Sequence[str]) -> CommandResult:
        with self._lock:
            self.exec_calls.append((service, tuple(argv)))
        if self.on_execute is not None:
            self.on_execute(service, argv)
        with self._lock:
            script = self._exec_results.get(service)
            if not script:
                return CommandResult(0, "")
            return script.pop(0) if len(script) > 1 else script[0]

    def port(self, service: str, port: int, protocol: str = "tcp") -> tuple[str, int] | None:
        with self._lock:
            self.port_calls.append((service, port))
        if (service, port) in self._ports:
            return self._ports[(service, port)]
        raw = self._config.get("services", {}).get(service, {})
        for entry in raw.get("ports") or ():
            if int(entry["target"]) == port and entry.get("protocol", "tcp") == protocol:
                published = entry.get("published")
                public = int(published) if published else 32768 + port
                return entry.get("host_ip") or "0.0.0.0", public
        return None

    def logs(
        self,
        service: str,
        tail: int | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> str:
        with self._lock:
            self.log_calls.append((service, tail))
        text = self._logs.get(service, "")
        if tail is None:
            return text
        return "".join(text.splitlines(keepends=True)[-tail:]) if tail else ""

    def follow_log(self, container_id: str) -> FakeFollower:
        return FakeFollower(lambda: self.container_log(container_id))

    def run_healthcheck(self, container_id: str) -> str | None:
        with self._lock:
            self.healthchecks_run.append(container_id)
        return None if self.engine_info.runs_healthchecks else "healthy"

    def events(self, on_event: Callable[[ContainerEvent], None]) -> FakeStream:
        self._record("events")
        stream = FakeStream(on_event)
        self.streams.append(stream)
        return stream

    def emit(self, event: ContainerEvent) -> None:
        """Deliver an event to every open stream, as the engine's event thread would."""
        for stream in list(self.streams):
            if not stream.closed:
                stream.on_event(event)

    def stop(self, timeout: int) -> None:
        self._record("stop", timeout)

    def remove_images(self, references: Sequence[str]) -> None:
        self._record("remove_images", tuple(references))

    def down(self, timeout: int) -> None:
        self._record("down", timeout)
        if self.up_release is not None:
            self.up_release.set()  # as for real: removing the containers ends a waiting `up`
            if self.up_ends_during_down:
                self.up_finished.wait(5)
        if self.down_error is not None:
            raise self.down_error


class FakeFollower:
    def __init__(self, read: Callable[[], str]) -> None:
        self.read = read
        self.closed = False
        self.waits: list[tuple[int, float]] = []

    def text(self) -> str:
        return self.read()

    def wait(self, size: int, timeout: float) -> None:
        self.waits.append((size, timeout))
        deadline = time.monotonic() + timeout
        while len(self.read()) <= size and time.monotonic() < deadline:
            time.sleep(0.005)

    def close(self) -> None:
        self.closed = True


class FakeStream:
    def __init__(self, on_event: Callable[[ContainerEvent], None]) -> None:
        self.on_event = on_event
        self.closed = False

    def close(self) -> None:
        self.closed = True


class FakeTarget:
    """A `ProbeTarget` for checking one probe directly."""

    def __init__(
        self,
        status: ContainerStatus | None = None,
        *,
        service: str = "web",
        base_url: str = "http://127.0.0.1:1",
        result: CommandResult | None = None,
        log: str = "",
    ) -> None:
        self.service = service
        self.log = log
        self.status = status or running(service)
        self._base_url = base_url
        self._result = result or CommandResult(0, "")
        self.base_url_calls: list[int] = []
        self.executed: list[tuple[str, ...]] = []

    def address(self, port: int) -> tuple[str, int]:
        self.base_url_calls.append(port)
        host, _, public = self._base_url.removeprefix("http://").rpartition(":")
        return host, int(public)

    def base_url(self, port: int) -> str:
        self.base_url_calls.append(port)
        return self._base_url

    def execute(self, argv: Sequence[str]) -> CommandResult:
        self.executed.append(tuple(argv))
        return self._result

    def container_log(self) -> str:
        return self.log
