"""Taking a started stack down: logs saved, coverage collected, everything removed."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from pytest_tel3sis_compose.core.boundary import ComposeProject
from pytest_tel3sis_compose.core.container_coverage import ContainerCoverage
from pytest_tel3sis_compose.core.listener import StackListener, ignore


def remove(
    compose: ComposeProject,
    services: list[str],
    down_timeout: int,
    log_dir: Path | None = None,
    coverage: ContainerCoverage | None = None,
    listener: StackListener = ignore,
) -> float:
    listener(None, "stopping")
    began = time.monotonic()
    try:
        if log_dir:
            save_logs(compose, services, log_dir)
        if coverage:
            # Graceful, so every process exits through coverage's atexit save.
            compose.stop(coverage.settings.stop_timeout)
            coverage.collect()
            down_timeout = 0
    finally:
        compose.down(down_timeout, images=True)
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
