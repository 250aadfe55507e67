"""Signal handling that lets cleanup run: SIGTERM as an interrupt, and a shield around teardown."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextmanager
def sigterm_raises_interrupt() -> Iterator[None]:
    """While active, SIGTERM raises KeyboardInterrupt, so `finally` blocks and teardown run.

    Python's default for SIGTERM ends the process on the spot, which would
    leave the stack running. A handler someone else installed is kept as is.
    Nested uses (stacks of different scopes overlap) share one handler: it
    goes when the last of them ends, not the first.
    """
    if not _in_main_thread():
        yield
        return
    # Looked at on every entry: something may have reset it since an outer one.
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _interrupt)
    _sigterm_users.append(True)
    try:
        yield
    finally:
        _sigterm_users.pop()
        if not _sigterm_users and signal.getsignal(signal.SIGTERM) is _interrupt:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)


_sigterm_users: list[bool] = []
"""One entry per active `sigterm_raises_interrupt` (main thread only)."""


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt("SIGTERM")


@contextmanager
def interrupts_ignored() -> Iterator[None]:
    """Let SIGINT and SIGTERM not interrupt the body: used while the stack is taken down.

    A second Ctrl-C during teardown would otherwise abandon the stack half
    removed. The run is ending anyway, so the signal is not raised afterwards
    either: that would only turn a clean teardown into a traceback.
    """
    if not _in_main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
