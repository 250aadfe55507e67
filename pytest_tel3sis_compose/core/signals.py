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
    """
    if not _in_main_thread() or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield
        return

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt("SIGTERM")

    signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


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
