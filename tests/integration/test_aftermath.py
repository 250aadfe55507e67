"""What a failed stack leaves: a forensics bundle, and with --compose-keep-on-failure the stack itself."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import BASE_IMAGE, CACHE_WITH_PORT, leftovers, remove_project

FAILING_TEST = """
def test_fails(compose_stack):
    assert False, "on purpose"
"""

PASSING_TEST = """
def test_passes(compose_stack):
    assert compose_stack.ready_after
"""

# db never turns healthy; its healthcheck says why. web is fine, and carries a secret.
NEVER_HEALTHY = f"""
services:
  db:
    image: {BASE_IMAGE}
    command: ["sh", "-c", "echo 'db: waiting for the primary'; sleep 600"]
    init: true
    healthcheck:
      test: ["CMD-SHELL", "echo 'db: replica not in sync'; exit 1"]
      interval: 1s
      retries: 100
  web:
    image: {BASE_IMAGE}
    command: ["sleep", "600"]
    init: true
    environment:
      API_TOKEN: hunter2-do-not-print
"""


@pytest.fixture
def kept_project() -> Iterator[str]:
    name = f"kept-{secrets.token_hex(4)}"
    yield name
    remove_project(name)


def test_a_failed_session_keeps_its_stack_which_the_next_session_spares_until_pruned(
    pytester: pytest.Pytester, kept_project: str, write_compose: Callable[[str], Path]
) -> None:
    write_compose(CACHE_WITH_PORT)
    pytester.makepyfile(test_failing=FAILING_TEST)

    failed = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--compose-project-name", kept_project, "--compose-keep-on-failure"
    )

    failed.assert_outcomes(failed=1)
    failed.stdout.fnmatch_lines(
        [
            "  kept for inspection (--compose-keep-on-failure):",
            f"    docker compose -p {kept_project} ps -a",
            f"    docker compose -p {kept_project} logs",
            "    remove it: pytest --compose-prune",
        ]
    )
    kept = leftovers(kept_project)
    assert any(item.startswith("container ") for item in kept), kept

    # Its owner is gone now; a later session's janitor would take any other such stack down.
    (pytester.path / "test_failing.py").unlink()
    pytester.makepyfile(test_passing=PASSING_TEST)
    later = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    later.assert_outcomes(passed=1)
    assert leftovers(kept_project) == kept

    pruned = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--compose-prune")

    assert pruned.ret == 0
    pruned.stdout.fnmatch_lines([f"removed compose stacks: *{kept_project}*"])
    assert leftovers(kept_project) == []


def test_a_passing_session_with_the_option_keeps_nothing(
    pytester: pytest.Pytester, inner_project: str, write_compose: Callable[[str], Path]
) -> None:
    write_compose(CACHE_WITH_PORT)
    pytester.makepyfile(PASSING_TEST)

    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--compose-keep-on-failure")

    result.assert_outcomes(passed=1)
    assert "kept for inspection" not in result.stdout.str()
    # `inner_project` checks that nothing is left.


def test_the_bundle_of_a_failed_start_holds_config_ps_logs_events_and_timeline(
    pytester: pytest.Pytester, inner_project: str, write_compose: Callable[[str], Path]
) -> None:
    write_compose(NEVER_HEALTHY)
    pytester.makepyfile(PASSING_TEST)

    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--compose-timeout", "6", "--compose-log-dir", "reports"
    )

    result.assert_outcomes(errors=1)
    bundle = pytester.path / "reports" / inner_project
    result.stdout.fnmatch_lines([f"  forensics: {bundle}"])
    config = (bundle / "config.yml").read_text()
    assert "API_TOKEN: <redacted>" in config
    assert "hunter2" not in config
    assert "db: replica not in sync" in (bundle / "ps.txt").read_text()  # the healthcheck's own runs
    assert "healthcheck" in (bundle / "ps.txt").read_text()
    assert "db: waiting for the primary" in (bundle / "logs" / "db.log").read_text()
    assert (bundle / "logs" / "web.log").exists()
    events = [json.loads(line) for line in (bundle / "events.jsonl").read_text().splitlines()]
    assert {"create", "start"} <= {event["action"] for event in events if event["service"] == "db"}
    timeline = (bundle / "timeline.txt").read_text()
    for moment in (
        "(stack)        starting",
        "db             waiting: native healthcheck",
        "db             probing:",
        "db             failed: its probe did not pass",
    ):
        assert moment in timeline, timeline
    assert "hunter2" not in "".join(
        path.read_text() for path in bundle.rglob("*") if path.is_file() and path.name != "web.log"
    )
