"""The xdist controller: a shared folder for its workers, and every shared stack taken down at the end."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from pytest_tel3sis_compose.core import signals
from pytest_tel3sis_compose.core.settings import StackSettings
from pytest_tel3sis_compose.core.sharing import start_or_attach
from pytest_tel3sis_compose.core.stack import ComposeStack
from pytest_tel3sis_compose.errors import EngineError
from pytest_tel3sis_compose.plugin.xdist import OWNER_PID, SHARED_FOLDER, XdistController, worker_input
from tests.unit.fakes import FakeEngine, compose, service


@pytest.fixture
def default_sigterm(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """SIGTERM as Python leaves it, no stack holding it: restored after.

    The run itself may hold it (a session stack of the suite is up meanwhile).
    """
    monkeypatch.setattr(signals, "_sigterm_users", [])
    previous = signal.signal(signal.SIGTERM, signal.SIG_DFL)
    yield
    signal.signal(signal.SIGTERM, previous)


class FirstDownFails(FakeEngine):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.downed: list[str] = []

    def down(self, timeout: int) -> None:
        self.downed.append(self.name)
        if self.name == "first":
            raise EngineError("taking first down failed")


def test_workers_get_one_folder_and_every_shared_stack_goes_down_after_the_run(
    make_settings: Callable[..., StackSettings], default_sigterm: None
) -> None:
    engine = FirstDownFails(compose(web=service()))
    controller = XdistController(lambda: engine)
    nodes = [SimpleNamespace(workerinput={}) for _ in range(2)]
    for node in nodes:
        controller.pytest_configure_node(node)
    folder = Path(nodes[0].workerinput[SHARED_FOLDER])
    assert nodes[1].workerinput[SHARED_FOLDER] == str(folder)
    assert nodes[0].workerinput[OWNER_PID] > 0
    assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL  # SIGTERM interrupts meanwhile
    for name in ("first", "second"):
        (folder / name).mkdir()
        start_or_attach(folder / name, ComposeStack(make_settings(project_name=name), engine), print)

    try:
        controller.pytest_sessionfinish()
    except EngineError as exc:
        failure: EngineError | None = exc
    else:
        failure = None

    assert str(failure) == "taking first down failed"  # raised, after the other stack went down too
    assert engine.downed == ["first", "second"]
    assert not folder.exists()
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    controller.pytest_sessionfinish()  # a second end does nothing
    assert engine.downed == ["first", "second"]


def test_a_controller_without_workers_does_nothing() -> None:
    engine = FakeEngine(compose(web=service()))

    XdistController(lambda: engine).pytest_sessionfinish()

    assert engine.names() == []


def test_worker_input_only_for_workers_of_a_controller_with_this_plugin() -> None:
    assert worker_input(SimpleNamespace()) is None  # type: ignore[arg-type]
    assert worker_input(SimpleNamespace(workerinput={"workerid": "gw0"})) is None  # type: ignore[arg-type]
    given = {SHARED_FOLDER: "/tmp/x", OWNER_PID: 1}
    assert worker_input(SimpleNamespace(workerinput=given)) is given  # type: ignore[arg-type]


def test_overlapping_scopes_share_one_sigterm_handler_until_the_last_ends(default_sigterm: None) -> None:
    from pytest_tel3sis_compose.core.signals import sigterm_raises_interrupt

    module_scope = sigterm_raises_interrupt()
    session_scope = sigterm_raises_interrupt()
    module_scope.__enter__()
    session_scope.__enter__()
    installed = signal.getsignal(signal.SIGTERM)

    module_scope.__exit__(None, None, None)  # the module's stack goes first
    still = signal.getsignal(signal.SIGTERM)
    session_scope.__exit__(None, None, None)

    assert installed is not signal.SIG_DFL
    assert still is installed  # the session's stack is still protected
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_a_handler_reset_meanwhile_is_installed_again_by_the_next_stack(default_sigterm: None) -> None:
    with signals.sigterm_raises_interrupt():
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # say, a library under test resets it
        with signals.sigterm_raises_interrupt():
            assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_loading_the_plugin_leaves_the_lock_library_to_xdist_runs() -> None:
    # Only processes sharing a stack lock a folder; every session pays for an import at load.
    code = "import sys, pytest_tel3sis_compose.plugin.hooks; print(sorted(sys.modules.keys() & {'filelock'}))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout

    assert loaded.strip() == "[]"
