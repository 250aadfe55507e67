"""Fixtures for the release tests: a real registry on loopback for the rehearsal."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from release.registry import LocalRegistry


@pytest.fixture(scope="session")
def local_registry() -> Iterator[LocalRegistry]:
    """Debian's docker-registry on a free 127.0.0.1 port for the session, stopped at the end.

    Its storage is a temporary directory, deleted with it.
    """
    with LocalRegistry() as registry:
        yield registry
    assert not registry.running
