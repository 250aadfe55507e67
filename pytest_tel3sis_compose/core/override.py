"""The compose override the plugin adds to the user's files: labels, and coverage when asked.

Written into the stack's own temporary folder and applied after the user's
compose files, so nothing of the user's project changes on disk.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from pytest_tel3sis_compose.core.model import ProjectSpec

OVERRIDE_NAME = "compose.tel3sis.yml"

#: How often a healthcheck runs while its service starts, where readiness waits on it.
FAST_START_INTERVAL = "200ms"


def build_override(
    project: ProjectSpec,
    labels: Mapping[str, str],
    services_extra: Mapping[str, Any] | None = None,
    fast_healthchecks: Iterable[str] = (),
    start_period_seconds: float = 120,
) -> dict[str, Any]:
    """Label every service, network and volume the project creates; merge per-service extras.

    `fast_healthchecks` names services whose healthcheck someone waits on (the
    plugin, or Compose for `service_healthy`): while they start, their check
    runs every 200 ms instead of at its interval, so they turn healthy the
    moment they are (engine 25+; older engines ignore start_interval).
    """
    services: dict[str, Any] = {name: {"labels": dict(labels)} for name in project.services}
    for name in fast_healthchecks:
        services[name]["healthcheck"] = {
            "start_period": f"{start_period_seconds:g}s",
            "start_interval": FAST_START_INTERVAL,
        }
    for name, extra in (services_extra or {}).items():
        services[name] = {**services[name], **extra}
    document: dict[str, Any] = {"services": services}
    if project.networks:
        document["networks"] = {name: {"labels": dict(labels)} for name in project.networks}
    if project.volumes:
        document["volumes"] = {name: {"labels": dict(labels)} for name in project.volumes}
    return document


def write_override(document: Mapping[str, Any], folder: Path) -> Path:
    path = folder / OVERRIDE_NAME
    path.write_text(yaml.safe_dump(dict(document), sort_keys=False))
    return path
