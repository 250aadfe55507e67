"""Taking a stack down from its record: logs saved, coverage collected, always `down`."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_tel3sis_compose.core.container_coverage import CoverageSettings
from pytest_tel3sis_compose.core.handoff import StackRecord, take_down
from pytest_tel3sis_compose.errors import EngineError
from tests.unit.fakes import FakeEngine, compose, service

CONFIG = compose(web=service(), worker=service())


def record_of(tmp_path: Path, **values: object) -> StackRecord:
    workdir = tmp_path / "stack"
    workdir.mkdir(exist_ok=True)
    fields: dict[str, object] = {
        "project_name": "unit",
        "compose_files": (str(tmp_path / "docker-compose.yml"),),
        "config": CONFIG,
        "host": "127.0.0.1",
        "workdir": str(workdir),
    }
    fields.update(values)
    return StackRecord(**fields)  # type: ignore[arg-type]


def test_logs_are_saved_before_the_down_and_the_folder_removed(tmp_path: Path) -> None:
    engine = FakeEngine(CONFIG, logs={"web": "web says hi\n", "worker": "worker says hi\n"})
    events: list[tuple[str | None, str]] = []
    record = record_of(tmp_path, log_dir=str(tmp_path / "logs"), down_timeout=5)

    seconds = take_down(record, engine, lambda service, state, detail="": events.append((service, state)))

    assert (tmp_path / "logs" / "web.log").read_text() == "web says hi\n"
    assert (tmp_path / "logs" / "worker.log").read_text() == "worker says hi\n"
    assert engine.lifecycle() == ["down"]
    assert engine.down_calls == [("down", 5)]
    assert events == [(None, "stopping"), (None, "stopped")]
    assert seconds >= 0
    assert not (tmp_path / "stack").exists()


def test_coverage_stops_gracefully_collects_then_downs_at_once(tmp_path: Path) -> None:
    folder = tmp_path / "stack" / "coverage"
    folder.mkdir(parents=True)
    (folder / ".coverage.web.1.abc").write_text("data")
    data_file = tmp_path / "reports" / ".coverage"
    coverage = CoverageSettings(data_file=data_file, stop_timeout=9)
    engine = FakeEngine(CONFIG)

    take_down(record_of(tmp_path, coverage=coverage, coverage_folder=str(folder), down_timeout=5), engine)

    assert engine.lifecycle() == ["stop", "down"]
    assert engine.calls[-3:] == [("stop", 9), ("down", 0), ("remove_images", ())]
    assert (tmp_path / "reports" / ".coverage.container.web.1.abc").read_text() == "data"


def test_a_failed_down_is_raised_and_the_folder_still_removed(tmp_path: Path) -> None:
    engine = FakeEngine(CONFIG, down_error=EngineError("down failed"))

    with pytest.raises(EngineError, match="down failed"):
        take_down(record_of(tmp_path), engine)

    assert not (tmp_path / "stack").exists()


def test_the_images_compose_named_after_the_project_go_with_it(tmp_path: Path) -> None:
    config = compose(
        web={**service(), "build": {"context": "."}, "image": "tel3sis:dev"},  # a name of its own: stays
        worker={**service(), "build": {"context": "."}},
        cache=service(),
    )
    del config["services"]["worker"]["image"]
    engine = FakeEngine(config)

    take_down(record_of(tmp_path, config=config, project_name="p1"), engine)

    assert engine.calls[-1] == ("remove_images", ("p1-worker",))
