"""--compose-reuse keeps the stack, reuses it while nothing changed, recreates it when something did."""

from __future__ import annotations

import re
import secrets
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


def test_a_built_service_is_recreated_when_a_file_its_build_sends_changes(
    pytester: pytest.Pytester, write_compose: Callable[[str], Path], kept: list[str]
) -> None:
    from python_on_whales import docker

    tag = f"tel3sis-reuse-built:{secrets.token_hex(4)}"
    write_compose(STACK.replace(f"image: {BASE_IMAGE}", f"build: app\n    image: {tag}"))
    app = pytester.mkdir("app")
    (app / "Dockerfile").write_text(f"FROM {BASE_IMAGE}\nCOPY . /app\n")
    (app / ".dockerignore").write_text("*.log\n")
    (app / "settings.txt").write_text("one\n")
    (app / "debug.log").write_text("old\n")
    pytester.makepyfile(RECORDING_TEST)
    try:
        name, first, ids = run(pytester)
        kept.append(name)
        assert first == "created"

        (app / "debug.log").write_text("new\n")  # the build does not send it
        assert run(pytester)[1:] == ("reused", ids)

        (app / "settings.txt").write_text("two\n")
        _, third, new_ids = run(pytester)
        assert third == "recreated: the compose configuration, an image or a build context changed"
        assert set(new_ids).isdisjoint(ids)
    finally:  # the built image goes too, once the containers using it are gone
        for name in kept:
            remove_project(name)
        docker.image.remove(tag, force=True)
