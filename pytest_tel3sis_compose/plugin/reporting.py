"""What the plugin adds to pytest's report: header lines, stack summaries, logs on failures."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from types import ModuleType

import pytest

from pytest_tel3sis_compose.core.stack import ComposeStack, Phase
from pytest_tel3sis_compose.plugin.factory import declaration_of
from pytest_tel3sis_compose.plugin.stack_settings import StackDeclaration
from pytest_tel3sis_compose.plugin.state import StackInUse, state_of

#: When the test's window opened: the start of its setup.
TEST_STARTED = pytest.StashKey[datetime]()


def header_lines(config: pytest.Config) -> list[str]:
    """The stacks this session may start, from configuration alone: Docker is not asked."""
    options = state_of(config).options
    lines = []
    if any(path.is_file() for path in options.compose_files):
        files = ", ".join(_relative(path, config.rootpath) for path in options.compose_files)
        project = options.compose_project_name or state_of(config).project_name
        if not options.compose_project_name and _conftest_names_project(config):
            project = "set by the docker_compose_project_name fixture"
        lines.append(f"compose files: {files}; project: {project}")
    for name, declaration in declared_stacks(config):
        if declaration.files is not None:
            files = ", ".join(_relative(path, config.rootpath) for path in declaration.files)
            lines.append(f"compose stack {name} ({declaration.scope}): {files}")
    return lines


def declared_stacks(config: pytest.Config, *modules: object) -> Iterator[tuple[str, StackDeclaration]]:
    """Stack fixtures declared in the conftest.py files loaded so far (and in `modules`)."""
    seen = set()
    for module in [*config.pluginmanager.get_plugins(), *modules]:
        if not isinstance(module, ModuleType):
            continue
        for name, value in vars(module).items():
            declaration = declaration_of(value)
            if declaration is not None and (name, id(declaration)) not in seen:
                seen.add((name, id(declaration)))
                yield name, declaration


def stack_fixture_names(items: list[pytest.Item]) -> set[str]:
    """Which of the selected tests' fixtures are stacks."""
    config = items[0].config if items else None
    if config is None:
        return set()
    modules = {getattr(item, "module", None) for item in items}
    return {name for name, _ in declared_stacks(config, *modules)}


def uses_a_stack(items: list[pytest.Item]) -> bool:
    names = stack_fixture_names(items)
    return any(names.intersection(getattr(item, "fixturenames", ())) for item in items)


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
                stack.watch.health.get(service, "?") if has_healthcheck else "-",
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
    elif stack.phase is Phase.KEPT and stack.settings.reuse:
        lines.append("  kept running for the next run (--compose-reuse)")
    title = f"compose stack {stack.project_name}"
    if used.fixture != "compose_stack":
        title += f" ({used.fixture})"
    return [title, *lines]


def reuse_line(stack: ComposeStack) -> str | None:
    if stack.prepared.reuse is None:
        return None
    line = f"compose stack {stack.project_name}: {stack.prepared.reuse}"
    if stack.phase is Phase.KEPT and stack.settings.reuse:
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
