"""Focus: a stack starts only what the tests that use it need, and grows when a later test needs more.

`@pytest.mark.compose_services("api")` names the services a test needs (with
what they depend on); `stack="payments"` aims it at one stack fixture. A test
without the marker needs all of every stack it uses.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from pytest_tel3sis_compose.core.sharing import extend_shared
from pytest_tel3sis_compose.errors import ComposeError, UnknownServiceError
from pytest_tel3sis_compose.plugin.state import stacks_of
from pytest_tel3sis_compose.plugin.xdist import shared_folder

MARKER = "compose_services"
MARKER_HELP = (
    f"{MARKER}(*services, stack=None): the compose services this test needs (and what they depend on "
    "start with them); stack= names the stack fixture it is about. Without it: every service."
)


def is_focused(item: pytest.Item | None) -> bool:
    return item is not None and any(True for _ in item.iter_markers(MARKER))


def needs(item: pytest.Item | None, fixture: str, services: Sequence[str]) -> tuple[str, ...] | None:
    """What of a stack (`fixture`, offering `services`) the test needs; None: all of it."""
    if item is None:
        return None
    named: set[str] = set()
    for marker in item.iter_markers(MARKER):
        aimed = marker.kwargs.get("stack")
        if aimed == fixture:
            named.update(_check(marker.args, services, fixture))
        elif aimed is None:
            named.update(name for name in marker.args if name in services)
    return tuple(name for name in services if name in named) or None


def extend_for(item: pytest.Item) -> None:
    """Start what this test needs of its (running) stacks and they lack; fail it if that fails."""
    used = [entry for entry in stacks_of(item) if entry.stack.ready]
    try:
        check_names(item, {entry.fixture: entry.stack.services for entry in used})
        for entry in used:
            wanted = needs(item, entry.fixture, entry.stack.services) or entry.stack.services
            folder = shared_folder(item.config, entry.fixture) if entry.shared else None
            if folder is not None:
                extend_shared(folder, entry.stack, wanted)
            else:
                entry.stack.extend(wanted)
    except ComposeError as exc:
        failure = f"{type(exc).__name__}: {exc}"
    else:
        return
    pytest.fail(failure, pytrace=False)


def check_names(item: pytest.Item, offered: dict[str, Sequence[str]]) -> None:
    """Every name the markers give must be a service of a stack the test uses."""
    known = sorted({name for services in offered.values() for name in services})
    for marker in item.iter_markers(MARKER):
        if marker.kwargs.get("stack") is None:
            unknown = [name for name in marker.args if name not in known]
            if unknown:
                raise UnknownServiceError(unknown[0], known)


def _check(names: Sequence[str], services: Sequence[str], fixture: str) -> Sequence[str]:
    for name in names:
        if name not in services:
            raise UnknownServiceError(name, sorted(services))
    return names
