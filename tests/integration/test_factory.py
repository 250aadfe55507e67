"""compose_fixture: several stacks in one session, each with its own scope, project and teardown."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.conftest import CACHE_WITH_PORT, leftovers

CONFTEST = """
from pytest_tel3sis_compose import compose_fixture

shared = compose_fixture("shared/compose.yml")
per_module = compose_fixture("per_module/compose.yml", scope="module", timeout=90)
"""

# Records, per test, the stacks it saw: project, URL, and which projects had containers then.
RECORD = """
import json, os, pathlib
import redis
from python_on_whales import docker


def running_projects():
    return sorted({c.config.labels["com.docker.compose.project"]
                   for c in docker.container.list(filters=[("label", "io.tel3sis.compose.session")])})


def record(name, **stacks):
    data = {"worker": os.environ.get("PYTEST_XDIST_WORKER", "main"), "running": running_projects()}
    for fixture, stack in stacks.items():
        host, port = stack.endpoint("cache")
        assert redis.Redis(host=host, port=port).ping()
        data[fixture] = {"project": stack.project_name, "url": stack.url("cache"),
                         "containers": sorted(c.id for c in docker.container.list(
                             filters=[("label", f"com.docker.compose.project={stack.project_name}")]))}
    pathlib.Path(os.environ["RECORDS"], name + ".json").write_text(json.dumps(data))
"""

FIRST_MODULE = """
from record import record

def test_both(shared, per_module):
    record("first-both", shared=shared, per_module=per_module)

def test_module_stack_again(per_module):
    record("first-again", per_module=per_module)
"""

SECOND_MODULE = """
from record import record

def test_shared_only(shared):
    record("second", shared=shared)
"""


@pytest.fixture
def records(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("shared", "per_module"):
        (pytester.path / name).mkdir()
        (pytester.path / name / "compose.yml").write_text(CACHE_WITH_PORT)
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(record=RECORD)
    folder = pytester.mkdir("records")
    monkeypatch.setenv("RECORDS", str(folder))
    return folder


def read(records: Path, name: str) -> dict[str, object]:
    data: dict[str, object] = json.loads((records / f"{name}.json").read_text())
    return data


def test_a_session_and_a_module_scoped_stack_live_side_by_side_for_their_scopes(
    pytester: pytest.Pytester, records: Path, write_compose: Callable[[str], Path]
) -> None:
    pytester.makepyfile(test_a_first=FIRST_MODULE, test_b_second=SECOND_MODULE)

    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:xdist")

    result.assert_outcomes(passed=3)
    both, again, second = (read(records, name) for name in ("first-both", "first-again", "second"))
    shared, per_module = both["shared"], both["per_module"]
    assert isinstance(shared, dict)
    assert isinstance(per_module, dict)
    assert shared["project"] != per_module["project"]
    assert shared["url"] != per_module["url"]
    assert again["per_module"] == per_module  # the same stack for the whole module
    assert second["shared"] == shared  # the same stack for the whole session
    # The module-scoped stack was gone by the time the next module ran; the session's was not.
    assert per_module["project"] in both["running"]  # type: ignore[operator]
    assert per_module["project"] not in second["running"]  # type: ignore[operator]
    assert shared["project"] in second["running"]  # type: ignore[operator]
    # Each stack has its own summary table, and nothing is left of either.
    result.stdout.fnmatch_lines([f"*compose stack {shared['project']} (shared)*"])
    result.stdout.fnmatch_lines([f"*compose stack {per_module['project']} (per_module)*"])
    assert leftovers(str(shared["project"])) == []
    assert leftovers(str(per_module["project"])) == []


def test_under_xdist_the_session_scoped_stack_starts_once(pytester: pytest.Pytester, records: Path) -> None:
    pytester.makepyfile(
        test_shared="""
        import pytest
        from record import record

        @pytest.mark.parametrize("n", range(4))
        def test_shared(shared, n):
            record(f"shared-{n}", shared=shared)
        """
    )

    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2")

    result.assert_outcomes(passed=4)
    seen = [read(records, f"shared-{n}") for n in range(4)]
    assert len({record["worker"] for record in seen}) == 2, "the tests did not spread over both workers"
    stacks = {json.dumps(record["shared"], sort_keys=True) for record in seen}
    assert len(stacks) == 1, f"more than one stack was started: {stacks}"
    project = seen[0]["shared"]["project"]  # type: ignore[index]
    assert leftovers(project) == []
