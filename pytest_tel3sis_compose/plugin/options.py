"""Every command-line option and ini key, declared once, and read once into `SessionOptions`.

`pytest_addoption` declares them from `OPTIONS`; `read_options` parses each
value once, the command line beating the ini file, and words any error in
terms of the flag or key the user wrote.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pytest

from pytest_tel3sis_compose.core.container_coverage import validate_sources
from pytest_tel3sis_compose.core.probes import Probe, probe_from_line
from pytest_tel3sis_compose.core.settings import DEFAULT_TIMEOUT, check_timeout
from pytest_tel3sis_compose.errors import ConfigError

DEFAULT_COMPOSE_FILE = "docker-compose.yml"
IniType = Literal["string", "bool", "linelist", "args"]


def _seconds(value: Any, where: str, base: Path) -> float:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{where} must be a number of seconds, not {value!r}") from None
    return check_timeout(seconds)


def _whole_seconds(value: Any, where: str, base: Path) -> int:
    try:
        seconds = int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{where} must be whole seconds, not {value!r}") from None
    if seconds < 0:
        raise ConfigError(f"{where} must be 0 or more seconds, not {seconds}")
    return seconds


def _probes(lines: Sequence[str], where: str, base: Path) -> dict[str, Probe]:
    return dict(probe_from_line(line, where=where) for line in lines)


def _files(paths: Sequence[str] | None, where: str, base: Path) -> tuple[Path, ...]:
    return resolve_files(paths, base) if paths else default_files(base)


#: The files Compose itself looks for when it is given none, in its order, each with its override.
_COMPOSE_DEFAULTS = (
    ("compose.yaml", "compose.override.yaml"),
    ("compose.yml", "compose.override.yml"),
    ("docker-compose.yaml", "docker-compose.override.yaml"),
    ("docker-compose.yml", "docker-compose.override.yml"),
)


def default_files(folder: Path) -> tuple[Path, ...]:
    """What `docker compose` would read in `folder`: the first default file, and its override."""
    for name, override in _COMPOSE_DEFAULTS:
        if (folder / name).is_file():
            return (folder / name, *((folder / override,) if (folder / override).is_file() else ()))
    return (folder / DEFAULT_COMPOSE_FILE,)  # none: the error names the usual one


def _folder(value: str | None, where: str, base: Path) -> Path | None:
    return (base / value).resolve() if value else None


def _as_given(value: Any, where: str, base: Path) -> Any:
    return value


def _sources(values: Sequence[str], where: str, base: Path) -> tuple[str, ...]:
    return validate_sources(values)


def _words(values: Sequence[str], where: str, base: Path) -> tuple[str, ...]:
    return tuple(values)


def _services(values: Sequence[str], where: str, base: Path) -> tuple[str, ...]:
    """Service names, space- or comma-separated; `all` or `*` for every one."""
    names = tuple(name for value in values for name in value.replace(",", " ").split())
    return ("*",) if {"all", "*"} & set(names) else names


@dataclass(frozen=True)
class Option:
    name: str
    """The ini key, and the name of the parsed value in SessionOptions."""
    help: str
    flag: str | None = None
    """The command-line flag, if there is one."""
    ini: IniType | None = "string"
    """The ini key's type; None when there is no ini key."""
    default: Any = None
    parse: Callable[[Any, str, Path], Any] = _as_given
    """(raw value, where it was given, the folder relative paths start from) -> the value.

    Raises ConfigError naming `where` when the value is wrong.
    """
    action: str | None = None
    """argparse action of the flag (store_true / store_false / append)."""
    metavar: str | None = None
    setting: str | None = None
    """The StackSettings field this option feeds, so errors from the core can name the option."""
    fixture: str | None = None
    """A pytest-docker fixture that may set the same thing."""

    def where(self, from_command_line: bool) -> str:
        if from_command_line or self.ini is None:
            return str(self.flag)
        return f"the {self.name} ini key"

    def sources(self) -> str:
        """How a user sets it: `--compose-timeout or the compose_timeout ini key`."""
        ini = f"the {self.name} ini key" if self.ini else None
        fixture = f"the {self.fixture} fixture" if self.fixture else None
        ways = [way for way in (self.flag, ini, fixture) if way]
        return ", ".join(ways[:-1]) + " or " + ways[-1] if len(ways) > 1 else ways[0]


