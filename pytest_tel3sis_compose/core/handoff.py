"""The hand-off record: what another process needs to use a started stack, or to take it down.

Used between pytest-xdist workers (one starts the stack, the others attach)
and the controller (which takes it down). Everything in it was checked when
the stack started; reading it back checks nothing again.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_tel3sis_compose.core.boundary import Engine
from pytest_tel3sis_compose.core.container_coverage import ContainerCoverage, CoverageSettings
from pytest_tel3sis_compose.core.listener import StackListener, ignore
from pytest_tel3sis_compose.core.override import OVERRIDE_NAME
from pytest_tel3sis_compose.core.settings import StackSettings
from pytest_tel3sis_compose.core.signals import interrupts_ignored
from pytest_tel3sis_compose.core.stack import ComposeStack
from pytest_tel3sis_compose.core.teardown import remove, remove_workdir


@dataclass(frozen=True)
class StackRecord:
    project_name: str
    compose_files: tuple[str, ...]
    """The user's files and the plugin's override, in order."""
    config: Mapping[str, Any]
    """The resolved compose configuration: the services, their ports and probe fields."""
    host: str
    down_timeout: int = 0
    keep: bool = False
    """Leave the stack running at the end (it is kept for reuse)."""
    workdir: str | None = None
    log_dir: str | None = None
    coverage: CoverageSettings | None = None
    coverage_folder: str | None = None
    ready_after: Mapping[str, float] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), default=str)

    @classmethod
    def from_json(cls, text: str) -> StackRecord:
        data = json.loads(text)
        coverage = data.pop("coverage")
        if coverage is not None:
            coverage = CoverageSettings(
                data_file=Path(coverage["data_file"]),
                services=tuple(coverage["services"]),
                source=tuple(coverage["source"]),
                stop_timeout=coverage["stop_timeout"],
            )
        return cls(**{**data, "compose_files": tuple(data["compose_files"]), "coverage": coverage})


def record_of(stack: ComposeStack) -> StackRecord:
    """What another process needs to use this started stack, or to take it down."""
    settings, coverage = stack.settings, stack.coverage
    override = stack.workdir / OVERRIDE_NAME if stack.workdir else None
    return StackRecord(
        project_name=settings.project_name,
        compose_files=(*map(str, settings.compose_files), *([str(override)] if override else [])),
        config=stack.config,
        host=settings.host,
        down_timeout=settings.down_timeout,
        keep=settings.reuse,
        workdir=str(stack.workdir) if stack.workdir else None,
        log_dir=str(settings.log_dir) if settings.log_dir else None,
        coverage=settings.coverage,
        coverage_folder=str(coverage.folder) if coverage and coverage.folder else None,
        ready_after=dict(stack.ready_after),
    )


def hand_off(stack: ComposeStack) -> StackRecord:
    """The record, for whoever takes the stack down instead: `stop()` here then does nothing."""
    record = record_of(stack)
    stack.hand_off()
    return record


def attach(
    settings: StackSettings, record: StackRecord, engine: Engine, listener: StackListener = ignore
) -> ComposeStack:
    """Use a stack another process started and will take down.

    `settings` are this process's own (its probes, for URLs and reports);
    what the stack is made of comes from the record, unchecked again.
    """
    stack = ComposeStack(settings, engine, listener)
    compose = engine.project([Path(path) for path in record.compose_files], record.project_name)
    stack.adopt(compose, record.config, record.ready_after)
    return stack


def take_down(record: StackRecord, engine: Engine, listener: StackListener = ignore) -> float:
    """Remove the stack's containers, networks and volumes; return the seconds it took.

    Interrupts (a second Ctrl-C, SIGTERM) do not cut it short.
    """
    with interrupts_ignored():
        try:
            compose = engine.project([Path(path) for path in record.compose_files], record.project_name)
            coverage = None
            if record.coverage:
                coverage = ContainerCoverage(record.coverage)
                coverage.folder = Path(record.coverage_folder) if record.coverage_folder else None
            log_dir = Path(record.log_dir) if record.log_dir else None
            return remove(compose, record.config, record.down_timeout, log_dir, coverage, listener)
        finally:
            remove_workdir(record.workdir)
