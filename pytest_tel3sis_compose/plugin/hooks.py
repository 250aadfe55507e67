"""The pytest plugin's entry point: options, hooks, and the fixtures (from fixtures.py).

Everything that does work lives in the core; this wires it to pytest.
"""

from __future__ import annotations

from collections.abc import Generator
from datetime import datetime, timezone
from typing import Any

import pytest

from pytest_tel3sis_compose.core.ownership import Janitor
from pytest_tel3sis_compose.errors import ComposeError
from pytest_tel3sis_compose.plugin import aftermath, crashes
from pytest_tel3sis_compose.plugin.factory import declared_stacks, uses_a_stack
from pytest_tel3sis_compose.plugin.fixtures import compose_probes, compose_settings, compose_stack
from pytest_tel3sis_compose.plugin.focus import MARKER_HELP, extend_for
from pytest_tel3sis_compose.plugin.options import add_options
from pytest_tel3sis_compose.plugin.reporting import (
    TEST_STARTED,
    attach_logs,
    header_lines,
    reuse_line,
    summary_lines,
)
from pytest_tel3sis_compose.plugin.stack_settings import default_project_name, reuse_project_name, slug
from pytest_tel3sis_compose.plugin.state import STATE, SessionState, state_of
from pytest_tel3sis_compose.plugin.xdist import XdistController, worker_input

__all__ = ["compose_probes", "compose_settings", "compose_stack"]


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    state = _state(config)
    config.addinivalue_line("markers", MARKER_HELP)
    if not hasattr(config, "workerinput"):  # the controller, or a run without xdist
        config.pluginmanager.register(XdistController(lambda: state.engine), "tel3sis-compose-xdist")


def _state(config: pytest.Config) -> SessionState:
    try:
        return state_of(config)
    except ComposeError as exc:
        raise pytest.UsageError(str(exc)) from None


def pytest_cmdline_main(config: pytest.Config) -> int | None:
    if not config.getoption("compose_prune"):
        return None
    state = _state(config)
    declared = [
        (name, declaration.files) for name, declaration in declared_stacks(config) if declaration.files
    ]
    kept = {reuse_project_name(state.options.compose_files)}
    kept |= {reuse_project_name(files, f"-{slug(name)}") for name, files in declared}
    files = [state.options.compose_files, *(files for _, files in declared)]
    try:
        removed = Janitor(state.engine).prune(kept, files)
    except ComposeError as exc:
        raise pytest.UsageError(f"--compose-prune: {exc}") from None
    print("removed compose stacks: " + ", ".join(removed) if removed else "no compose stack to remove")
    return 0


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    if config.get_verbosity() < 0 or worker_input(config) is not None:
        return None
    return header_lines(config)


def pytest_sessionstart(session: pytest.Session) -> None:
    # Where a quick loop was asked for, while pytest collects: a reused stack
    # needs little else, so this is most of what is left to wait for.
    if state_of(session.config).options.compose_reuse:
        _prefetch(session.config)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    # Otherwise once a selected test is known to need the stack: `docker compose
    # config` then runs while the engine is asked for the report header.
    if uses_a_stack(session.items):
        _prefetch(session.config)


def _prefetch(config: pytest.Config) -> None:
    """Begin, in the background, what starting the default stack will ask Docker first."""
    # The controller of an xdist run starts no stack itself; its workers prefetch for themselves.
    if not hasattr(config, "workerinput") and config.getoption("numprocesses", None):
        return
    state = state_of(config)
    state.engine.prefetch(state.options.compose_files, default_project_name(config))


def pytest_report_collectionfinish(config: pytest.Config, items: list[pytest.Item]) -> list[str] | None:
    # Docker is asked only when a selected test needs a stack.
    if config.get_verbosity() < 0 or worker_input(config) is not None or not uses_a_stack(items):
        return None
    return [f"compose: {state_of(config).engine.versions()}"]


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    item.stash[TEST_STARTED] = datetime.now(timezone.utc)
    state_of(item.config).current_item = item
    # Nothing raised before the yield: the other setup hooks (logging's, say) must run first.
    yield  # the fixtures: a stack the test is first to use starts with what it needs
    crashes.check_before(item)
    extend_for(item)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report = yield
    crashes.report_after(item, report)
    aftermath.count_failure(item, report)
    attach_logs(item, report)
    return report


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # A crash no test was running for still fails the session.
    if STATE in session.config.stash and crashes.any_crash(session.config) and exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    if STATE not in config.stash:
        return
    for used in state_of(config).stacks:
        table = summary_lines(used) if config.get_verbosity() >= 0 else []
        crashed = crashes.summary_lines(used)
        if table or crashed:
            terminalreporter.write_sep("-", table[0] if table else f"compose stack {used.stack.project_name}")
            for line in table[1:]:
                terminalreporter.write_line(line)
            for line in crashed:
                terminalreporter.write_line(line, red=True)
        for line in aftermath.summary_lines(used):
            terminalreporter.write_line(line)
        reused = reuse_line(used.stack)
        if reused:
            terminalreporter.write_line(reused)
