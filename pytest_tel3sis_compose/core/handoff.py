"""The hand-off record: what another process needs to use a started stack, or to take it down.

Used between pytest-xdist workers (one starts the stack, the others attach)
and the controller (which takes it down). Everything in it was checked when
the stack started; reading it back checks nothing again.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_tel3sis_compose.core.container_coverage import CoverageSettings


@dataclass(frozen=True)
class StackRecord:
    project_name: str
    compose_files: tuple[str, ...]
    """The user's files and the plugin's override, in order."""
    config: Mapping[str, Any]
    """The resolved compose configuration: the services, their ports and probe fields."""
    host: str
    down_timeout: int = 0
    keep: bool = False
    """Leave the stack running at the end (it is kept for reuse)."""
    workdir: str | None = None
    log_dir: str | None = None
    coverage: CoverageSettings | None = None
    coverage_folder: str | None = None
    ready_after: Mapping[str, float] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), default=str)

    @classmethod
    def from_json(cls, text: str) -> StackRecord:
        data = json.loads(text)
        coverage = data.pop("coverage")
        if coverage is not None:
            coverage = CoverageSettings(
                data_file=Path(coverage["data_file"]),
                services=tuple(coverage["services"]),
                source=tuple(coverage["source"]),
                stop_timeout=coverage["stop_timeout"],
            )
        return cls(**{**data, "compose_files": tuple(data["compose_files"]), "coverage": coverage})
