"""The pytest layer: options, ini keys and fixtures over the core. No stack logic lives here."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from pytest_tel3sis_compose.container_coverage import CoverageSettings, validate_sources
from pytest_tel3sis_compose.errors import ComposeError, ConfigError
from pytest_tel3sis_compose.probes import Probe, probe_from_line
from pytest_tel3sis_compose.settings import (
    DEFAULT_TIMEOUT,
    StackSettings,
    parse_timeout,
    resolve_files,
    unique_project_name,
)
from pytest_tel3sis_compose.signals import sigterm_raises_interrupt
from pytest_tel3sis_compose.stack import ComposeStack

DEFAULT_COMPOSE_FILE = "docker-compose.yml"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("tel3sis-compose", "Docker Compose stack (pytest-tel3sis-compose)")
    group.addoption(
        "--compose-file",
        action="append",
        dest="compose_files",
        metavar="PATH",
        help="compose file for the stack; repeat for overrides. Replaces the compose_files ini key.",
    )
    group.addoption(
        "--compose-timeout",
        dest="compose_timeout",
        metavar="SECONDS",
        help=f"seconds every service gets to become ready after `up` (default {DEFAULT_TIMEOUT:g}).",
    )
    group.addoption(
        "--compose-project-name",
        dest="compose_project_name",
        metavar="NAME",
        help="Compose project name (default: unique per session, so parallel runs never collide).",
    )
    group.addoption(
        "--compose-no-build",
        dest="compose_build",
        action="store_false",
        default=None,
        help="do not build images before starting; use the ones already there.",
    )
    group.addoption(
        "--compose-coverage",
        dest="compose_coverage",
        action="store_true",
        default=None,
        help="measure coverage inside the containers and combine it with the host's data.",
    )
    group.addoption(
        "--compose-log-dir",
        dest="compose_log_dir",
        metavar="DIR",
        help="write every service's full log to DIR/<service>.log when the stack is taken down.",
    )
    parser.addini("compose_files", type="linelist", help="compose files, relative to the ini file")
    parser.addini("compose_timeout", default=str(DEFAULT_TIMEOUT), help="readiness timeout, seconds")
    parser.addini("compose_build", type="bool", default=True, help="build images before starting")
    parser.addini(
        "compose_probes",
        type="linelist",
        help='readiness probes, one `SERVICE = SPEC` a line, e.g. web = {"http": {"port": 3000}}',
    )
    parser.addini("compose_down_timeout", default="0", help="seconds containers get to stop at teardown")
    parser.addini("compose_coverage", type="bool", default=False, help="as --compose-coverage")
    parser.addini(
        "compose_coverage_services",
        type="args",
        help="services measured by --compose-coverage (default: those with a build section)",
    )
    parser.addini(
        "compose_coverage_source",
        type="args",
        default=["/app"],
        help="code measured inside the containers (coverage's [run] source)",
    )
    parser.addini(
        "compose_coverage_stop_timeout",
        default="30",
        help="seconds measured services get to stop and save their data",
    )


@pytest.fixture(scope="session")
def compose_probes() -> Mapping[str, Probe]:
    """Readiness probes by service name, replacing those the compose files declare.

    Override in conftest.py to declare probes in Python, for example::

        @pytest.fixture(scope="session")
        def compose_probes():
            return {"web": HttpProbe(3000, "/v1/health", json=lambda body: body["db"] == "ok")}
    """
    return {}


@pytest.fixture(scope="session")
def compose_settings(
    request: pytest.FixtureRequest, pytestconfig: pytest.Config, compose_probes: Mapping[str, Probe]
) -> StackSettings:
    """The resolved settings of the session's stack (options, ini keys and fixture overrides)."""
    overrides = {
        name: request.getfixturevalue(name)
        for name in ("docker_compose_file", "docker_compose_project_name")
        if _overrides_pytest_docker(request, name)
    }
    return settings_from_config(
        pytestconfig,
        compose_file_fixture=overrides.get("docker_compose_file"),
        project_name=overrides.get("docker_compose_project_name"),
        host=str(request.getfixturevalue("docker_ip")),
        probes=compose_probes,
    )


@pytest.fixture(scope="session")
def compose_stack(compose_settings: StackSettings) -> Iterator[ComposeStack]:
    """The compose stack, built, started and ready; taken down after the session.

    `compose_stack.url("web")` is the health-checked base URL of a service.
    """
    stack = ComposeStack(compose_settings)
    with sigterm_raises_interrupt():
        try:
            failure = _start(stack)
            if failure:
                pytest.fail(failure, pytrace=False)
            yield stack
        finally:
            stack.stop()


def _start(stack: ComposeStack) -> str | None:
    """Start the stack; on a known failure return its diagnosis instead of raising.

    The message is the whole diagnosis: the plugin's own frames and the
    exception chain would only bury it.
    """
    try:
        stack.start()
    except ComposeError as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def settings_from_config(
    config: pytest.Config,
    *,
    compose_file_fixture: str | list[str] | None = None,
    project_name: str | None = None,
    host: str = "127.0.0.1",
    probes: Mapping[str, Probe] | None = None,
) -> StackSettings:
    """Read options and ini keys once; the command line beats fixtures, fixtures beat ini."""
    ini_dir = config.inipath.parent if config.inipath else config.rootpath
    cli_files = config.getoption("compose_files")
    if cli_files:
        files = resolve_files(cli_files, config.invocation_params.dir)
    elif compose_file_fixture:
        fixture_files = (
            [compose_file_fixture] if isinstance(compose_file_fixture, (str, Path)) else compose_file_fixture
        )
        files = resolve_files(fixture_files, config.rootpath)
    else:
        files = resolve_files(config.getini("compose_files") or [DEFAULT_COMPOSE_FILE], ini_dir)

    timeout_option = config.getoption("compose_timeout")
    timeout = parse_timeout(
        timeout_option if timeout_option is not None else config.getini("compose_timeout"),
        where="--compose-timeout" if timeout_option is not None else "the compose_timeout ini key",
    )
    build = _enabled(config, "compose_build")

    declared: dict[str, Probe] = {}
    for line in config.getini("compose_probes"):
        service, probe = probe_from_line(line, where="the compose_probes ini key")
        declared[service] = probe
    declared.update(probes or {})

    down_timeout = config.getini("compose_down_timeout")
    try:
        down_seconds = int(down_timeout)
    except ValueError:
        raise ConfigError(f"compose_down_timeout must be whole seconds, not {down_timeout!r}") from None

    coverage = _coverage_settings(config, host) if _enabled(config, "compose_coverage") else None

    return StackSettings(
        compose_files=files,
        project_name=config.getoption("compose_project_name") or project_name or unique_project_name(),
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


def _enabled(config: pytest.Config, name: str) -> bool:
    option = config.getoption(name)
    return bool(config.getini(name)) if option is None else bool(option)


def _coverage_settings(config: pytest.Config, host: str) -> CoverageSettings:
    if not _is_loopback(host):
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
    import coverage

    current = coverage.Coverage.current()
    name = current.config.data_file if current else os.environ.get("COVERAGE_FILE", ".coverage")
    return (config.invocation_params.dir / name).resolve()


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _overrides_pytest_docker(request: pytest.FixtureRequest, name: str) -> bool:
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
