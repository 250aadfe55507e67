"""The pytest layer, driven through inner sessions: options, ini keys, fixture overrides.

Inner sessions request `compose_settings`, which resolves the settings and starts nothing;
the inner test writes them to settings.json for the outer test to check. The few tests of
`compose_stack` itself replace the plugin's ComposeStack with one on a FakeEngine.
"""

from __future__ import annotations

import json
import os
import re
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pytest_tel3sis_compose.plugin import state
from pytest_tel3sis_compose.plugin.stack_settings import default_project_name, session_project_name
from pytest_tel3sis_compose.plugin.xdist import OWNER_PID, SHARED_FOLDER
from tests.unit.fakes import FakeEngine, compose, exited, service

DUMP_SETTINGS = """
import json
from pathlib import Path
from types import ModuleType


def test_dump_settings(compose_settings):
    s = compose_settings
    data = {
        "files": [str(p) for p in s.compose_files],
        "project_name": s.project_name,
        "timeout": s.timeout,
        "build": s.build,
        "host": s.host,
        "down_timeout": s.down_timeout,
        "probes": {name: [type(p).__name__, p.describe()] for name, p in s.probes.items()},
    }
    Path(__file__).with_name("settings.json").write_text(json.dumps(data))
"""


@pytest.fixture
def inner(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> pytest.Pytester:
    """A pytester dir with an ini file, a compose file and the settings-dumping test.

    The engine is local unless a test says otherwise: no DOCKER_HOST, no DOCKER_CONTEXT and
    a docker config folder without config.json (so no current context either).
    """
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.delenv("DOCKER_CONTEXT", raising=False)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path_factory.mktemp("docker-config")))
    pytester.makeini("[pytest]\n")
    write(pytester, "docker-compose.yml")
    pytester.makepyfile(test_dump=DUMP_SETTINGS)
    return pytester


def write(pytester: pytest.Pytester, name: str, text: str = "services: {}\n") -> Path:
    path = pytester.path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def settings_of(pytester: pytest.Pytester, *args: str) -> dict[str, Any]:
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", *args)
    result.assert_outcomes(passed=1)
    data: dict[str, Any] = json.loads((pytester.path / "settings.json").read_text())
    return data


def failure_of(pytester: pytest.Pytester, *args: str) -> str:
    """The output of an inner session whose compose_settings fixture fails."""
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", *args)
    result.assert_outcomes(errors=1)
    assert not (pytester.path / "settings.json").exists()
    return str(result.stdout)


def usage_error_of(pytester: pytest.Pytester, *args: str) -> str:
    """The error of an inner session refused at start-up for a bad option or ini value."""
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR, str(result.stdout)
    assert not (pytester.path / "settings.json").exists()  # nothing ran
    return str(result.stderr)


def ini(pytester: pytest.Pytester, body: str) -> None:
    pytester.makeini("[pytest]\n" + textwrap.dedent(body))


# -- compose files --------------------------------------------------------------------------


def test_defaults(inner: pytest.Pytester) -> None:
    settings = settings_of(inner)

    assert settings["files"] == [str(inner.path / "docker-compose.yml")]
    assert settings["timeout"] == 120.0
    assert settings["build"] is True
    assert settings["host"] == "127.0.0.1"
    assert settings["down_timeout"] == 0
    assert settings["probes"] == {}
    assert re.fullmatch(r"pytest-\d+-[0-9a-f]{6}", settings["project_name"])


def test_ini_compose_files_relative_to_the_ini_file(inner: pytest.Pytester) -> None:
    write(inner, "compose/base.yml")
    write(inner, "compose/ci.yml")
    ini(inner, "compose_files =\n    compose/base.yml\n    compose/ci.yml\n")

    settings = settings_of(inner)

    assert settings["files"] == [str(inner.path / "compose/base.yml"), str(inner.path / "compose/ci.yml")]


