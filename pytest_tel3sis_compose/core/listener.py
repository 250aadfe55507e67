"""What the stack reports while it works, for whoever shows progress."""

from __future__ import annotations

from typing import Protocol


class StackListener(Protocol):
    """Receives progress: `service` is None for the stack as a whole.

    Stack states: building, starting, reusing, stopping, stopped. Service
    states: waiting (detail: the probe), ready (detail: seconds after `up`),
    failed (detail: why). Called from several threads at once.
    """

    def __call__(self, service: str | None, state: str, detail: str = "") -> None: ...


def ignore(service: str | None, state: str, detail: str = "") -> None:
    """The listener of a stack nobody watches."""
