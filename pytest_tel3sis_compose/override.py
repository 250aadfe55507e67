"""The compose override the plugin adds to the user's files: labels, and coverage when asked.

Written into the stack's own temporary folder and applied after the user's
compose files, so nothing of the user's project changes on disk.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from pytest_tel3sis_compose.model import ProjectSpec


def build_override(
    project: ProjectSpec, labels: Mapping[str, str], services_extra: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Label every service, network and volume the project creates; merge per-service extras."""
    services: dict[str, Any] = {name: {"labels": dict(labels)} for name in project.services}
    for name, extra in (services_extra or {}).items():
        services[name] = {**services[name], **extra}
    document: dict[str, Any] = {"services": services}
    if project.networks:
        document["networks"] = {name: {"labels": dict(labels)} for name in project.networks}
    if project.volumes:
        document["volumes"] = {name: {"labels": dict(labels)} for name in project.volumes}
    return document


def write_override(document: Mapping[str, Any], folder: Path) -> Path:
    path = folder / "compose.tel3sis.yml"
    path.write_text(yaml.safe_dump(dict(document), sort_keys=False))
    return path