def test_compose_file_option_is_repeatable_and_beats_ini(inner: pytest.Pytester) -> None:
    write(inner, "compose/base.yml")
    write(inner, "a.yml")
    write(inner, "b.yml")
    ini(inner, "compose_files = compose/base.yml\n")

    settings = settings_of(inner, "--compose-file", "a.yml", "--compose-file", str(inner.path / "b.yml"))

    assert settings["files"] == [str(inner.path / "a.yml"), str(inner.path / "b.yml")]


FIXTURE_FILES = """
import pytest


@pytest.fixture(scope="session")
def docker_compose_file():
    return {value!r}
"""


@pytest.mark.parametrize("value", ["from-fixture.yml", ["from-fixture.yml", "extra.yml"]])
def test_docker_compose_file_fixture_beats_ini(inner: pytest.Pytester, value: str | list[str]) -> None:
    write(inner, "from-fixture.yml")
    write(inner, "extra.yml")
    write(inner, "from-ini.yml")
    ini(inner, "compose_files = from-ini.yml\n")
    inner.makeconftest(FIXTURE_FILES.format(value=value))

    settings = settings_of(inner)

    expected = [value] if isinstance(value, str) else value
    assert settings["files"] == [str(inner.path / name) for name in expected]


def test_compose_file_option_beats_the_docker_compose_file_fixture(inner: pytest.Pytester) -> None:
    write(inner, "from-fixture.yml")
    write(inner, "from-cli.yml")
    inner.makeconftest(FIXTURE_FILES.format(value="from-fixture.yml"))

    settings = settings_of(inner, "--compose-file", "from-cli.yml")

    assert settings["files"] == [str(inner.path / "from-cli.yml")]


def test_missing_compose_file_fails_the_fixture_naming_the_path(inner: pytest.Pytester) -> None:
    output = failure_of(inner, "--compose-file", "nope.yml")

    assert f"compose file not found: {inner.path / 'nope.yml'}" in output
    assert "--compose-file" in output


# -- project name ---------------------------------------------------------------------------


def test_docker_compose_project_name_fixture_is_used(inner: pytest.Pytester) -> None:
    inner.makeconftest(
        """
        import pytest


        @pytest.fixture(scope="session")
        def docker_compose_project_name():
            return "from-conftest"
        """
    )

    assert settings_of(inner)["project_name"] == "from-conftest"


def test_compose_project_name_option_beats_the_fixture(inner: pytest.Pytester) -> None:
    inner.makeconftest(
        """
        import pytest


        @pytest.fixture(scope="session")
        def docker_compose_project_name():
            return "from-conftest"
        """
    )

    assert settings_of(inner, "--compose-project-name", "from-cli")["project_name"] == "from-cli"


def test_default_project_name_is_unique_per_session(inner: pytest.Pytester) -> None:
    first = settings_of(inner)["project_name"]
    second = settings_of(inner)["project_name"]

    assert first != second


def test_project_name_is_resolved_once_per_session(inner: pytest.Pytester) -> None:
    inner.makepyfile(
        test_twice="""
        seen = []

        def test_one(compose_settings):
            seen.append(compose_settings.project_name)

        def test_two(compose_settings):
            seen.append(compose_settings.project_name)
            assert seen[0] == seen[1]
        """
    )

    inner.runpytest_inprocess("-p", "no:cacheprovider", "test_twice.py").assert_outcomes(passed=2)


# -- timeout, build, probes, teardown ------------------------------------------------------------


def test_compose_timeout_option(inner: pytest.Pytester) -> None:
    assert settings_of(inner, "--compose-timeout", "7.5")["timeout"] == 7.5


def test_compose_timeout_ini(inner: pytest.Pytester) -> None:
    ini(inner, "compose_timeout = 42\n")

    assert settings_of(inner)["timeout"] == 42.0
    assert settings_of(inner, "--compose-timeout", "3")["timeout"] == 3.0  # the option beats ini


