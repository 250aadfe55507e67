"""The life of one compose stack: plan, build, start, wait until ready, describe, take down."""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from pytest_tel3sis_compose.core import teardown
from pytest_tel3sis_compose.core.boundary import ComposeProject, Engine
from pytest_tel3sis_compose.core.compose_up import BoundedUp
from pytest_tel3sis_compose.core.container_coverage import ContainerCoverage
from pytest_tel3sis_compose.core.crashwatch import CrashWatch
from pytest_tel3sis_compose.core.diagnosis import diagnose
from pytest_tel3sis_compose.core.endpoints import Endpoints
from pytest_tel3sis_compose.core.listener import StackListener, Timeline, ignore
from pytest_tel3sis_compose.core.model import ProjectSpec
from pytest_tel3sis_compose.core.ownership import Owner, make_workdir
from pytest_tel3sis_compose.core.planning import plan_probes
from pytest_tel3sis_compose.core.probes import Probe
from pytest_tel3sis_compose.core.readiness import wait_until_ready
from pytest_tel3sis_compose.core.settings import StackSettings
from pytest_tel3sis_compose.core.signals import interrupts_ignored
from pytest_tel3sis_compose.core.startup import Preparation, Startup
from pytest_tel3sis_compose.core.view import StackView
from pytest_tel3sis_compose.errors import ComposeError, StackStartError


class Phase(enum.Enum):
    NEW = "new"
    """Nothing created yet."""
    STARTING = "starting"
    """`up` ran or runs: containers, networks and volumes may exist."""
    READY = "ready"
    KEPT = "kept"
    """Ready, and left running for the next run to reuse."""
    KEPT_FOR_INSPECTION = "kept for inspection"
    """It failed, and is left running to be looked at (until pruned)."""
    HANDED_OFF = "handed off"
    """Started here; another process takes it down."""
    ATTACHED = "attached"
    """Started by another process, which takes it down."""
    DOWN = "down"


