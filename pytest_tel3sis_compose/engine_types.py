"""The Docker boundary: the data that crosses it and the interface the core calls.

Kept free of python-on-whales so that the core can be tested without Docker.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol


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


@dataclass(frozen=True)
class CommandResult:
    exit_code: int
    output: str


class Engine(Protocol):
    """The operations the core needs from Docker and Compose for one project.

    `pytest_tel3sis_compose.engine.WhalesEngine` implements it on
    python-on-whales; unit tests implement it in memory.
    """

    def check(self) -> None:
        """Raise EngineError, saying how to fix it, unless the engine and Compose v2 answer."""

    def add_compose_file(self, path: Path) -> None:
        """Apply one more compose file, after the others, to everything that follows."""

    def sweep_orphans(self) -> list[str]:
        """Remove stacks whose owner process is gone; return their project names."""

    def config(self) -> Mapping[str, Any]:
        """The resolved compose configuration, service-level extension fields included."""

    def build(self) -> None: ...

    def image_id(self, reference: str) -> str | None:
        """The local image ID a reference names, or None when there is no such image."""

    def up(self) -> None:
        """Create and start every service in the background (`up --detach`)."""

    def status(self, service: str) -> ContainerStatus | None:
        """The service's container now, or None while it has none."""

    def execute(self, service: str, argv: Sequence[str]) -> CommandResult: ...

    def port(self, service: str, port: int) -> tuple[str, int] | None:
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

    def stop(self, timeout: int) -> None:
        """Stop every container, giving each `timeout` seconds to exit on its own."""

    def down(self, timeout: int) -> None:
        """Remove containers, networks, volumes and orphans; stop within `timeout` seconds."""
