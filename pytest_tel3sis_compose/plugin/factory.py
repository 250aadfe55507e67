"""`compose_fixture`: the one way a compose stack becomes a pytest fixture."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from os import PathLike
from pathlib import Path
from types import ModuleType
from typing import Any, get_args

import pytest

from pytest_tel3sis_compose.core.handoff import StackRecord, attach
from pytest_tel3sis_compose.core.probes import probe_from_spec
from pytest_tel3sis_compose.core.settings import StackSettings
from pytest_tel3sis_compose.core.sharing import start_or_attach
from pytest_tel3sis_compose.core.signals import sigterm_raises_interrupt
from pytest_tel3sis_compose.core.stack import ComposeStack
from pytest_tel3sis_compose.errors import ComposeError
from pytest_tel3sis_compose.plugin import focus
from pytest_tel3sis_compose.plugin.aftermath import leave_behind
from pytest_tel3sis_compose.plugin.progress import Progress
from pytest_tel3sis_compose.plugin.stack_settings import DECLARABLE, Scope, StackDeclaration, settings_for
from pytest_tel3sis_compose.plugin.state import StackInUse, state_of
from pytest_tel3sis_compose.plugin.xdist import shared_folder

#: Every stack fixture made here, by id: how the plugin tells stack fixtures from others.
_DECLARED: dict[int, tuple[object, StackDeclaration]] = {}


def declaration_of(value: object) -> StackDeclaration | None:
    """The declaration of a stack fixture made by this module; None for anything else."""
    found = _DECLARED.get(id(value))
    return found[1] if found is not None and found[0] is value else None


_DOC = """A compose stack ({files}), {scope}-scoped: `.url("web")` is a health-checked `http://host:port`.

Built, started and proven ready before the first test that asks for it;
taken down (volumes and orphans too) at the end of its scope, or at once
if it fails to start.
"""


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


def compose_fixture(*files: str | PathLike[str], scope: Scope = "session", **settings: Any) -> Any:
    """Declare a compose stack as a fixture named after the variable it is assigned to.

    In a conftest.py (or a test module)::

        payments = compose_fixture("payments/compose.yml", scope="module", timeout=60)

    Relative paths start at the declaring file's folder; with no files, the
    stack is made of the compose files the options configure (as
    `compose_stack`). Keyword settings (`project_name`, `timeout`, `build`,
    `probes`, `down_timeout`, `log_lines`, `reuse`, `log_dir`, `keep_ports`,
    `require_healthy`) override the
    session's options for this stack only. Each stack gets its own project,
    probes, teardown and report. Session-scoped stacks are shared by
    pytest-xdist workers and kept by `--compose-reuse`; narrower scopes start
    one stack per worker and scope.
    """
    unknown = sorted(set(settings) - DECLARABLE)
    if unknown:
        raise TypeError(
            f"compose_fixture() does not take {', '.join(unknown)}; it takes {', '.join(sorted(DECLARABLE))}"
        )
    if scope not in get_args(Scope):
        raise ValueError(f"compose_fixture(scope={scope!r}): use one of {', '.join(get_args(Scope))}")
    caller = Path(sys._getframe(1).f_code.co_filename)
    where = f"compose_fixture(...) in {caller.name}"
    if "probes" in settings:
        settings["probes"] = {
            service: probe_from_spec(spec, where=f"{where} (probes for {service!r})")
            for service, spec in dict(settings["probes"]).items()
        }
    declared = tuple(Path(path) if Path(path).is_absolute() else caller.parent / path for path in files)
    declaration = StackDeclaration(declared or None, scope, settings, where)
    listed = ", ".join(map(str, files)) or "the configured compose files"
    return stack_fixture(declaration, _DOC.format(files=listed, scope=scope))


def stack_fixture(declaration: StackDeclaration, doc: str) -> Any:
    """A pytest fixture providing the declared stack."""

    def provide_stack(request: pytest.FixtureRequest) -> Iterator[ComposeStack]:
        yield from provide(request, declaration)

    provide_stack.__doc__ = doc
    fixture = pytest.fixture(scope=declaration.scope)(provide_stack)
    _DECLARED[id(fixture)] = (fixture, declaration)
    return fixture


def provide(request: pytest.FixtureRequest, declaration: StackDeclaration) -> Iterator[ComposeStack]:
    """Bring the stack up for the fixture's scope; take it down after, whatever happened."""
    config = request.config
    state = state_of(config)
    fixture = request.fixturename or ""
    try:
        settings = _settings(request, declaration, fixture)
    except ComposeError as exc:
        failure: str | None = f"{type(exc).__name__}: {exc}"
    else:
        failure = None
    if failure is not None:
        pytest.fail(failure, pytrace=False)  # outside the except: the message is all there is to say
    own = ComposeStack(settings, state.engine, Progress(config, settings.project_name))
    folder = shared_folder(config, fixture) if declaration.scope == "session" else None

    def attach_here(record: StackRecord) -> ComposeStack:
        return attach(settings, record, state.engine)

    used = StackInUse(fixture, own, declaration.declared_in, shared=folder is not None)
    with sigterm_raises_interrupt():
        try:
            used.stack, failure = _bring_up(own, folder, attach_here, state.current_item, fixture)
            used.start_failed = failure is not None
            state.stacks.append(used)
            if failure:
                pytest.fail(failure, pytrace=False)
            yield used.stack
        finally:
            try:
                leave_behind(used, own, state, request.session)
            finally:
                if used.stack is not own:
                    used.stack.stop()  # attached: its event stream ends; the stack stays for its owner
                own.stop()  # does nothing where another process owns the teardown, or for a kept stack


def _settings(request: pytest.FixtureRequest, declaration: StackDeclaration, fixture: str) -> StackSettings:
    if declaration.configured and declaration.scope == "session" and fixture == "compose_stack":
        settings: StackSettings = request.getfixturevalue("compose_settings")
        return settings
    probes = request.getfixturevalue("compose_probes") if declaration.configured else None
    return settings_for(request, declaration, fixture, probes)


def _bring_up(
    own: ComposeStack,
    folder: Path | None,
    attach: Callable[[StackRecord], ComposeStack],
    item: pytest.Item | None,
    fixture: str,
) -> tuple[ComposeStack, str | None]:
    """Start the stack, or in an xdist worker start or attach to the run's.

    A known failure comes back as its diagnosis rather than raised: the
    message is the whole diagnosis, and the plugin's own frames and the
    exception chain would only bury it.
    """
    try:
        wanted = None  # the first test's needs: later tests extend the stack as they need
        if focus.is_focused(item):
            assert item is not None
            own.engine.check()  # before the files are read, for the clearer error
            if stack_fixture_names([item]) & set(getattr(item, "fixturenames", ())) == {fixture}:
                focus.check_names(item, {fixture: own.services})  # a typo fails before anything starts
            wanted = focus.needs(item, fixture, own.services)
        if folder is None:
            own.start(wanted)
            return own, None
        return start_or_attach(folder, own, attach, wanted), None
    except ComposeError as exc:
        return own, f"{type(exc).__name__}: {exc}"
