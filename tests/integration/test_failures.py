"""Stacks that fail to start, run on a real engine in inner pytest sessions.

Each test runs pytest in a subprocess on a small broken stack and checks
what the user sees, and (through `inner_project`) that nothing is left.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.conftest import BASE_IMAGE, CACHE_WITH_VOLUME

TRIVIAL_TEST = """
def test_uses_stack(compose_stack):
    assert compose_stack.services
"""


def run_inner(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, float]:
    began = time.monotonic()
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", *args)
    return result, time.monotonic() - began


def test_service_that_exits_at_start_fails_fast_with_its_logs(
    pytester: pytest.Pytester, inner_project: str, write_compose: Callable[[str], Path]
) -> None:
    write_compose(
        f"""
        services:
          cache:
            image: {BASE_IMAGE}
            command: ["redis-server", "--protected-mode", "no"]
            healthcheck: {{test: ["CMD", "redis-cli", "ping"], interval: 1s, retries: 30}}
          api:
            image: {BASE_IMAGE}
            command: ["sh", "-c", "echo booting api; echo 'fatal: API_KEY is not set' >&2; exit 3"]
            volumes: [data:/data]
        volumes:
          data: {{}}
        """
    )
    pytester.makepyfile(TRIVIAL_TEST)

    result, seconds = run_inner(pytester, "--compose-timeout", "300")

    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*StackStartError: service 'api' did not become ready: its container exited with code 3",
            "*last 50 log lines of 'api':",
        ]
    )
    # Docker merges stdout and stderr in no fixed order.
    assert "    booting api" in result.stdout.lines
    assert "    fatal: API_KEY is not set" in result.stdout.lines
    # Fail fast: nowhere near the 300 s timeout (a generous bound on a noisy machine).
    assert seconds < 100


def test_service_that_never_turns_healthy_fails_at_the_timeout_with_its_health_output(
    pytester: pytest.Pytester, inner_project: str, write_compose: Callable[[str], Path]
) -> None:
    write_compose(
        f"""
        services:
          db:
            image: {BASE_IMAGE}
            command: ["sleep", "600"]
            init: true
            healthcheck:
              test: ["CMD-SHELL", "echo 'db: replica not in sync'; exit 1"]
              interval: 1s
              retries: 2
        """
    )
    pytester.makepyfile(TRIVIAL_TEST)

    result, seconds = run_inner(pytester, "--compose-timeout", "4")

    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*service 'db' did not become ready: its probe did not pass before the timeout",
            "*probe: native healthcheck",
            "*: db: replica not in sync*",  # starting or unhealthy: the last check's output
        ]
    )
    assert seconds >= 4


def test_passing_run_with_failing_test_and_fixture_error_still_takes_everything_down(
    pytester: pytest.Pytester, inner_project: str, write_compose: Callable[[str], Path]
) -> None:
    write_compose(CACHE_WITH_VOLUME)
    pytester.makepyfile(
        """
        import pytest

        @pytest.fixture
        def broken(compose_stack):
            raise RuntimeError("fixture blew up")

        def test_ok(compose_stack):
            assert compose_stack.ready_after["cache"] >= 0

        def test_fails(compose_stack):
            assert False, "test failed on purpose"

        def test_fixture_error(broken):
            pass
        """
    )

    result, _ = run_inner(pytester)

    result.assert_outcomes(passed=1, failed=1, errors=1)


def test_invalid_compose_file_is_reported_before_anything_starts(
    pytester: pytest.Pytester, inner_project: str, write_compose: Callable[[str], Path]
) -> None:
    write_compose(
        """
        services:
          web:
            image: nginx
            ports: "not a list"
        """
    )
    pytester.makepyfile(TRIVIAL_TEST)

    result, _ = run_inner(pytester)

    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*ConfigError: the compose files are invalid:*"])
    assert "Container" not in result.stdout.str()  # compose never created one
