"""Everything that defines one stack run, resolved once into a frozen object."""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pytest_tel3sis_compose.container_coverage import CoverageSettings
from pytest_tel3sis_compose.errors import ConfigError
from pytest_tel3sis_compose.probes import Probe

DEFAULT_TIMEOUT = 120.0
MAX_TIMEOUT = 86400.0
_PROJECT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


def unique_project_name(prefix: str = "pytest") -> str:
    """A Compose project name no other run on this engine will pick."""
    return f"{prefix}-{os.getpid()}-{secrets.token_hex(3)}"


@dataclass(frozen=True)
class StackSettings:
    """How to run one compose stack. Paths are resolved and checked on creation."""

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
    project_directory: Path | None = None
    owner_pid: int = field(default_factory=os.getpid)
    """The process whose death makes the stack an orphan for the janitor."""
    session_id: str = field(default_factory=lambda: secrets.token_hex(6))
    reuse: bool = False
    """Keep the stack after the run, and reuse a kept one whose fingerprint matches."""
    log_dir: Path | None = None
    """Where to write each service's full log at teardown; None writes nothing."""
    coverage: CoverageSettings | None = None
    """Measure coverage inside the containers; None leaves the stack untouched."""

    def __post_init__(self) -> None:
        if not self.compose_files:
            raise ConfigError(
                "no compose file given: pass --compose-file PATH or set compose_files "
                "in [tool.pytest.ini_options]"
            )
        files = tuple(Path(f).resolve() for f in self.compose_files)
        missing = [str(f) for f in files if not f.is_file()]
        if missing:
            raise ConfigError(
                f"compose file not found: {', '.join(missing)}. Fix the path given with "
                "--compose-file, the compose_files ini key, or the docker_compose_file fixture."
            )
        object.__setattr__(self, "compose_files", files)
        if not _PROJECT_NAME.match(self.project_name):
            raise ConfigError(
                f"invalid Compose project name {self.project_name!r}: use lower-case letters, "
                "digits, '-' and '_', starting with a letter or digit"
            )
        check_timeout(self.timeout)
        if self.reuse and self.coverage:
            raise ConfigError(
                "--compose-reuse and --compose-coverage do not go together: coverage data is "
                "saved when the services stop, and a reused stack does not stop. Use one of them."
            )
        if self.down_timeout < 0:
            raise ConfigError(f"the teardown timeout must be >= 0 seconds, not {self.down_timeout}")


def check_timeout(seconds: float) -> float:
    # Bounded so that it stays a valid wait for threading (a day is plenty).
    if not 0 < seconds <= MAX_TIMEOUT:
        raise ConfigError(
            f"the compose timeout must be more than 0 and at most {MAX_TIMEOUT:g} seconds, "
            f"not {seconds}; set it with --compose-timeout or the compose_timeout ini key"
        )
    return seconds


def parse_timeout(value: str | float, *, where: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{where} must be a number of seconds, not {value!r}") from None


def resolve_files(paths: Sequence[str | Path], base: Path) -> tuple[Path, ...]:
    return tuple(p if Path(p).is_absolute() else base / p for p in map(Path, paths))
