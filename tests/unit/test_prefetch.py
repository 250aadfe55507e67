"""The engine's prefetch of `docker compose config`: used only for the same, unchanged files."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from pytest_tel3sis_compose.engine import DockerEngine
from tests.unit.fakes import fake_docker

CONFIG = "name: p\nservices:\n  web:\n    image: x\n"


@pytest.fixture
def compose_file(tmp_path: Path) -> Path:
    path = tmp_path / "docker-compose.yml"
    path.write_text("services: {web: {image: x}}\n")
    return path


def test_the_prefetched_config_is_taken_once_for_the_same_files_and_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, compose_file: Path
) -> None:
    log = fake_docker(tmp_path, monkeypatch, f"printf '{CONFIG}'")
    engine = DockerEngine()

    engine.prefetch([compose_file], "p")

    assert engine.take_prefetched([compose_file], "other") is None  # another project: not this one
    assert engine.take_prefetched([compose_file], "p") == {"name": "p", "services": {"web": {"image": "x"}}}
    assert engine.take_prefetched([compose_file], "p") is None  # taken
    assert log.read_text().splitlines().count(f"compose --file={compose_file} --project-name=p config") == 1


ANSWERS = """case "$1 $2" in
  "version --format") echo '1.45|26.1.5|Engine;containerd;' ;;
  "info --format") echo '["name=seccomp"]|systemd|v2.40.3' ;;
  *) printf 'name: p\\nservices: {}\\n' ;;
esac"""


def test_the_engine_is_asked_once_meanwhile_and_its_answer_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, compose_file: Path
) -> None:
    log = fake_docker(tmp_path, monkeypatch, ANSWERS)
    engine = DockerEngine()
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.setattr("pytest_tel3sis_compose.engine.context_name", lambda: None)

    engine.prefetch([compose_file], "p")
    info = engine.info()  # waits for the warm-up's answer rather than asking again
    engine.check()

    assert (info.version, info.compose_version) == ("26.1.5", "2.40.3")
    asked = log.read_text().splitlines()
    assert sum(line.startswith("version ") for line in asked) == 1
    assert sum(line.startswith("info ") for line in asked) == 1
    assert "compose version --short" not in asked, "Compose was started where `docker info` named it"


def test_a_remote_engine_is_not_asked_meanwhile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, compose_file: Path
) -> None:
    log = fake_docker(tmp_path, monkeypatch, ANSWERS)
    monkeypatch.setenv("DOCKER_HOST", "ssh://builder@10.1.2.3")
    engine = DockerEngine()

    engine.prefetch([compose_file], "p")
    engine.take_prefetched([compose_file], "p")  # the config process has ended

    assert not any(line.startswith(("version ", "info ")) for line in log.read_text().splitlines())


def test_a_file_changed_since_is_not_served_stale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, compose_file: Path
) -> None:
    fake_docker(tmp_path, monkeypatch, f"printf '{CONFIG}'")
    engine = DockerEngine()
    engine.prefetch([compose_file], "p")
    time.sleep(0.01)
    compose_file.write_text("services: {web: {image: y}}\n")

    assert engine.take_prefetched([compose_file], "p") is None


@pytest.mark.parametrize("script", ["echo 'invalid compose file' >&2; exit 1", "echo '- a list'"])
def test_a_failed_or_odd_prefetch_gives_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, compose_file: Path, script: str
) -> None:
    fake_docker(tmp_path, monkeypatch, script)
    engine = DockerEngine()
    engine.prefetch([compose_file], "p")

    assert engine.take_prefetched([compose_file], "p") is None  # the stack asks again, and reports it


def test_a_missing_file_is_left_for_the_stack_to_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = fake_docker(tmp_path, monkeypatch, f"printf '{CONFIG}'")
    engine = DockerEngine()
    missing = tmp_path / "missing.yml"

    engine.prefetch([missing], "p")

    assert engine.take_prefetched([missing], "p") is None
    assert not log.exists()  # docker was never run


def test_compose_not_among_the_listed_plugins_is_asked_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    answers = ANSWERS.replace("systemd|v2.40.3", "systemd|").replace(
        "*)", "\"compose version\") echo '2.39.1' ;;\n  *)"
    )
    log = fake_docker(tmp_path, monkeypatch, answers)

    info = DockerEngine().info()

    assert info.compose_version == "2.39.1"
    assert log.read_text().splitlines().count("compose version --short") == 1


def test_compose_is_run_as_the_executable_docker_info_names_once_it_answered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, compose_file: Path
) -> None:
    log = fake_docker(tmp_path, monkeypatch, "")
    plugin = tmp_path / "cli-plugins" / "docker-compose"
    plugin.parent.mkdir()
    plugin.write_text(f"#!/bin/sh\necho \"$@\" >> {log}.plugin\nprintf '{CONFIG}'\n")
    plugin.chmod(0o755)
    docker = tmp_path / "bin" / "docker"
    docker.write_text(
        docker.read_text() + ANSWERS.replace("systemd|v2.40.3", f"systemd|v2.40.3|{plugin}") + "\n"
    )
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.setattr("pytest_tel3sis_compose.engine.context_name", lambda: None)
    engine = DockerEngine()
    assert engine.info().compose_binary == str(plugin)

    engine.prefetch([compose_file], "p")

    assert engine.take_prefetched([compose_file], "p") == {"name": "p", "services": {"web": {"image": "x"}}}
    ran = Path(f"{log}.plugin").read_text().splitlines()
    assert ran == [f"--file={compose_file} --project-name=p config"]
    assert not any(line.startswith("compose ") for line in log.read_text().splitlines()), "run through docker"


def test_a_prefetch_before_the_engine_answered_starts_at_once_through_docker_compose(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, compose_file: Path
) -> None:
    only_compose_answers = 'case "$1" in compose) printf "name: p\\nservices: {}\\n" ;; esac'
    log = fake_docker(tmp_path, monkeypatch, only_compose_answers)
    engine = DockerEngine()

    engine.prefetch([compose_file], "p")

    assert engine.known_info is None
    assert engine.take_prefetched([compose_file], "p") == {"name": "p", "services": {}}
    assert f"compose --file={compose_file} --project-name=p config" in log.read_text().splitlines()
