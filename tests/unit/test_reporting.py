"""What sessions show on the fake engine: a header from configuration alone, a table per stack,
logs of every stack a failing test used, and no Docker at all for a session that needs no stack."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from pytest_tel3sis_compose.plugin import state
from tests.unit.fakes import FakeEngine, compose, service


class Projects(FakeEngine):
    """One FakeEngine per compose project, chosen by the folder of its first compose file."""

    def __init__(self, **configs: dict[str, Any]) -> None:
        super().__init__(compose(unused=service()))
        self.configs = configs
        self.made: dict[str, FakeEngine] = {}

    def project(self, files: Sequence[Path], name: str) -> FakeEngine:
        folder = Path(files[0]).parent.name
        made = FakeEngine(self.configs[folder], logs={"web": f"{folder} web log line\n"})
        made.name = name
        self.made[folder] = made
        return made


@pytest.fixture
def session(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Projects:
    engine = Projects(
        main=compose(web=service(ports=[3000])),
        extra=compose(web=service(ports=[8000]), cache=service()),
    )
    monkeypatch.setattr(state, "make_engine", lambda: engine)
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    for folder in ("main", "extra"):
        (pytester.path / folder).mkdir()
        (pytester.path / folder / "compose.yml").write_text("services: {}\n")
    pytester.makeini("[pytest]\ncompose_files = main/compose.yml\n")
    pytester.makeconftest(
        """
        from pytest_tel3sis_compose import compose_fixture

        extra = compose_fixture("extra/compose.yml", scope="module")
        """
    )
    return engine


TESTS = """
def test_both(compose_stack, extra):
    assert compose_stack.url("web") != extra.url("web")

def test_fails(compose_stack, extra):
    assert False, "on purpose"

def test_no_stack():
    pass
"""


def test_a_table_per_stack_and_logs_of_each_stack_the_failed_test_used(
    pytester: pytest.Pytester, session: Projects
) -> None:
    pytester.makepyfile(test_it=TESTS)

    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--compose-timeout", "5")

    result.assert_outcomes(passed=2, failed=1)
    main, extra = session.made["main"], session.made["extra"]
    assert main.lifecycle() == extra.lifecycle() == ["config", "build", "up", "down"]
    assert session.count("check") == 2  # each stack asks the engine before it starts
    result.stdout.fnmatch_lines(
        [
            f"*compose stack {main.name} *",
            "  web      http://127.0.0.1:35768 *",
            f"*compose stack {extra.name} (extra)*",
            "  web      http://127.0.0.1:40768 *",
            "  cache *-*",
        ]
    )
    sections = [line for line in result.stdout.lines if "compose logs:" in line]
    assert len(sections) == 2, sections  # cache logged nothing
    assert any("compose logs: web (during this test)" in line for line in sections)
    assert any("compose logs: extra: web (during this test)" in line for line in sections)
    assert "main web log line" in result.stdout.str()
    assert "extra web log line" in result.stdout.str()


def test_the_header_names_every_stack_and_docker_is_asked_only_when_a_selected_test_needs_one(
    pytester: pytest.Pytester, session: Projects
) -> None:
    pytester.makepyfile(test_it=TESTS)

    needed = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--collect-only", "-k", "both")
    not_needed = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-k", "no_stack")

    needed.stdout.fnmatch_lines(
        [
            "compose files: main/compose.yml; project: pytest-*",
            "compose stack extra (module): extra/compose.yml",
            "collected 3 items / 2 deselected / 1 selected",
            "compose: fake engine",
        ]
    )
    not_needed.assert_outcomes(passed=1)
    assert "compose: fake engine" not in not_needed.stdout.str()
    assert session.made == {}  # no project was ever made


def test_a_session_that_needs_no_stack_never_touches_docker(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    (pytester.path / "docker-compose.yml").write_text("services: {web: {image: nginx}}\n")
    pytester.makeconftest(
        textwrap.dedent(
            """
            import sys

            def pytest_sessionfinish(session):
                assert "python_on_whales" not in sys.modules, "python-on-whales was imported"
            """
        )
    )
    pytester.makepyfile(test_plain="def test_plain():\n    assert 1 + 1 == 2\n")
    # Any docker process would find no engine there, and nothing can import a fake here.
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:9")
    monkeypatch.setenv("PATH", str(pytester.path / "no-docker-here"))

    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")

    result.assert_outcomes(passed=1)
    assert "compose:" not in result.stdout.str().replace("compose files:", "")
