"""Waiting until every service is ready: probes in parallel, fail fast, one clear error."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, wait
from dataclasses import dataclass, field

from pytest_tel3sis_compose.core.boundary import CommandResult, ComposeProject, ContainerStatus, LogFollower
from pytest_tel3sis_compose.core.endpoints import url_of
from pytest_tel3sis_compose.core.listener import StackListener, ignore
from pytest_tel3sis_compose.core.probes import Probe, ProbeResult
from pytest_tel3sis_compose.errors import StackStartError

AddressFor = Callable[[str, int, ContainerStatus | None], tuple[str, int]]
"""(service, container port, its status just read) -> where the port is reached."""


@dataclass
class _Target:
    """What one probe check sees of its service."""

    compose: ComposeProject
    service: str
    status: ContainerStatus
    address_for: AddressFor
    logs: Callable[[str], str]

    def address(self, port: int) -> tuple[str, int]:
        return self.address_for(self.service, port, self.status)

    def base_url(self, port: int) -> str:
        return url_of(*self.address(port))

    def execute(self, argv: Sequence[str]) -> CommandResult:
        return self.compose.execute(self.service, argv)

    def container_log(self) -> str:
        return self.logs(self.status.container_id)


class _NotReady(Exception):
    def __init__(self, service: str, reason: str, probe: Probe, last: ProbeResult | None) -> None:
        super().__init__(reason)
        self.service, self.reason, self.probe, self.last = service, reason, probe, last


def wait_until_ready(
    compose: ComposeProject,
    probes: Mapping[str, Probe],
    *,
    started: float,
    deadline: float,
    address_for: AddressFor,
    poll_interval: float = 0.1,
    log_lines: int = 50,
    listener: StackListener = ignore,
    known: Mapping[str, ContainerStatus] | None = None,
) -> dict[str, float]:
    """Block until every service's probe passes; return each one's seconds after `started`.

    Raises StackStartError for the first service that exits, or for the
    service(s) still not ready at `deadline` (`started` and `deadline` are
    `time.monotonic()` values). `known` holds statuses just read, used for
    each service's first check.
    """
    board = _Board(compose, tuple(probes), poll_interval, dict(known or {}))
    watch = _Watch(compose, started, deadline, address_for, poll_interval, listener, board)
    futures: dict[Future[float], str] = {}
    for service, probe in probes.items():
        future: Future[float] = Future()
        futures[future] = service
        # Daemon threads, not a pool: a probe that never returns (a hung
        # command) must not keep the interpreter from exiting.
        threading.Thread(
            target=watch.settle, args=(future, service, probe), name=f"probe-{service}", daemon=True
        ).start()
    try:
        done, pending = wait(
            futures, timeout=max(0.0, deadline - time.monotonic()) + 5, return_when=FIRST_EXCEPTION
        )
        failures = [f.exception() for f in done if f.exception() is not None]
        if failures:
            first = failures[0]
            if isinstance(first, _NotReady):
                raise _start_error(compose, first, log_lines, pending=[futures[f] for f in pending])
            raise first  # type: ignore[misc]  # a bug or an engine error: let it through as is
        if pending:  # a probe hung past the deadline (a command that never returns)
            service = futures[next(iter(pending))]
            raise _start_error(
                compose,
                _NotReady(service, "its probe did not return before the timeout", probes[service], None),
                log_lines,
            )
        return {futures[f]: f.result() - started for f in done}
    finally:
        watch.stop.set()
        board.close()


@dataclass
class _Watch:
    """One readiness wait: what every service's polling thread shares."""

    compose: ComposeProject
    started: float
    deadline: float
    address_for: AddressFor
    poll_interval: float
    listener: StackListener
    board: _Board
    stop: threading.Event = field(default_factory=threading.Event)

    def settle(self, future: Future[float], service: str, probe: Probe) -> None:
        try:
            future.set_result(self.wait_one(service, probe))
        except BaseException as exc:  # read by wait_until_ready in the calling thread
            future.set_exception(exc)

    def wait_one(self, service: str, probe: Probe) -> float:
        self.listener(service, "waiting", probe.describe())
        try:
            ready_at = self.poll(service, probe)
        except _NotReady as failure:
            if not self.stop.is_set():
                self.listener(service, "failed", failure.reason)
            raise
        if not self.stop.is_set():
            self.listener(service, "ready", f"{ready_at - self.started:.1f} s")
        return ready_at

    def poll(self, service: str, probe: Probe) -> float:
        last: ProbeResult | None = None
        seen = ""
        while not self.stop.is_set():
            status = self.board.get(service)
            seen = self._note_change(service, status, last, seen)
            if status is not None:
                if status.state in ("exited", "dead"):
                    if probe.accepts_completion and status.exit_code == 0:
                        return time.monotonic()
                    raise _NotReady(
                        service, f"its container exited with code {status.exit_code}", probe, last
                    )
                if status.state == "running" or probe.accepts_completion:
                    target = _Target(self.compose, service, status, self.address_for, self.board.log)
                    last = probe.check(target)
                    if last.ok:
                        return time.monotonic()
            if time.monotonic() >= self.deadline:
                raise _NotReady(service, "its probe did not pass before the timeout", probe, last)
            self.board.pause(status, self.poll_interval, self.stop)
        raise _NotReady(service, "cancelled because another service failed", probe, last)

    def _note_change(
        self, service: str, status: ContainerStatus | None, last: ProbeResult | None, seen: str
    ) -> str:
        """Report the service's state when it changes (for the timeline): container, health, probe."""
        state = (
            "no container"
            if status is None
            else status.state + (f", {status.health}" if status.health else "")
        )
        if last is not None:
            # The output's gist: digits (ports, times, ids) would make every poll a change.
            state += f"; probe: {re.sub(r'[0-9]+', '#', last.output)[:80]}"
        if state != seen:
            self.listener(service, "probing", state)
        return state


