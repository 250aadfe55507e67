"""The reuse verdict: a kept stack is reused while its fingerprint holds; what it lacks is started."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from pytest_tel3sis_compose.core.fingerprint import stack_fingerprint
from pytest_tel3sis_compose.core.ownership import LABEL_FINGERPRINT
from pytest_tel3sis_compose.core.probes import CompletedProbe, HealthcheckProbe, RunningProbe
from pytest_tel3sis_compose.core.reuse import KeptStack, verdict
from pytest_tel3sis_compose.core.settings import StackSettings
from pytest_tel3sis_compose.core.stack import ComposeStack
from tests.unit.fakes import FakeEngine, compose, exited, running, service

PROBES = {"db": RunningProbe(), "web": HealthcheckProbe(), "migrate": CompletedProbe()}


def kept(fingerprint: str = "abc", **statuses: object) -> KeptStack:
    labelled = {
        name: dataclasses.replace(status, labels={LABEL_FINGERPRINT: fingerprint})  # type: ignore[type-var]
        for name, status in statuses.items()
    }
    return KeptStack("abc", labelled)  # type: ignore[arg-type]


def test_nothing_kept_is_created() -> None:
    assert str(verdict(kept(), PROBES)) == "created"


def test_everything_kept_and_unchanged_is_reused() -> None:
    found = kept(db=running("db"), web=running("web"), migrate=exited("migrate", 0))

    assert str(verdict(found, PROBES)) == "reused"


def test_a_changed_fingerprint_or_a_stopped_service_recreates() -> None:
    changed = kept("old", db=running("db"), web=running("web"))
    stopped = kept(db=running("db"), web=exited("web", 1))

    assert str(verdict(changed, PROBES)).startswith("recreated: the compose configuration")
    assert str(verdict(stopped, PROBES)) == "recreated: service 'web' was not running"


def test_a_service_an_earlier_focused_run_never_started_is_no_reason_to_recreate() -> None:
    assert str(verdict(kept(db=running("db")), PROBES)) == "reused"


def test_a_reused_stack_starts_only_what_it_lacks(make_settings: Callable[..., StackSettings]) -> None:
    config = compose(db=service(), web=service())
    fingerprint = stack_fingerprint(config, lambda image: None)
    labelled = dataclasses.replace(running("db"), labels={LABEL_FINGERPRINT: fingerprint})
    engine = FakeEngine(config, statuses={"db": [labelled, running("db")], "web": [None, running("web")]})

    with ComposeStack(make_settings(reuse=True), engine) as stack:
        reuse = str(stack.prepared.reuse)

    assert reuse == "reused"
    assert engine.up_services == [("web",)]
    assert "down" not in engine.names()  # kept for the next run
