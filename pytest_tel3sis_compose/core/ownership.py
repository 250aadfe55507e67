"""Who owns a stack, and the janitor that removes stacks whose owner is gone.

Every stack this plugin starts is labelled with its owner (host, pid and the
process's start time, so that a reused pid is not mistaken for the owner) and
its session. A run removes the stacks whose owner process has died (kill -9,
a crashed IDE, a lost CI runner) before it starts its own; it never touches a
stack whose owner lives, nor one it cannot judge (another host's).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pytest_tel3sis_compose.core.boundary import Engine
from pytest_tel3sis_compose.errors import EngineError

LABEL_OWNER = "io.tel3sis.compose.owner"
LABEL_SESSION = "io.tel3sis.compose.session"
LABEL_KEEP = "io.tel3sis.compose.keep"
LABEL_FINGERPRINT = "io.tel3sis.compose.fingerprint"
#: LABEL_KEEP's value on a stack a failed session left for inspection (reuse keeps say "true").
KEPT_FOR_FAILURE = "failure"
#: On a kept stack's marker: which compose files it was made of, so a prune removes only its own.
LABEL_FILES = "io.tel3sis.compose.files"


def files_key(files: Iterable[Path]) -> str:
    """The same short key for the same compose files, wherever the session runs from."""
    joined = "\0".join(str(Path(path).resolve()) for path in files)
    return hashlib.sha256(joined.encode()).hexdigest()[:12]


PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"


@dataclass(frozen=True)
class Owner:
    host: str
    pid: int
    started: str
    """The process's start time in clock ticks since boot, "" where unknown."""
    space: str = ""
    """This boot and pid namespace: a pid means something only within the same one."""

    @classmethod
    def of(cls, pid: int) -> Owner:
        return cls(socket.gethostname(), pid, _start_time(pid), _pid_space())

    @classmethod
    def parse(cls, label: str) -> Owner | None:
        host, _, rest = label.rpartition("@")
        pid, _, rest = rest.partition(":")
        started, _, space = rest.partition(":")
        if not host or not (pid.isascii() and pid.isdigit()):
            return None
        return cls(host, int(pid), started, space)

    def label(self) -> str:
        return f"{self.host}@{self.pid}:{self.started}:{self.space}"

    def is_gone(self) -> bool:
        """True only when this process certainly no longer runs.

        Where that cannot be told, the answer is False: another host, another
        boot or pid namespace (a container sharing the host's name), or an
        operating system without /proc.
        """
        if self.host != socket.gethostname() or not self.space or self.space != _pid_space():
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            pass  # it exists, run by another user
        return bool(self.started) and _start_time(self.pid) not in ("", self.started)


def stack_labels(owner: Owner, session_id: str, fingerprint: str | None = None) -> dict[str, str]:
    """The labels every object of a stack carries: its owner, or for a kept stack its fingerprint.

    A kept stack carries no owner or session: its labels must not change
    between runs, or Compose would recreate the containers it should keep.
    """
    if fingerprint is not None:
        return {LABEL_KEEP: "true", LABEL_FINGERPRINT: fingerprint}
    return {LABEL_OWNER: owner.label(), LABEL_SESSION: session_id}


def _pid_space() -> str:
    """This machine's boot id and this process's pid namespace, "" where /proc lacks them."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        namespace = os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return ""
    return f"{boot}/{namespace}"


WORKDIR_PREFIX = "tel3sis-compose-"
_OWNER_FILE = "owner"


def make_workdir(owner: Owner) -> Path:
    """The stack's own temporary folder, marked with its owner for `sweep_workdirs`."""
    folder = Path(tempfile.mkdtemp(prefix=WORKDIR_PREFIX))
    (folder / _OWNER_FILE).write_text(owner.label())
    return folder


def sweep_workdirs(tempdir: Path | None = None) -> list[Path]:
    """Remove the folders of stacks whose owner is gone (a kill -9 leaves them behind)."""
    removed = []
    for folder in Path(tempdir or tempfile.gettempdir()).glob(WORKDIR_PREFIX + "*"):
        try:
            label = (folder / _OWNER_FILE).read_text()
        except OSError:
            continue  # not ours to judge, or already gone
        if _gone(label):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def _gone(owner_label: str) -> bool:
    owner = Owner.parse(owner_label)
    return owner is not None and owner.is_gone()


def _start_time(pid: int) -> str:
    try:
        stat = open(f"/proc/{pid}/stat").read()  # noqa: SIM115 - one short read
    except OSError:
        return ""
    # Field 22, counted after the command name, which may hold spaces.
    return stat.rpartition(")")[2].split()[19]


class Janitor:
    """Finds and removes stacks left by dead owners, through the engine's labelled listings.

    The listings carry the labels themselves, so a stack that another session
    removes meanwhile cannot make a sweep fail.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def orphaned_projects(self) -> set[str]:
        """Stacks whose every owner is gone, and which nobody asked to keep."""
        owners: dict[str, set[str]] = {}
        for project, label in self.engine.labelled(LABEL_OWNER):
            owners.setdefault(project, set()).add(label)
        orphans = {project for project, labels in owners.items() if all(_gone(label) for label in labels)}
        return orphans - self.kept_projects() if orphans else orphans

    def kept_projects(self, reason: str | None = None) -> set[str]:
        """Stacks kept on purpose: for reuse (`true`), or for inspection after a failure (`failure`)."""
        return {project for project, why in self.engine.labelled(LABEL_KEEP) if reason in (None, why)}

    def keep_failed(self, project: str, files: Iterable[Path]) -> None:
        """Mark a failed session's stack as kept for inspection: no janitor removes it but a prune."""
        self.engine.mark(project, {LABEL_KEEP: KEPT_FOR_FAILURE, LABEL_FILES: files_key(files)})

    def sweep(self) -> list[str]:
        """Remove the stacks (and stack folders) of dead owners; return the projects removed.

        Best effort: another session may sweep the same orphan at the same time,
        and a stack that starts fine must not fail for someone else's leftovers.
        """
        sweep_workdirs()
        try:
            orphans = sorted(self.orphaned_projects())
        except EngineError:
            return []
        removed = []
        for project in orphans:
            try:
                self.engine.remove_project(project)
            except EngineError:
                continue
            removed.append(project)
        return removed

    def prune(self, kept: set[str], files: Iterable[Iterable[Path]] = ()) -> list[str]:
        """Remove the stacks of dead owners, the `kept` projects, and those kept after failures of `files`."""
        keys = {files_key(each) for each in files}
        failed = {project for project, key in self.engine.labelled(LABEL_FILES) if key in keys}
        kept_after_failures = self.kept_projects(KEPT_FOR_FAILURE) & failed
        projects = self.orphaned_projects() | (self.kept_projects() & kept) | kept_after_failures
        for project in sorted(projects):
            self.engine.remove_project(project)
        return sorted(projects)
