"""Who owns a stack, and the janitor that removes stacks whose owner is gone.

Every stack this plugin starts is labelled with its owner (host, pid and the
process's start time, so that a reused pid is not mistaken for the owner) and
its session. A run removes the stacks whose owner process has died (kill -9,
a crashed IDE, a lost CI runner) before it starts its own; it never touches a
stack whose owner lives, nor one it cannot judge (another host's).
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from typing import Any

LABEL_OWNER = "io.tel3sis.compose.owner"
LABEL_SESSION = "io.tel3sis.compose.session"
LABEL_KEEP = "io.tel3sis.compose.keep"
LABEL_FINGERPRINT = "io.tel3sis.compose.fingerprint"
PROJECT_LABEL = "com.docker.compose.project"


@dataclass(frozen=True)
class Owner:
    host: str
    pid: int
    started: str
    """The process's start time in clock ticks since boot, "" where unknown."""

    @classmethod
    def of(cls, pid: int) -> Owner:
        return cls(socket.gethostname(), pid, _start_time(pid))

    @classmethod
    def parse(cls, label: str) -> Owner | None:
        host, _, rest = label.rpartition("@")
        pid, _, started = rest.partition(":")
        if not host or not pid.isdigit():
            return None
        return cls(host, int(pid), started)

    def label(self) -> str:
        return f"{self.host}@{self.pid}:{self.started}"

    def is_gone(self) -> bool:
        """True only when this process certainly no longer runs on this host."""
        if self.host != socket.gethostname():
            return False  # another machine's process: we cannot tell
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            pass  # it exists, run by another user
        return bool(self.started) and _start_time(self.pid) not in ("", self.started)


def _start_time(pid: int) -> str:
    try:
        stat = open(f"/proc/{pid}/stat").read()  # noqa: SIM115 - one short read
    except OSError:
        return ""
    # Field 22, counted after the command name, which may hold spaces.
    return stat.rpartition(")")[2].split()[19]


class Janitor:
    """Finds and removes stacks left by dead owners, through python-on-whales."""

    def __init__(self, docker: Any) -> None:
        self.docker = docker

    def orphaned_projects(self) -> set[str]:
        owners: dict[str, set[str]] = {}
        for labels in self._labelled(LABEL_OWNER):
            owners.setdefault(labels[PROJECT_LABEL], set()).add(labels[LABEL_OWNER])
        return {
            project
            for project, labels in owners.items()
            if all((owner := Owner.parse(label)) is not None and owner.is_gone() for label in labels)
        }

    def kept_projects(self) -> set[str]:
        return {labels[PROJECT_LABEL] for labels in self._labelled(LABEL_KEEP)}

    def remove(self, project: str) -> None:
        """Remove every container, network and volume Compose labelled with `project`."""
        by_project = [("label", f"{PROJECT_LABEL}={project}")]
        containers = self.docker.container.list(all=True, filters=by_project)
        if containers:
            self.docker.container.remove(containers, force=True, volumes=True)
        networks = self.docker.network.list(filters=by_project)
        if networks:
            self.docker.network.remove(networks)
        volumes = self.docker.volume.list(filters=by_project)
        if volumes:
            self.docker.volume.remove(volumes)

    def _labelled(self, label: str) -> list[dict[str, str]]:
        """Label sets of every container, network and volume carrying `label` and a project."""
        found = [("label", label), ("label", PROJECT_LABEL)]
        objects = (
            self.docker.container.list(all=True, filters=found)
            + self.docker.network.list(filters=found)
            + self.docker.volume.list(filters=found)
        )
        return [_labels(obj) for obj in objects]


def _labels(obj: Any) -> dict[str, str]:
    config = getattr(obj, "config", None)
    labels = getattr(config, "labels", None) if config is not None else getattr(obj, "labels", None)
    return dict(labels or {})
