"""The crash watch: a ready stack's services that die, restart, run out of memory or turn unhealthy.

Probes catch what goes wrong while a stack starts. After that, a service can
still die a moment after it was called ready, or in the middle of a test;
nothing would notice, and the tests would fail for reasons far from the cause
(or pass against a half-dead stack). The watch listens to the engine's events
for the project from before `up`, and counts what happens to a service after
the moment it was called ready (on this process's clock, so a remote engine's
clock does not matter). One-shot services that exit 0 are not crashes.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from pytest_tel3sis_compose.core.boundary import ComposeProject, ContainerEvent, EventStream
from pytest_tel3sis_compose.core.listener import StackListener, ignore
from pytest_tel3sis_compose.core.probes import Probe

#: Events kept for a report (the forensics bundle); the oldest go first.
KEEP_EVENTS = 5000


@dataclass(frozen=True)
class Crash:
    service: str
    what: str
    """`exited with code 5`, `was killed by signal 9 (SIGKILL)`, `was OOM-killed`, `turned unhealthy`..."""
    at: datetime
    logs: str = ""
    """The container's last log lines when it happened."""

    def describe(self) -> str:
        lines = [f"service {self.service!r} {self.what} at {self.at:%H:%M:%S}, after the stack was ready"]
        if self.logs.strip():
            tail = "\n".join("    " + line for line in self.logs.rstrip("\n").splitlines())
            lines.append(f"its last log lines:\n{tail}")
        return "\n".join(lines)


@dataclass
class _Seen:
    event: ContainerEvent
    arrived: float
    """time.monotonic() when it reached this process."""


class CrashWatch:
    def __init__(
        self,
        compose: ComposeProject,
        probes: Mapping[str, Probe],
        log_lines: int = 50,
        listener: StackListener = ignore,
    ) -> None:
        self.compose = compose
        self.probes = probes
        self.log_lines = log_lines
        self.listener = listener
        """Told of each crash (as `crashed`), for the timeline."""
        self.events: list[ContainerEvent] = []
        """Everything seen, for reports."""
        self.crashes: list[Crash] = []
        self.health: dict[str, str] = {}
        """The engine's last health verdict per service with a healthcheck, from its events."""
        self._backlog: list[_Seen] = []
        """Events of services not yet ready: judged once they are."""
        self._ready_at: dict[str, float] = {}
        self._stream: EventStream | None = None
        self._armed = True
        self._lock = threading.Lock()

    def start(self) -> None:
        """Listen from now on (before `up`, so that nothing is missed)."""
        self._stream = self.compose.events(self._on_event)

    def arm(self, ready_at: Mapping[str, float]) -> None:
        """Count what happens to these services after their `ready_at` (time.monotonic()).

        Services armed before stay armed: a stack extended later is watched whole.
        """
        with self._lock:
            self._ready_at.update(ready_at)
            judged = [seen for seen in self._backlog if seen.event.service in ready_at]
            self._backlog = [seen for seen in self._backlog if seen.event.service not in ready_at]
        for seen in judged:
            self._judge(seen)

    def snapshot(self) -> list[ContainerEvent]:
        with self._lock:
            return list(self.events)

    def read_health(self, services: list[str]) -> None:
        """Note the engine's health verdict of `services` now, in the background (events update it)."""

        def read() -> None:
            statuses = self.compose.statuses(services)
            with self._lock:
                for service, status in statuses.items():
                    if status.health and service not in self.health:
                        self.health[service] = status.health

        threading.Thread(target=read, name="health-verdict", daemon=True).start()

    def close(self) -> None:
        """The stack is being taken down: what happens from now on is no crash."""
        with self._lock:
            self._armed = False
        if self._stream is not None:
            self._stream.close()
            self._stream = None

    def new_since(self, count: int) -> list[Crash]:
        with self._lock:
            return self.crashes[count:]

    def _on_event(self, event: ContainerEvent) -> None:
        seen = _Seen(event, time.monotonic())
        with self._lock:
            if event.action == "health_status" and event.detail:
                self.health[event.service] = event.detail
            self.events.append(event)
            del self.events[:-KEEP_EVENTS]
            if event.service not in self._ready_at:
                self._backlog.append(seen)
                return
        self._judge(seen)

    def _judge(self, seen: _Seen) -> None:
        event = seen.event
        ready = self._ready_at.get(event.service)
        if ready is None or seen.arrived < ready or not self._armed:
            return
        what = self._what(event)
        if what is None:
            return
        crash = Crash(event.service, what, datetime.fromtimestamp(event.at or time.time()), self._logs(event))
        with self._lock:
            said = [c.what for c in self.crashes if c.service == crash.service]
            if not self._armed or crash.what in said:
                return
            if "signal 9" in crash.what and any("OOM" in what for what in said):
                return  # the kernel's kill of an OOM-killed container: already said
            self.crashes.append(crash)
        self.listener(crash.service, "crashed", crash.what)

    def _what(self, event: ContainerEvent) -> str | None:
        probe = self.probes.get(event.service)
        if event.action == "die":
            code = event.exit_code
            if code == 0 and probe is not None and probe.accepts_completion:
                return None  # a one-shot service, done
            if code is not None and code > 128:
                return f"was killed by signal {code - 128} ({_signal_name(code - 128)}), exit code {code}"
            return f"exited with code {code}" if code is not None else "exited"
        if event.action == "oom":
            return "was OOM-killed (it ran out of memory)"
        if event.action == "restart":
            return "restarted"
        if event.action == "health_status" and event.detail in ("unhealthy", ""):
            # Podman's events carry no verdict: the container's state has it.
            status = self.compose.status(event.service)
            if status is None or status.health != "unhealthy":
                return None
            output = f": {status.health_output}" if status.health_output else ""
            return f"turned unhealthy{output}"
        return None

    def _logs(self, event: ContainerEvent) -> str:
        log = self.compose.container_log(event.container_id) if event.container_id else ""
        return "".join(log.splitlines(keepends=True)[-self.log_lines :])


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
