"""Where tests reach a ready stack's services: published ports as (host, port) and URLs."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping

from pytest_tel3sis_compose.core.boundary import ComposeProject, ContainerStatus
from pytest_tel3sis_compose.core.docker_host import is_loopback
from pytest_tel3sis_compose.core.model import ProjectSpec
from pytest_tel3sis_compose.core.planning import describe_ports
from pytest_tel3sis_compose.core.probes import Probe, http_probe_of
from pytest_tel3sis_compose.errors import ConfigError, EngineError


class Endpoints:
    """Resolves and remembers each (service, container port)'s address on the Docker host.

    `known` holds statuses already read (by the reuse verdict or the probes):
    their inspect data names the published ports, so no Compose process runs.
    """

    def __init__(
        self,
        project: ProjectSpec,
        probes: Mapping[str, Probe],
        compose: ComposeProject,
        docker_host: str,
        known: Callable[[str], ContainerStatus | None] = lambda service: None,
    ) -> None:
        self.project = project
        self.probes = probes
        self.compose = compose
        self.docker_host = docker_host
        self.known = known
        self._resolved: dict[tuple[str, int], tuple[str, int]] = {}

    def endpoint(self, service: str, port: int | None = None, protocol: str = "tcp") -> tuple[str, int]:
        """(host, port) of a service's published port; `port` may be left out where it is clear."""
        if protocol != "tcp":
            return self._other_protocol(service, port, protocol)
        return self.address(service, self.pick_port(service, port))

    def _other_protocol(self, service: str, port: int | None, protocol: str) -> tuple[str, int]:
        spec = self.project.service(service)
        offered = spec.published_udp if protocol == "udp" else ()
        if port is None or port not in offered:
            listed = ", ".join(f"{each}/{protocol}" for each in offered) or f"no {protocol} port"
            raise ConfigError(
                f"service {service!r} publishes {listed}; name one with endpoint({service!r}, port, "
                f"protocol={protocol!r}), or add it under `ports:`, for example "
                f'"127.0.0.1::{port or 53}/{protocol}"'
            )
        if spec.host_network:
            return self.docker_host, port
        published = self.compose.port(service, port, protocol)
        if published is None:
            raise EngineError(f"Compose reports no published port for {service}:{port}/{protocol}")
        return reachable_host(published[0], self.docker_host), published[1]

    def url(self, service: str, port: int | None = None) -> str:
        return url_of(*self.endpoint(service, port))

    def known_url(self, service: str) -> str | None:
        """A URL of the service already resolved (by a probe or a test), if any."""
        found = next((address for (name, _), address in self._resolved.items() if name == service), None)
        return url_of(*found) if found else None

    def pick_port(self, service: str, port: int | None) -> int:
        spec = self.project.service(service)
        if port is not None:
            if port not in spec.published_ports:
                raise ConfigError(
                    f"service {service!r} does not publish port {port}; it publishes "
                    f"{describe_ports(spec)}. Add it under `ports:` in the compose file, "
                    f'for example "127.0.0.1::{port}"'
                )
            return port
        probe = self.probes.get(service)
        http = http_probe_of(probe)
        if http is not None and http.port in spec.published_ports:
            return http.port
        if len(spec.published_ports) == 1:
            return spec.published_ports[0]
        raise ConfigError(
            f"service {service!r} publishes {describe_ports(spec)}; say which with url({service!r}, port=...)"
            if spec.published_ports
            else f"service {service!r} publishes no port; add one under `ports:`, "
            'for example "127.0.0.1::3000"'
        )

    def address(self, service: str, port: int, status: ContainerStatus | None = None) -> tuple[str, int]:
        """`status`, when the caller has just read it (a probe has), spares a Compose process."""
        key = (service, port)
        if key not in self._resolved and self.project.service(service).host_network:
            self._resolved[key] = (self.docker_host, port)  # the engine host's own port
        if key not in self._resolved:
            status = status or self.known(service)
            published = status.ports.get(port) if status else None
            if published is None:
                published = self.compose.port(service, port)
            if published is None:
                raise EngineError(f"Compose reports no published port for {service}:{port}")
            bound, public = published
            if is_loopback(bound) and not is_loopback(self.docker_host):
                raise ConfigError(
                    f"service {service!r} publishes port {port} on {bound} of the Docker host "
                    f"{self.docker_host}, which only that machine can reach. For a remote engine, "
                    f'publish on an address of the host, for example "{self.docker_host}::{port}"'
                )
            self._resolved[key] = (reachable_host(bound, self.docker_host), public)
        return self._resolved[key]


def reachable_host(bound: str, docker_host: str) -> str:
    """Where a port bound on `bound` of the Docker host is reached from here."""
    try:
        bound_ip = ipaddress.ip_address(bound)
        host_ip = ipaddress.ip_address(docker_host)
    except ValueError:
        return docker_host
    # A local engine binds where compose says; a remote one is reached at its own address.
    if host_ip.is_loopback and not bound_ip.is_unspecified:
        return bound
    return docker_host


def url_of(host: str, port: int) -> str:
    return f"http://{f'[{host}]' if ':' in host else host}:{port}"
