"""The fixtures: thin wiring of pytest's session onto the core."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from pytest_tel3sis_compose.docker_host import engine_host
from pytest_tel3sis_compose.errors import ComposeError
from pytest_tel3sis_compose.probes import Probe
from pytest_tel3sis_compose.progress import Progress
from pytest_tel3sis_compose.pytest_config import overrides_pytest_docker, settings_from_config
from pytest_tel3sis_compose.settings import StackSettings
from pytest_tel3sis_compose.sharing import start_or_attach
from pytest_tel3sis_compose.signals import sigterm_raises_interrupt
from pytest_tel3sis_compose.stack import ComposeStack
from pytest_tel3sis_compose.xdist_support import OWNER_PID, SHARED_FOLDER, worker_input

STACK_KEY = pytest.StashKey[ComposeStack]()


@pytest.fixture(scope="session")
def compose_probes() -> Mapping[str, Probe]:
    """Override in conftest.py to declare readiness probes in Python: `{service: Probe}`.

    They replace what the compose files and ini keys declare for those services.

    Override in conftest.py to declare probes in Python, for example::

        @pytest.fixture(scope="session")
        def compose_probes():
            return {"web": HttpProbe(3000, "/v1/health", json=lambda body: body["db"] == "ok")}
    """
    return {}


@pytest.fixture(scope="session")
def compose_settings(
    request: pytest.FixtureRequest, pytestconfig: pytest.Config, compose_probes: Mapping[str, Probe]
) -> StackSettings:
    """The resolved settings of the session's stack (options, ini keys and fixture overrides)."""
    overrides = {
        name: request.getfixturevalue(name)
        for name in ("docker_compose_file", "docker_compose_project_name")
        if overrides_pytest_docker(request, name)
    }
    shared = worker_input(pytestconfig)
    try:
        return settings_from_config(
            pytestconfig,
            owner_pid=shared[OWNER_PID] if shared else None,
            default_project_name=f"pytest-{shared[OWNER_PID]}-{shared['testrunuid'][:6]}" if shared else None,
            compose_file_fixture=overrides.get("docker_compose_file"),
            project_name=overrides.get("docker_compose_project_name"),
            host=_host(request),
            probes=compose_probes,
        )
    except ComposeError as exc:
        pytest.fail(f"{type(exc).__name__}: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def compose_stack(pytestconfig: pytest.Config, compose_settings: StackSettings) -> Iterator[ComposeStack]:
    """The ready stack: `compose_stack.url("web")` is a health-checked `http://host:port`.

    Built, started and proven ready before the first test that asks for it;
    taken down (volumes and orphans too) after the session, or at once if it
    fails to start.
    Under pytest-xdist every worker gets the same stack, started once.
    """
    own = ComposeStack(compose_settings, listener=Progress(pytestconfig, compose_settings.project_name))
    with sigterm_raises_interrupt():
        try:
            stack, failure = _bring_up(own, compose_settings, worker_input(pytestconfig))
            # The one the tests use (in an xdist worker, maybe attached), for reports.
            pytestconfig.stash[STACK_KEY] = stack
            if failure:
                pytest.fail(failure, pytrace=False)
            yield stack
        finally:
            own.stop()  # does nothing where another process owns the teardown


def _bring_up(
    own: ComposeStack, settings: StackSettings, shared: dict[str, Any] | None
) -> tuple[ComposeStack, str | None]:
    """Start the stack, or in an xdist worker start or attach to the run's.

    A known failure comes back as its diagnosis rather than raised: the
    message is the whole diagnosis, and the plugin's own frames and the
    exception chain would only bury it.
    """
    try:
        if shared is None:
            own.start()
            return own, None
        folder = Path(shared[SHARED_FOLDER])
        return start_or_attach(folder, own, lambda snapshot: ComposeStack.attach(settings, snapshot)), None
    except ComposeError as exc:
        return own, f"{type(exc).__name__}: {exc}"


def _host(request: pytest.FixtureRequest) -> str:
    """pytest-docker's `docker_ip` where the user overrides it; else DOCKER_HOST or the context.

    pytest-docker's own `docker_ip` reads only tcp:// forms of DOCKER_HOST.
    """
    if overrides_pytest_docker(request, "docker_ip"):
        return str(request.getfixturevalue("docker_ip")).strip("[]")
    return engine_host()
