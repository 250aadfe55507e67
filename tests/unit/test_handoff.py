"""The hand-off record: all another process needs, to and from JSON, nothing checked again."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest

from pytest_tel3sis_compose.core.container_coverage import CoverageSettings
from pytest_tel3sis_compose.core.handoff import StackRecord, attach, hand_off
from pytest_tel3sis_compose.core.settings import StackSettings
from pytest_tel3sis_compose.core.stack import ComposeStack, Phase
from tests.unit.fakes import FakeEngine, compose, service


def test_a_record_survives_json_whole(tmp_path: Path) -> None:
    record = StackRecord(
        project_name="pytest-1-abcdef",
        compose_files=("/gone/docker-compose.yml", "/gone/override.yml"),  # nothing is checked again
        config={"services": {"web": {"image": "x", "x-tel3sis-probe": {"http": {"port": 3000}}}}},
        host="192.0.2.7",
        down_timeout=3,
        keep=True,
        workdir="/tmp/stack",
        log_dir="/tmp/logs",
        coverage=CoverageSettings(tmp_path / ".coverage", ("web",), ("/app", "/lib"), 12),
        coverage_folder="/tmp/stack/coverage",
        ready_after={"web": 1.5},
    )

    again = StackRecord.from_json(record.to_json())

    assert again == record
    assert isinstance(again.coverage, CoverageSettings)
    assert again.coverage.data_file == tmp_path / ".coverage"
    with pytest.raises(dataclasses.FrozenInstanceError):
        again.keep = False  # type: ignore[misc]


def test_a_started_stack_hands_off_everything_and_an_attached_one_describes_it(
    make_settings: Callable[..., StackSettings],
) -> None:
    engine = FakeEngine(compose(web=service(ports=[3000]), cache=service()))
    starter = ComposeStack(make_settings(project_name="shared", down_timeout=4), engine)
    starter.start()

    record = StackRecord.from_json(hand_off(starter).to_json())
    attached = attach(make_settings(project_name="ignored"), record, engine)

    assert starter.phase is Phase.HANDED_OFF
    assert record.project_name == "shared"
    assert record.down_timeout == 4
    assert record.compose_files[-1].endswith("compose.tel3sis.yml")  # the plugin's override too
    assert attached.phase is Phase.ATTACHED
    assert attached.project_name == "shared"
    assert attached.ready_after == starter.ready_after
    assert attached.url("web") == "http://127.0.0.1:35768"
    starter.stop()
    attached.stop()
    assert "down" not in engine.names()  # neither owns the teardown: the record's holder does
    assert Path(record.compose_files[-1]).exists()  # the handed-off folder stays for the holder


class Distinct(FakeEngine):
    """An engine whose projects are objects of their own, as the real engine's are."""

    def __init__(self, config: dict[str, object]) -> None:
        super().__init__(config)
        self.made: list[FakeEngine] = []

    def project(self, files: object, name: str) -> FakeEngine:
        made = FakeEngine(self._config)
        made.name, made.project_files = name, list(files)  # type: ignore[call-overload]
        self.made.append(made)
        return made


def test_an_attached_stack_extends_itself_through_the_handed_off_files(
    make_settings: Callable[..., StackSettings],
) -> None:
    starter_engine = FakeEngine(compose(web=service(), cache=service()))
    starter = ComposeStack(make_settings(project_name="shared"), starter_engine)
    starter.start(["web"])
    record = hand_off(starter)
    engine = Distinct(compose(web=service(), cache=service()))

    attached = attach(make_settings(project_name="shared"), record, engine)
    attached.extend(["cache"])
    attached.stop()

    (extended,) = [made for made in engine.made if made.up_services]
    assert extended.up_services == [("cache",)]
    assert [str(path) for path in extended.project_files] == list(record.compose_files)  # the override too
    assert attached.watch.crashes == []
    assert engine.made[-1].streams[0].closed  # stopping an attached stack ends its event stream
