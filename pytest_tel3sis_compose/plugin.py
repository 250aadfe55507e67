"""The pytest plugin: options and ini keys, hooks, and the fixtures (from fixtures.py).

Everything that does work lives in the core modules; this wires it to pytest.
"""

from __future__ import annotations

from collections.abc import Generator
from datetime import datetime, timezone
from typing import Any

import pytest

from pytest_tel3sis_compose import prefetch
from pytest_tel3sis_compose.errors import ComposeError, ConfigError
from pytest_tel3sis_compose.fixtures import STACK_KEY, compose_probes, compose_settings, compose_stack
from pytest_tel3sis_compose.pytest_config import (
    configured_files,
    enabled,
    planned_project_name,
    reuse_project_name,
    validate_options,
)
from pytest_tel3sis_compose.reporting import TEST_STARTED, attach_logs, header_lines, summary_lines
from pytest_tel3sis_compose.settings import DEFAULT_TIMEOUT
from pytest_tel3sis_compose.xdist_support import XdistController, worker_input

__all__ = ["compose_probes", "compose_settings", "compose_stack"]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("tel3sis-compose", "Docker Compose stack (pytest-tel3sis-compose)")
    group.addoption(
        "--compose-file",
        action="append",
        dest="compose_files",
        metavar="PATH",
        help="compose file for the stack; repeat for overrides. Replaces the compose_files ini key.",
    )
    group.addoption(
        "--compose-timeout",
        dest="compose_timeout",
        metavar="SECONDS",
        help=f"seconds every service gets to become ready after `up` (default {DEFAULT_TIMEOUT:g}).",
    )
    group.addoption(
        "--compose-project-name",
        dest="compose_project_name",
        metavar="NAME",
        help="Compose project name (default: unique per session, so parallel runs never collide).",
    )
    group.addoption(
        "--compose-no-build",
        dest="compose_build",
        action="store_false",
        default=None,
        help="do not build images before starting; use the ones already there.",
    )
    group.addoption(
        "--compose-coverage",
        dest="compose_coverage",
        action="store_true",
        default=None,
        help="measure coverage inside the containers and combine it with the host's data.",
    )
    group.addoption(
        "--compose-log-dir",
        dest="compose_log_dir",
        metavar="DIR",
        help="write every service's full log to DIR/<service>.log when the stack is taken down.",
    )
    group.addoption(
        "--compose-reuse",
        dest="compose_reuse",
        action="store_true",
        default=None,
        help="keep the stack after the run and reuse it next time if nothing it is made of changed.",
    )
    group.addoption(
        "--compose-prune",
        dest="compose_prune",
        action="store_true",
        help="remove the stack --compose-reuse keeps for these compose files, and stacks of "
        "dead sessions, then exit.",
    )
    parser.addini("compose_files", type="linelist", help="compose files, relative to the ini file")
    parser.addini("compose_reuse", type="bool", default=False, help="as --compose-reuse")
    parser.addini("compose_timeout", default=str(DEFAULT_TIMEOUT), help="readiness timeout, seconds")
    parser.addini("compose_build", type="bool", default=True, help="build images before starting")
    parser.addini(
        "compose_probes",
        type="linelist",
        help='readiness probes, one `SERVICE = SPEC` a line, e.g. web = {"http": {"port": 3000}}',
    )
    parser.addini("compose_down_timeout", default="0", help="seconds containers get to stop at teardown")
    parser.addini("compose_coverage", type="bool", default=False, help="as --compose-coverage")
    parser.addini(
        "compose_coverage_services",
        type="args",
        help="services measured by --compose-coverage (default: those with a build section)",
    )
    parser.addini(
        "compose_coverage_source",
        type="args",
        default=["/app"],
        help="code measured inside the containers (coverage's [run] source)",
    )
    parser.addini(
        "compose_coverage_stop_timeout",
        default="30",
        help="seconds measured services get to stop and save their data",
    )


def pytest_configure(config: pytest.Config) -> None:
    try:
        validate_options(config)
    except ConfigError as exc:
        raise pytest.UsageError(str(exc)) from None
    if not hasattr(config, "workerinput"):  # the controller, or a run without xdist
        config.pluginmanager.register(XdistController(), "tel3sis-compose-xdist")


def pytest_cmdline_main(config: pytest.Config) -> int | None:
    if not config.getoption("compose_prune"):
        return None
    from pytest_tel3sis_compose.engine import prune_stacks

    try:
        removed = prune_stacks(
            kept={planned_project_name(config), reuse_project_name(configured_files(config))}
        )
    except ComposeError as exc:
        raise pytest.UsageError(f"--compose-prune: {exc}") from None
    print("removed compose stacks: " + ", ".join(removed) if removed else "no compose stack to remove")
    return 0


def pytest_sessionstart(session: pytest.Session) -> None:
    config = session.config
    # Only where a quick loop was asked for: for a session that never starts the
    # stack, the speculative import would cost a fifth of a second of CPU.
    if not enabled(config, "compose_reuse"):
        return
    # The controller of an xdist run starts no stack itself; its workers prefetch for themselves.
    if not hasattr(config, "workerinput") and config.getoption("numprocesses", None):
        return
    prefetch.start(configured_files(config), planned_project_name(config))


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    if config.get_verbosity() < 0 or worker_input(config) is not None:
        return None
    return header_lines(config)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    item.stash[TEST_STARTED] = datetime.now(timezone.utc)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report = yield
    stack = item.config.stash.get(STACK_KEY, None)
    if stack is not None:
        attach_logs(item, report, stack)
    return report


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    stack = config.stash.get(STACK_KEY, None)
    if stack is None:
        return
    lines = summary_lines(stack) if config.get_verbosity() >= 0 else []
    if lines:
        terminalreporter.write_sep("-", lines[0])
        for line in lines[1:]:
            terminalreporter.write_line(line)
    if stack.reuse_outcome is not None:
        line = f"compose stack {stack.project_name}: {stack.reuse_outcome}"
        if stack.kept:
            line += "; kept for the next run. Take it down: pytest --compose-prune"
        terminalreporter.write_line(line)
