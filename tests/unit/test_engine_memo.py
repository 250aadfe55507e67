"""`docker info`'s answer remembered between sessions: used only while nothing it depends on changed."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from pytest_tel3sis_compose.core import engine_memo
from pytest_tel3sis_compose.core.engine_memo import Memo, Remembered
from pytest_tel3sis_compose.engine import DockerEngine
from tests.unit.fakes import fake_docker


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A `docker` on PATH, a Compose executable beside it, a docker config folder; returns the folder.

    The `docker` logs its arguments to docker.log; Compose to compose.log.
    """
    log = fake_docker(
        tmp_path,
        monkeypatch,
        f"""case "$1 $2" in
  "version --format") cat {tmp_path}/version ;;
  "info --format") echo '["name=seccomp"]|systemd|v2.40.3|{tmp_path}/bin/docker-compose' ;;
  *) printf 'name: p\\nservices: {{}}\\n' ;;
esac""",
    )
    folder = log.parent / "bin"
    (folder / "docker-compose").write_text(
        f"#!/bin/sh\necho \"$@\" >> {tmp_path}/compose.log\nprintf 'name: p\\nservices: {{}}\\n'\n"
    )
    (folder / "docker-compose").chmod(0o755)
    (tmp_path / "version").write_text("1.45|26.1.5|Engine;containerd;\n")
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.setattr("pytest_tel3sis_compose.engine.context_name", lambda: None)
    monkeypatch.setattr(engine_memo, "default_folder", lambda: tmp_path / "memo")
    return folder


def asked(tmp_path: Path, program: str = "docker") -> list[str]:
    log = tmp_path / f"{program}.log"
    return log.read_text().splitlines() if log.exists() else []


def remember(answer: Remembered) -> None:
    memo = Memo.here()
    assert memo is not None
    memo.remember(answer)


def recall() -> Remembered | None:
    memo = Memo.here()
    return memo.recall() if memo else None


def configure(folder: Path) -> None:
    folder.mkdir(parents=True)
    (folder / "config.json").write_text('{"currentContext": "remote"}')


def an_answer(cli: Path) -> Remembered:
    return Remembered("1.45|26.1.5|Engine;", "details", str(cli / "docker-compose"))


def test_an_answer_is_recalled_while_nothing_changed(cli: Path) -> None:
    remember(an_answer(cli))

    assert recall() == an_answer(cli)


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda cli, mp: mp.setenv("DOCKER_HOST", "unix:///run/other.sock"), id="DOCKER_HOST"),
        pytest.param(lambda cli, mp: mp.setenv("DOCKER_CONTEXT", "remote"), id="DOCKER_CONTEXT"),
        pytest.param(lambda cli, mp: os.utime(cli / "docker-compose", (1, 1)), id="Compose replaced"),
        pytest.param(lambda cli, mp: (cli / "docker-compose").unlink(), id="Compose removed"),
        pytest.param(lambda cli, mp: os.utime(cli / "docker", (1, 1)), id="CLI replaced"),
        pytest.param(lambda cli, mp: configure(cli.parent / "docker-config"), id="CLI configuration"),
    ],
)
def test_an_answer_is_not_recalled_once_what_it_depends_on_changed(
    cli: Path, monkeypatch: pytest.MonkeyPatch, change: object
) -> None:
    remember(an_answer(cli))

    change(cli, monkeypatch)  # type: ignore[operator]

    assert recall() is None


