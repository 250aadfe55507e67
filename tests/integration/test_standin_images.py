"""The base images behave as the official ones where ordinary projects rely on it.

Here they are the bootstrap's local stand-ins; where a registry is reachable,
the official images themselves. Either way, third-party compose files and
Dockerfiles must work unchanged.
"""

from __future__ import annotations

import secrets
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from python_on_whales import DockerClient, docker

from tests.integration.conftest import leftovers, remove_project


@pytest.fixture
def compose_project(tmp_path: Path) -> Iterator[Callable[[str], DockerClient]]:
    """A compose project in `tmp_path` under a unique name, taken down afterwards, images too."""
    name = f"standin-{secrets.token_hex(4)}"
    client = DockerClient(compose_files=[tmp_path / "docker-compose.yml"], compose_project_name=name)

    def make(body: str) -> DockerClient:
        (tmp_path / "docker-compose.yml").write_text(textwrap.dedent(body))
        return client

    yield make
    client.compose.down(volumes=True, remove_orphans=True, timeout=0)
    left = leftovers(name)
    remove_project(name)  # so that one failure does not leak into later tests
    built = docker.image.list(filters=[("label", f"com.docker.compose.project={name}")])
    if built:
        docker.image.remove(built, force=True)
    assert not left, f"the test left {left}"


def test_dockerfile_that_pip_installs_system_wide_builds_on_the_python_image(
    tmp_path: Path, compose_project: Callable[[str], DockerClient]
) -> None:
    (tmp_path / "requirements.txt").write_text("iniconfig==2.1.0\n")
    (tmp_path / "Dockerfile").write_text(
        textwrap.dedent(
            """\
            FROM python:3.11-slim
            WORKDIR /app
            COPY requirements.txt .
            RUN pip install -r requirements.txt
            """
        )
    )
    client = compose_project(
        """
        services:
          app:
            build: .
        """
    )

    client.compose.build(quiet=True)
    output = client.compose.run(
        "app",
        ["python", "-c", "import iniconfig, sys; print(iniconfig.__file__, sys.prefix == sys.base_prefix)"],
        remove=True,
        tty=False,
    )

    # Installed by pip into the system interpreter, not into a virtual environment.
    location, system_wide = str(output).split()
    assert location.startswith("/usr/local/lib/python3.11/"), output
    assert system_wide == "True", output


def test_service_reaches_redis_over_the_compose_network_with_no_extra_flags(
    compose_project: Callable[[str], DockerClient],
) -> None:
    client = compose_project(
        """
        services:
          redis:
            image: redis:7
          app:
            image: redis:7
            command: ["sleep", "infinity"]
            init: true
        """
    )
    client.compose.up(detach=True)
    # Another container of the stack, as an application would connect: by service name.
    ping = 'for i in $(seq 50); do [ "$(redis-cli -h redis ping)" = PONG ] && break; sleep 0.2; done'
    client.compose.execute("app", ["sh", "-c", ping], tty=False)

    store = "redis-cli -h redis set greeting hello && redis-cli -h redis get greeting"
    reply = client.compose.execute("app", ["sh", "-c", store], tty=False)
    server_user = client.compose.execute("redis", ["stat", "-c", "%U", "/proc/1"], tty=False)

    assert str(reply).split() == ["OK", "hello"]
    assert str(server_user).strip() == "redis"  # the server dropped root, as the official image's does
