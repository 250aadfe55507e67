"""What the stack reports while it works, for whoever shows progress."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Protocol


class StackListener(Protocol):
    """Receives progress: `service` is None for the stack as a whole.

    Stack states: isolated, shared, building, starting, reusing, ready,
    stopping, stopped. Service states: waiting (detail: the probe), probing
    (detail: what changed), ready (detail: seconds after `up`), failed
    (detail: why). Called from several threads at once.
    """

    def __call__(self, service: str | None, state: str, detail: str = "") -> None: ...


def ignore(service: str | None, state: str, detail: str = "") -> None:
    """The listener of a stack nobody watches."""


@dataclass(frozen=True)
class Moment:
    at: datetime
    service: str | None
    state: str
    detail: str


class Timeline:
    """Every report of a stack, with its time, relayed on to another listener: for the forensics."""

    def __init__(self, relay: StackListener = ignore) -> None:
        self.relay = relay
        self.moments: list[Moment] = []
        self._lock = threading.Lock()

    def __call__(self, service: str | None, state: str, detail: str = "") -> None:
        with self._lock:
            self.moments.append(Moment(datetime.now(timezone.utc), service, state, detail))
        self.relay(service, state, detail)

    def lines(self) -> list[str]:
        with self._lock:
            moments = list(self.moments)
        return [
            f"{moment.at:%H:%M:%S.%f}"[:-3]
            + f"  {moment.service or '(stack)':<14} {moment.state}"
            + (f": {moment.detail}" if moment.detail else "")
            for moment in moments
        ]
