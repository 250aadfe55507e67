"""The lifecycle of one compose stack: validate, build, start, wait, describe, take down."""

from __future__ import annotations

import dataclasses
import ipaddress
import re
import shutil
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from pytest_tel3sis_compose.container_coverage import ContainerCoverage, CoverageSettings
from pytest_tel3sis_compose.docker_host import is_loopback
from pytest_tel3sis_compose.engine_types import ContainerStatus, Engine
from pytest_tel3sis_compose.errors import ComposeError, ConfigError, EngineError, StackStartError
from pytest_tel3sis_compose.events import StackListener, ignore
from pytest_tel3sis_compose.fingerprint import stack_fingerprint
from pytest_tel3sis_compose.model import ProjectSpec, ServiceSpec
from pytest_tel3sis_compose.override import build_override, write_override
from pytest_tel3sis_compose.ownership import (
    LABEL_FINGERPRINT,
    LABEL_KEEP,
    LABEL_OWNER,
    LABEL_SESSION,
    Owner,
    make_workdir,
)
from pytest_tel3sis_compose.probes import (
    CompletedProbe,
    HealthcheckProbe,
    HttpProbe,
    Probe,
    RunningProbe,
    probe_from_spec,
)
from pytest_tel3sis_compose.readiness import wait_until_ready
from pytest_tel3sis_compose.settings import StackSettings
from pytest_tel3sis_compose.signals import interrupts_ignored


