"""What the core needs to know of a compose project, read from `docker compose config`."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pytest_tel3sis_compose.errors import ConfigError, UnknownServiceError

#: Service-level extension field that declares a readiness probe next to the service.
PROBE_FIELD = "x-tel3sis-probe"


@dataclass(frozen=True)
class ServiceSpec:
    """One service of the resolved compose configuration."""

    name: str
    has_healthcheck: bool
    published_ports: tuple[int, ...]
    """Container ports published over TCP (what URLs and probes use)."""
    probe: Any = None
    builds: bool = False
    """The service has a `build:` section: its image is made from the project's source."""
    completed_dependency: bool = False
    """Another service waits for this one with `service_completed_successfully`."""
    healthy_dependency: bool = False
    """Another service waits for this one with `service_healthy`."""
    depends_on: tuple[str, ...] = ()
    """The services this one needs started first."""
    healthcheck_test: tuple[str, ...] = ()
    """The native healthcheck's test as the container runs it (`CMD ...` or `CMD-SHELL ...`)."""
    healthcheck_interval: float = 30.0
    """Seconds between the native healthcheck's runs."""
    published_udp: tuple[int, ...] = ()
    """Container ports published over UDP."""
    host_network: bool = False
    """`network_mode: host`: its ports are the host's own, published or not."""


@dataclass(frozen=True)
class ProjectSpec:
    services: Mapping[str, ServiceSpec]
    networks: tuple[str, ...] = ()
    """Networks Compose creates for the project (external ones left out)."""
    volumes: tuple[str, ...] = ()
    """Named volumes Compose creates for the project (external ones left out)."""

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ProjectSpec:
        """Build from the mapping `docker compose config` prints (YAML, extensions kept)."""
        raw_services = config.get("services")
        if not isinstance(raw_services, Mapping) or not raw_services:
            raise ConfigError("the compose files define no services; add a `services:` section")
        completed = {
            dependency
            for service in raw_services.values()
            for dependency, condition in _depends_on(service).items()
            if condition == "service_completed_successfully"
        }
        healthy = {
            dependency
            for service in raw_services.values()
            for dependency, condition in _depends_on(service).items()
            if condition == "service_healthy"
        }
        services = {
            name: ServiceSpec(
                name=name,
                has_healthcheck=_has_healthcheck(raw),
                published_ports=_published_ports(raw),
                published_udp=_published_ports(raw, "udp"),
                probe=_unescape_dollars(raw.get(PROBE_FIELD)),
                builds="build" in raw,
                completed_dependency=name in completed,
                healthy_dependency=name in healthy,
                depends_on=tuple(_depends_on(raw)),
                healthcheck_test=tuple(
                    _unescape_dollars(list((raw.get("healthcheck") or {}).get("test") or []))
                ),
                healthcheck_interval=duration((raw.get("healthcheck") or {}).get("interval"), default=30.0),
                host_network=raw.get("network_mode") == "host",
            )
            for name, raw in raw_services.items()
        }
        return cls(
            services=services,
            networks=_owned(config.get("networks"), config.get("name"))
            if config.get("networks")
            else ("default",),
            volumes=_owned(config.get("volumes"), config.get("name")),
        )

    def closure(self, names: Iterable[str]) -> tuple[str, ...]:
        """The services named and everything they depend on, in the configuration's order."""
        needed: set[str] = set()
        pending = [self.service(name).name for name in names]
        while pending:
            name = pending.pop()
            if name not in needed:
                needed.add(name)
                pending.extend(
                    dependency for dependency in self.services[name].depends_on if dependency in self.services
                )
        return tuple(name for name in self.services if name in needed)

    def service(self, name: str) -> ServiceSpec:
        try:
            return self.services[name]
        except KeyError:
            raise UnknownServiceError(name, sorted(self.services)) from None


def _unescape_dollars(value: Any) -> Any:
    """Turn `$$` into `$`, as Compose does in every field but extension fields.

    Compose interpolates `${VAR}` in extension fields but leaves the `$$`
    escape as it is; undoing it here lets a probe say `$$HOSTNAME` just as a
    healthcheck does, for a variable of the container rather than the host.
    """
    if isinstance(value, str):
        return value.replace("$$", "$")
    if isinstance(value, list):
        return [_unescape_dollars(item) for item in value]
    if isinstance(value, Mapping):
        return {key: _unescape_dollars(item) for key, item in value.items()}
    return value


def _owned(section: Any, project: Any) -> tuple[str, ...]:
    """The networks or volumes this project alone creates: not external, not named explicitly.

    An explicit `name:` makes an object two sessions share; labelling it per
    session would make Compose recreate it under the other session's feet.
    """
    if not isinstance(section, Mapping):
        return ()
    return tuple(
        key
        for key, spec in section.items()
        if not (spec or {}).get("external")
        and (spec or {}).get("name", f"{project}_{key}") == f"{project}_{key}"
    )


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns)")
_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}


def duration(value: Any, default: float) -> float:
    """Seconds in a Compose duration (`1m30s`, `200ms`, `2s`); `default` where there is none."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    parts = _DURATION.findall(str(value or ""))
    return sum(float(number) * _UNITS[unit] for number, unit in parts) if parts else default


def _has_healthcheck(raw: Mapping[str, Any]) -> bool:
    check = raw.get("healthcheck")
    if not isinstance(check, Mapping) or check.get("disable"):
        return False
    test = check.get("test")
    return bool(test) and test != ["NONE"]


def _published_ports(raw: Mapping[str, Any], protocol: str = "tcp") -> tuple[int, ...]:
    ports = []
    for port in raw.get("ports") or ():
        # `compose config` normalises every entry to the long syntax.
        if isinstance(port, Mapping) and port.get("protocol", "tcp") == protocol:
            ports.append(int(port["target"]))
    return tuple(ports)


def _depends_on(raw: Mapping[str, Any]) -> dict[str, str]:
    depends = raw.get("depends_on") or {}
    if isinstance(depends, list):
        return {name: "service_started" for name in depends}
    return {name: (spec or {}).get("condition", "service_started") for name, spec in depends.items()}
