"""Each kind of bad input gets one clear message that says the fix, and leaves nothing behind.

Every test runs an inner session (on a real engine where one is needed);
`inner_project` fails the test if anything of the project remains.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.conftest import BASE_IMAGE, CACHE_WITH_PORT

STACK = (
    CACHE_WITH_PORT
    + f"""  worker:
    image: {BASE_IMAGE}
    command: ["sleep", "300"]
    init: true
"""
)

USES_STACK = """
def test_uses_stack(compose_stack):
    assert compose_stack.ready_after
"""


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args)


def run_with_env(pytester: pytest.Pytester, **changes: str) -> pytest.LineMatcher:
    """An inner session with changed environment variables; its output, to match lines in.

    Not monkeypatch: pytester's own monkeypatch outlives `inner_project`, whose
    check for leftovers must talk to the real engine.
    """
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider"],
        cwd=pytester.path, env={**os.environ, **changes}, capture_output=True, text=True, timeout=300,
        check=False,
    )  # fmt: skip
    assert done.returncode == pytest.ExitCode.TESTS_FAILED, done.stdout + done.stderr
    return pytest.LineMatcher(done.stdout.splitlines())


def test_missing_compose_file(pytester: pytest.Pytester, inner_project: str) -> None:
    pytester.makepyfile(USES_STACK)

    result = run(pytester, "--compose-file", "stack/missing.yml")

    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ConfigError: compose file not found: */stack/missing.yml; fix it in "
            "--compose-file, the compose_files ini key or the docker_compose_file fixture"
        ]
    )


def test_invalid_compose_yaml_is_caught_before_any_container_starts(
    pytester: pytest.Pytester, inner_project: str, write_compose: Callable[[str], Path]
) -> None:
    write_compose("services:\n  web:\n    image: nginx\n    ports: 'not a list'\n    bogus_key: 1\n")
    pytester.makepyfile(USES_STACK)

    result = run(pytester)

    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ConfigError: the compose files are invalid:*",
            "*Fix the file named above; `docker compose config` shows the same error.",
        ]
    )


def test_unknown_service_and_unpublished_port_say_what_there_is(
    pytester: pytest.Pytester, inner_project: str, write_compose: Callable[[str], Path]
) -> None:
    write_compose(STACK)
    pytester.makepyfile(
        """
        import pytest
        from pytest_tel3sis_compose import ConfigError, UnknownServiceError

        def test_unknown_service(compose_stack):
            with pytest.raises(UnknownServiceError) as info:
                compose_stack.url("web")
            print("MESSAGE:", info.value)

        def test_unpublished_port(compose_stack):
            with pytest.raises(ConfigError) as info:
                compose_stack.url("cache", 8080)
            print("MESSAGE:", info.value)

        def test_service_without_ports(compose_stack):
            with pytest.raises(ConfigError) as info:
                compose_stack.url("worker")
            print("MESSAGE:", info.value)
        """
    )

    result = run(pytester, "-s")

    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(
        [
            "*MESSAGE: no service named 'web' in the compose files; known services: cache, worker",
            "*MESSAGE: service 'cache' does not publish port 8080; it publishes 6379. Add it under "
            '`ports:` in the compose file, for example "127.0.0.1::8080"',
            "*MESSAGE: service 'worker' publishes no port; add one under `ports:`, for example "
            '"127.0.0.1::3000"',
        ]
    )


def test_no_engine_reachable_says_how_to_start_one(
    pytester: pytest.Pytester, inner_project: str, write_compose: Callable[[str], Path]
) -> None:
    write_compose(STACK)
    pytester.makepyfile(USES_STACK)

    # Port 9 (discard) on loopback: nothing listens there, so the refusal is immediate.
    output = run_with_env(pytester, DOCKER_HOST="tcp://127.0.0.1:9")

    output.fnmatch_lines(
        [
            "*EngineError: no Docker engine answers: *",
            "Fix: start a Docker engine (Docker Desktop, `sudo systemctl start docker`, or on a bare "
            "Debian/Ubuntu machine `bash scripts/bootstrap-docker.sh` from this project), or point "
            "DOCKER_HOST at one that runs.",
        ]
    )


def test_compose_v2_missing_says_how_to_install_it(
    pytester: pytest.Pytester, inner_project: str, write_compose: Callable[[str], Path]
) -> None:
    write_compose(STACK)
    pytester.makepyfile(USES_STACK)
    # The real `docker`, run where its CLI plugin folder is empty (a mount namespace of its
    # own): it neither lists nor runs Compose, as on a machine without the plugin.
    real = shutil.which("docker")
    assert real, "docker is not on PATH"
    listed = '{{range .ClientInfo.Plugins}}{{if eq .Name "compose"}}{{.Path}}{{end}}{{end}}'
    plugin = subprocess.run(
        [real, "info", "--format", listed],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    assert plugin, "this machine's docker lists no Compose plugin to hide"
    shim = pytester.mkdir("bin") / "docker"
    shim.write_text(
        "#!/bin/sh\n"
        f'exec unshare --mount sh -c \'mount -t tmpfs none "$0" && exec "$@"\' '
        f'{Path(plugin).parent} {real} "$@"\n'
    )
    shim.chmod(shim.stat().st_mode | stat.S_IEXEC)

    output = run_with_env(pytester, PATH=f"{shim.parent}{os.pathsep}{os.environ['PATH']}")

    output.fnmatch_lines(
        [
            "*EngineError: `docker compose version` failed.",
            "Fix: install Compose v2 as a Docker CLI plugin (Debian/Ubuntu: the docker-compose-plugin "
            "package; or `bash scripts/bootstrap-docker.sh` from this project); the old Python "
            "`docker-compose` v1 is not supported.",
        ]
    )


def test_bad_option_value_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(USES_STACK)

    result = run(pytester, "--compose-timeout", "soon")

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--compose-timeout must be a number of seconds, not 'soon'*"])
