"""One stack for several processes: the first starts it, the others attach, the folder's owner ends it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from pytest_tel3sis_compose.core.handoff import StackRecord, attach
from pytest_tel3sis_compose.core.settings import StackSettings
from pytest_tel3sis_compose.core.sharing import SharedStackError, start_or_attach, take_down_shared
from pytest_tel3sis_compose.core.stack import ComposeStack, Phase
from pytest_tel3sis_compose.errors import StackStartError
from tests.unit.fakes import FakeEngine, compose, exited, service

MakeSettings = Callable[..., StackSettings]


def test_the_first_starts_the_others_attach_and_the_folder_owner_takes_it_down(
    make_settings: MakeSettings, tmp_path: Path
) -> None:
    engine = FakeEngine(compose(web=service(ports=[3000])))
    attached: list[StackRecord] = []

    def attach_here(record: StackRecord) -> ComposeStack:
        attached.append(record)
        return attach(make_settings(), record, engine)

    first = start_or_attach(tmp_path, ComposeStack(make_settings(down_timeout=2), engine), attach_here)
    second = start_or_attach(tmp_path, ComposeStack(make_settings(), engine), attach_here)

    assert first.phase is Phase.HANDED_OFF
    assert second.phase is Phase.ATTACHED
    assert engine.count("up") == 1
    assert len(attached) == 1
    first.stop()
    second.stop()
    assert engine.count("down") == 0

    record = take_down_shared(tmp_path, engine)

    assert record == attached[0]
    assert engine.down_calls == [("down", 2)]
    assert record is not None
    assert record.workdir is not None
    assert not Path(record.workdir).exists()


def test_a_failed_start_is_reported_to_every_process_and_started_once(
    make_settings: MakeSettings, tmp_path: Path
) -> None:
    engine = FakeEngine(compose(web=service()), statuses={"web": [exited("web", 7)]})
    starter = ComposeStack(make_settings(), engine)

    with pytest.raises(StackStartError, match="exited with code 7"):  # the starter's own diagnosis
        start_or_attach(tmp_path, starter, lambda record: pytest.fail("nothing to attach to"))
    with pytest.raises(SharedStackError, match=r"exited with code 7(.|\n)*reported by the worker"):
        start_or_attach(tmp_path, ComposeStack(make_settings(), engine), lambda record: pytest.fail("no"))

    assert engine.count("up") == 1
    starter.stop()  # the starter still owns what it half started
    assert engine.count("down") == 1
    assert take_down_shared(tmp_path, engine) is None  # nothing was handed off


def test_a_kept_stack_stays_and_only_its_folder_goes(make_settings: MakeSettings, tmp_path: Path) -> None:
    engine = FakeEngine(compose(web=service()))
    stack = start_or_attach(tmp_path, ComposeStack(make_settings(reuse=True), engine), pytest.fail)
    calls_before = len(engine.calls)

    record = take_down_shared(tmp_path, engine)

    assert stack.phase is Phase.HANDED_OFF
    assert record is not None
    assert record.keep
    assert engine.calls[calls_before:] == []  # no stop, no down
    assert record.workdir is not None
    assert not Path(record.workdir).exists()


def test_nothing_started_means_nothing_to_take_down(tmp_path: Path) -> None:
    engine = FakeEngine(compose(web=service()))

    assert take_down_shared(tmp_path, engine) is None
    assert engine.names() == []
