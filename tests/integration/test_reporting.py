"""What a session shows: progress, header, summary, and service logs on a failed test."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

# python -m http.server logs every request, path and query included, to stderr.
WEB = """
services:
  web:
    image: python:3.11-slim-bookworm
    command: ["python", "-m", "http.server", "8000"]
    user: "65534"
    ports: ["127.0.0.1::8000"]
    x-tel3sis-probe: {http: {port: 8000, path: "/?from=probe"}}
"""

# The engine stamps a log line when it reads it, a few ms after the container wrote it: test_one
# lets that pass, so its line belongs to its own window and the check below is about the plugin.
TESTS = """
import time

import httpx

def test_one(compose_stack):
    assert httpx.get(compose_stack.url("web") + "/?from=test-one").status_code == 200
    time.sleep(0.3)

def test_two(compose_stack):
    httpx.get(compose_stack.url("web") + "/?from=test-two")
    assert False, "fails on purpose"
"""


def test_failed_test_report_has_the_logs_of_its_own_window_only(
    pytester: pytest.Pytester, inner_project: str, write_compose: Callable[[str], Path]
) -> None:
    write_compose(WEB)
    pytester.makepyfile(TESTS)

    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")

    result.assert_outcomes(passed=1, failed=1)
    lines = result.stdout.lines
    start = next(n for n, line in enumerate(lines) if "compose logs: web (during this test)" in line) + 1
    end = next(n for n in range(start, len(lines)) if lines[n].startswith(("---", "===")))
    section = "\n".join(lines[start:end])
    assert "GET /?from=test-two" in section
    assert "from=test-one" not in section
    assert "from=probe" not in section


def test_progress_header_and_summary_are_shown_and_quiet_silences_progress(
    pytester: pytest.Pytester, inner_project: str, write_compose: Callable[[str], Path]
) -> None:
    write_compose(WEB)
    pytester.makepyfile(TESTS.split("def test_two")[0])

    shown = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    quiet = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")

    shown.assert_outcomes(passed=1)
    shown.stdout.fnmatch_lines(
        [
            "compose files: docker-compose.yml; project: set by the docker_compose_project_name fixture",
            "collected 1 item",
            # Docker is asked only once it is known that a selected test needs a stack.
            "compose: docker *, root*; Compose *",
            f"compose {inner_project}: starting",
            "  web * waiting on HTTP GET :8000/?from=probe expecting 200",
            "  web * ready in * s",
            f"compose {inner_project}: taken down in * s",
            f"*compose stack {inner_project}*",
            "  service  url * ready after  docker health  probe",
            "  web      http://127.0.0.1:* s * -  * HTTP GET :8000/?from=probe expecting 200",
            "  taken down in * s",
        ]
    )
    quiet.assert_outcomes(passed=1)
    assert "waiting on" not in quiet.stdout.str()
    assert "compose files:" not in quiet.stdout.str()
