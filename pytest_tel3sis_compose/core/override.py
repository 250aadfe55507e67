"""The compose override the plugin adds to the user's files: labels, isolation, quick
healthchecks while starting, and coverage when asked.

Written into the stack's own temporary folder and applied after the user's
compose files, so nothing of the user's project changes on disk.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from pytest_tel3sis_compose.core.boundary import EngineInfo
from pytest_tel3sis_compose.core.container_coverage import ContainerCoverage
from pytest_tel3sis_compose.core.docker_host import is_this_machine
from pytest_tel3sis_compose.core.isolation import Isolation, Replace, Reset, isolate
from pytest_tel3sis_compose.core.model import ProjectSpec
from pytest_tel3sis_compose.core.ownership import Owner, stack_labels
from pytest_tel3sis_compose.core.planning import waited_healthchecks
from pytest_tel3sis_compose.core.probes import Probe
from pytest_tel3sis_compose.core.reuse import KeptStack
from pytest_tel3sis_compose.core.settings import StackSettings

OVERRIDE_NAME = "compose.tel3sis.yml"

#: How often a healthcheck runs while its service starts, where readiness waits on it.
FAST_START_INTERVAL = "200ms"


def build_override(
    project: ProjectSpec,
    labels: Mapping[str, str],
    extras: Iterable[Mapping[str, Mapping[str, Any]]] = (),
    fast_healthchecks: Iterable[str] = (),
    start_period_seconds: float = 120,
) -> dict[str, Any]:
    """Label every service, network and volume the project creates; merge per-service extras.

    `extras` are per-service entries (isolation, coverage), each keyed by service.

    `fast_healthchecks` names services whose healthcheck someone waits on (the
    plugin, or Compose for `service_healthy`): while they start, their check
    runs every 200 ms instead of at its interval, so they turn healthy the
    moment they are (engine 25+, API 1.44; the caller leaves it out for older engines, which refuse it).
    """
    services: dict[str, Any] = {name: {"labels": dict(labels)} for name in project.services}
    for name in fast_healthchecks:
        services[name]["healthcheck"] = {
            "start_period": f"{start_period_seconds:g}s",
            "start_interval": FAST_START_INTERVAL,
        }
    for extra in extras:
        for name, entry in extra.items():
            services[name] = {**services[name], **entry}
    document: dict[str, Any] = {"services": services}
    if project.networks:
        document["networks"] = {name: {"labels": dict(labels)} for name in project.networks}
    if project.volumes:
        document["volumes"] = {name: {"labels": dict(labels)} for name in project.volumes}
    return document


def stack_override(
    config: Mapping[str, Any],
    project: ProjectSpec,
    probes: Mapping[str, Probe],
    settings: StackSettings,
    kept: KeptStack | None,
    coverage: ContainerCoverage | None,
    workdir: Path,
    info: EngineInfo,
) -> tuple[dict[str, Any], Isolation]:
    """The whole override of one stack start, and what its isolation changed."""
    owner = Owner.of(settings.owner_pid)
    labels = stack_labels(owner, settings.session_id, kept.fingerprint if kept else None)
    isolation = isolate(config, settings.project_name, settings.keep_ports, is_this_machine(settings.host))
    extras = [isolation.services]
    if coverage:
        extras.append(coverage.prepare(project, workdir / "coverage"))
    # Older engines refuse start_interval outright (API < 1.44): there the probes run checks themselves.
    fast = waited_healthchecks(project, probes) if info.supports_start_interval else []
    return build_override(project, labels, extras, fast, start_period_seconds=settings.timeout), isolation


def write_override(document: Mapping[str, Any], folder: Path) -> Path:
    path = folder / OVERRIDE_NAME
    path.write_text(yaml.dump(dict(document), Dumper=_Dumper, sort_keys=False))
    return path


class _Dumper(yaml.SafeDumper):
    """YAML with Compose's merge tags: `!override` replaces a list, `!reset` removes a value."""


_Dumper.add_representer(Replace, lambda dumper, data: dumper.represent_sequence("!override", list(data)))
_Dumper.add_representer(Reset, lambda dumper, data: dumper.represent_scalar("!reset", ""))
