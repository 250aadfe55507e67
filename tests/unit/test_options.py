"""The option table: each value parsed once, errors naming the flag or ini key the user wrote."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_tel3sis_compose.core.settings import StackSettings
from pytest_tel3sis_compose.errors import ConfigError
from pytest_tel3sis_compose.plugin.options import BY_NAME, BY_SETTING, OPTIONS, resolve_files, with_fix

HERE = Path("/base")


@pytest.mark.parametrize(("value", "seconds"), [("2.5", 2.5), ("120", 120.0), (7, 7.0), (" 3 ", 3.0)])
def test_seconds(value: str | float, seconds: float) -> None:
    assert BY_NAME["compose_timeout"].parse(value, "--compose-timeout", HERE) == seconds


@pytest.mark.parametrize("value", ["abc", "", "10s", None])
def test_seconds_error_names_where_and_value(value: str | None) -> None:
    with pytest.raises(ConfigError) as info:
        BY_NAME["compose_timeout"].parse(value, "the compose_timeout ini key", HERE)

    assert str(info.value) == f"the compose_timeout ini key must be a number of seconds, not {value!r}"


@pytest.mark.parametrize(("value", "message"), [("2.5", "whole seconds, not '2.5'"), ("-1", "0 or more")])
def test_whole_seconds_errors(value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=f"^the compose_down_timeout ini key must be {message}"):
        BY_NAME["compose_down_timeout"].parse(value, "the compose_down_timeout ini key", HERE)


def test_files_relative_to_base_absolute_kept_and_the_default(tmp_path: Path) -> None:
    absolute = tmp_path / "a.yml"
    parse = BY_NAME["compose_files"].parse

    assert parse(["docker-compose.yml", str(absolute)], "--compose-file", HERE) == (
        HERE / "docker-compose.yml",
        absolute,
    )
    assert parse([], "the compose_files ini key", HERE) == (HERE / "docker-compose.yml",)
    assert resolve_files(["ci/x.yml"], HERE) == (HERE / "ci" / "x.yml",)


def test_a_core_error_about_a_setting_names_the_option_that_sets_it() -> None:
    with pytest.raises(ConfigError) as info:
        StackSettings(compose_files=(), project_name="x")

    assert str(with_fix(info.value)) == (
        "no compose file given; fix it in --compose-file, the compose_files ini key "
        "or the docker_compose_file fixture"
    )
    assert str(with_fix(info.value, "compose_fixture(...) in conftest.py")) == (
        "no compose file given; fix compose_fixture(...) in conftest.py"
    )


def test_every_option_is_declared_once_and_each_setting_has_one_option() -> None:
    names = [option.name for option in OPTIONS]
    flags = [option.flag for option in OPTIONS if option.flag]

    assert len(names) == len(set(names))
    assert len(flags) == len(set(flags))
    assert all(name.startswith("compose_") for name in names)
    assert all(flag.startswith("--compose-") for flag in flags)
    assert set(BY_SETTING) <= set(StackSettings.__dataclass_fields__) | {"coverage"}


@pytest.mark.parametrize(
    ("present", "found"),
    [
        (["docker-compose.yml"], ["docker-compose.yml"]),
        (
            ["docker-compose.yml", "docker-compose.override.yml"],
            ["docker-compose.yml", "docker-compose.override.yml"],
        ),
        (["compose.yaml", "docker-compose.yml"], ["compose.yaml"]),  # Compose's own order
        (["compose.yml", "compose.override.yml"], ["compose.yml", "compose.override.yml"]),
        ([], ["docker-compose.yml"]),  # nothing there: the usual name, which the error then names
    ],
)
def test_with_no_files_configured_the_files_compose_itself_would_read(
    tmp_path: Path, present: list[str], found: list[str]
) -> None:
    for name in present:
        (tmp_path / name).write_text("services: {}\n")

    assert BY_NAME["compose_files"].parse([], "the compose_files ini key", tmp_path) == tuple(
        tmp_path / name for name in found
    )
