"""`docker compose up --detach`, bounded by the stack's deadline, in a thread of its own.

`up` blocks while it waits on depends_on conditions, which have no timeout of
their own; and an interrupted session must know whether an `up` still runs,
since it may create containers after the teardown's `down`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

from pytest_tel3sis_compose.core.boundary import ComposeProject
from pytest_tel3sis_compose.core.diagnosis import compose_reason
from pytest_tel3sis_compose.errors import ComposeError, StackStartError


class BoundedUp:
    def __init__(self) -> None:
        # An Event, not Thread.is_alive(): before Python 3.13 an interrupted
        # join() makes is_alive() report a still-running thread as stopped.
        self.finished: threading.Event | None = None

    @property
    def running(self) -> bool:
        return self.finished is not None and not self.finished.is_set()

    def run(
        self,
        compose: ComposeProject,
        services: Sequence[str],
        deadline: float,
        diagnose: Callable[[str], StackStartError],
    ) -> None:
        """Start `services`; raise `diagnose(reason)` if `up` fails or outlasts `deadline`."""
        outcome: list[BaseException] = []
        finished = self.finished = threading.Event()

        def up() -> None:
            try:
                compose.up(services)
            except BaseException as exc:  # re-raised in the calling thread
                outcome.append(exc)
            finally:
                finished.set()

        threading.Thread(target=up, name="compose-up", daemon=True).start()
        if not finished.wait(max(0.0, deadline - time.monotonic())):
            raise diagnose("`docker compose up` did not finish before the timeout")
        if outcome:
            error = outcome[0]
            if isinstance(error, ComposeError) or not isinstance(error, Exception):
                raise error  # our own diagnosis, or an interrupt: as it is
            raise diagnose(f"`docker compose up` failed: {compose_reason(error)}")

    def wait(self, seconds: float) -> None:
        if self.finished is not None:
            self.finished.wait(seconds)
