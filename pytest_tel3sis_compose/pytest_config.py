"""Reading pytest's options, ini keys and fixture overrides, once, into StackSettings."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from pytest_tel3sis_compose.container_coverage import CoverageSettings, validate_sources
from pytest_tel3sis_compose.docker_host import is_loopback
from pytest_tel3sis_compose.errors import ConfigError
from pytest_tel3sis_compose.probes import Probe, probe_from_line
from pytest_tel3sis_compose.settings import (
    StackSettings,
    check_timeout,
    parse_timeout,
    resolve_files,
    unique_project_name,
)

DEFAULT_COMPOSE_FILE = "docker-compose.yml"


def settings_from_config(
    config: pytest.Config,
    *,
    compose_file_fixture: str | list[str] | None = None,
    project_name: str | None = None,
    host: str = "127.0.0.1",
    probes: Mapping[str, Probe] | None = None,
    owner_pid: int | None = None,
    default_project_name: str | None = None,
) -> StackSettings:
    """Read options and ini keys once; the command line beats fixtures, fixtures beat ini."""
    files = configured_files(config, compose_file_fixture)

    timeout = _timeout(config)
    build = enabled(config, "compose_build")
    declared = {**_ini_probes(config), **(probes or {})}
    down_seconds = _whole_seconds(config, "compose_down_timeout")

    coverage = _coverage_settings(config, host) if enabled(config, "compose_coverage") else None
    reuse = enabled(config, "compose_reuse")

    return StackSettings(
        compose_files=files,
        project_name=config.getoption("compose_project_name")
        or project_name
        # A kept stack must be found again by the next run, xdist or not.
        or (reuse_project_name(files) if reuse else default_project_name or session_project_name(config)),
        owner_pid=owner_pid or os.getpid(),
        reuse=reuse,
        timeout=timeout,
        build=build,
        probes=declared,
        host=host,
        down_timeout=down_seconds,
        project_directory=None,
        coverage=coverage,
        log_dir=_log_dir(config),
    )


def _log_dir(config: pytest.Config) -> Path | None:
    option = config.getoption("compose_log_dir")
    return (config.invocation_params.dir / option).resolve() if option else None


def enabled(config: pytest.Config, name: str) -> bool:
    """A boolean setting: the command-line flag where given, else the ini key."""
    option = config.getoption(name)
    return bool(config.getini(name)) if option is None else bool(option)


def validate_options(config: pytest.Config) -> None:
    """Check option and ini values at start-up, so a typo fails at once, as a usage error."""
    check_timeout(_timeout(config))
    _ini_probes(config)
    _whole_seconds(config, "compose_down_timeout")
    _whole_seconds(config, "compose_coverage_stop_timeout")


def _timeout(config: pytest.Config) -> float:
    option = config.getoption("compose_timeout")
    return parse_timeout(
        option if option is not None else config.getini("compose_timeout"),
        where="--compose-timeout" if option is not None else "the compose_timeout ini key",
    )


def _ini_probes(config: pytest.Config) -> dict[str, Probe]:
    return dict(
        probe_from_line(line, where="the compose_probes ini key") for line in config.getini("compose_probes")
    )


def _whole_seconds(config: pytest.Config, key: str) -> int:
    value = config.getini(key)
    try:
        seconds = int(value)
    except ValueError:
        raise ConfigError(f"{key} must be whole seconds, not {value!r}") from None
    if seconds < 0:
        raise ConfigError(f"{key} must be 0 or more seconds, not {seconds}")
    return seconds


def _coverage_settings(config: pytest.Config, host: str) -> CoverageSettings:
    if not is_loopback(host):
        raise ConfigError(
            f"--compose-coverage needs a local Docker engine (the engine is at {host}): it "
            "bind-mounts a folder of this machine into the containers. Run without it."
        )
    stop_timeout = config.getini("compose_coverage_stop_timeout")
    try:
        stop_seconds = int(stop_timeout)
    except ValueError:
        raise ConfigError(
            f"compose_coverage_stop_timeout must be whole seconds, not {stop_timeout!r}"
        ) from None
    return CoverageSettings(
        data_file=_coverage_data_file(config),
        services=tuple(config.getini("compose_coverage_services")),
        source=validate_sources(config.getini("compose_coverage_source")),
        stop_timeout=stop_seconds,
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


def configured_files(
    config: pytest.Config, compose_file_fixture: str | Path | list[str] | None = None
) -> tuple[Path, ...]:
    """The compose files: --compose-file, else the docker_compose_file fixture, else the ini key."""
    cli_files = config.getoption("compose_files")
    if cli_files:
        return resolve_files(cli_files, config.invocation_params.dir)
    if compose_file_fixture:
        listed = (
            [compose_file_fixture] if isinstance(compose_file_fixture, (str, Path)) else compose_file_fixture
        )
        return resolve_files(listed, config.rootpath)
    ini_dir = config.inipath.parent if config.inipath else config.rootpath
    return resolve_files(config.getini("compose_files") or [DEFAULT_COMPOSE_FILE], ini_dir)


_SESSION_PROJECT = pytest.StashKey[str]()


def session_project_name(config: pytest.Config) -> str:
    """This session's unique project name, chosen once (the report header shows it too)."""
    if _SESSION_PROJECT not in config.stash:
        config.stash[_SESSION_PROJECT] = unique_project_name()
    return config.stash[_SESSION_PROJECT]


def planned_project_name(config: pytest.Config) -> str:
    """The project name as options and ini keys decide it, before any fixture overrides it."""
    if config.getoption("compose_project_name"):
        return str(config.getoption("compose_project_name"))
    if enabled(config, "compose_reuse"):
        return reuse_project_name(configured_files(config))
    return session_project_name(config)


def reuse_project_name(files: tuple[Path, ...]) -> str:
    """The same name for the same compose files, so the next run finds the kept stack."""
    key = "\0".join(str(path.resolve()) for path in files)
    return f"tel3sis-reuse-{hashlib.sha256(key.encode()).hexdigest()[:10]}"
