"""The plugin on stacks written the way ordinary projects write them (tests/stacks/).

Each stack is copied into the inner session's folder and run there with its
own pytest.ini and tests, as its users run it. Stacks with fixed host ports
or container names get what such a project adds to run beside other runs of
itself: a second compose file with ephemeral loopback ports and no fixed names.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from python_on_whales import docker

STACKS = Path(__file__).resolve().parents[1] / "stacks"

# The tutorial publishes 8004 and 5556 on every interface and names its containers.
TUTORIAL_SIDE_BY_SIDE = """\
services:
  web:
    container_name: !reset null
    ports: !override ["127.0.0.1::8000"]
  worker:
    container_name: !reset null
  dashboard:
    container_name: !reset null
    ports: !override ["127.0.0.1::5555"]
  redis:
    container_name: !reset null
"""


@pytest.fixture
def stack_copy(pytester: pytest.Pytester, inner_project: str) -> Iterator[Callable[[str], Path]]:
    """Copy a stack into the inner session's folder; remove the images its build made afterwards."""

    def copy(name: str) -> Path:
        shutil.copytree(STACKS / name, pytester.path, dirs_exist_ok=True)
        return pytester.path

    yield copy
    # Compose tags what it builds `<project>-<service>`; `down` leaves those images.
    built = docker.image.list(filters=[("label", f"com.docker.compose.project={inner_project}")])
    if built:
        docker.image.remove(built, force=True)


def run_inner(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args)


def test_tutorial_stack_queues_and_runs_a_task_through_its_api(
    pytester: pytest.Pytester, inner_project: str, stack_copy: Callable[[str], Path]
) -> None:
    folder = stack_copy("tutorial")
    (folder / "side-by-side.yml").write_text(TUTORIAL_SIDE_BY_SIDE)

    result = run_inner(pytester, "--compose-file", "docker-compose.yml", "--compose-file", "side-by-side.yml")

    result.assert_outcomes(passed=4)
    assert re.search(r"web\s+http://127\.0\.0\.1:\d+\s", result.stdout.str())
    # Its Dockerfile (FROM python:3.11-slim, a system-wide `pip install -r requirements.txt`) built.
    built = docker.image.list(filters=[("label", f"com.docker.compose.project={inner_project}")])
    assert {tag.split(":")[0] for image in built for tag in image.repo_tags} == {
        f"{inner_project}-{service}" for service in ("web", "worker", "dashboard")
    }


def test_oneshot_stack_runs_its_migration_before_the_app(
    pytester: pytest.Pytester, stack_copy: Callable[[str], Path]
) -> None:
    stack_copy("oneshot")

    result = run_inner(pytester)

    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*migrate*completed successfully*"])