class ComposeStack:
    """A compose project brought up for tests, and always taken down.

    >>> with ComposeStack(StackSettings(["docker-compose.yml"]), DockerEngine()) as stack:  # doctest: +SKIP
    ...     httpx.get(stack.url("web") + "/v1/health")

    Leaving the `with` block, normally or by any exception (including a
    failed start and KeyboardInterrupt), runs `down` with volumes and orphans.
    """

    def __init__(self, settings: StackSettings, engine: Engine, listener: StackListener = ignore) -> None:
        self.settings = settings
        self.engine = engine
        self.timeline = Timeline(listener)
        """Every report, timed, on its way to `listener`."""
        self.listener: StackListener = self.timeline
        self.compose = engine.project(settings.compose_files, settings.project_name)
        self.phase = Phase.NEW
        self.probes: dict[str, Probe] = {}
        self.ready_after: dict[str, float] = {}
        """Seconds from `up` until each service was ready."""
        self.teardown_seconds: float | None = None
        self.prepared = Preparation()
        """What the start found and did before `up`: isolation, reuse verdict, janitor, health runner."""
        self.coverage = ContainerCoverage(settings.coverage) if settings.coverage else None
        self._config: Mapping[str, Any] | None = None
        self._project: ProjectSpec | None = None
        self._workdir: Path | None = None
        self._endpoints: Endpoints | None = None
        self._up = BoundedUp()
        self.watch = CrashWatch(self.compose, self.probes, settings.log_lines, self.listener)
        """Services that die, restart or turn unhealthy after they were ready."""

    @property
    def project_name(self) -> str:
        return self.compose.name

    @property
    def services(self) -> tuple[str, ...]:
        return tuple(self.project.services)

    @property
    def project(self) -> ProjectSpec:
        if self._project is None:
            self._project = ProjectSpec.from_config(self.config)
        return self._project

    @property
    def config(self) -> Mapping[str, Any]:
        if self._config is None:
            self._config = self.compose.config()
        return self._config

    # -- bringing it up --------------------------------------------------------

    def start(self, services: Iterable[str] | None = None) -> None:
        """Build, start and wait until every service is ready, or raise.

        `services` (with what they depend on) are all that starts; None: all of
        them. On failure the stack is left as it is, for `stop()` (or the
        context manager) to remove; the error carries what is needed to diagnose it.
        """
        if self.phase is not Phase.NEW:
            raise ComposeError(f"the stack is {self.phase.value}: start() starts a new stack once")
        self.engine.check()
        settings, info = self.settings, self.engine.info()
        quick = info.supports_start_interval  # the engine runs healthchecks at once while starting
        self.probes.update(plan_probes(self.project, settings.probes, settings.require_healthy, quick))
        wanted = self.project.closure(self.project.services if services is None else services)
        self._workdir = make_workdir(Owner.of(settings.owner_pid))
        startup = Startup(self.engine, self.compose, self.config, self.project, self.probes, settings)
        prepared = self.prepared = startup.prepare(self._workdir, wanted, self.coverage, self.listener, info)
        self.phase = Phase.STARTING
        self.watch.start()
        if prepared.runner:
            prepared.runner.start()
        if prepared.reusing:  # what the kept stack has is probed; what it lacks is started
            self._bring_up(tuple(name for name in wanted if name in prepared.known), reusing=True)
            self.extend(wanted)
        else:
            self._bring_up(wanted, reusing=False)
        prepared.join_janitor()  # for a reused stack, joined last: nothing of this project to wait for
        if prepared.swept:
            self.listener(None, "swept", ", ".join(prepared.swept))
        self.phase = Phase.READY

    def extend(self, services: Iterable[str]) -> None:
        """Start what of `services` (and what they depend on) is not running yet, and wait for it."""
        missing = tuple(name for name in self.project.closure(services) if name not in self.ready_after)
        if missing:
            self._bring_up(missing, reusing=False)

    def _bring_up(self, services: tuple[str, ...], reusing: bool) -> None:
        started = time.monotonic()
        deadline = started + self.settings.timeout
        if reusing:
            self.listener(None, "reusing", self.project_name)
        else:
            everything = len(services) == len(self.project.services)
            self.listener(None, "starting", "" if everything else ", ".join(services))
            self._up.run(self.compose, () if everything else services, deadline, self._diagnoser(services))
        ready_after = wait_until_ready(
            self.compose,
            {name: self.probes[name] for name in services},
            started=started,
            deadline=deadline,
            address_for=self.endpoints.address,
            poll_interval=self.settings.poll_interval,
            log_lines=self.settings.log_lines,
            listener=self.listener,
            known=self.prepared.known,
        )
        self.ready_after.update(ready_after)
        self.watch.arm({service: started + seconds for service, seconds in ready_after.items()})
        self.watch.read_health(list(services))  # images may declare healthchecks the files do not show
        self.listener(None, "ready", f"{time.monotonic() - started:.1f} s")

    def _diagnoser(self, services: tuple[str, ...]) -> Callable[[str], StackStartError]:
        """Blames one of the services being brought up, never one nobody asked for."""
        probes = {name: self.probes[name] for name in services}
        return lambda reason: diagnose(self.compose, probes, reason, self.settings.log_lines)

    # -- taking it down --------------------------------------------------------

    def stop(self) -> None:
        """Remove the stack's containers, networks and volumes. Safe to call twice.

        A stack kept for reuse stays; one another process owns is left to it.
        Interrupts (a second Ctrl-C, SIGTERM) do not cut it short.
        """
        with interrupts_ignored():
            try:
                self.watch.close()  # what teardown does to the containers is no crash
                if self.prepared.runner:
                    self.prepared.runner.close()
                if self.phase is Phase.READY and self.settings.reuse:
                    self.phase = Phase.KEPT
                elif self.phase in (Phase.STARTING, Phase.READY):
                    self._take_down()
            finally:
                if self._workdir is not None and self.phase is not Phase.HANDED_OFF:
                    teardown.remove_workdir(self._workdir)
                self._workdir = None

    def _take_down(self) -> None:
        # Decided before the down: an `up` still running (we were interrupted)
        # may create containers after it, so wait for that `up` and sweep again.
        up_was_running = self._up.running
        try:
            config = self._config or {}
            log_dir, timeout = self.settings.log_dir, self.settings.down_timeout
            self.teardown_seconds = teardown.remove(
                self.compose, config, timeout, log_dir, self.coverage, self.listener
            )
        finally:
            if up_was_running:
                self._up.wait(60)
                self.compose.down(0)
            self.phase = Phase.DOWN

    def keep(self) -> None:
        """Leave the stack running when it is stopped (for inspection); the caller marks it kept."""
        if self.phase in (Phase.STARTING, Phase.READY):
            self.phase = Phase.KEPT_FOR_INSPECTION

    # -- handing it to other processes (pytest-xdist): see handoff.py ------------

    @property
    def workdir(self) -> Path | None:
        """The stack's own folder: the plugin's override, coverage data."""
        return self._workdir

    def hand_off(self) -> None:
        """Another process takes the stack down: `stop()` here then leaves it, and its folder."""
        self.phase = Phase.HANDED_OFF

    def adopt(
        self, compose: ComposeProject, config: Mapping[str, Any], ready_after: Mapping[str, float]
    ) -> None:
        """Describe a stack another process started and takes down."""
        self.compose, self._config, self.ready_after = compose, config, dict(ready_after)
        self.probes.update(plan_probes(self.project, self.settings.probes, self.settings.require_healthy))
        self.phase = Phase.ATTACHED
        self.watch = CrashWatch(compose, self.probes, self.settings.log_lines, self.listener)
        self.watch.start()
        self.watch.arm(dict.fromkeys(self.probes, time.monotonic()))

    def __enter__(self) -> ComposeStack:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- describing it -----------------------------------------------------------

    @property
    def ready(self) -> bool:
        return self.phase in (Phase.READY, Phase.ATTACHED, Phase.HANDED_OFF)

    @property
    def endpoints(self) -> Endpoints:
        if self._endpoints is None:
            self._endpoints = Endpoints(
                self.project, self.probes, self.compose, self.settings.host, self.prepared.known.get
            )
        return self._endpoints

    def url(self, service: str, port: int | None = None) -> str:
        return self._ready_view().url(service, port)

    def endpoint(self, service: str, port: int | None = None, protocol: str = "tcp") -> tuple[str, int]:
        return self._ready_view().endpoint(service, port, protocol)

    def health(self) -> dict[str, str]:
        return self.view.health()

    def logs(
        self,
        service: str,
        tail: int | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> str:
        return self.view.logs(service, tail=tail, since=since, until=until)

    @property
    def view(self) -> StackView:
        """What tests ask of the services: `url` and `endpoint` (once ready), `logs`, `health`."""
        return StackView(self.compose, self.project, self.endpoints)

    def _ready_view(self) -> StackView:
        if not self.ready:
            raise ComposeError(
                f"the stack is not ready (it is {self.phase.value}): use it inside `with ComposeStack(...)`"
            )
        return self.view
