"""Taking a started stack down: logs saved, coverage collected, everything removed."""

from __future__ import annotations

import shutil
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pytest_tel3sis_compose.core.boundary import ComposeProject
from pytest_tel3sis_compose.core.container_coverage import ContainerCoverage
from pytest_tel3sis_compose.core.listener import StackListener, ignore


def built_images(config: Mapping[str, Any], project: str) -> list[str]:
    """The images Compose built and named after the project: services with `build:` and no `image:`."""
    services = dict(config.get("services") or {})
    return [
        f"{project}-{name}" for name, raw in services.items() if raw.get("build") and not raw.get("image")
    ]


def remove(
    compose: ComposeProject,
    config: Mapping[str, Any],
    down_timeout: int,
    log_dir: Path | None = None,
    coverage: ContainerCoverage | None = None,
    listener: StackListener = ignore,
) -> float:
    listener(None, "stopping")
    began = time.monotonic()
    services = list(config.get("services") or {})
    try:
        if log_dir:
            save_logs(compose, services, log_dir)
        if coverage:
            # Graceful, so every process exits through coverage's atexit save.
            compose.stop(coverage.settings.stop_timeout)
            coverage.collect()
            down_timeout = 0
    finally:
        try:
            compose.down(down_timeout)
        finally:
            # Compose names what it builds for a service without `image:` after the project;
            # a project name unique to each session would pile those images up.
            compose.remove_images(built_images(config, compose.name))
        seconds = time.monotonic() - began
        listener(None, "stopped", f"{seconds:.1f} s")
    return seconds


def save_logs(compose: ComposeProject, services: list[str], folder: Path) -> list[Path]:
    """Write each service's whole log to `folder/<service>.log`."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for service in services:
        path = folder / f"{service}.log"
        path.write_text(compose.logs(service))
        written.append(path)
    return written


def remove_workdir(workdir: str | Path | None) -> None:
    if workdir:
        shutil.rmtree(workdir, ignore_errors=True)
