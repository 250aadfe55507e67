"""pytest-xdist: one stack per session-scoped stack fixture for all workers of a run.

The controller makes a folder for the run and hands it, with its own pid as
the stacks' owner, to every worker. The first worker that needs a stack
starts it in that stack's subfolder; the others attach. The controller takes
every one down when the run ends, after every worker has finished or crashed.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Generator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from pytest_tel3sis_compose.core.boundary import Engine
from pytest_tel3sis_compose.core.sharing import take_down_shared
from pytest_tel3sis_compose.core.signals import sigterm_raises_interrupt

SHARED_FOLDER = "tel3sis_compose_folder"
OWNER_PID = "tel3sis_compose_owner"


def worker_input(config: pytest.Config) -> dict[str, Any] | None:
    """This xdist worker's input from the controller, or None outside xdist workers."""
    workerinput: dict[str, Any] | None = getattr(config, "workerinput", None)
    if workerinput is None or SHARED_FOLDER not in workerinput:
        return None
    return workerinput


def shared_folder(config: pytest.Config, fixture: str) -> Path | None:
    """The folder the workers share for one stack fixture; None outside xdist workers."""
    shared = worker_input(config)
    if shared is None:
        return None
    folder = Path(shared[SHARED_FOLDER]) / fixture
    folder.mkdir(exist_ok=True)
    return folder


class XdistController:
    """Registered in the controlling process; inert unless xdist starts workers."""

    def __init__(self, engine: Callable[[], Engine]) -> None:
        self.engine = engine
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
        failures: list[BaseException] = []
        try:
            for stack_folder in sorted(path for path in self.folder.iterdir() if path.is_dir()):
                try:
                    take_down_shared(stack_folder, self.engine())
                except Exception as exc:  # the other stacks still go down; the first error is raised
                    failures.append(exc)
            if failures:
                raise failures[0]
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None
            self._signals.close()