OPTIONS = (
    Option(
        "compose_files",
        "compose file for the stack; repeat for overrides. Replaces the compose_files ini key.",
        flag="--compose-file",
        ini="linelist",
        parse=_files,
        action="append",
        metavar="PATH",
        setting="compose_files",
        fixture="docker_compose_file",
    ),
    Option(
        "compose_timeout",
        f"seconds every service gets to become ready after `up` (default {DEFAULT_TIMEOUT:g}).",
        flag="--compose-timeout",
        default=str(DEFAULT_TIMEOUT),
        parse=_seconds,
        metavar="SECONDS",
        setting="timeout",
    ),
    Option(
        "compose_project_name",
        "Compose project name (default: unique per session, so parallel runs never collide).",
        flag="--compose-project-name",
        ini=None,
        metavar="NAME",
        setting="project_name",
        fixture="docker_compose_project_name",
    ),
    Option(
        "compose_build",
        "do not build images before starting; use the ones already there.",
        flag="--compose-no-build",
        ini="bool",
        default=True,
        action="store_false",
        setting="build",
    ),
    Option(
        "compose_coverage",
        "measure coverage inside the containers and combine it with the host's data.",
        flag="--compose-coverage",
        ini="bool",
        default=False,
        action="store_true",
        setting="coverage",
    ),
    Option(
        "compose_coverage_services",
        "services measured by --compose-coverage (default: those with a build section)",
        ini="args",
        parse=_words,
    ),
    Option(
        "compose_coverage_source",
        "code measured inside the containers (coverage's [run] source)",
        ini="args",
        default=["/app"],
        parse=_sources,
    ),
    Option(
        "compose_coverage_stop_timeout",
        "seconds measured services get to stop and save their data",
        default="30",
        parse=_whole_seconds,
    ),
    Option(
        "compose_log_dir",
        "write every service's full log to DIR/<service>.log when the stack is taken down, and a "
        "failed stack's forensics bundle (config, ps, logs, events, timeline) to DIR/<project>/.",
        flag="--compose-log-dir",
        ini=None,
        parse=_folder,
        metavar="DIR",
        setting="log_dir",
    ),
    Option(
        "compose_require_healthy",
        "also wait until Docker reports every service with a native healthcheck healthy.",
        flag="--compose-require-healthy",
        ini="bool",
        default=False,
        action="store_true",
        setting="require_healthy",
    ),
    Option(
        "compose_keep_on_failure",
        "leave a failed stack running, for inspection; later sessions do not reap it; "
        "`pytest --compose-prune` removes it.",
        flag="--compose-keep-on-failure",
        ini="bool",
        default=False,
        action="store_true",
    ),
    Option(
        "compose_reuse",
        "keep the stack after the run and reuse it next time if nothing it is made of changed.",
        flag="--compose-reuse",
        ini="bool",
        default=False,
        action="store_true",
        setting="reuse",
    ),
    Option(
        "compose_prune",
        "remove the stacks --compose-reuse keeps for these compose files, and stacks of "
        "dead sessions, then exit.",
        flag="--compose-prune",
        ini=None,
        default=False,
        action="store_true",
    ),
    Option(
        "compose_keep_ports",
        "services whose ports stay exactly as the compose files write them ('all' for every one); "
        "the others get ephemeral ports on 127.0.0.1, so parallel sessions never collide.",
        flag="--compose-keep-ports",
        ini="args",
        parse=_services,
        action="append",
        metavar="SERVICES",
        setting="keep_ports",
    ),
    Option(
        "compose_probes",
        'readiness probes, one `SERVICE = SPEC` a line, e.g. web = {"http": {"port": 3000}}',
        ini="linelist",
        parse=_probes,
        setting="probes",
    ),
    Option(
        "compose_down_timeout",
        "seconds containers get to stop at teardown",
        default="0",
        parse=_whole_seconds,
        setting="down_timeout",
    ),
)
BY_NAME = {option.name: option for option in OPTIONS}
BY_SETTING = {option.setting: option for option in OPTIONS if option.setting}


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("tel3sis-compose", "Docker Compose stacks (pytest-tel3sis-compose)")
    for option in OPTIONS:
        if option.flag:
            extra: dict[str, Any] = {"metavar": option.metavar} if option.metavar else {}
            if option.action in ("store_true", "store_false"):
                extra["default"] = None  # unset: the ini key decides
            group.addoption(option.flag, dest=option.name, action=option.action, help=option.help, **extra)
        if option.ini:
            default = option.default
            if default is None and option.ini in ("linelist", "args"):
                default = []  # an unset list is empty, not None
            parser.addini(option.name, type=option.ini, default=default, help=option.help)


@dataclass(frozen=True)
class SessionOptions:
    """The session's configuration, each value parsed once."""

    compose_files: tuple[Path, ...]
    compose_timeout: float = DEFAULT_TIMEOUT
    compose_project_name: str | None = None
    compose_build: bool = True
    compose_coverage: bool = False
    compose_coverage_services: tuple[str, ...] = ()
    compose_coverage_source: tuple[str, ...] = ("/app",)
    compose_coverage_stop_timeout: int = 30
    compose_log_dir: Path | None = None
    compose_keep_on_failure: bool = False
    compose_require_healthy: bool = False
    compose_reuse: bool = False
    compose_prune: bool = False
    compose_keep_ports: tuple[str, ...] = ()
    compose_probes: dict[str, Probe] = field(default_factory=dict)
    compose_down_timeout: int = 0
    from_command_line: frozenset[str] = frozenset()
    """The options given on the command line (they beat fixtures; ini keys do not)."""


def read_options(config: pytest.Config) -> SessionOptions:
    """Parse every option once; raise ConfigError naming the flag or ini key at fault."""
    ini_dir = config.inipath.parent if config.inipath else config.rootpath
    values: dict[str, Any] = {}
    given_here = set()
    for option in OPTIONS:
        given = config.getoption(option.name) if option.flag else None
        from_command_line = given is not None
        if from_command_line:
            given_here.add(option.name)
        raw = given if from_command_line else (config.getini(option.name) if option.ini else option.default)
        base = config.invocation_params.dir if from_command_line or not option.ini else ini_dir
        try:
            values[option.name] = option.parse(raw, option.where(from_command_line), base)
        except ConfigError as exc:
            raise with_fix(exc) from None
    return SessionOptions(**values, from_command_line=frozenset(given_here))


def with_fix(exc: ConfigError, given_by: str | None = None) -> ConfigError:
    """The core's error about a setting, with where the user sets it.

    `given_by` names where a value came from, when not from an option (a fixture, a factory).
    """
    option = BY_SETTING.get(exc.setting) if exc.setting else None
    if given_by:
        return ConfigError(f"{exc}; fix {given_by}")
    if option is None:
        return exc
    return ConfigError(f"{exc}; fix it in {option.sources()}")


def resolve_files(paths: Sequence[str | Path], base: Path) -> tuple[Path, ...]:
    return tuple(p if Path(p).is_absolute() else base / p for p in map(Path, paths))
