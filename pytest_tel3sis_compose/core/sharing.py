"""One stack for several processes: the first to ask starts it, the rest attach to it.

Used for pytest-xdist workers. The processes share a folder holding a lock
and the started stack's hand-off record; teardown belongs to whoever created
the folder (the xdist controller), which outlives every worker, crashed or not.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_tel3sis_compose.core.boundary import Engine
from pytest_tel3sis_compose.core.handoff import StackRecord, hand_off, take_down
from pytest_tel3sis_compose.core.stack import ComposeStack
from pytest_tel3sis_compose.core.teardown import remove_workdir
from pytest_tel3sis_compose.errors import ComposeError

if TYPE_CHECKING:
    from filelock import FileLock

_RECORD = "stack.json"
_FAILURE = "failure.txt"


class SharedStackError(ComposeError):
    """The stack another process started for this run failed to start."""


def start_or_attach(
    folder: Path,
    stack: ComposeStack,
    attach: Callable[[StackRecord], ComposeStack],
    services: Iterable[str] | None = None,
) -> ComposeStack:
    """Start `stack` as the shared stack if nobody has yet, else attach to the one that is.

    The starter publishes its record and hands teardown to `take_down_shared`.
    A failure to start is published too, so every process reports the same
    error at once; the starter still owns (and must stop) what it half started.
    """
    with _lock(folder):
        record = _read_record(folder)
        failure = folder / _FAILURE
        if record is None and not failure.exists():
            try:
                stack.start(services)
            except BaseException as exc:
                _write(failure, f"{type(exc).__name__}: {exc}")
                raise
            _write(folder / _RECORD, hand_off(stack).to_json())
            return stack
    if record is None:
        raise SharedStackError(f"{failure.read_text()}\n(reported by the worker that started the stack)")
    attached = attach(record)
    extend_shared(folder, attached, services)
    return attached


def extend_shared(folder: Path, stack: ComposeStack, services: Iterable[str] | None) -> None:
    """Start what of `services` the shared stack lacks; one process at a time, so `up`s never race."""
    wanted = list(stack.services if services is None else services)
    if not set(wanted) <= set(stack.ready_after):
        with _lock(folder):
            stack.extend(wanted)


def take_down_shared(folder: Path, engine: Engine, wait: float = 120) -> StackRecord | None:
    """Take the shared stack down, if one was started; return its record.

    Under the lock, so that a worker still starting the stack (the controller
    was interrupted) finishes and publishes what it started first.
    """
    from filelock import Timeout

    try:
        with _lock(folder, timeout=wait):
            return _take_down(folder, engine)
    except Timeout:
        return _take_down(folder, engine)  # a worker hung holding it: take down what we know of


def _lock(folder: Path, timeout: float = -1) -> FileLock:
    # Imported on first use: only xdist runs share a stack, and the import costs every session 10 ms.
    from filelock import FileLock

    return FileLock(str(folder / "stack.lock"), timeout=timeout)


def _take_down(folder: Path, engine: Engine) -> StackRecord | None:
    record = _read_record(folder)
    if record is not None and record.keep:
        remove_workdir(record.workdir)  # the stack itself stays, for the next run to reuse
    elif record is not None:
        take_down(record, engine)
    return record


def _read_record(folder: Path) -> StackRecord | None:
    path = folder / _RECORD
    return StackRecord.from_json(path.read_text()) if path.exists() else None


def _write(path: Path, text: str) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text)
    temporary.replace(path)  # atomic: readers never see half a file
