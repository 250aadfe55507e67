"""Everything that defines one stack run, checked once into a frozen object."""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pytest_tel3sis_compose.core.container_coverage import CoverageSettings
from pytest_tel3sis_compose.core.probes import Probe
from pytest_tel3sis_compose.errors import ConfigError

DEFAULT_TIMEOUT = 120.0
MAX_TIMEOUT = 86400.0
_PROJECT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


def unique_project_name(prefix: str = "pytest") -> str:
    """A Compose project name no other run on this engine will pick."""
    return f"{prefix}-{os.getpid()}-{secrets.token_hex(3)}"


@dataclass(frozen=True)
class StackSettings:
    """How to run one compose stack. Checked on creation: paths resolved and existing."""

    compose_files: tuple[Path, ...]
    project_name: str = field(default_factory=unique_project_name)
    timeout: float = DEFAULT_TIMEOUT
    """Seconds from `up` until every service must be ready."""
    build: bool = True
    probes: Mapping[str, Probe] = field(default_factory=dict)
    """Probes that replace what the compose files declare, by service."""
    host: str = "127.0.0.1"
    """Address of the Docker host, for ports published on all interfaces."""
    down_timeout: int = 0
    """Seconds containers get to stop gracefully at teardown."""
    poll_interval: float = 0.1
    log_lines: int = 50
    owner_pid: int = field(default_factory=os.getpid)
    """The process whose death makes the stack an orphan for the janitor."""
    session_id: str = field(default_factory=lambda: secrets.token_hex(6))
    reuse: bool = False
    """Keep the stack after the run, and reuse a kept one whose fingerprint matches."""
    log_dir: Path | None = None
    """Where to write each service's full log at teardown; None writes nothing."""
    coverage: CoverageSettings | None = None
    """Measure coverage inside the containers; None leaves the stack untouched."""
    require_healthy: bool = False
    """Also wait until the engine reports every service with a native healthcheck healthy."""
    keep_ports: tuple[str, ...] = ()
    """Services whose ports stay as written (`*`: all); the others get ephemeral loopback ports."""

    def __post_init__(self) -> None:
        if not self.compose_files:
            raise ConfigError("no compose file given", setting="compose_files")
        files = tuple(Path(f).resolve() for f in self.compose_files)
        missing = [str(f) for f in files if not f.is_file()]
        if missing:
            raise ConfigError(f"compose file not found: {', '.join(missing)}", setting="compose_files")
        object.__setattr__(self, "compose_files", files)
        if not _PROJECT_NAME.match(self.project_name):
            raise ConfigError(
                f"invalid Compose project name {self.project_name!r}: use lower-case letters, "
                "digits, '-' and '_', starting with a letter or digit",
                setting="project_name",
            )
        check_timeout(self.timeout)
        if self.reuse and self.coverage:
            raise ConfigError(
                "reusing a stack and measuring coverage in its containers do not go together: "
                "coverage data is saved when the services stop, and a reused stack does not stop. "
                "Use one of them.",
                setting="reuse",
            )
        if self.down_timeout < 0:
            raise ConfigError(
                f"the teardown timeout must be >= 0 seconds, not {self.down_timeout}", setting="down_timeout"
            )


def check_timeout(seconds: float) -> float:
    # Bounded so that it stays a valid wait for threading (a day is plenty).
    if not 0 < seconds <= MAX_TIMEOUT:
        raise ConfigError(
            f"the compose timeout must be more than 0 and at most {MAX_TIMEOUT:g} seconds, not {seconds}",
            setting="timeout",
        )
    return seconds
