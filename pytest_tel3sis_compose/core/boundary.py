"""The Docker boundary: the data that crosses it and the interfaces the core calls.

`pytest_tel3sis_compose.engine` implements them on python-on-whales and the
docker CLI; unit tests implement them in memory. Nothing here imports Docker
libraries, so the core can be used and tested without them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Protocol


@dataclass(frozen=True)
class ContainerStatus:
    """A service container's state at one moment."""

    service: str
    container_id: str
    state: str
    """created, running, restarting, exited, dead, ..."""
    exit_code: int | None = None
    health: str | None = None
    """starting, healthy or unhealthy; None when the container has no healthcheck."""
    health_output: str = ""
    """Output of the last healthcheck run."""
    labels: Mapping[str, str] = field(default_factory=dict)
    ports: Mapping[int, tuple[str, int]] = field(default_factory=dict)
    """Published TCP ports: container port -> (host address, host port)."""
    health_log: tuple[str, ...] = ()
    """The engine's record of the last healthcheck runs: `<start> exit <code>: <output>` each."""


@dataclass(frozen=True)
class CommandResult:
    exit_code: int
    output: str


@dataclass(frozen=True)
class ContainerEvent:
    """One thing that happened to a container of the project, as the engine reports it."""

    service: str
    container_id: str
    action: str
    """create, start, die, kill, oom, restart, health_status, destroy, ..."""
    detail: str = ""
    """For health_status: the new status (healthy, unhealthy, starting)."""
    exit_code: int | None = None
    """For die: the container's exit code."""
    at: float = 0.0
    """When the engine says it happened, in seconds since the epoch."""


@dataclass(frozen=True)
class EngineInfo:
    """What kind of engine it is, as far as the plugin's choices depend on it."""

    kind: Literal["docker", "podman"] = "docker"
    """docker or podman (through its Docker-compatible API)."""
    version: str = ""
    api_version: tuple[int, int] = (1, 45)
    """The API version the client speaks with it (DOCKER_API_VERSION may lower it)."""
    rootless: bool = False
    runs_healthchecks: bool = True
    """Whether the engine runs containers' healthchecks itself (Podman needs systemd for it)."""
    compose_version: str = ""
    compose_binary: str = ""
    """Compose's own executable, as the CLI lists its plugin ("" when not listed)."""

    @property
    def supports_start_interval(self) -> bool:
        """Healthchecks may say `start_interval` (API 1.44, Docker 25, and later)."""
        return self.api_version >= (1, 44)

    def describe(self) -> str:
        """`docker 26.1.5, rootful` or `podman 4.3.1, rootless`."""
        return f"{self.kind} {self.version or '?'}, {'rootless' if self.rootless else 'rootful'}"


class EventStream(Protocol):
    def close(self) -> None:
        """Stop listening; no event is reported after this returns."""


class LogFollower(Protocol):
    def text(self) -> str:
        """Everything the container has written so far (both streams)."""

    def wait(self, size: int, timeout: float) -> None:
        """Return once the log holds more than `size` characters, or after `timeout` seconds."""

    def close(self) -> None: ...


class ComposeProject(Protocol):
    """The operations the core needs on one compose project."""

    name: str

    def add_compose_file(self, path: Path) -> None:
        """Apply one more compose file, after the others, to everything that follows."""

    def config(self) -> Mapping[str, Any]:
        """The resolved compose configuration, service-level extension fields included."""

    def build(self) -> None: ...

    def image_id(self, reference: str) -> str | None:
        """The local image ID a reference names, or None when there is no such image."""

    def up(self, services: Sequence[str] = ()) -> None:
        """Create and start these services (all: none named) in the background (`up --detach`)."""

    def status(self, service: str) -> ContainerStatus | None:
        """The service's container now, or None while it has none."""

    def statuses(self, services: Sequence[str]) -> dict[str, ContainerStatus]:
        """The containers of these services now, at once; a service without one is left out."""

    def execute(self, service: str, argv: Sequence[str]) -> CommandResult: ...

    def port(self, service: str, port: int, protocol: str = "tcp") -> tuple[str, int] | None:
        """Host address and port a container port is published on, or None."""

    def logs(
        self,
        service: str,
        tail: int | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> str:
        """The service's log: the last `tail` lines, or those written in [since, until)."""

    def container_log(self, container_id: str) -> str:
        """One container's whole log (quicker than `logs`, which goes through Compose)."""

    def follow_log(self, container_id: str) -> LogFollower:
        """One container's log as it grows, read by a single process rather than asked again and again."""

    def run_healthcheck(self, container_id: str) -> str | None:
        """Have the engine run the container's own healthcheck once, and record its verdict.

        For engines that do not run healthchecks on their own (Podman without
        systemd); returns the new status, or None where the engine cannot.
        """

    def events(self, on_event: Callable[[ContainerEvent], None]) -> EventStream:
        """Report every event of the project's containers from now on, from another thread."""

    def stop(self, timeout: int) -> None:
        """Stop every container, giving each `timeout` seconds to exit on its own."""

    def down(self, timeout: int) -> None:
        """Remove containers, networks, volumes and orphans; stop within `timeout` seconds."""

    def remove_images(self, references: Sequence[str]) -> None:
        """Remove these images where they exist and nothing uses them; never fail for one."""


class Engine(Protocol):
    """A Docker engine with Compose v2: the projects on it, and what spans projects."""

    def check(self) -> None:
        """Raise EngineError, saying how to fix it, unless the engine and Compose v2 answer."""

    def versions(self) -> str:
        """A short description for the report header, such as `docker 26.1.5, rootful; Compose 2.40.3`."""

    def info(self) -> EngineInfo:
        """What kind of engine it is (asked once)."""

    def host(self) -> str:
        """The address the engine's published ports are reached at from here."""

    def project(self, files: Sequence[Path], name: str) -> ComposeProject:
        """One compose project of these files, under this name."""

    def prefetch(self, files: Sequence[Path], name: str) -> None:
        """Begin work `project(files, name)` will need, in the background; never raise."""

    def labelled(self, label: str) -> list[tuple[str, str]]:
        """(project, value of `label`) of every container, network and volume carrying both."""

    def remove_project(self, project: str) -> None:
        """Remove every container, network and volume Compose labelled with `project`,
        and the images Compose built and named after it."""

    def mark(self, project: str, labels: Mapping[str, str]) -> None:
        """Leave a marker with `labels` beside the project (an empty volume), removed with it."""
