from __future__ import annotations

import secrets
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from python_on_whales import docker

# An image the engine bootstrap guarantees, so broken stacks need no build.
BASE_IMAGE = "redis:7-bookworm"

# The small real service most test stacks are made of: Redis, healthy within a second or two.
CACHE = f"""services:
  cache:
    image: {BASE_IMAGE}
    user: redis
    command: ["redis-server", "--protected-mode", "no"]
    healthcheck: {{test: ["CMD", "redis-cli", "ping"], interval: 1s, retries: 30}}
"""
CACHE_WITH_PORT = CACHE + '    ports: ["127.0.0.1::6379"]\n'
CACHE_WITH_VOLUME = CACHE + "    volumes: [data:/data]\nvolumes:\n  data: {}\n"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration" in item.nodeid:
            item.add_marker(pytest.mark.integration)


def leftovers(project: str) -> list[str]:
    """Every container, network and volume Compose labelled with this project."""
    label = [("label", f"com.docker.compose.project={project}")]
    return (
        [f"container {c.name}" for c in docker.container.list(all=True, filters=label)]
        + [f"network {n.name}" for n in docker.network.list(filters=label)]
        + [f"volume {v.name}" for v in docker.volume.list(filters=label)]
    )


@pytest.fixture
def inner_project(pytester: pytest.Pytester) -> Iterator[str]:
    """A unique project name the inner session uses, and a check that nothing of it is left."""
    name = f"inner-{secrets.token_hex(4)}"
    pytester.makeconftest(
        f"""
        import pytest

        @pytest.fixture(scope="session")
        def docker_compose_project_name():
            return {name!r}
        """
    )
    yield name
    left = leftovers(name)
    remove_project(name)  # so that one failure does not leak into later tests
    assert not left, f"the run left {left}"


def remove_project(project: str) -> None:
    label = [("label", f"com.docker.compose.project={project}")]
    docker.container.remove(docker.container.list(all=True, filters=label), force=True, volumes=True)
    docker.network.remove(docker.network.list(filters=label))
    docker.volume.remove(docker.volume.list(filters=label))


@pytest.fixture
def write_compose(pytester: pytest.Pytester) -> Callable[[str], Path]:
    def write(body: str, name: str = "docker-compose.yml") -> Path:
        path = pytester.path / name
        path.write_text(textwrap.dedent(body))
        return path

    return write
