"""What the plugin adds to pytest's report: header lines, stack summaries, logs on failures."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from pytest_tel3sis_compose.core.stack import ComposeStack, Phase
from pytest_tel3sis_compose.plugin.factory import declared_stacks
from pytest_tel3sis_compose.plugin.stack_settings import default_project_name
from pytest_tel3sis_compose.plugin.state import StackInUse, state_of

#: When the test's window opened: the start of its setup.
TEST_STARTED = pytest.StashKey[datetime]()


def header_lines(config: pytest.Config) -> list[str]:
    """The stacks this session may start, from configuration alone: Docker is not asked."""
    options = state_of(config).options
    lines = []
    if any(path.is_file() for path in options.compose_files):
        files = ", ".join(_relative(path, config.rootpath) for path in options.compose_files)
        project = default_project_name(config)
        if not options.compose_project_name and _conftest_names_project(config):
            project = "set by the docker_compose_project_name fixture"
        lines.append(f"compose files: {files}; project: {project}")
    for name, declaration in declared_stacks(config):
        if declaration.files is not None:
            files = ", ".join(_relative(path, config.rootpath) for path in declaration.files)
            lines.append(f"compose stack {name} ({declaration.scope}): {files}")
    return lines


def _conftest_names_project(config: pytest.Config) -> bool:
    """Whether a conftest.py loaded so far overrides pytest-docker's project-name fixture."""
    return any(
        hasattr(plugin, "docker_compose_project_name")
        and not getattr(plugin, "__name__", "").startswith("pytest_docker")
        for plugin in config.pluginmanager.get_plugins()
    )


def summary_lines(used: StackInUse) -> list[str]:
    """A table of the services: URL, time to ready, probe; then the teardown."""
    stack = used.stack
    if not stack.ready_after:
        return []
    rows = [("service", "url", "ready after", "docker health", "probe")]
    for service in stack.services:
        seconds = stack.ready_after.get(service)
        has_healthcheck = stack.project.services[service].has_healthcheck
        rows.append(
            (
                service,
                stack.endpoints.known_url(service) or "-",
                f"{seconds:.1f} s" if seconds is not None else "not started",
                stack.watch.health.get(service) or ("?" if has_healthcheck and seconds is not None else "-"),
                stack.probes[service].describe() if service in stack.probes else "-",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [
        "  "
        + "  ".join(cell.ljust(width) for cell, width in zip(row[:4], widths, strict=True))
        + "  "
        + row[4]
        for row in rows
    ]
    if stack.teardown_seconds is not None:
        lines.append(f"  taken down in {stack.teardown_seconds:.1f} s")
    elif stack.phase is Phase.KEPT:
        lines.append("  kept running for the next run (--compose-reuse)")
    title = f"compose stack {stack.project_name}"
    if used.fixture != "compose_stack":
        title += f" ({used.fixture})"
    return [title, *lines]


def reuse_line(stack: ComposeStack) -> str | None:
    if stack.prepared.reuse is None:
        return None
    line = f"compose stack {stack.project_name}: {stack.prepared.reuse}"
    if stack.phase is Phase.KEPT:
        line += "; kept for the next run. Take it down: pytest --compose-prune"
    return line


def attach_logs(item: pytest.Item, report: pytest.TestReport) -> None:
    """Add to a failed test's report what each service of its stacks logged while it ran."""
    started = item.stash.get(TEST_STARTED, None)
    if not report.failed or started is None:
        return
    until = datetime.now(timezone.utc)
    state = state_of(item.config)
    for fixture in getattr(item, "fixturenames", ()):
        used = state.in_use(fixture)
        if used is None or not used.stack.ready_after or not used.stack.ready:
            continue
        prefix = "" if fixture == "compose_stack" else f"{fixture}: "
        for service in used.stack.services:
            text = used.stack.logs(service, since=started, until=until)
            if text.strip():
                report.sections.append((f"compose logs: {prefix}{service} (during this test)", text))


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)