class _Board:
    """Every waited-on service's container, read for all of them at once and shared by their threads.

    One `docker inspect` per poll for the whole stack, not one per service:
    on a small machine the plugin's own polling competes with the services
    it waits for. Statuses the caller already holds serve the first poll.
    """

    def __init__(
        self,
        compose: ComposeProject,
        services: tuple[str, ...],
        interval: float,
        known: dict[str, ContainerStatus],
    ) -> None:
        self.compose, self.services, self.interval = compose, services, interval
        self._statuses = known
        self._read_at = time.monotonic() if known else -float("inf")
        self._lock = threading.Lock()
        self._followers: dict[str, LogFollower] = {}
        self._read_sizes: dict[str, int] = {}
        self._running_before = {status.container_id for status in known.values()}

    def get(self, service: str) -> ContainerStatus | None:
        with self._lock:  # one thread reads for all; the others take what it read
            if time.monotonic() - self._read_at >= self.interval:
                self._statuses = self.compose.statuses(self.services)
                self._read_at = time.monotonic()
            return self._statuses.get(service)

    def log(self, container_id: str) -> str:
        """A container's log so far, from one follower per container (log probes ask every poll).

        A container that ran before the wait began (a kept stack's) is read once
        first: what it was waited for is usually long in its log, and one read
        costs a third of a follower's start. A follower is started only if asked again.
        """
        with self._lock:
            read_once = container_id in self._running_before
            self._running_before.discard(container_id)
            if not read_once and container_id not in self._followers:
                self._followers[container_id] = self.compose.follow_log(container_id)
        if read_once:
            return self.compose.container_log(container_id)
        follower = self._followers[container_id]
        text = follower.text()
        self._read_sizes[container_id] = len(text)
        return text

    def pause(self, status: ContainerStatus | None, interval: float, stop: threading.Event) -> None:
        """Wait `interval` before the next poll; a followed log that grows ends it early.

        A log probe then sees its line when the container writes it, not up
        to a poll later; a kept stack's history, streamed just after the first
        look, is read at once. Never more than 50 searches a second, so a
        chatty container does not have its whole log searched on every line.
        """
        follower = self._followers.get(status.container_id) if status else None
        if follower is None or status is None:
            stop.wait(interval)
            return
        began = time.monotonic()
        follower.wait(self._read_sizes.get(status.container_id, 0), interval)
        stop.wait(max(0.0, min(interval, 0.02) - (time.monotonic() - began)))

    def close(self) -> None:
        with self._lock:
            followers, self._followers = list(self._followers.values()), {}
        for follower in followers:
            follower.close()


def _start_error(
    compose: ComposeProject, failure: _NotReady, log_lines: int, pending: Sequence[str] = ()
) -> StackStartError:
    others = f"still waiting on: {', '.join(sorted(pending))}" if pending else ""
    return StackStartError(
        failure.service,
        failure.reason,
        probe=failure.probe.describe(),
        probe_output=failure.last.output if failure.last else "",
        logs=compose.logs(failure.service, tail=log_lines),
        log_lines=log_lines,
        others=others,
    )
