"""The settings of one stack fixture: the session's options, overridden by what its declaration says."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest

from pytest_tel3sis_compose.core.container_coverage import CoverageSettings
from pytest_tel3sis_compose.core.docker_host import is_loopback
from pytest_tel3sis_compose.core.probes import Probe
from pytest_tel3sis_compose.core.settings import StackSettings, unique_project_name
from pytest_tel3sis_compose.errors import ConfigError
from pytest_tel3sis_compose.plugin.options import SessionOptions, resolve_files, with_fix
from pytest_tel3sis_compose.plugin.state import state_of
from pytest_tel3sis_compose.plugin.xdist import OWNER_PID, worker_input

Scope = Literal["session", "package", "module", "class", "function"]

#: StackSettings fields a declaration may set (the rest belong to the plugin).
DECLARABLE = frozenset(
    {
        "project_name",
        "timeout",
        "build",
        "probes",
        "down_timeout",
        "log_lines",
        "reuse",
        "log_dir",
        "keep_ports",
        "require_healthy",
    }
)


@dataclass(frozen=True)
class StackDeclaration:
    """What `compose_fixture(...)` was given."""

    files: tuple[Path, ...] | None
    """None: the compose files the options configure (the `compose_stack` fixture's)."""
    scope: Scope
    settings: Mapping[str, Any]
    declared_in: str
    """Where to fix it: `conftest.py, compose_fixture(...)`."""

    @property
    def configured(self) -> bool:
        return self.files is None


def settings_for(
    request: pytest.FixtureRequest,
    declaration: StackDeclaration,
    fixture: str,
    probes: Mapping[str, Probe] | None = None,
) -> StackSettings:
    """Read once per stack: the declaration beats the command line, which beats fixtures and ini keys."""
    options = state_of(request.config).options
    host = _host(request)
    files, project_name = declaration.files, None
    if declaration.configured:
        from_fixture = None if "compose_files" in options.from_command_line else _pytest_docker_files(request)
        files = from_fixture or options.compose_files
        project_name = options.compose_project_name or _pytest_docker_project_name(request)
        probes = {**options.compose_probes, **(probes or {})}
    assert files is not None
    reuse = options.compose_reuse and declaration.scope == "session"
    values: dict[str, Any] = {
        "compose_files": files,
        "timeout": options.compose_timeout,
        "build": options.compose_build,
        "probes": probes or {},
        "down_timeout": options.compose_down_timeout,
        "reuse": reuse,
        "host": host,
        "log_dir": _log_dir(options, declaration, fixture),
        "keep_ports": options.compose_keep_ports,
        "require_healthy": options.compose_require_healthy,
        "coverage": coverage_settings(request.config, options, host) if options.compose_coverage else None,
    }
    worker = worker_input(request.config) if declaration.scope == "session" else None
    if worker is not None:
        values["owner_pid"] = worker[OWNER_PID]
    values.update(declaration.settings)
    values.setdefault("project_name", project_name or _project_name(request, declaration, fixture, reuse))
    try:
        return StackSettings(**values)
    except ConfigError as exc:
        given_by = f"{declaration.declared_in}" if exc.setting in declaration.settings else None
        raise with_fix(exc, given_by) from None


def _project_name(
    request: pytest.FixtureRequest, declaration: StackDeclaration, fixture: str, reuse: bool
) -> str:
    suffix = "" if declaration.configured and fixture == "compose_stack" else f"-{slug(fixture)}"
    if reuse:
        # A kept stack must be found again by the next run, xdist or not.
        return reuse_project_name(declaration.files or state_of(request.config).options.compose_files, suffix)
    if declaration.scope != "session":
        return unique_project_name() + suffix
    return session_project_name(request.config, suffix)


def session_project_name(config: pytest.Config, suffix: str = "") -> str:
    """A session-scoped stack's project name, alike in every xdist worker of the run."""
    worker = worker_input(config)
    if worker is not None:
        return f"pytest-{worker[OWNER_PID]}-{worker['testrunuid'][:6]}{suffix}"
    return state_of(config).project_name + suffix


def default_project_name(config: pytest.Config) -> str:
    """The configured stack's project name, as the options give it (a conftest fixture may still name it)."""
    options = state_of(config).options
    if options.compose_project_name:
        return options.compose_project_name
    if options.compose_reuse:
        return reuse_project_name(options.compose_files)
    return session_project_name(config)


def reuse_project_name(files: tuple[Path, ...], suffix: str = "") -> str:
    """The same name for the same compose files, so the next run finds the kept stack."""
    key = "\0".join(str(path.resolve()) for path in files) + suffix
    return f"tel3sis-reuse-{hashlib.sha256(key.encode()).hexdigest()[:10]}"


def slug(name: str) -> str:
    """A fixture name as it may appear in a Compose project name."""
    return re.sub(r"[^a-z0-9_-]+", "-", name.lower()).strip("-_") or "stack"


def _log_dir(options: SessionOptions, declaration: StackDeclaration, fixture: str) -> Path | None:
    if options.compose_log_dir is None:
        return None
    if declaration.configured and fixture == "compose_stack":
        return options.compose_log_dir
    return options.compose_log_dir / slug(fixture)


def coverage_settings(config: pytest.Config, options: SessionOptions, host: str) -> CoverageSettings:
    if not is_loopback(host):
        raise ConfigError(
            f"--compose-coverage needs a local Docker engine (the engine is at {host}): it "
            "bind-mounts a folder of this machine into the containers. Run without it."
        )
    return CoverageSettings(
        data_file=_coverage_data_file(config),
        services=options.compose_coverage_services,
        source=options.compose_coverage_source,
        stop_timeout=options.compose_coverage_stop_timeout,
    )


def _coverage_data_file(config: pytest.Config) -> Path:
    """The data file of the coverage measuring this session (pytest-cov's), or coverage's default."""
    try:
        import coverage
    except ImportError:
        raise ConfigError(
            "--compose-coverage needs coverage.py in this environment: pip install coverage"
        ) from None
    current = coverage.Coverage.current()
    name = current.config.data_file if current else os.environ.get("COVERAGE_FILE", ".coverage")
    return (config.invocation_params.dir / name).resolve()


# -- pytest-docker's fixtures, honoured where a conftest.py overrides them ------------------------


def _host(request: pytest.FixtureRequest) -> str:
    """pytest-docker's `docker_ip` where the user overrides it; else DOCKER_HOST or the context.

    pytest-docker's own `docker_ip` reads only tcp:// forms of DOCKER_HOST.
    """
    if overrides_pytest_docker(request, "docker_ip"):
        return str(request.getfixturevalue("docker_ip")).strip("[]")
    return state_of(request.config).engine.host()


def _pytest_docker_files(request: pytest.FixtureRequest) -> tuple[Path, ...] | None:
    if not overrides_pytest_docker(request, "docker_compose_file"):
        return None
    given = request.getfixturevalue("docker_compose_file")
    listed = [given] if isinstance(given, (str, Path)) else list(given)
    return resolve_files(listed, request.config.rootpath)


def _pytest_docker_project_name(request: pytest.FixtureRequest) -> str | None:
    if not overrides_pytest_docker(request, "docker_compose_project_name"):
        return None
    return str(request.getfixturevalue("docker_compose_project_name"))


def overrides_pytest_docker(request: pytest.FixtureRequest, name: str) -> bool:
    """Whether a conftest.py or test module overrides pytest-docker's fixture `name`.

    pytest offers no public way to ask this; its fixture manager is the one
    place that knows, so look there, and treat anything unexpected as "no".
    """
    try:
        node = request._pyfuncitem  # the test that asked for the stack, as pytest resolves it
        defs: Any = request._fixturemanager.getfixturedefs(name, node)
    except AttributeError:
        return False
    return bool(defs) and not defs[-1].func.__module__.startswith("pytest_docker")
