"""What the plugin adds to pytest's report: header lines, a stack summary, logs on failures."""

from __future__ import annotations

import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

import pytest

from pytest_tel3sis_compose.docker_host import VERIFIED, context_name, engine_key, host_of, is_loopback
from pytest_tel3sis_compose.errors import ComposeError
from pytest_tel3sis_compose.pytest_config import configured_files, planned_project_name
from pytest_tel3sis_compose.stack import ComposeStack

#: When the test's window opened: the start of its setup.
TEST_STARTED = pytest.StashKey[datetime]()


def header_lines(config: pytest.Config) -> list[str]:
    configured = configured_files(config)
    if not any(path.is_file() for path in configured):
        return []  # a project without a stack: ask Docker nothing
    files = ", ".join(_relative(path, config.rootpath) for path in configured)
    project = planned_project_name(config)
    if not config.getoption("compose_project_name") and _conftest_names_project(config):
        project = "set by the docker_compose_project_name fixture"
    return [f"compose: {engine_versions()}", f"compose files: {files}; project: {project}"]


def _conftest_names_project(config: pytest.Config) -> bool:
    """Whether a conftest.py loaded so far overrides pytest-docker's project-name fixture."""
    return any(
        hasattr(plugin, "docker_compose_project_name")
        and not getattr(plugin, "__name__", "").startswith("pytest_docker")
        for plugin in config.pluginmanager.get_plugins()
    )


def engine_versions() -> str:
    """`docker engine X, Compose Y`, asked of the CLI in parallel (a header must be quick).

    A remote engine is named, not asked: over ssh or a slow link the
    question alone could hold the session up; the stack's start asks anyway.
    """
    docker_host = os.environ.get("DOCKER_HOST", "")
    try:
        host = host_of(docker_host, where="DOCKER_HOST") if docker_host else None
    except ComposeError:
        host = docker_host
    if host is not None and not is_loopback(host):
        return f"docker engine at {host}"
    context = context_name()
    if context is not None and not docker_host:
        return f"docker engine of context {context}"
    commands = (
        ["docker", "version", "--format", "{{.Server.Version}}"],
        ["docker", "compose", "version", "--short"],
    )
    with ThreadPoolExecutor(2) as pool:
        engine, compose = pool.map(_ask, commands)
    if engine and compose:
        VERIFIED.add(engine_key())
    return f"docker engine {engine or 'not reachable'}, Compose {compose or 'v2 not installed'}"


def _ask(command: list[str]) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def summary_lines(stack: ComposeStack) -> list[str]:
    """A table of the services: URL, time to ready, probe; then the teardown time."""
    if not stack.ready_after:
        return []
    rows = [("service", "url", "ready after", "probe")]
    for service in stack.services:
        seconds = stack.ready_after.get(service)
        rows.append(
            (
                service,
                stack.known_url(service) or "-",
                f"{seconds:.1f} s" if seconds is not None else "-",
                stack.probes[service].describe() if service in stack.probes else "-",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = [
        "  "
        + "  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True))
        + "  "
        + row[3]
        for row in rows
    ]
    if stack.teardown_seconds is not None:
        lines.append(f"  taken down in {stack.teardown_seconds:.1f} s")
    elif stack.kept:
        lines.append("  kept running for the next run (--compose-reuse)")
    return [f"compose stack {stack.project_name}", *lines]


def attach_logs(item: pytest.Item, report: pytest.TestReport, stack: ComposeStack) -> None:
    """Add to a failed test's report what each service logged while that test ran."""
    started = item.stash.get(TEST_STARTED, None)
    if not report.failed or started is None or not stack.ready_after:
        return
    until = datetime.now(timezone.utc)
    for service in stack.services:
        text = stack.logs(service, since=started, until=until)
        if text.strip():
            report.sections.append((f"compose logs: {service} (during this test)", text))


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)
