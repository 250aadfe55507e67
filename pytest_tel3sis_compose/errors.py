"""The errors this package raises. Every one says what is wrong and how to fix it."""

from __future__ import annotations


class ComposeError(Exception):
    """Base class of every error raised by pytest-tel3sis-compose."""


class ConfigError(ComposeError):
    """The stack's configuration is wrong: a file, an option or a probe declaration.

    `setting` names the `StackSettings` field at fault, when one is, so that
    whoever took the value from the user (the pytest plugin: an option, an ini
    key, a fixture) can say where to fix it.
    """

    def __init__(self, message: str, *, setting: str | None = None) -> None:
        super().__init__(message)
        self.setting = setting


class EngineError(ComposeError):
    """Docker or Compose failed, or could not be reached."""


class UnknownServiceError(ComposeError, LookupError):
    """A service name that the compose files do not define."""

    def __init__(self, service: str, known: list[str]) -> None:
        self.service = service
        self.known = known
        super().__init__(
            f"no service named {service!r} in the compose files; known services: " + ", ".join(known)
        )


class StackStartError(ComposeError):
    """A service did not become ready: it exited, or its probe never passed in time.

    Carries the service, the probe's description and last output, and the
    service's last log lines, so the message alone is enough to diagnose it.
    """

    def __init__(
        self,
        service: str,
        reason: str,
        *,
        probe: str = "",
        probe_output: str = "",
        logs: str = "",
        log_lines: int = 50,
        others: str = "",
    ) -> None:
        self.service = service
        self.reason = reason
        self.probe = probe
        self.probe_output = probe_output
        self.logs = logs
        if not service:  # nothing points at one service: Compose itself could not start the stack
            super().__init__(f"the stack did not start: {reason}")
            return
        parts = [f"service {service!r} did not become ready: {reason}"]
        if probe:
            parts.append(f"probe: {probe}")
        parts.append("last probe output:\n" + _indent(probe_output or "(none)"))
        parts.append(f"last {log_lines} log lines of {service!r}:\n" + _indent(logs or "(no output)"))
        if others:
            parts.append(others)
        super().__init__("\n".join(parts))


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.rstrip("\n").splitlines()) or "    "
