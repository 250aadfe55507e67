"""pytest-tel3sis-compose: a Docker Compose stack as a pytest session fixture.

The core (`ComposeStack`, probes, settings) knows nothing of pytest and can be
used on its own; `pytest_tel3sis_compose.plugin` wires it into pytest.
"""

from pytest_tel3sis_compose.errors import (
    ComposeError,
    ConfigError,
    EngineError,
    StackStartError,
    UnknownServiceError,
)
from pytest_tel3sis_compose.probes import (
    CommandProbe,
    CompletedProbe,
    HealthcheckProbe,
    HttpProbe,
    LogProbe,
    Probe,
    ProbeResult,
    RunningProbe,
)
from pytest_tel3sis_compose.settings import StackSettings
from pytest_tel3sis_compose.stack import ComposeStack

__all__ = [
    "CommandProbe",
    "CompletedProbe",
    "ComposeError",
    "ComposeStack",
    "ConfigError",
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
]
