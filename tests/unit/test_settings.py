"""StackSettings: checked on creation, with messages that say how to fix them."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from pytest_tel3sis_compose.core.settings import (
    DEFAULT_TIMEOUT,
    MAX_TIMEOUT,
    StackSettings,
    unique_project_name,
)
from pytest_tel3sis_compose.errors import ConfigError

MakeSettings = Callable[..., StackSettings]


def test_defaults_and_resolved_paths(compose_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(compose_file.parent)

    settings = StackSettings(compose_files=("docker-compose.yml",))  # type: ignore[arg-type]

    assert settings.compose_files == (compose_file.resolve(),)
    assert settings.timeout == DEFAULT_TIMEOUT == 120.0
    assert settings.build is True
    assert settings.host == "127.0.0.1"
    assert settings.down_timeout == 0
    assert dict(settings.probes) == {}
    assert re.fullmatch(r"pytest-\d+-[0-9a-f]{6}", settings.project_name)


def test_missing_compose_file_names_the_path_and_the_setting(tmp_path: Path, compose_file: Path) -> None:
    missing = tmp_path / "nested" / "compose.ci.yml"

    with pytest.raises(ConfigError) as info:
        StackSettings(compose_files=(compose_file, missing))

    assert str(info.value) == f"compose file not found: {missing.resolve()}"  # only the missing one
    assert info.value.setting == "compose_files"  # the pytest layer says where it is set


def test_a_directory_is_not_a_compose_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="compose file not found"):
        StackSettings(compose_files=(tmp_path,))


def test_no_compose_file_names_the_setting() -> None:
    with pytest.raises(ConfigError, match=r"^no compose file given$") as info:
        StackSettings(compose_files=())

    assert info.value.setting == "compose_files"


@pytest.mark.parametrize("name", ["My-Project", "-stack", "_stack", "", "stack.ci", "stack name", "ünit"])
def test_bad_project_name(make_settings: MakeSettings, name: str) -> None:
    with pytest.raises(ConfigError) as info:
        make_settings(project_name=name)

    assert f"invalid Compose project name {name!r}" in str(info.value)
    assert "lower-case letters, digits, '-' and '_'" in str(info.value)


@pytest.mark.parametrize("name", ["unit", "0stack", "pytest-123-abcdef", "a_b-c"])
def test_good_project_names(make_settings: MakeSettings, name: str) -> None:
    assert make_settings(project_name=name).project_name == name


def _timeout_error(timeout: float) -> str:
    message = f"the compose timeout must be more than 0 and at most 86400 seconds, not {timeout}"
    return re.escape(message) + "$"


@pytest.mark.parametrize("timeout", [0, -1, -0.5, float("nan")])
def test_non_positive_timeout(make_settings: MakeSettings, timeout: float) -> None:
    with pytest.raises(ConfigError, match=_timeout_error(timeout)):
        make_settings(timeout=timeout)


@pytest.mark.parametrize("timeout", [86400.5, 1e9, float("inf")])
def test_timeout_above_a_day(make_settings: MakeSettings, timeout: float) -> None:
    assert MAX_TIMEOUT == 86400.0
    with pytest.raises(ConfigError, match=_timeout_error(timeout)):
        make_settings(timeout=timeout)


@pytest.mark.parametrize("timeout", [0.001, 1, MAX_TIMEOUT])
def test_timeout_within_bounds(make_settings: MakeSettings, timeout: float) -> None:
    assert make_settings(timeout=timeout).timeout == timeout


def test_negative_down_timeout(make_settings: MakeSettings) -> None:
    with pytest.raises(ConfigError, match="teardown timeout must be >= 0 seconds, not -1"):
        make_settings(down_timeout=-1)


def test_settings_are_frozen(make_settings: MakeSettings) -> None:
    settings = make_settings()

    with pytest.raises(AttributeError):
        settings.timeout = 1  # type: ignore[misc]


def test_unique_project_names_differ_and_are_valid() -> None:
    names = {unique_project_name() for _ in range(20)}

    assert len(names) == 20
    assert all(re.fullmatch(r"pytest-\d+-[0-9a-f]{6}", name) for name in names)
    assert re.fullmatch(r"ci-\d+-[0-9a-f]{6}", unique_project_name("ci"))
