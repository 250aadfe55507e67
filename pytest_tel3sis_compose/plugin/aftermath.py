"""What a failed stack leaves behind: a forensics bundle, and with --compose-keep-on-failure the stack.

A stack failed when it did not start, when a test using it failed, or when a
service crashed after it was ready. Interrupted sessions (Ctrl-C) keep nothing:
the user asked them to end.
"""

from __future__ import annotations

import pytest

from pytest_tel3sis_compose.core.forensics import write_bundle
from pytest_tel3sis_compose.core.ownership import Janitor
from pytest_tel3sis_compose.core.stack import ComposeStack, Phase
from pytest_tel3sis_compose.plugin.state import SessionState, StackInUse, stacks_of


def count_failure(item: pytest.Item, report: pytest.TestReport) -> None:
    if report.failed:
        for used in stacks_of(item):
            used.failures += 1


def leave_behind(used: StackInUse, own: ComposeStack, state: SessionState, session: pytest.Session) -> None:
    """Before `own` (the stack this process started, if any) is stopped: what a failure leaves."""
    failed = used.start_failed or used.failures > 0 or bool(used.stack.watch.crashes)
    if not failed or own.phase in (Phase.NEW, Phase.DOWN, Phase.ATTACHED):
        return
    options = state.options
    if options.compose_log_dir is not None:
        used.bundle = write_bundle(own, options.compose_log_dir / own.project_name)
    interrupted = getattr(session, "exitstatus", None) == pytest.ExitCode.INTERRUPTED
    if options.compose_keep_on_failure and own.phase in (Phase.STARTING, Phase.READY) and not interrupted:
        Janitor(state.engine).keep_failed(own.project_name, own.settings.compose_files)
        own.keep()


def summary_lines(used: StackInUse) -> list[str]:
    lines = []
    if used.bundle is not None:
        lines.append(f"  forensics: {used.bundle}")
    stack = used.stack
    if stack.phase is Phase.KEPT_FOR_INSPECTION:
        lines += [
            "  kept for inspection (--compose-keep-on-failure):",
            f"    docker compose -p {stack.project_name} ps -a",
            f"    docker compose -p {stack.project_name} logs",
            *(
                f"    {service}: {url}"
                for service in stack.services
                if (url := stack.endpoints.known_url(service))
            ),
            "    remove it: pytest --compose-prune",
        ]
    return lines
