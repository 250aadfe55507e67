"""--compose-reuse keeps the stack, reuses it while nothing changed, recreates it when something did."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import BASE_IMAGE, leftovers, remove_project

STACK = f"""
services:
  cache:
    image: {BASE_IMAGE}
    user: redis
    command: ["redis-server", "--protected-mode", "no"]
    healthcheck: {{test: ["CMD", "redis-cli", "ping"], interval: 1s, retries: 30}}
    environment: {{GENERATION: "1"}}
"""

RECORDING_TEST = """
import os, pathlib
from python_on_whales import docker

def test_records_containers(compose_stack):
    ids = sorted(c.id for c in docker.container.list(
        filters=[("label", f"com.docker.compose.project={compose_stack.project_name}")]))
    pathlib.Path("ids.txt").write_text(" ".join(ids))
"""


@pytest.fixture
def kept(pytester: pytest.Pytester) -> Iterator[list[str]]:
    """Names of the stacks the test's runs kept; removed afterwards whatever happened."""
    names: list[str] = []
    yield names
    for name in names:
        remove_project(name)


def run(pytester: pytest.Pytester, *args: str) -> tuple[str, str, list[str]]:
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--compose-reuse", *args)
    result.assert_outcomes(passed=1)
    match = re.search(r"compose stack (\S+): (.+?)(; kept|$)", result.stdout.str(), re.M)
    assert match, result.stdout.str()
    return match[1], match[2], (pytester.path / "ids.txt").read_text().split()


def test_kept_stack_is_reused_until_its_compose_file_changes(
    pytester: pytest.Pytester, write_compose: Callable[[str], Path], kept: list[str]
) -> None:
    compose = write_compose(STACK)
    pytester.makepyfile(RECORDING_TEST)

    name, first, ids = run(pytester)
    kept.append(name)
    assert first == "created"
    assert leftovers(name), "the stack was not kept"

    same_name, second, same_ids = run(pytester)
    assert (same_name, second) == (name, "reused")
    assert same_ids == ids

    compose.write_text(compose.read_text().replace('GENERATION: "1"', 'GENERATION: "2"'))
    _, third, new_ids = run(pytester)
    assert third.startswith("recreated: the compose configuration")
    assert set(new_ids).isdisjoint(ids)

    pruned = pytester.runpytest_subprocess("--compose-prune")
    pruned.stdout.fnmatch_lines([f"removed compose stacks: *{name}*"])
    assert leftovers(name) == []


def test_reuse_recreates_a_stack_whose_container_was_stopped(
    pytester: pytest.Pytester, write_compose: Callable[[str], Path], kept: list[str]
) -> None:
    from python_on_whales import docker

    write_compose(STACK)
    pytester.makepyfile(RECORDING_TEST)
    name, _, ids = run(pytester)
    kept.append(name)
    docker.container.stop(ids)

    _, outcome, new_ids = run(pytester)

    assert outcome == "recreated: service 'cache' was not running"
    assert set(new_ids).isdisjoint(ids)