def test_bad_compose_timeout_option_gives_a_clear_error(inner: pytest.Pytester) -> None:
    output = usage_error_of(inner, "--compose-timeout", "soon")

    assert "--compose-timeout must be a number of seconds, not 'soon'" in output


def test_bad_compose_timeout_ini_names_the_ini_key(inner: pytest.Pytester) -> None:
    ini(inner, "compose_timeout = two minutes\n")

    output = usage_error_of(inner)

    assert "the compose_timeout ini key must be a number of seconds, not 'two minutes'" in output


def test_non_positive_compose_timeout(inner: pytest.Pytester) -> None:
    output = usage_error_of(inner, "--compose-timeout", "0")

    assert (
        "the compose timeout must be more than 0 and at most 86400 seconds, not 0.0; "
        "fix it in --compose-timeout or the compose_timeout ini key"
    ) in output


def test_compose_timeout_above_a_day(inner: pytest.Pytester) -> None:
    ini(inner, "compose_timeout = inf\n")

    output = usage_error_of(inner)

    assert "the compose timeout must be more than 0 and at most 86400 seconds, not inf" in output


def test_compose_no_build_option(inner: pytest.Pytester) -> None:
    assert settings_of(inner, "--compose-no-build")["build"] is False


def test_compose_build_ini(inner: pytest.Pytester) -> None:
    ini(inner, "compose_build = false\n")

    assert settings_of(inner)["build"] is False


def test_compose_down_timeout_ini(inner: pytest.Pytester) -> None:
    ini(inner, "compose_down_timeout = 5\n")

    assert settings_of(inner)["down_timeout"] == 5


def test_bad_compose_down_timeout_ini(inner: pytest.Pytester) -> None:
    ini(inner, "compose_down_timeout = 2.5\n")

    assert "the compose_down_timeout ini key must be whole seconds, not '2.5'" in usage_error_of(inner)


PROBES_INI = """
compose_probes =
    web = {"http": {"port": 3000, "path": "/v1/health", "json": {"*": "ok"}}}
    worker = {"command": ["celery", "inspect", "ping"]}
    migrate = completed
"""


def test_compose_probes_ini_lines(inner: pytest.Pytester) -> None:
    ini(inner, PROBES_INI)

    probes = settings_of(inner)["probes"]

    assert probes == {
        "web": ["HttpProbe", "HTTP GET :3000/v1/health expecting 200 and JSON match"],
        "worker": ["CommandProbe", "command celery inspect ping"],
        "migrate": ["CompletedProbe", "completed successfully"],
    }


def test_compose_probes_fixture_override_beats_ini_per_service(inner: pytest.Pytester) -> None:
    ini(inner, PROBES_INI)
    inner.makeconftest(
        """
        import pytest
        from pytest_tel3sis_compose import HttpProbe, RunningProbe


        @pytest.fixture(scope="session")
        def compose_probes():
            return {"web": HttpProbe(8080, "/ready"), "cache": RunningProbe()}
        """
    )

    probes = settings_of(inner)["probes"]

    assert probes == {
        "web": ["HttpProbe", "HTTP GET :8080/ready expecting 200"],
        "worker": ["CommandProbe", "command celery inspect ping"],
        "migrate": ["CompletedProbe", "completed successfully"],
        "cache": ["RunningProbe", "container running (or exited 0)"],
    }


def test_bad_compose_probes_line(inner: pytest.Pytester) -> None:
    ini(inner, "compose_probes =\n    web: running\n")

    output = usage_error_of(inner)

    assert "cannot read 'web: running' in the compose_probes ini key" in output
    assert "SERVICE = SPEC" in output


def test_docker_host_gives_the_host(inner: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "tcp://192.0.2.10:2376")

    assert settings_of(inner)["host"] == "192.0.2.10"