def test_homes_without_docker_configuration_share_an_answer(
    cli: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As pytest's own pytester sessions have: a fresh HOME each, and the CLI's defaults in all.
    monkeypatch.delenv("DOCKER_CONFIG")
    monkeypatch.setenv("HOME", str(tmp_path / "one"))
    remember(an_answer(cli))

    monkeypatch.setenv("HOME", str(tmp_path / "other"))
    shared = recall()
    configure(tmp_path / "other" / ".docker")

    assert shared == an_answer(cli)
    assert recall() is None  # this HOME's CLI configuration is its own


def test_an_answer_is_forgotten_after_its_time(cli: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    remember(an_answer(cli))
    later = time.time() + engine_memo.TTL_SECONDS + 1

    monkeypatch.setattr(engine_memo.time, "time", lambda: later)

    assert recall() is None


@pytest.mark.parametrize("mode", [0o770, 0o707])
def test_a_folder_others_may_write_is_not_trusted(cli: Path, tmp_path: Path, mode: int) -> None:
    remember(an_answer(cli))
    (tmp_path / "memo").chmod(mode)

    assert recall() is None


def test_a_folder_of_another_user_is_not_trusted(cli: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    remember(an_answer(cli))

    monkeypatch.setattr(os, "getuid", lambda: 4242)

    assert recall() is None


@pytest.mark.parametrize("how", ["others may write it", "a symlink", "not JSON", "of another shape"])
def test_a_file_that_is_not_as_it_was_written_is_not_used(cli: Path, tmp_path: Path, how: str) -> None:
    remember(an_answer(cli))
    (kept,) = (tmp_path / "memo").iterdir()
    if how == "others may write it":
        kept.chmod(0o666)
    elif how == "a symlink":
        kept.rename(tmp_path / "elsewhere.json")
        kept.symlink_to(tmp_path / "elsewhere.json")
    elif how == "not JSON":
        kept.write_text("{not json")
    else:
        compose = str(cli / "docker-compose")
        shape = {"at": time.time(), "version": "v", "details": "d", "compose_binary": compose}
        kept.write_text(json.dumps(shape))  # no stat of Compose

    assert recall() is None


def test_a_clock_set_back_forgets(cli: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    remember(an_answer(cli))
    earlier = time.time() - 60

    monkeypatch.setattr(engine_memo.time, "time", lambda: earlier)

    assert recall() is None


def test_an_engine_started_again_is_asked_again(
    cli: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    socket = tmp_path / "docker.sock"
    socket.touch()
    monkeypatch.setenv("DOCKER_HOST", f"unix://{socket}")
    remember(an_answer(cli))

    socket.unlink()
    socket.touch()  # a daemon makes its socket anew when it starts

    assert recall() is None


def test_nothing_is_kept_for_a_compose_that_is_not_there(cli: Path, tmp_path: Path) -> None:
    remember(Remembered("1.45|26.1.5|Engine;", "details", str(cli / "no-such-compose")))

    assert recall() is None
    assert not (tmp_path / "memo").exists()


def test_a_failed_write_leaves_no_file(cli: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full_disk(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(engine_memo.os, "replace", full_disk)

    remember(an_answer(cli))

    assert list((tmp_path / "memo").iterdir()) == []


def test_without_user_ids_nothing_is_kept(cli: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(os, "getuid")

    assert Memo.here() is None


def test_a_symlinked_folder_is_not_trusted(
    cli: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = tmp_path / "elsewhere"
    real.mkdir(mode=0o700)
    (tmp_path / "link").symlink_to(real)
    monkeypatch.setattr(engine_memo, "default_folder", lambda: tmp_path / "link")

    remember(an_answer(cli))

    assert list(real.iterdir()) == []
    assert recall() is None


def test_a_later_session_asks_only_docker_version(cli: Path, tmp_path: Path) -> None:
    first = DockerEngine().info()
    second = DockerEngine().info()

    assert second == first
    assert second.compose_binary == str(cli / "docker-compose")
    calls = asked(tmp_path)
    assert sum(line.startswith("version ") for line in calls) == 2
    assert sum(line.startswith("info ") for line in calls) == 1


def test_another_docker_version_answer_asks_docker_info_again(cli: Path, tmp_path: Path) -> None:
    DockerEngine().info()
    (tmp_path / "version").write_text("1.47|27.3.1|Engine;containerd;\n")

    info = DockerEngine().info()

    assert info.version == "27.3.1"
    assert sum(line.startswith("info ") for line in asked(tmp_path)) == 2


def test_after_an_engine_upgrade_docker_info_is_asked_once_again(cli: Path, tmp_path: Path) -> None:
    DockerEngine().info()
    (tmp_path / "version").write_text("1.47|27.3.1|Engine;containerd;\n")  # `docker info` says the same

    DockerEngine().info()
    DockerEngine().info()

    assert sum(line.startswith("info ") for line in asked(tmp_path)) == 2


def test_a_remote_engines_answer_is_not_kept(
    cli: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", "ssh://builder@10.1.2.3")

    DockerEngine().info()

    assert not (tmp_path / "memo").exists() or list((tmp_path / "memo").iterdir()) == []


def test_a_later_prefetch_runs_the_remembered_compose_at_once(cli: Path, tmp_path: Path) -> None:
    compose_file = tmp_path / "docker-compose.yml"
    compose_file.write_text("services: {}\n")
    DockerEngine().info()
    engine = DockerEngine()

    engine.prefetch([compose_file], "p")

    assert engine.take_prefetched([compose_file], "p") == {"name": "p", "services": {}}
    assert f"--file={compose_file} --project-name=p config" in asked(tmp_path, "compose")
    assert not any(line.startswith("compose ") for line in asked(tmp_path))


def test_a_prefetch_by_a_compose_the_engine_no_longer_names_is_not_used(
    cli: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    compose_file = tmp_path / "docker-compose.yml"
    compose_file.write_text("services: {}\n")
    remember(
        Remembered(
            "1.45|26.1.5|Engine;containerd;",
            "[]|systemd|v2.39.0|" + str(cli / "docker-compose"),
            str(cli / "docker-compose"),
        )
    )
    (tmp_path / "version").write_text("1.47|27.3.1|Engine;containerd;\n")  # so `docker info` is asked again
    monkeypatch.setattr(
        "pytest_tel3sis_compose.engine._INFO_COMMANDS",
        (
            ["docker", "version", "--format", "x"],
            ["sh", "-c", "echo '[]|systemd|v2.40.3|/usr/bin/another-compose'"],
        ),
    )
    engine = DockerEngine()

    engine.prefetch([compose_file], "p")

    assert engine.take_prefetched([compose_file], "p") is None  # the stack runs `config` itself
    assert f"--file={compose_file} --project-name=p config" in asked(tmp_path, "compose")
    assert engine.info().compose_binary == "/usr/bin/another-compose"
