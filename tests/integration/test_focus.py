"""Focus: a stack starts only what the selected tests need, and grows, never restarts, for later ones."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.conftest import BASE_IMAGE, leftovers

# Five services; api needs db. Each just waits (init: true, so `down -t 0` is quick anyway).
FIVE = f"""
services:
  db:
    image: {BASE_IMAGE}
    command: ["redis-server", "--protected-mode", "no"]
    healthcheck: {{test: ["CMD", "redis-cli", "ping"], interval: 1s, retries: 30}}
  api:
    image: {BASE_IMAGE}
    command: ["sleep", "600"]
    init: true
    depends_on:
      db: {{condition: service_healthy}}
  cache:
    image: {BASE_IMAGE}
    command: ["sleep", "600"]
    init: true
  worker:
    image: {BASE_IMAGE}
    command: ["sleep", "600"]
    init: true
  mail:
    image: {BASE_IMAGE}
    command: ["sleep", "600"]
    init: true
"""

# Each test records which services had a container, and which container, when it ran.
TESTS = """
import json, os, pathlib
import pytest
from python_on_whales import docker


def record(name, stack):
    label = ("label", f"com.docker.compose.project={stack.project_name}")
    containers = docker.container.list(filters=[label])
    running = {c.config.labels["com.docker.compose.service"]: c.id for c in containers}
    pathlib.Path(os.environ["RECORDS"], name + ".json").write_text(json.dumps(running))


@pytest.mark.compose_services("api")
def test_a_api(compose_stack):
    record("a", compose_stack)


@pytest.mark.compose_services("cache")
def test_b_cache(compose_stack):
    record("b", compose_stack)


def test_c_everything(compose_stack):
    record("c", compose_stack)
"""


def test_a_test_marked_for_api_runs_with_api_and_db_only_and_later_tests_extend_the_stack(
    pytester: pytest.Pytester,
    inner_project: str,
    write_compose: Callable[[str], Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    write_compose(FIVE)
    pytester.makepyfile(test_five=TESTS)
    records = pytester.mkdir("records")
    monkeypatch.setenv("RECORDS", str(records))

    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:randomly")

    result.assert_outcomes(passed=3)
    first, second, third = (json.loads((records / f"{name}.json").read_text()) for name in "abc")
    assert set(first) == {"api", "db"}
    assert set(second) == {"api", "db", "cache"}
    assert set(third) == {"api", "db", "cache", "worker", "mail"}
    # Extended, not restarted: the first containers lived on.
    assert {name: second[name] for name in first} == first
    assert {name: third[name] for name in second} == second
    result.stdout.fnmatch_lines([f"compose {inner_project}: starting api, db"])
    assert leftovers(inner_project) == []


def test_a_marker_naming_no_service_of_the_stack_fails_the_test_with_the_known_ones(
    pytester: pytest.Pytester, inner_project: str, write_compose: Callable[[str], Path]
) -> None:
    write_compose(FIVE)
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.compose_services("apl")
        def test_typo(compose_stack):
            pass
        """
    )

    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")

    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*UnknownServiceError: no service named 'apl' in the compose files; known services: *api*"]
    )
