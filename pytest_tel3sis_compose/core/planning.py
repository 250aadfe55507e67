"""Which probe decides each service's readiness, from the most explicit declaration down."""

from __future__ import annotations

from collections.abc import Mapping

from pytest_tel3sis_compose.core.model import ProjectSpec, ServiceSpec
from pytest_tel3sis_compose.core.probes import (
    CompletedProbe,
    HealthcheckProbe,
    HttpProbe,
    Probe,
    RunningProbe,
    probe_from_spec,
)
from pytest_tel3sis_compose.errors import ConfigError


def plan_probes(project: ProjectSpec, declared: Mapping[str, Probe]) -> dict[str, Probe]:
    """The probe each service must pass.

    Order: `declared` (pytest configuration or conftest.py), then the service's
    `x-tel3sis-probe` field, then, for a one-shot service others wait on with
    `service_completed_successfully`, its exit code 0; then its native
    healthcheck; else its container must run.
    """
    unknown = sorted(set(declared) - set(project.services))
    if unknown:
        raise ConfigError(
            f"probes are declared for {', '.join(unknown)}, which the compose files do not "
            f"define; known services: {', '.join(project.services)}",
            setting="probes",
        )
    probes = {
        name: declared[name] if name in declared else _default_probe(spec)
        for name, spec in project.services.items()
    }
    for name, probe in probes.items():
        spec = project.services[name]
        if isinstance(probe, HttpProbe) and probe.port not in spec.published_ports:
            raise ConfigError(
                f"the HTTP probe of service {name!r} uses port {probe.port}, which the service does "
                f"not publish (it publishes {describe_ports(spec)}); add it under `ports:`, "
                f'for example "127.0.0.1::{probe.port}"'
            )
    return probes


def _default_probe(spec: ServiceSpec) -> Probe:
    if spec.probe is not None:
        return probe_from_spec(spec.probe, where=f"the x-tel3sis-probe field of service {spec.name!r}")
    if spec.completed_dependency:
        return CompletedProbe()
    if spec.has_healthcheck:
        return HealthcheckProbe()
    return RunningProbe()


def waited_healthchecks(project: ProjectSpec, probes: Mapping[str, Probe]) -> list[str]:
    """Services whose native healthcheck someone waits on: the plugin, or Compose for `service_healthy`."""
    return [
        name
        for name, spec in project.services.items()
        if spec.has_healthcheck and (spec.healthy_dependency or isinstance(probes[name], HealthcheckProbe))
    ]


def describe_ports(spec: ServiceSpec) -> str:
    return ", ".join(map(str, spec.published_ports)) or "no port"
