"""Native healthchecks run on the engine's behalf, for engines that do not run them (Podman without systemd).

Without it their health stays "starting" forever: `depends_on:
service_healthy` never lets `up` finish, and the engine's verdict means
nothing. The runner has the engine run each container's own check (so the
verdict is the engine's, recorded as usual): every 200 ms until healthy, as
`start_interval` would, then at the check's own interval.
"""

from __future__ import annotations

import threading
import time

from pytest_tel3sis_compose.core.boundary import ComposeProject
from pytest_tel3sis_compose.core.model import ProjectSpec

STARTING_INTERVAL = 0.2


class HealthRunner:
    def __init__(self, compose: ComposeProject, project: ProjectSpec) -> None:
        self.compose = compose
        self.intervals = {
            name: spec.healthcheck_interval for name, spec in project.services.items() if spec.has_healthcheck
        }
        self.runs = 0
        self._due: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="health-runner", daemon=True)

    def start(self) -> None:
        if self.intervals:
            self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.is_set():
            now = time.monotonic()
            for service, interval in self.intervals.items():
                if self._due.get(service, 0.0) <= now:
                    try:
                        self._due[service] = now + self._check(service, interval)
                    except Exception:  # an engine hiccup: the next round asks again
                        self._due[service] = now + STARTING_INTERVAL
            self._stop.wait(STARTING_INTERVAL / 2)

    def _check(self, service: str, interval: float) -> float:
        """Run the service's check if its container runs; seconds until the next one."""
        status = self.compose.status(service)
        if status is None or status.state != "running":
            return STARTING_INTERVAL
        self.runs += 1
        verdict = self.compose.run_healthcheck(status.container_id)
        return interval if verdict == "healthy" else STARTING_INTERVAL
