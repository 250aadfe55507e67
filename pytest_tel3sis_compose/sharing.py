"""One stack for several processes: the first to ask starts it, the rest attach to it.

Used for pytest-xdist workers. The processes share a folder holding a lock
and the started stack's snapshot; teardown belongs to whoever created the
folder (the xdist controller), which outlives every worker, crashed or not.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from pytest_tel3sis_compose.errors import ComposeError
from pytest_tel3sis_compose.stack import ComposeStack

_STATE = "stack.json"


class SharedStackError(ComposeError):
    """The stack another process started for this run failed to start."""


def start_or_attach(
    folder: Path, stack: ComposeStack, attach: Callable[[dict[str, Any]], ComposeStack]
) -> ComposeStack:
    """Start `stack` as the shared stack if nobody has yet, else attach to the one that is.

    The starter publishes its snapshot and hands teardown to `take_down`. A
    failure to start is published too, so every process reports the same
    error at once; the starter still owns (and must stop) what it half started.
    """
    with FileLock(str(folder / "stack.lock")):
        state = _read(folder)
        if state is None:
            try:
                stack.start()
            except BaseException as exc:
                _write(folder, {"status": "failed", "error": f"{type(exc).__name__}: {exc}"})
                raise
            _write(folder, {"status": "ready", "snapshot": stack.snapshot()})
            stack.detach()
            return stack
    if state["status"] != "ready":
        raise SharedStackError(f"{state['error']}\n(reported by the worker that started the stack)")
    return attach(state["snapshot"])


def take_down(folder: Path, wait: float = 120) -> ComposeStack | None:
    """Take the shared stack down, if one was started; return it for reporting.

    Under the lock, so that a worker still starting the stack (the controller
    was interrupted) finishes and publishes what it started first.
    """
    try:
        with FileLock(str(folder / "stack.lock"), timeout=wait):
            return _take_down(folder)
    except Timeout:
        return _take_down(folder)  # a worker hung holding it: take down what we know of


def _take_down(folder: Path) -> ComposeStack | None:
    state = _read(folder)
    if state is None or state.get("snapshot") is None:
        return None
    stack = ComposeStack.restore(state["snapshot"])
    stack.stop()
    return stack


def _read(folder: Path) -> dict[str, Any] | None:
    path = folder / _STATE
    if not path.exists():
        return None
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _write(folder: Path, state: dict[str, Any]) -> None:
    temporary = folder / (_STATE + ".tmp")
    temporary.write_text(json.dumps(state))
    temporary.replace(folder / _STATE)  # atomic: readers never see half a file
