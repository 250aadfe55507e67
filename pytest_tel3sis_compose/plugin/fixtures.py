"""The plugin's own fixtures: the stack the options configure, its settings, and its probes."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from pytest_tel3sis_compose.core.probes import Probe
from pytest_tel3sis_compose.core.settings import StackSettings
from pytest_tel3sis_compose.errors import ComposeError
from pytest_tel3sis_compose.plugin.factory import stack_fixture
from pytest_tel3sis_compose.plugin.stack_settings import StackDeclaration, settings_for

CONFIGURED = StackDeclaration(None, "session", {}, "the compose_stack fixture")


@pytest.fixture(scope="session")
def compose_probes() -> Mapping[str, Probe]:
    """Override in conftest.py to declare readiness probes in Python: `{service: Probe}`.

    They replace what the compose files and ini keys declare for those services
    of `compose_stack`, for example::

        @pytest.fixture(scope="session")
        def compose_probes():
            return {"web": HttpProbe(3000, "/v1/health", json=lambda body: body["db"] == "ok")}
    """
    return {}


@pytest.fixture(scope="session")
def compose_settings(request: pytest.FixtureRequest, compose_probes: Mapping[str, Probe]) -> StackSettings:
    """The resolved settings of `compose_stack` (options, ini keys and fixture overrides)."""
    try:
        return settings_for(request, CONFIGURED, "compose_stack", compose_probes)
    except ComposeError as exc:
        failure = f"{type(exc).__name__}: {exc}"
    pytest.fail(failure, pytrace=False)  # outside the except: the message is all there is to say


compose_stack = stack_fixture(
    CONFIGURED,
    """The stack the options configure: `compose_stack.url("web")` is a health-checked `http://host:port`.

    Built, started and proven ready before the first test that asks for it;
    taken down (volumes and orphans too) after the session, or at once if it
    fails to start. Under pytest-xdist every worker gets the same stack, started once.
    """,
)
