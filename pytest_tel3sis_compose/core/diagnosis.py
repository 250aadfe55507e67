"""Why a stack did not start: the service that holds it up, with its state, probe and logs."""

from __future__ import annotations

import re
from collections.abc import Mapping

from pytest_tel3sis_compose.core.boundary import ComposeProject
from pytest_tel3sis_compose.core.probes import Probe
from pytest_tel3sis_compose.errors import StackStartError


def diagnose(
    compose: ComposeProject, probes: Mapping[str, Probe], reason: str, log_lines: int
) -> StackStartError:
    """Name the service that holds the stack up.

    The one Compose's own error names (a port already taken, say) first;
    then one that exited; then one not healthy (yet); else the first.
    """
    found = compose.statuses(list(probes))
    statuses = {name: found.get(name) for name in probes}
    named = [name for name in statuses if _named_in(reason, compose.name, name)]
    exited = [
        name
        for name, status in statuses.items()
        if status is not None
        and status.state in ("exited", "dead")
        and not (probes[name].accepts_completion and status.exit_code == 0)
    ]
    unready = [
        name
        for name, status in statuses.items()
        if status is not None and status.health in ("unhealthy", "starting")
    ]
    suspects = named + exited + unready
    if not suspects and "`docker compose up` failed" in reason:
        return StackStartError("", reason)  # a network, a volume, Compose itself: no service to blame
    culprit = (suspects + list(statuses))[0]
    status = statuses[culprit]
    detail = ""
    if status is not None:
        detail = (
            f"container {status.state}"
            + (f", exit code {status.exit_code}" if status.state == "exited" else "")
            + (f", health {status.health}" if status.health else "")
        )
    return StackStartError(
        culprit,
        f"{reason}\n{detail}".strip(),
        probe=probes[culprit].describe(),
        probe_output=status.health_output if status else "",
        logs=compose.logs(culprit, tail=log_lines),
        log_lines=log_lines,
    )


def _named_in(reason: str, project: str, service: str) -> bool:
    """Whether Compose's error names the service: by its container, or as `service "x"`."""
    container = rf"\b{re.escape(project)}[-_]{re.escape(service)}[-_]\d+\b"
    quoted = rf'service "{re.escape(service)}"'
    return re.search(f"{container}|{quoted}", reason) is not None


def compose_reason(exc: BaseException) -> str:
    """Compose's error lines, without its progress lines."""
    text = (getattr(exc, "stderr", None) or str(exc)).strip()
    errors = [line.strip() for line in text.splitlines() if "rror" in line or "failed" in line]
    return "\n".join(errors) or text
