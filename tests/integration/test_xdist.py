"""pytest-xdist: every worker shares one stack, started once and always taken down."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.conftest import CACHE_WITH_PORT, leftovers

STACK = CACHE_WITH_PORT

# Each test records which worker ran it and which stacks were running then.
RECORDING_TESTS = """
import json, os, pathlib
import pytest
import redis
from python_on_whales import docker

@pytest.mark.parametrize("n", range(6))
def test_uses_the_stack(compose_stack, n):
    host, port = compose_stack.endpoint("cache")
    assert redis.Redis(host=host, port=port).ping()
    ours = [
        c for c in docker.container.list(filters=[("label", "io.tel3sis.compose.session")])
        if c.config.labels["com.docker.compose.project"] == compose_stack.project_name
    ]
    record = {"worker": os.environ["PYTEST_XDIST_WORKER"], "project": compose_stack.project_name,
              "sessions": sorted({c.config.labels["io.tel3sis.compose.session"] for c in ours}),
              "containers": sorted(c.id for c in ours)}
    pathlib.Path(os.environ["RECORDS"], f"{n}.json").write_text(json.dumps(record))
"""

CRASHING_TEST = """
import os, signal

def test_crashes_its_worker(compose_stack):
    os.kill(os.getpid(), signal.SIGKILL)

def test_other(compose_stack):
    assert compose_stack.ready_after
"""


def test_three_workers_share_one_stack(
    pytester: pytest.Pytester, write_compose: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    write_compose(STACK)
    pytester.makepyfile(RECORDING_TESTS)
    records = pytester.mkdir("records")
    monkeypatch.setenv("RECORDS", str(records))

    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "3")

    result.assert_outcomes(passed=6)
    seen = [json.loads(path.read_text()) for path in records.glob("*.json")]
    assert len({record["worker"] for record in seen}) > 1, "the tests did not spread over workers"
    # One project, one session label, the very same container throughout: started once.
    (project,) = {record["project"] for record in seen}
    assert project.startswith("pytest-")
    assert len({tuple(record["sessions"]) for record in seen}) == 1
    assert len(seen[0]["sessions"]) == 1
    assert len({tuple(record["containers"]) for record in seen}) == 1
    assert leftovers(project) == []


def test_stack_is_taken_down_when_a_worker_crashes(
    pytester: pytest.Pytester, inner_project: str, write_compose: Callable[[str], Path]
) -> None:
    write_compose(STACK)
    pytester.makepyfile(CRASHING_TEST)

    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2")

    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*crashed*"])
