"""pytest-xdist: one stack for all workers of a run.

The controller makes a folder for the run and hands it, with its own pid as
the stack's owner, to every worker. The first worker that needs the stack
starts it there; the others attach. The controller takes it down when the
run ends, after every worker has finished or crashed.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Generator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from pytest_tel3sis_compose.sharing import take_down
from pytest_tel3sis_compose.signals import sigterm_raises_interrupt

SHARED_FOLDER = "tel3sis_compose_folder"
OWNER_PID = "tel3sis_compose_owner"


def worker_input(config: pytest.Config) -> dict[str, Any] | None:
    """This xdist worker's input from the controller, or None outside xdist workers."""
    workerinput: dict[str, Any] | None = getattr(config, "workerinput", None)
    if workerinput is None or SHARED_FOLDER not in workerinput:
        return None
    return workerinput


class XdistController:
    """Registered in the controlling process; inert unless xdist starts workers."""

    def __init__(self) -> None:
        self.folder: Path | None = None
        self._signals = ExitStack()

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        if self.folder is None:
            self.folder = Path(tempfile.mkdtemp(prefix="tel3sis-xdist-"))
            self._signals.enter_context(sigterm_raises_interrupt())
        node.workerinput[SHARED_FOLDER] = str(self.folder)
        node.workerinput[OWNER_PID] = os.getpid()

    @pytest.hookimpl(wrapper=True, trylast=True)
    def pytest_runtestloop(self, session: pytest.Session) -> Generator[None, object, object]:
        # Right after the workers finish: pytest-cov combines coverage data in
        # its own wrapper of this hook, which this one (trylast) runs inside,
        # so the containers' data is there in time.
        try:
            return (yield)
        finally:
            self._take_down()

    def pytest_sessionfinish(self) -> None:
        self._take_down()  # in case the run loop never ran (an error before it)

    def _take_down(self) -> None:
        if self.folder is None:
            return
        try:
            take_down(self.folder)
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None
            self._signals.close()
