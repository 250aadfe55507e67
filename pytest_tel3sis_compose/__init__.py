"""pytest-tel3sis-compose: Docker Compose stacks as pytest fixtures.

The core (`ComposeStack`, probes, settings) knows nothing of pytest and can be
used on its own with a `DockerEngine`; `compose_fixture` declares a stack as a
fixture in a conftest.py (it is imported on first use, with pytest).
"""

from typing import Any

from pytest_tel3sis_compose.core.probes import (
    CommandProbe,
    CompletedProbe,
    HealthcheckProbe,
    HttpProbe,
    LogProbe,
    Probe,
    ProbeResult,
    RunningProbe,
)
from pytest_tel3sis_compose.core.settings import StackSettings
from pytest_tel3sis_compose.core.stack import ComposeStack
from pytest_tel3sis_compose.engine import DockerEngine
from pytest_tel3sis_compose.errors import (
    ComposeError,
    ConfigError,
    EngineError,
    StackStartError,
    UnknownServiceError,
)


def __getattr__(name: str) -> Any:
    if name == "compose_fixture":  # the pytest layer: not imported for the core alone
        from pytest_tel3sis_compose.plugin.factory import compose_fixture

        return compose_fixture
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "CommandProbe",
    "CompletedProbe",
    "ComposeError",
    "ComposeStack",
    "ConfigError",
    "DockerEngine",
    "EngineError",
    "HealthcheckProbe",
    "HttpProbe",
    "LogProbe",
    "Probe",
    "ProbeResult",
    "RunningProbe",
    "StackSettings",
    "StackStartError",
    "UnknownServiceError",
    "compose_fixture",
]
