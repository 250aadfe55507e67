"""Everything a stack start does before `up`: the janitor, the override, the reuse verdict, the build."""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_tel3sis_compose.core.boundary import ComposeProject, ContainerStatus, Engine, EngineInfo
from pytest_tel3sis_compose.core.container_coverage import ContainerCoverage
from pytest_tel3sis_compose.core.healthrunner import HealthRunner
from pytest_tel3sis_compose.core.isolation import Isolation
from pytest_tel3sis_compose.core.listener import StackListener
from pytest_tel3sis_compose.core.model import ProjectSpec
from pytest_tel3sis_compose.core.override import stack_override, write_override
from pytest_tel3sis_compose.core.ownership import Janitor
from pytest_tel3sis_compose.core.probes import Probe
from pytest_tel3sis_compose.core.reuse import ReuseVerdict, look_at_kept, verdict
from pytest_tel3sis_compose.core.settings import StackSettings
from pytest_tel3sis_compose.core.teardown import built_images


@dataclass
class Preparation:
    isolation: Isolation = field(default_factory=Isolation)
    """What the override changed so that sessions never collide, and what they still share."""
    reuse: ReuseVerdict | None = None
    known: dict[str, ContainerStatus] = field(default_factory=dict)
    """Statuses the reuse verdict read, for the probes' first check and for ports."""
    sweep: Future[list[str]] | None = None
    """The janitor, still running while a reused stack's probes run; None once joined."""
    swept: list[str] = field(default_factory=list)
    """Projects of dead owners removed before this stack started."""
    runner: HealthRunner | None = None
    """Runs the healthchecks where the engine does not; running until the stack goes down."""

    def join_janitor(self) -> None:
        if self.sweep is not None:
            self.swept, self.sweep = self.sweep.result(), None

    @property
    def reusing(self) -> bool:
        return self.reuse is not None and self.reuse.outcome == "reused"


@dataclass
class Startup:
    """What a start needs to know; `prepare()` does the work before `up`."""

    engine: Engine
    compose: ComposeProject
    config: Mapping[str, Any]
    project: ProjectSpec
    probes: Mapping[str, Probe]
    settings: StackSettings

    def prepare(
        self,
        workdir: Path,
        services: tuple[str, ...],
        coverage: ContainerCoverage | None,
        listener: StackListener,
        info: EngineInfo,
    ) -> Preparation:
        """Sweep, write the override, judge a kept stack, build: all that comes before `up`.

        The janitor runs beside the rest and is joined before `up`, which it may
        affect (a killed run's leftovers of this very project); when a kept stack
        is reused there is no `up`, and it is joined last.
        """
        sweep = _in_background(Janitor(self.engine).sweep)
        settings = self.settings
        kept = look_at_kept(self.compose, self.config) if settings.reuse else None
        document, isolation = stack_override(
            self.config, self.project, self.probes, settings, kept, coverage, workdir, info
        )
        self.compose.add_compose_file(write_override(document, workdir))
        for state, lines in (("isolated", isolation.rewritten), ("shared", isolation.shared)):
            for line in lines:
                listener(None, state, line)
        reuse = verdict(kept, {name: self.probes[name] for name in services}) if kept else None
        prepared = Preparation(isolation, reuse, sweep=sweep)
        if not info.runs_healthchecks:
            prepared.runner = HealthRunner(self.compose, self.project)
        if prepared.reusing:
            assert kept is not None
            prepared.known = dict(kept.statuses)
            return prepared
        if settings.build:
            listener(None, "building")
            try:
                self.compose.build()
            except BaseException:
                # What it built so far is named after this session's project: nobody else's.
                self.compose.remove_images(built_images(self.config, self.compose.name))
                raise
        prepared.join_janitor()
        if reuse is not None and reuse.outcome == "recreated":
            self.compose.down(0)
        return prepared


def _in_background(work: Any) -> Future[list[str]]:
    pool = ThreadPoolExecutor(1, thread_name_prefix="janitor")
    future: Future[list[str]] = pool.submit(work)
    pool.shutdown(wait=False)
    return future