@pytest.mark.parametrize(
    ("docker_host", "host"),
    [
        ("ssh://me@192.0.2.10", "192.0.2.10"),
        ("tcp://[2001:db8::1]:2376", "2001:db8::1"),
        ("unix:///var/run/docker.sock", "127.0.0.1"),
    ],
)
def test_docker_host_forms_give_the_host(
    inner: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, docker_host: str, host: str
) -> None:
    monkeypatch.setenv("DOCKER_HOST", docker_host)

    assert settings_of(inner)["host"] == host


def test_the_docker_context_gives_the_host_without_docker_host(
    inner: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_CONTEXT", "remote")
    contexts: list[str] = []

    def endpoint(self: object) -> str:
        contexts.append(os.environ["DOCKER_CONTEXT"])
        return "ssh://me@192.0.2.20"

    monkeypatch.setattr("pytest_tel3sis_compose.engine.DockerEngine._context_endpoint", endpoint)

    assert settings_of(inner)["host"] == "192.0.2.20"
    assert contexts == ["remote"]


def test_an_unreadable_docker_host_fails_the_fixture_naming_it(
    inner: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", "tcp://")

    output = failure_of(inner)

    assert "ConfigError: cannot tell the engine's host from DOCKER_HOST = 'tcp://'" in output


DOCKER_IP_FIXTURE = """
import pytest


@pytest.fixture(scope="session")
def docker_ip():
    return {value!r}
"""


@pytest.mark.parametrize(("value", "host"), [("198.51.100.7", "198.51.100.7"), ("[::1]", "::1")])
def test_a_docker_ip_override_beats_docker_host(
    inner: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, value: str, host: str
) -> None:
    monkeypatch.setenv("DOCKER_HOST", "tcp://192.0.2.10:2376")
    inner.makeconftest(DOCKER_IP_FIXTURE.format(value=value))

    assert settings_of(inner)["host"] == host


# -- compose_stack on a FakeEngine ------------------------------------------------------------


@pytest.fixture
def fake_stack(monkeypatch: pytest.MonkeyPatch) -> Callable[[FakeEngine], None]:
    """Make the plugin's stacks run on the given FakeEngine."""

    def use(engine: FakeEngine) -> None:
        monkeypatch.setattr(state, "make_engine", lambda: engine)

    return use


def run_stack(pytester: pytest.Pytester, test_file: str) -> pytest.RunResult:
    """An inner session on the fake stack, with a timeout that keeps a regression short."""
    return pytester.runpytest_inprocess("-p", "no:cacheprovider", "--compose-timeout", "5", test_file)


STACK_TESTS = """
def test_one(compose_stack):
    assert compose_stack.url("web").startswith("http://127.0.0.1:")

def test_two(compose_stack):
    assert compose_stack.project_name
"""


def test_compose_stack_starts_once_and_goes_down_once_after_the_session(
    inner: pytest.Pytester, fake_stack: Callable[[FakeEngine], None]
) -> None:
    engine = FakeEngine(compose(web=service(ports=[3000])))
    fake_stack(engine)
    inner.makepyfile(test_stack=STACK_TESTS)

    result = run_stack(inner, "test_stack.py")

    result.assert_outcomes(passed=2)
    assert engine.lifecycle() == ["check", "config", "build", "up", "down"]


def test_the_stack_is_prefetched_once_collection_shows_a_test_needs_it(
    inner: pytest.Pytester, fake_stack: Callable[[FakeEngine], None]
) -> None:
    engine = FakeEngine(compose(web=service(ports=[3000])))
    fake_stack(engine)
    inner.makepyfile(test_stack=STACK_TESTS)

    run_stack(inner, "test_stack.py").assert_outcomes(passed=2)

    names = engine.names()
    assert names.count("prefetch") == 1
    assert names.index("prefetch") < names.index("up")
    assert ("prefetch", engine.name) in engine.calls, "prefetched for another project than the one started"


def test_a_session_without_stack_tests_prefetches_nothing(
    inner: pytest.Pytester, fake_stack: Callable[[FakeEngine], None]
) -> None:
    engine = FakeEngine(compose(web=service(ports=[3000])))
    fake_stack(engine)
    inner.makepyfile(test_plain="def test_plain():\n    assert 1 + 1 == 2\n")

    run_stack(inner, "test_plain.py").assert_outcomes(passed=1)

    assert "prefetch" not in engine.names()


def test_compose_stack_goes_down_after_a_failing_test(
    inner: pytest.Pytester, fake_stack: Callable[[FakeEngine], None]
) -> None:
    engine = FakeEngine(compose(web=service(ports=[3000])))
    fake_stack(engine)
    inner.makepyfile(test_stack="def test_fails(compose_stack):\n    assert False\n")

    run_stack(inner, "test_stack.py").assert_outcomes(failed=1)

    assert engine.count("down") == 1


def test_compose_stack_failed_start_is_reported_plainly_once_and_goes_down_once(
    inner: pytest.Pytester, fake_stack: Callable[[FakeEngine], None]
) -> None:
    engine = FakeEngine(
        compose(web=service(ports=[3000])),
        statuses={"web": [exited("web", 4)]},
        logs={"web": "Traceback: ImportError: no module named tel3sis\n"},
    )
    fake_stack(engine)
    inner.makepyfile(test_stack=STACK_TESTS)

    result = run_stack(inner, "test_stack.py")

    result.assert_outcomes(errors=2)
    output = str(result.stdout)
    assert "StackStartError: service 'web' did not become ready: its container exited with code 4" in output
    assert "ImportError: no module named tel3sis" in output
    assert engine.count("up") == 1  # the second test gets the cached failure
    assert engine.count("down") == 1


URL_TEST = """
def test_url(compose_stack):
    assert compose_stack.url("web") == {expected!r}
"""


def run_url_session(
    inner: pytest.Pytester,
    fake_stack: Callable[[FakeEngine], None],
    monkeypatch: pytest.MonkeyPatch,
    docker_host: str,
    expected: str,
) -> pytest.RunResult:
    monkeypatch.setenv("DOCKER_HOST", docker_host)
    engine = FakeEngine(compose(web=service(ports=[3000])), ports={("web", 3000): ("0.0.0.0", 40000)})
    fake_stack(engine)
    inner.makepyfile(test_url=URL_TEST.format(expected=expected))
    result = run_stack(inner, "test_url.py")
    assert engine.count("down") == 1
    return result


def test_remote_docker_host_reaches_ports_on_all_interfaces(
    inner: pytest.Pytester, fake_stack: Callable[[FakeEngine], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    result = run_url_session(
        inner, fake_stack, monkeypatch, "tcp://192.0.2.10:2376", "http://192.0.2.10:40000"
    )

    result.assert_outcomes(passed=1)


@pytest.mark.parametrize(
    ("docker_host", "expected"),
    [
        ("tcp://[2001:db8::1]:2376", "http://[2001:db8::1]:40000"),
        ("ssh://me@192.0.2.10", "http://192.0.2.10:40000"),
    ],
)
def test_docker_host_forms_give_valid_urls(
    inner: pytest.Pytester,
    fake_stack: Callable[[FakeEngine], None],
    monkeypatch: pytest.MonkeyPatch,
    docker_host: str,
    expected: str,
) -> None:
    result = run_url_session(inner, fake_stack, monkeypatch, docker_host, expected)

    result.assert_outcomes(passed=1)


def test_in_an_xdist_worker_the_prefetch_names_the_runs_one_stack(inner: pytest.Pytester) -> None:
    config = inner.parseconfigure()
    worker = {OWNER_PID: 4242, "testrunuid": "abcdef123456", SHARED_FOLDER: "/nonexistent"}
    config.workerinput = worker  # type: ignore[attr-defined]

    assert default_project_name(config) == session_project_name(config) == "pytest-4242-abcdef"
