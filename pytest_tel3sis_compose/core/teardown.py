"""Taking a started stack down, from its hand-off record: logs saved, coverage collected, all removed."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from pytest_tel3sis_compose.core.boundary import ComposeProject, Engine
from pytest_tel3sis_compose.core.container_coverage import ContainerCoverage
from pytest_tel3sis_compose.core.handoff import StackRecord
from pytest_tel3sis_compose.core.listener import StackListener, ignore
from pytest_tel3sis_compose.core.signals import interrupts_ignored


def take_down(record: StackRecord, engine: Engine, listener: StackListener = ignore) -> float:
    """Remove the stack's containers, networks and volumes; return the seconds it took.

    Interrupts (a second Ctrl-C, SIGTERM) do not cut it short.
    """
    with interrupts_ignored():
        try:
            compose = engine.project([Path(path) for path in record.compose_files], record.project_name)
            return remove(record, compose, listener)
        finally:
            remove_workdir(record)


def remove(record: StackRecord, compose: ComposeProject, listener: StackListener = ignore) -> float:
    listener(None, "stopping")
    began = time.monotonic()
    down_timeout = record.down_timeout
    try:
        if record.log_dir:
            save_logs(compose, list(record.config.get("services") or {}), Path(record.log_dir))
        if record.coverage:
            # Graceful, so every process exits through coverage's atexit save.
            compose.stop(record.coverage.stop_timeout)
            coverage = ContainerCoverage(record.coverage)
            coverage.folder = Path(record.coverage_folder) if record.coverage_folder else None
            coverage.collect()
            down_timeout = 0
    finally:
        compose.down(down_timeout)
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


def remove_workdir(record: StackRecord) -> None:
    if record.workdir:
        shutil.rmtree(record.workdir, ignore_errors=True)
