"""Live progress of the stack on pytest's terminal.

One line for the stack and one per service. On a terminal the block is
redrawn in place; in a CI log every change is a plain line of its own; with
-q nothing is shown. Events arrive from the readiness threads, hence the lock.
"""

from __future__ import annotations

import threading
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import pytest

_STACK_STATES = {
    "building": "building images",
    "starting": "starting {detail}",
    "reusing": "reusing the kept stack",
    "ready": "ready in {detail}",
    "stopping": "taking the stack down",
    "stopped": "taken down in {detail}",
    "isolated": "isolated: {detail}",
    "shared": "WARNING: {detail}",
    "swept": "removed stacks of sessions that are gone: {detail}",
}
#: Lines written once as they come, not kept in the live block.
_ONE_OFF = ("stopping", "stopped", "isolated", "shared", "swept")
_SERVICE_STATES = {
    "waiting": "waiting on {detail}",
    "ready": "ready in {detail}",
    "failed": "FAILED: {detail}",
}


class Progress:
    def __init__(self, config: pytest.Config, project: str) -> None:
        self.reporter: Any = config.pluginmanager.get_plugin("terminalreporter")
        self.capture: Any = config.pluginmanager.get_plugin("capturemanager")
        self.enabled = self.reporter is not None and config.get_verbosity() >= 0
        # In place only where the terminal understands cursor movement; plain lines in logs.
        self.live = self.enabled and _is_terminal(self.reporter)
        self.project = project
        self.lines: dict[str, str] = {}
        self.drawn = 0
        self.lock = threading.Lock()

    def __call__(self, service: str | None, state: str, detail: str = "") -> None:
        # Every probe state change, and crashes (told from the events thread while a test
        # runs with its output captured): the timeline's and the reports', not ours.
        if not self.enabled or state in ("probing", "crashed"):
            return
        if service is None:
            text = (
                f"compose {self.project}: " + _STACK_STATES.get(state, state).format(detail=detail).rstrip()
            )
        else:
            text = f"  {service:<14} " + _SERVICE_STATES.get(state, state).format(detail=detail)
        key = service or ""
        with self.lock, self._uncaptured():
            if state in _ONE_OFF:
                self._write_plain(text)  # not part of the block: teardown comes long after it
                return
            if self.lines.get(key) == text:
                return
            self.lines[key] = text
            if self.live:
                self._redraw()
            else:
                self._write_plain(text)

    def _redraw(self) -> None:
        if self.drawn == 0:
            self.reporter.ensure_newline()
        # Up to the block's first line, then rewrite every line of it.
        moves = f"\x1b[{self.drawn}F" if self.drawn else ""
        # Lines cut to the screen's width: a wrapped line would throw the cursor count off.
        width = max(20, self.reporter._tw.fullwidth - 1)
        body = "".join(f"\x1b[2K{line[:width]}\n" for line in self.lines.values())
        self.reporter.write(moves + body, flush=True)
        self.drawn = len(self.lines)

    def _write_plain(self, text: str) -> None:
        self.reporter.ensure_newline()
        self.reporter.write_line(text)
        self.drawn = 0

    def _uncaptured(self) -> AbstractContextManager[Any]:
        # The stack starts inside fixture setup, where pytest captures output.
        return self.capture.global_and_fixture_disabled() if self.capture else nullcontext()


def _is_terminal(reporter: Any) -> bool:
    return bool(reporter.isatty) and bool(reporter._tw.hasmarkup)
