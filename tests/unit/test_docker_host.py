"""Where the engine is: DOCKER_HOST, else the current docker context, else this machine."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from python_on_whales import DockerException, docker

from pytest_tel3sis_compose.core.docker_host import host_of
from pytest_tel3sis_compose.engine import DockerEngine
from pytest_tel3sis_compose.errors import ConfigError


@pytest.fixture
def docker_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty docker config folder as DOCKER_CONFIG; no DOCKER_HOST, no DOCKER_CONTEXT."""
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.delenv("DOCKER_CONTEXT", raising=False)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    return tmp_path


def write_config(folder: Path, **config: object) -> None:
    (folder / "config.json").write_text(json.dumps(config))


class FakeContexts:
    """Stands in for `docker context inspect`, so no test here runs Docker."""

    def __init__(self, endpoints: dict[str, str]) -> None:
        self.endpoints = endpoints
        self.asked: list[str] = []

    def inspect(self, name: str) -> SimpleNamespace:
        self.asked.append(name)
        if name not in self.endpoints:
            raise DockerException(["docker", "context", "inspect", name], 1, b"", b"context not found")
        return SimpleNamespace(endpoints={"docker": SimpleNamespace(host=self.endpoints[name])})


@pytest.fixture
def contexts(monkeypatch: pytest.MonkeyPatch) -> FakeContexts:
    fake = FakeContexts({})
    monkeypatch.setattr(docker.context, "inspect", fake.inspect)
    return fake


# -- host_of --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("endpoint", "host"),
    [
        ("tcp://10.0.0.5:2376", "10.0.0.5"),
        ("tcp://docker.example:2375", "docker.example"),
        ("tcp://[2001:db8::1]:2376", "2001:db8::1"),
        ("ssh://me@192.0.2.10", "192.0.2.10"),
        ("ssh://me@[::1]:2222", "::1"),
        ("ssh://build-box", "build-box"),
        ("unix:///var/run/docker.sock", "127.0.0.1"),
        ("npipe:////./pipe/docker_engine", "127.0.0.1"),
        ("/var/run/docker.sock", "127.0.0.1"),
    ],
)
def test_host_of(endpoint: str, host: str) -> None:
    assert host_of(endpoint, where="DOCKER_HOST") == host


@pytest.mark.parametrize("endpoint", ["tcp://", "ssh://me@", "10.0.0.5:2376"])
def test_host_of_an_endpoint_without_a_host_names_where_and_the_forms(endpoint: str) -> None:
    with pytest.raises(ConfigError) as info:
        host_of(endpoint, where="DOCKER_HOST")

    message = str(info.value)
    assert f"cannot tell the engine's host from DOCKER_HOST = {endpoint!r}" in message
    assert "tcp://HOST:PORT" in message


# -- DockerEngine.host ----------------------------------------------------------------------------


def engine_host() -> str:
    """Where a new engine object says its published ports are reached."""
    return DockerEngine().host()


def test_no_setting_at_all_is_a_local_engine(docker_config: Path, contexts: FakeContexts) -> None:
    assert engine_host() == "127.0.0.1"
    assert contexts.asked == []


@pytest.mark.parametrize("config", [{"currentContext": "default"}, {"auths": {}}, {"currentContext": 3}])
def test_the_default_or_no_current_context_is_a_local_engine(
    docker_config: Path, contexts: FakeContexts, config: dict[str, object]
) -> None:
    write_config(docker_config, **config)

    assert engine_host() == "127.0.0.1"
    assert contexts.asked == []  # Docker is not asked about the default context


def test_an_unreadable_config_json_is_a_local_engine(docker_config: Path, contexts: FakeContexts) -> None:
    (docker_config / "config.json").write_text("{not json")

    assert engine_host() == "127.0.0.1"
    assert contexts.asked == []


def test_docker_host_wins_over_the_context(
    docker_config: Path, contexts: FakeContexts, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_config(docker_config, currentContext="remote")
    contexts.endpoints["remote"] = "tcp://192.0.2.99:2376"
    monkeypatch.setenv("DOCKER_HOST", "ssh://me@[2001:db8::7]")

    assert engine_host() == "2001:db8::7"
    assert contexts.asked == []


def test_a_unix_docker_host_is_a_local_engine(docker_config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///run/user/1000/docker.sock")

    assert engine_host() == "127.0.0.1"


def test_a_bad_docker_host_is_a_config_error_naming_it(
    docker_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", "tcp://")

    with pytest.raises(ConfigError, match=r"^cannot tell the engine's host from DOCKER_HOST = 'tcp://'"):
        engine_host()


def test_the_current_context_of_config_json(docker_config: Path, contexts: FakeContexts) -> None:
    write_config(docker_config, currentContext="remote")
    contexts.endpoints["remote"] = "ssh://me@192.0.2.20"

    assert engine_host() == "192.0.2.20"
    assert contexts.asked == ["remote"]


def test_docker_context_beats_config_json(
    docker_config: Path, contexts: FakeContexts, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_config(docker_config, currentContext="remote")
    contexts.endpoints.update(remote="tcp://192.0.2.99:2376", other="tcp://192.0.2.30:2376")
    monkeypatch.setenv("DOCKER_CONTEXT", "other")

    assert engine_host() == "192.0.2.30"
    assert contexts.asked == ["other"]


def test_docker_context_default_is_a_local_engine_whatever_config_json_says(
    docker_config: Path, contexts: FakeContexts, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_config(docker_config, currentContext="remote")
    contexts.endpoints["remote"] = "tcp://192.0.2.99:2376"
    monkeypatch.setenv("DOCKER_CONTEXT", "default")

    assert engine_host() == "127.0.0.1"
    assert contexts.asked == []


def test_a_context_on_a_local_socket_is_a_local_engine(
    docker_config: Path, contexts: FakeContexts, monkeypatch: pytest.MonkeyPatch
) -> None:
    contexts.endpoints["desktop-linux"] = "unix:///home/me/.docker/desktop/docker.sock"
    monkeypatch.setenv("DOCKER_CONTEXT", "desktop-linux")

    assert engine_host() == "127.0.0.1"


def test_a_context_without_a_host_is_a_config_error_naming_the_context(
    docker_config: Path, contexts: FakeContexts, monkeypatch: pytest.MonkeyPatch
) -> None:
    contexts.endpoints["broken"] = "tcp://"
    monkeypatch.setenv("DOCKER_CONTEXT", "broken")

    with pytest.raises(ConfigError, match=r"from the current docker context = 'tcp://'"):
        engine_host()


def test_an_unknown_context_is_a_config_error(
    docker_config: Path, contexts: FakeContexts, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_CONTEXT", "gone")

    with pytest.raises(ConfigError, match=r"^cannot read docker context 'gone': "):
        engine_host()
    assert contexts.asked == ["gone"]
