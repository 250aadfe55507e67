"""Whether a kept stack can be reused: its fingerprint unchanged and every service still there."""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal

from pytest_tel3sis_compose.core.boundary import ComposeProject, ContainerStatus
from pytest_tel3sis_compose.core.fingerprint import stack_fingerprint
from pytest_tel3sis_compose.core.ownership import LABEL_FINGERPRINT
from pytest_tel3sis_compose.core.probes import Probe


@dataclass(frozen=True)
class ReuseVerdict:
    outcome: Literal["created", "reused", "recreated"]
    why: str = ""

    def __str__(self) -> str:
        return f"{self.outcome}: {self.why}" if self.why else self.outcome


@dataclass(frozen=True)
class KeptStack:
    """What is there now: the stack's fingerprint, and the statuses of its containers."""

    fingerprint: str
    statuses: Mapping[str, ContainerStatus]


def look_at_kept(compose: ComposeProject, config: Mapping[str, Any]) -> KeptStack:
    """The fingerprint, computed while the containers' statuses are read."""
    names = list(config.get("services") or {})
    with ThreadPoolExecutor(1, thread_name_prefix="verdict") as pool:
        found = pool.submit(compose.statuses, names)
        fingerprint = stack_fingerprint(config, compose.image_id)
        return KeptStack(fingerprint, found.result())


def verdict(kept: KeptStack, probes: Mapping[str, Probe]) -> ReuseVerdict:
    statuses = {name: kept.statuses.get(name) for name in probes}
    if all(status is None for status in statuses.values()):
        return ReuseVerdict("created")
    for name, status in statuses.items():
        if status is None:
            continue  # never started (an earlier run needed less of the stack): started now
        if status.state != "running" and not probes[name].accepts_completion:
            return ReuseVerdict("recreated", f"service {name!r} was not running")
        if status.labels.get(LABEL_FINGERPRINT) != kept.fingerprint:
            return ReuseVerdict("recreated", "the compose configuration, an image or a build context changed")
    return ReuseVerdict("reused")