class ComposeStack:
    """A compose project brought up for tests, and always taken down.

    >>> with ComposeStack(StackSettings(["docker-compose.yml"])) as stack:  # doctest: +SKIP
    ...     httpx.get(stack.url("web") + "/v1/health")

    Leaving the `with` block, normally or by any exception (including a
    failed start and KeyboardInterrupt), runs `down` with volumes and orphans.
    """

    def __init__(
        self, settings: StackSettings, engine: Engine | None = None, listener: StackListener = ignore
    ) -> None:
        self.settings = settings
        self.listener = listener
        if engine is None:
            from pytest_tel3sis_compose.engine import WhalesEngine  # heavy import, only when used

            engine = WhalesEngine(settings.compose_files, settings.project_name, settings.project_directory)
        self.engine = engine
        self._project: ProjectSpec | None = None
        self.probes: dict[str, Probe] = {}
        self.ready_after: dict[str, float] = {}
        """Seconds from `up` until each service was ready."""
        self.teardown_seconds: float | None = None
        self._urls: dict[tuple[str, int], str] = {}
        self._ready = False
        self._started_up = False
        self.coverage = ContainerCoverage(settings.coverage) if settings.coverage else None
        self.owner = Owner.of(settings.owner_pid)
        self.swept: list[str] = []
        """Projects of dead owners removed before this stack started."""
        self._workdir: Path | None = None
        self._override: Path | None = None
        self._config: Mapping[str, Any] = {}
        self._known: dict[str, ContainerStatus] = {}
        """Statuses the reuse verdict read, for the probes' first check and for ports."""
        self.reuse_outcome: str | None = None
        """With reuse: "reused", "created", or "recreated: <why>"."""
        self.kept = False
        self._up_finished: threading.Event | None = None
        self.coverage_files: list[Path] = []
        """Data files collected from the containers at teardown."""

    @property
    def project_name(self) -> str:
        return self.settings.project_name

    @property
    def services(self) -> tuple[str, ...]:
        return tuple(self.project.services)

    @property
    def project(self) -> ProjectSpec:
        if self._project is None:
            self._config = self.engine.config()
            self._project = ProjectSpec.from_config(self._config)
        return self._project

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> None:
        """Build, start and wait until every service is ready, or raise.

        On failure the stack is left as it is, for `stop()` (or the context
        manager) to remove; the error carries what is needed to diagnose it.
        """
        self.engine.check()
        self.probes = self.plan_probes()  # validates the compose files before anything starts
        # Stacks of dead owners, this project's own leftovers included (a killed
        # run with the same fixed name): removed while the override is written
        # and the images build, and done before `up`.
        sweeping = ThreadPoolExecutor(1, thread_name_prefix="janitor")
        sweep = sweeping.submit(self.engine.sweep_orphans)
        sweeping.shutdown(wait=False)
        self._workdir = make_workdir(self.owner)
        fingerprint = self._fingerprint() if self.settings.reuse else None
        self._override = write_override(self._override_document(fingerprint), self._workdir)
        self.engine.add_compose_file(self._override)
        if fingerprint is not None:
            self.reuse_outcome = self._reuse_verdict(fingerprint)
        reusing = self.reuse_outcome == "reused"
        if not reusing:
            self._known = {}  # those containers are about to be replaced
        if not reusing and self.settings.build:
            self.listener(None, "building")
            self.engine.build()
        if not reusing:
            self.swept = sweep.result()  # before `up`: it may remove this project's own leftovers
        if self.reuse_outcome not in (None, "created", "reused"):
            self.engine.down(0)
        started = time.monotonic()
        deadline = started + self.settings.timeout
        self._started_up = True
        if reusing:
            self.listener(None, "reusing", self.project_name)
        else:
            self.listener(None, "starting")
            self._up_until(deadline)

        def relay(service: str | None, state: str, detail: str = "") -> None:
            if state == "ready":
                detail = f"{time.monotonic() - started:.1f} s"
            self.listener(service, state, detail)

        ready_at = wait_until_ready(
            self.engine,
            self.probes,
            deadline=deadline,
            base_url_for=self._base_url,
            poll_interval=self.settings.poll_interval,
            log_lines=self.settings.log_lines,
            listener=relay,
            known=self._known if reusing else None,
        )
        self.ready_after = {service: at - started for service, at in ready_at.items()}
        if reusing:
            self.swept = sweep.result()  # nothing of this project to wait for: joined last
        self._ready = True
        self.listener(None, "ready", f"{time.monotonic() - started:.1f} s")

    def _override_document(self, fingerprint: str | None) -> dict[str, Any]:
        if fingerprint is not None:
            # No owner or session here: the labels must not change between runs,
            # or Compose would recreate the containers it should keep.
            labels = {LABEL_KEEP: "true", LABEL_FINGERPRINT: fingerprint}
        else:
            labels = {LABEL_OWNER: self.owner.label(), LABEL_SESSION: self.settings.session_id}
        extra = (
            self.coverage.prepare(self.project, self._workdir_path / "coverage") if self.coverage else None
        )
        # Healthchecks someone waits on (the plugin, or depends_on) run quickly while starting.
        fast = [
            name
            for name, spec in self.project.services.items()
            if spec.has_healthcheck
            and (spec.healthy_dependency or isinstance(self.probes[name], HealthcheckProbe))
        ]
        return build_override(self.project, labels, extra, fast, start_period_seconds=self.settings.timeout)

    @property
    def _workdir_path(self) -> Path:
        assert self._workdir is not None, "the stack's folder is made at start"
        return self._workdir

    def _fingerprint(self) -> str:
        """The stack's fingerprint; the containers' statuses are read meanwhile, for the verdict."""
        names = list(self.project.services)
        with ThreadPoolExecutor(len(names) + 1, thread_name_prefix="verdict") as pool:
            statuses = pool.map(self.engine.status, names)
            fingerprint = stack_fingerprint(self._config, self.engine.image_id)
            self._known = {name: status for name, status in zip(names, statuses, strict=True) if status}
        return fingerprint

    def _reuse_verdict(self, fingerprint: str) -> str:
        statuses = {name: self._known.get(name) for name in self.project.services}
        if all(status is None for status in statuses.values()):
            return "created"
        for name, status in statuses.items():
            if status is None or (status.state != "running" and not self.probes[name].accepts_completion):
                return f"recreated: service {name!r} was not running"
            if status.labels.get(LABEL_FINGERPRINT) != fingerprint:
                return "recreated: the compose configuration, an image or a build context changed"
        return "reused"

    def stop(self) -> None:
        """Remove the stack's containers, networks and volumes. Safe to call twice.

        Interrupts (a second Ctrl-C, SIGTERM) do not cut it short.
        """
        with interrupts_ignored():
            try:
                if self._started_up and self.settings.reuse and self._ready:
                    self.kept = True  # left running for the next run to reuse
                    self._started_up = False
                elif self._started_up:
                    self._take_down()
            finally:
                if self._workdir is not None:
                    shutil.rmtree(self._workdir, ignore_errors=True)
                    self._workdir = None

    def _take_down(self) -> None:
        self.listener(None, "stopping")
        began = time.monotonic()
        down_timeout = self.settings.down_timeout
        try:
            if self.settings.log_dir:
                self.save_logs(self.settings.log_dir)
            if self.coverage:
                # Graceful, so every process exits through coverage's atexit save.
                self.engine.stop(self.coverage.settings.stop_timeout)
                self.coverage_files = self.coverage.collect()
                down_timeout = 0
        finally:
            # Decided before the down: an `up` still running (we were interrupted)
            # may create containers after it, so wait for that `up` and sweep again.
            up_was_running = self._up_finished is not None and not self._up_finished.is_set()
            self.engine.down(down_timeout)
            if up_was_running and self._up_finished is not None:
                self._up_finished.wait(60)
                self.engine.down(0)
            self.teardown_seconds = time.monotonic() - began
            self._started_up = False
            self._ready = False
            self.listener(None, "stopped", f"{self.teardown_seconds:.1f} s")

    # -- sharing one stack between processes (pytest-xdist workers) ---------

    def snapshot(self) -> dict[str, Any]:
        """What another process needs to use this started stack, or to take it down."""
        settings = self.settings
        coverage = self.coverage
        return {
            "project": settings.project_name,
            "compose_files": [str(path) for path in settings.compose_files],
            "project_directory": str(settings.project_directory) if settings.project_directory else None,
            "override": str(self._override) if self._override else None,
            "workdir": str(self._workdir) if self._workdir else None,
            "host": settings.host,
            "down_timeout": settings.down_timeout,
            "reuse": settings.reuse,
            "log_dir": str(settings.log_dir) if settings.log_dir else None,
            "ready_after": self.ready_after,
            "coverage": None
            if coverage is None
            else {
                "data_file": str(coverage.settings.data_file),
                "stop_timeout": coverage.settings.stop_timeout,
                "folder": str(coverage.folder) if coverage.folder else None,
            },
        }

    def detach(self) -> None:
        """Hand teardown to whoever holds the snapshot: `stop()` here then does nothing."""
        self._started_up = False
        self._workdir = None

    @classmethod
    def attach(cls, settings: StackSettings, snapshot: Mapping[str, Any]) -> ComposeStack:
        """Use a stack another process started and will take down."""
        stack = cls(dataclasses.replace(settings, project_name=snapshot["project"], coverage=None))
        if snapshot["override"]:
            stack.engine.add_compose_file(Path(snapshot["override"]))
        stack.probes = stack.plan_probes()
        stack.ready_after = dict(snapshot["ready_after"])
        stack._ready = True
        return stack

    @classmethod
    def restore(cls, snapshot: Mapping[str, Any]) -> ComposeStack:
        """Rebuild a started stack from its snapshot, so that `stop()` takes it down."""
        coverage = snapshot["coverage"]
        settings = StackSettings(
            compose_files=tuple(Path(path) for path in snapshot["compose_files"]),
            project_name=snapshot["project"],
            host=snapshot["host"],
            down_timeout=snapshot["down_timeout"],
            reuse=snapshot["reuse"],
            log_dir=Path(snapshot["log_dir"]) if snapshot["log_dir"] else None,
            project_directory=Path(snapshot["project_directory"]) if snapshot["project_directory"] else None,
            coverage=None
            if coverage is None
            else CoverageSettings(
                data_file=Path(coverage["data_file"]), stop_timeout=coverage["stop_timeout"]
            ),
        )
        stack = cls(settings)
        if snapshot["override"]:
            stack.engine.add_compose_file(Path(snapshot["override"]))
        if stack.coverage and coverage and coverage["folder"]:
            stack.coverage.folder = Path(coverage["folder"])
        stack._workdir = Path(snapshot["workdir"]) if snapshot["workdir"] else None
        stack._started_up = True
        stack._ready = True
        return stack

    def __enter__(self) -> ComposeStack:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _up_until(self, deadline: float) -> None:
        # `up --detach` blocks while it waits on depends_on conditions, which
        # have no timeout of their own, so it runs in a thread bounded by ours.
        outcome: list[BaseException] = []

        finished = self._up_finished = threading.Event()

        def up() -> None:
            try:
                self.engine.up()
            except BaseException as exc:  # re-raised in the calling thread
                outcome.append(exc)
            finally:
                # An Event, not Thread.is_alive(): before Python 3.13 an interrupted
                # join() makes is_alive() report a still-running thread as stopped.
                finished.set()

        threading.Thread(target=up, name="compose-up", daemon=True).start()
        if not finished.wait(max(0.0, deadline - time.monotonic())):
            raise self._diagnose("`docker compose up` did not finish before the timeout")
        if outcome:
            error = outcome[0]
            if isinstance(error, ComposeError) or not isinstance(error, Exception):
                raise error  # our own diagnosis, or an interrupt: as it is
            raise self._diagnose(f"`docker compose up` failed: {_reason(error)}")

    def _diagnose(self, reason: str) -> StackStartError:
        """Name the service that holds the stack up.

        The one Compose's own error names (a port already taken, say) first;
        then one that exited; then one not healthy (yet); else the first.
        """
        statuses = {name: self.engine.status(name) for name in self.project.services}
        named = [
            name
            for name in statuses
            if re.search(rf"\b{re.escape(self.project_name)}[-_]{re.escape(name)}[-_]\d+\b", reason)
        ]
        exited = [
            name
            for name, status in statuses.items()
            if status is not None
            and status.state in ("exited", "dead")
            and not (self.probes[name].accepts_completion and status.exit_code == 0)
        ]
        unready = [
            name
            for name, status in statuses.items()
            if status is not None and status.health in ("unhealthy", "starting")
        ]
        culprit = (named + exited + unready + list(statuses))[0]
        status = statuses[culprit]
        detail = ""
        if status is not None:
            detail = (
                f"container {status.state}"
                + (f", exit code {status.exit_code}" if status.state == "exited" else "")
                + (f", health {status.health}" if status.health else "")
            )
        return StackStartError(
            culprit,
            f"{reason}\n{detail}".strip(),
            probe=self.probes[culprit].describe(),
            probe_output=status.health_output if status else "",
            logs=self.engine.logs(culprit, tail=self.settings.log_lines),
            log_lines=self.settings.log_lines,
        )

    # -- readiness plan ----------------------------------------------------

    def plan_probes(self) -> dict[str, Probe]:
        """The probe each service must pass, most explicit declaration first.

        Order: `settings.probes` (pytest configuration or conftest.py), then
        the service's `x-tel3sis-probe` field, then its native healthcheck;
        a one-shot service others wait on must complete; anything else must run.
        """
        project = self.project
        unknown = sorted(set(self.settings.probes) - set(project.services))
        if unknown:
            raise ConfigError(
                f"probes are declared for {', '.join(unknown)}, which the compose files do not "
                f"define; known services: {', '.join(project.services)}"
            )
        probes = {name: self._probe_for(spec) for name, spec in project.services.items()}
        for name, probe in probes.items():
            published = project.services[name].published_ports
            if isinstance(probe, HttpProbe) and probe.port not in published:
                raise ConfigError(
                    f"the HTTP probe of service {name!r} uses port {probe.port}, which the service does "
                    f"not publish (it publishes {_ports(project.services[name])}); add it under `ports:`, "
                    f'for example "127.0.0.1::{probe.port}"'
                )
        return probes

    def _probe_for(self, spec: ServiceSpec) -> Probe:
        if spec.name in self.settings.probes:
            return self.settings.probes[spec.name]
        if spec.probe is not None:
            return probe_from_spec(spec.probe, where=f"the x-tel3sis-probe field of service {spec.name!r}")
        if spec.completed_dependency:
            return CompletedProbe()
        if spec.has_healthcheck:
            return HealthcheckProbe()
        return RunningProbe()

    # -- describing a running stack ------------------------------------------

    def url(self, service: str, port: int | None = None) -> str:
        """`http://host:port` of a ready service's published port.

        `port` is the container port; it may be left out when the service
        publishes exactly one port or has an HTTP probe.
        """
        if not self._ready:
            raise ComposeError("the stack is not ready: call url() inside `with ComposeStack(...)`")
        return self._base_url(service, self._pick_port(service, port))

    def endpoint(self, service: str, port: int | None = None) -> tuple[str, int]:
        """(host, port) of a ready service's published port, for non-HTTP clients."""
        url = self.url(service, port)
        host, _, public = url.removeprefix("http://").rpartition(":")
        return host.strip("[]"), int(public)

    def logs(
        self,
        service: str,
        tail: int | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> str:
        """A service's log: all of it, its last `tail` lines, or what it wrote in [since, until)."""
        self.project.service(service)
        return self.engine.logs(service, tail=tail, since=since, until=until)

    def save_logs(self, folder: Path) -> list[Path]:
        """Write each service's whole log to `folder/<service>.log`."""
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        for service in self.services:
            path = folder / f"{service}.log"
            path.write_text(self.engine.logs(service))
            written.append(path)
        return written

    def known_url(self, service: str) -> str | None:
        """A URL of the service already resolved this session (by a probe or a test), if any."""
        return next((url for (name, _), url in self._urls.items() if name == service), None)

    def _pick_port(self, service: str, port: int | None) -> int:
        spec = self.project.service(service)
        if port is not None:
            if port not in spec.published_ports:
                raise ConfigError(
                    f"service {service!r} does not publish port {port}; it publishes "
                    f"{_ports(spec)}. Add it under `ports:` in the compose file, "
                    f'for example "127.0.0.1::{port}"'
                )
            return port
        probe = self.probes.get(service)
        if isinstance(probe, HttpProbe) and probe.port in spec.published_ports:
            return probe.port
        if len(spec.published_ports) == 1:
            return spec.published_ports[0]
        raise ConfigError(
            f"service {service!r} publishes {_ports(spec)}; say which with url({service!r}, port=...)"
            if spec.published_ports
            else f"service {service!r} publishes no port; add one under `ports:`, "
            'for example "127.0.0.1::3000"'
        )

    def _base_url(self, service: str, port: int) -> str:
        key = (service, port)
        if key not in self._urls:
            # The container's own inspect data first: no Compose process to start.
            status = self._known.get(service) or self.engine.status(service)
            published = status.ports.get(port) if status else None
            if published is None:
                published = self.engine.port(service, port)
            if published is None:
                raise EngineError(f"Compose reports no published port for {service}:{port}")
            bound, public = published
            if is_loopback(bound) and not is_loopback(self.settings.host):
                raise ConfigError(
                    f"service {service!r} publishes port {port} on {bound} of the Docker host "
                    f"{self.settings.host}, which only that machine can reach. For a remote engine, "
                    f'publish on an address of the host, for example "{self.settings.host}::{port}"'
                )
            host = _reachable_host(bound, self.settings.host)
            self._urls[key] = f"http://{_bracket(host)}:{public}"
        return self._urls[key]


def _reachable_host(bound: str, docker_host: str) -> str:
    """Where a port bound on `bound` of the Docker host is reached from here."""
    try:
        bound_ip = ipaddress.ip_address(bound)
        host_ip = ipaddress.ip_address(docker_host)
    except ValueError:
        return docker_host
    # A local engine binds where compose says; a remote one is reached at its own address.
    if host_ip.is_loopback and not bound_ip.is_unspecified:
        return bound
    return docker_host


def _bracket(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _ports(spec: ServiceSpec) -> str:
    return ", ".join(map(str, spec.published_ports)) or "no port"


def _reason(exc: BaseException) -> str:
    """Compose's error lines, without its progress lines."""
    text = (getattr(exc, "stderr", None) or str(exc)).strip()
    errors = [line.strip() for line in text.splitlines() if "rror" in line or "failed" in line]
    return "\n".join(errors) or text
