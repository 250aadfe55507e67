"""What tests ask of a started stack's services: where they answer, what they logged, how healthy they are."""

from __future__ import annotations

from datetime import datetime

from pytest_tel3sis_compose.core.boundary import ComposeProject
from pytest_tel3sis_compose.core.endpoints import Endpoints
from pytest_tel3sis_compose.core.model import ProjectSpec


class StackView:
    def __init__(self, compose: ComposeProject, project: ProjectSpec, endpoints: Endpoints) -> None:
        self.compose = compose
        self.project = project
        self.endpoints = endpoints

    def url(self, service: str, port: int | None = None) -> str:
        """`http://host:port` of a ready service's published port.

        `port` is the container port; it may be left out when the service
        publishes exactly one port or has an HTTP probe.
        """
        return self.endpoints.url(service, port)

    def endpoint(self, service: str, port: int | None = None, protocol: str = "tcp") -> tuple[str, int]:
        """(host, port) of a ready service's published port, for non-HTTP clients (`udp` too)."""
        return self.endpoints.endpoint(service, port, protocol)

    def health(self) -> dict[str, str]:
        """The engine's own health verdict now, for each service with a native healthcheck."""
        checked = [name for name, spec in self.project.services.items() if spec.has_healthcheck]
        found = self.compose.statuses(checked)
        statuses = {name: found.get(name) for name in checked}
        return {
            name: (status.health or "none") if status else "no container" for name, status in statuses.items()
        }

    def logs(
        self,
        service: str,
        tail: int | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> str:
        """A service's log: all of it, its last `tail` lines, or what it wrote in [since, until)."""
        self.project.service(service)
        return self.compose.logs(service, tail=tail, since=since, until=until)
