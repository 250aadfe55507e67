"""A Celery worker's `celery inspect ping` healthcheck: run by the plugin once the worker is ready."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pytest_tel3sis_compose.core.boundary import CommandResult
from pytest_tel3sis_compose.core.model import ProjectSpec
from pytest_tel3sis_compose.core.planning import plan_probes, waited_healthchecks
from pytest_tel3sis_compose.core.probes import AllOf, CeleryPingProbe, HealthcheckProbe
from pytest_tel3sis_compose.core.settings import StackSettings
from pytest_tel3sis_compose.core.stack import ComposeStack
from tests.unit.fakes import FakeEngine, FakeTarget, compose, running, service

PING = ["CMD-SHELL", "celery -A app.worker inspect ping -d celery@$HOSTNAME -t 2"]
BOOTING = "[2026-11-30 12:00:00,000: INFO/MainProcess] Connected to redis://redis:6379/0\n"
READY = BOOTING + "[2026-11-30 12:00:01,000: INFO/MainProcess] celery@4f2a9c ready.\n"


@pytest.mark.parametrize(
    ("test", "expected"),
    [
        (PING, True),
        (["CMD", "/venv/bin/celery", "-A", "proj", "inspect", "ping"], True),
        (["CMD-SHELL", "python -m celery -A proj inspect ping -t 5 || exit 1"], True),
        (["CMD", "redis-cli", "ping"], False),
        (["CMD-SHELL", "celery -A proj status"], False),
        (["CMD-SHELL", "pgrep -f 'celery worker'"], False),
    ],
)
def test_recognises_only_celery_inspect_ping(test: list[str], expected: bool) -> None:
    assert CeleryPingProbe.recognises(test) is expected


def test_no_ping_while_the_worker_has_not_said_it_is_ready() -> None:
    probe = CeleryPingProbe(PING)
    target = FakeTarget(running("worker"), log=BOOTING)

    results = [probe.check(target) for _ in range(3)]

    assert not any(result.ok for result in results)
    assert "ready." in results[-1].output
    assert target.executed == [], "pinged a booting worker, whose ping can only fail at its timeout"


def test_the_ready_line_sends_the_ping_at_once() -> None:
    probe = CeleryPingProbe(PING, fallback=3600)
    probe.check(FakeTarget(running("worker"), log=BOOTING, result=CommandResult(1, "no reply")))
    target = FakeTarget(running("worker"), log=READY)

    result = probe.check(target)

    assert result.ok
    assert target.executed == [("sh", "-c", "celery -A app.worker inspect ping -d celery@$HOSTNAME -t 2")]


def test_a_worker_logging_elsewhere_is_pinged_at_the_fallback_pace() -> None:
    probe = CeleryPingProbe(PING, fallback=0)
    target = FakeTarget(running("worker"), log="", result=CommandResult(1, "Error: No nodes replied"))

    results = [probe.check(target) for _ in range(3)]

    assert [result.ok for result in results] == [False] * 3
    assert len(target.executed) == 3
    assert "No nodes replied" in results[-1].output


def test_the_engines_healthy_verdict_spares_the_ping() -> None:
    probe = CeleryPingProbe(PING, fallback=0)
    target = FakeTarget(running("worker", health="healthy", health_output="-> celery@4f2a9c: OK"), log=READY)

    result = probe.check(target)

    assert result.ok
    assert "celery@4f2a9c: OK" in result.output
    assert target.executed == [], "pinged a worker the engine has just found healthy with the same test"


@pytest.mark.parametrize("health", ["starting", "unhealthy"])
def test_any_other_verdict_leaves_the_ping_to_decide(health: str) -> None:
    probe = CeleryPingProbe(PING, fallback=0)
    target = FakeTarget(running("worker", health=health), log=READY, result=CommandResult(1, "no reply"))

    result = probe.check(target)

    assert not result.ok
    assert len(target.executed) == 1


CONFIG = compose(
    redis=service(healthcheck={"test": ["CMD", "redis-cli", "ping"]}),
    worker=service(healthcheck={"test": PING, "interval": "2s"}, depends_on={"redis": "service_healthy"}),
)


def test_the_engine_is_not_asked_to_ping_back_to_back(make_settings: Callable[..., StackSettings]) -> None:
    starting = running("worker", health="starting")
    engine = FakeEngine(CONFIG, statuses={"worker": [starting]}, logs={"worker": READY})
    with ComposeStack(make_settings(), engine) as stack:
        override = engine.added_files[0].read_text()
        probe = stack.probes["worker"]

    assert isinstance(probe, CeleryPingProbe)
    assert waited_healthchecks(stack.project, stack.probes) == ["redis"]
    assert override.count("start_interval") == 1  # redis's, which `service_healthy` waits on
    assert any(service == "worker" for service, _ in engine.exec_calls)


def test_require_healthy_adds_the_engines_verdict() -> None:
    probe = plan_probes(ProjectSpec.from_config(CONFIG), {}, require_healthy=True)["worker"]

    assert isinstance(probe, AllOf)
    assert [type(inner) for inner in probe.probes] == [CeleryPingProbe, HealthcheckProbe]
