"""Which probe decides each service's readiness, from the most explicit declaration down."""

from __future__ import annotations

from collections.abc import Mapping

from pytest_tel3sis_compose.core.model import ProjectSpec, ServiceSpec
from pytest_tel3sis_compose.core.probes import (
    AllOf,
    CeleryPingProbe,
    CompletedProbe,
    HealthcheckProbe,
    OwnHealthcheckProbe,
    PortProbe,
    Probe,
    RunningProbe,
    http_probe_of,
    probe_from_spec,
)
from pytest_tel3sis_compose.errors import ConfigError


def plan_probes(
    project: ProjectSpec,
    declared: Mapping[str, Probe],
    require_healthy: bool = False,
    engine_checks_quickly: bool = True,
) -> dict[str, Probe]:
    """The probe each service must pass.

    Order: `declared` (pytest configuration or conftest.py), then the service's
    `x-tel3sis-probe` field, then, for a one-shot service others wait on with
    `service_completed_successfully`, its exit code 0; then its native
    healthcheck (a Celery worker's `celery inspect ping` run by the plugin once the worker
    says it is ready); then its published ports must answer; else its container must run.
    With `require_healthy`, a service with a native healthcheck must also be
    healthy by the engine's own verdict, whatever else its probe checks.
    Where the engine cannot run healthchecks quickly while services start
    (`engine_checks_quickly` false), the plugin runs the healthcheck's test itself.
    """
    unknown = sorted(set(declared) - set(project.services))
    if unknown:
        raise ConfigError(
            f"probes are declared for {', '.join(unknown)}, which the compose files do not "
            f"define; known services: {', '.join(project.services)}",
            setting="probes",
        )
    probes = {
        name: declared[name] if name in declared else _default_probe(spec, engine_checks_quickly)
        for name, spec in project.services.items()
    }
    if require_healthy:
        probes = {
            name: AllOf(probe, HealthcheckProbe())
            if project.services[name].has_healthcheck and not probe.waits_on_healthcheck
            else probe
            for name, probe in probes.items()
        }
    for name, probe in probes.items():
        spec = project.services[name]
        http = http_probe_of(probe)
        if http is not None and http.port not in spec.published_ports:
            raise ConfigError(
                f"the HTTP probe of service {name!r} uses port {http.port}, which the service does "
                f"not publish (it publishes {describe_ports(spec)}); add it under `ports:`, "
                f'for example "127.0.0.1::{http.port}"'
            )
    return probes


def _default_probe(spec: ServiceSpec, engine_checks_quickly: bool) -> Probe:
    if spec.probe is not None:
        return probe_from_spec(spec.probe, where=f"the x-tel3sis-probe field of service {spec.name!r}")
    if spec.completed_dependency:
        return CompletedProbe()
    if spec.has_healthcheck:
        if CeleryPingProbe.recognises(spec.healthcheck_test):
            return CeleryPingProbe(spec.healthcheck_test)
        return HealthcheckProbe() if engine_checks_quickly else OwnHealthcheckProbe(spec.healthcheck_test)
    if spec.published_ports:
        return PortProbe(spec.published_ports, image_healthcheck=True)
    return RunningProbe(image_healthcheck=True)


def waited_healthchecks(project: ProjectSpec, probes: Mapping[str, Probe]) -> list[str]:
    """Services whose native healthcheck someone waits on: the plugin, or Compose for `service_healthy`."""
    return [
        name
        for name, spec in project.services.items()
        if spec.has_healthcheck and (spec.healthy_dependency or probes[name].waits_on_healthcheck)
    ]


def describe_ports(spec: ServiceSpec) -> str:
    return ", ".join(map(str, spec.published_ports)) or "no port"
