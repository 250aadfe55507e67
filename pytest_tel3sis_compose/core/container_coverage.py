"""Coverage of the code that runs inside the stack's containers.

When enabled, a generated compose override gives each measured service the
environment variable COVERAGE_PROCESS_START and a bind-mounted folder holding
the coverage configuration. coverage.py (installed in the image) then starts
in every Python process of the container through its .pth hook, and writes
parallel data files into that folder when the processes exit. The stack is
stopped gracefully so they do; the files are then moved beside the host's
coverage data file, where `coverage combine` (run by pytest-cov at the end of
the session) maps their paths back to the checkout through `[paths]`.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_tel3sis_compose.core.model import ProjectSpec
from pytest_tel3sis_compose.errors import ConfigError

#: Where the coverage folder is mounted inside each measured container.
MOUNT_POINT = "/tel3sis-coverage"


@dataclass(frozen=True)
class CoverageSettings:
    data_file: Path
    """The host's coverage data file; container data is written beside it."""
    services: tuple[str, ...] = ()
    """Services to measure; empty means every service built from source."""
    source: tuple[str, ...] = ("/app",)
    """What to measure inside the containers (coverage's `[run] source`)."""
    stop_timeout: int = 30
    """Seconds the services get to stop and save their data."""


class ContainerCoverage:
    def __init__(self, settings: CoverageSettings) -> None:
        self.settings = settings
        self.folder: Path | None = None
        self.services: tuple[str, ...] = ()

    def prepare(self, project: ProjectSpec, folder: Path) -> dict[str, Any]:
        """Write the coverage config into `folder`; return the services' override entries."""
        self.services = self._measured(project)
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        # The services run as their own non-root users, which must write here.
        os.chmod(folder, 0o777)
        (folder / "coveragerc").write_text(
            "[run]\n"
            "parallel = true\n"
            "sigterm = true\n"
            f"data_file = {MOUNT_POINT}/.coverage\n"
            "source =\n" + "".join(f"    {source}\n" for source in self.settings.source)
        )
        return {
            service: {
                "environment": {"COVERAGE_PROCESS_START": f"{MOUNT_POINT}/coveragerc"},
                "volumes": [{"type": "bind", "source": str(folder), "target": MOUNT_POINT}],
            }
            for service in self.services
        }

    def collect(self) -> list[Path]:
        """Move the containers' data files beside the host data file."""
        if self.folder is None:
            return []
        target_dir = self.settings.data_file.parent
        target_dir.mkdir(parents=True, exist_ok=True)
        moved = []
        for data in sorted(self.folder.glob(".coverage.*")):
            # Named `<data file>.<suffix>` so that `coverage combine` finds them.
            suffix = data.name[len(".coverage.") :]
            destination = target_dir / f"{self.settings.data_file.name}.container.{suffix}"
            shutil.move(str(data), destination)
            moved.append(destination)
        return moved

    def _measured(self, project: ProjectSpec) -> tuple[str, ...]:
        if self.settings.services:
            for service in self.settings.services:
                project.service(service)  # raises with the known names
            return self.settings.services
        built = tuple(name for name, spec in project.services.items() if spec.builds)
        if not built:
            raise ConfigError(
                "container coverage found no service built from source; name the services to "
                "measure with the compose_coverage_services ini key"
            )
        return built


def validate_sources(sources: Sequence[str]) -> tuple[str, ...]:
    cleaned = tuple(s.strip() for s in sources if s.strip())
    if not cleaned:
        raise ConfigError("compose_coverage_source is empty; name the code's folder in the image, e.g. /app")
    return cleaned
