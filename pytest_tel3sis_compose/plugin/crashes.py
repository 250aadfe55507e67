"""Crashes after a stack was ready, in pytest's terms: failed tests, a summary, a failed session.

The test running when a service of its stack crashes fails with the crash;
every later test using that stack fails before it starts; and the session
fails even if no test was running then.
"""

from __future__ import annotations

import pytest

from pytest_tel3sis_compose.core.crashwatch import Crash
from pytest_tel3sis_compose.plugin.state import StackInUse, stacks_of, state_of

#: Per test: how many crashes each of its stacks had when it started.
_SEEN = pytest.StashKey[dict[str, int]]()


def check_before(item: pytest.Item) -> None:
    """Fail a test at once whose stack already crashed; note the counts for `report_after`."""
    seen = item.stash.setdefault(_SEEN, {})
    for used in stacks_of(item):
        crashes = used.stack.watch.crashes
        seen[used.fixture] = len(crashes)  # reported here, not again after the test
        if crashes and used.stack.ready:
            pytest.fail(message(used, crashes, earlier=True), pytrace=False)


def report_after(item: pytest.Item, report: pytest.TestReport) -> None:
    """Fail the test (phase) during which a service of one of its stacks crashed."""
    seen = item.stash.setdefault(_SEEN, {})
    for used in stacks_of(item):
        before = seen.get(used.fixture, 0)
        new = used.stack.watch.new_since(before)
        if not new:
            continue
        seen[used.fixture] = before + len(new)  # one that arrives meanwhile is the next phase's
        text = message(used, new, earlier=False)
        if report.passed:
            report.outcome = "failed"
            report.longrepr = text
        else:
            report.sections.append((f"compose crash: {used.fixture}", text))


def message(used: StackInUse, crashes: list[Crash], *, earlier: bool) -> str:
    when = "before this test" if earlier else "while this test ran"
    head = f"StackCrashed: the compose stack {used.stack.project_name} ({used.fixture}) failed {when}:"
    return "\n".join([head, *(crash.describe() for crash in crashes)])


def summary_lines(used: StackInUse) -> list[str]:
    return [f"  CRASHED: {crash.describe().splitlines()[0]}" for crash in used.stack.watch.crashes]


def any_crash(config: pytest.Config) -> bool:
    return any(used.stack.watch.crashes for used in state_of(config).stacks)
