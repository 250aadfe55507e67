"""Engine capabilities, read once, and every choice that depends on them, on the fake engine.

Docker 26 (API 1.45), Docker 24 and older (API 1.43: no `start_interval`), Podman 4.3 (API 1.41,
no healthchecks without systemd, the classic builder, events without a health verdict).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from pytest_tel3sis_compose.core.boundary import ContainerEvent, EngineInfo
from pytest_tel3sis_compose.core.crashwatch import CrashWatch
from pytest_tel3sis_compose.core.healthrunner import HealthRunner
from pytest_tel3sis_compose.core.model import ProjectSpec, duration
from pytest_tel3sis_compose.core.planning import plan_probes
from pytest_tel3sis_compose.core.probes import AllOf, HealthcheckProbe, OwnHealthcheckProbe
from pytest_tel3sis_compose.core.settings import StackSettings
from pytest_tel3sis_compose.core.stack import ComposeStack
from pytest_tel3sis_compose.engine import parse_info
from tests.unit.fakes import FakeEngine, FakeTarget, compose, running, service

DOCKER = EngineInfo("docker", "26.1.5+dfsg1", (1, 45), compose_version="2.40.3")
OLD_DOCKER = EngineInfo("docker", "26.1.5+dfsg1", (1, 43), compose_version="2.40.3")
PODMAN = EngineInfo("podman", "4.3.1", (1, 41), runs_healthchecks=False, compose_version="2.40.3")

CONFIG = compose(
    db=service(healthcheck={"test": ["CMD-SHELL", "pg_isready -h $$(hostname)"], "interval": "2s"}),
    web=service(ports=[3000], depends_on={"db": "service_healthy"}),
)


# -- reading the engine ----------------------------------------------------------------------


def test_docker_26_rootful() -> None:
    info = parse_info(
        "1.45|26.1.5+dfsg1|Engine;containerd;runc;docker-init;",
        '["name=seccomp,profile=builtin"]|cgroupfs|v2.40.3',
    )

    assert info == DOCKER
    assert info.supports_start_interval
    assert info.describe() == "docker 26.1.5+dfsg1, rootful"


def test_rootless_docker_and_an_older_api_the_client_speaks() -> None:
    info = parse_info(
        "1.43|26.1.5+dfsg1|Engine;", '["name=seccomp,profile=builtin","name=rootless"]|cgroupfs|v2.40.3'
    )

    assert info.rootless
    assert info.api_version == (1, 43)
    assert not info.supports_start_interval
    assert info.describe() == "docker 26.1.5+dfsg1, rootless"


@pytest.mark.parametrize(("driver", "runs"), [("cgroupfs", False), ("systemd", True)])
def test_podman_runs_healthchecks_only_with_systemd(driver: str, runs: bool) -> None:
    components = "Podman Engine;Conmon;OCI Runtime (runc);Engine;"
    info = parse_info(f"1.41|4.3.1|{components}", f'["name=seccomp,profile=default"]|{driver}|v2.40.3')

    assert (info.kind, info.version, info.api_version) == ("podman", "4.3.1", (1, 41))
    assert info.runs_healthchecks is runs
    assert info.describe() == "podman 4.3.1, rootful"


def test_an_engine_that_does_not_answer_is_unknown_not_a_crash() -> None:
    info = parse_info("", "")

    assert info.version == ""
    assert info.api_version == (1, 45)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("2s", 2.0), ("1m30s", 90.0), ("200ms", 0.2), ("1h", 3600.0), (5, 5.0), (None, 30.0)],
)
def test_compose_durations(value: object, seconds: float) -> None:
    assert duration(value, default=30.0) == pytest.approx(seconds)


# -- what depends on it ----------------------------------------------------------------------


def test_below_api_1_44_no_start_interval_is_sent_and_the_plugin_runs_the_check_itself(
    make_settings: Callable[..., StackSettings],
) -> None:
    engine = FakeEngine(CONFIG, engine_info=OLD_DOCKER)
    with ComposeStack(make_settings(), engine) as stack:
        override = engine.added_files[0].read_text()
        probe = stack.probes["db"]

    assert "start_interval" not in override
    assert isinstance(probe, OwnHealthcheckProbe)
    assert probe.argv == ("sh", "-c", "pg_isready -h $(hostname)")  # $$ unescaped, as the container runs it
    assert ("db", ("sh", "-c", "pg_isready -h $(hostname)")) in engine.exec_calls


def test_api_1_44_and_later_waits_on_the_engine_with_a_quick_start_interval(
    make_settings: Callable[..., StackSettings],
) -> None:
    engine = FakeEngine(CONFIG, engine_info=DOCKER)
    with ComposeStack(make_settings(), engine) as stack:
        override = engine.added_files[0].read_text()

    assert "start_interval: 200ms" in override
    assert isinstance(stack.probes["db"], HealthcheckProbe)
    assert engine.exec_calls == []


def test_require_healthy_still_means_the_engines_verdict_where_the_plugin_runs_the_check() -> None:
    probe = plan_probes(
        ProjectSpec.from_config(CONFIG), {}, require_healthy=True, engine_checks_quickly=False
    )["db"]

    assert isinstance(probe, AllOf)
    assert [type(inner) for inner in probe.probes] == [OwnHealthcheckProbe, HealthcheckProbe]


def test_exec_form_tests_run_as_written() -> None:
    probe = OwnHealthcheckProbe(["CMD", "redis-cli", "ping"])
    target = FakeTarget(running("db"))

    assert probe.check(target).ok
    assert target.executed == [("redis-cli", "ping")]


def test_on_podman_the_runner_has_the_engine_run_each_check_until_healthy_then_at_its_interval(
    make_settings: Callable[..., StackSettings],
) -> None:
    engine = FakeEngine(CONFIG, engine_info=PODMAN)
    runner = HealthRunner(engine, ProjectSpec.from_config(CONFIG))

    runner.start()
    time.sleep(0.5)
    runner.close()

    assert runner.intervals == {"db": 2.0}
    assert engine.healthchecks_run == ["id-db"]  # healthy at once: the next run is 2 s away


def test_on_podman_a_stack_runs_the_healthchecks_and_stops_with_its_teardown(
    make_settings: Callable[..., StackSettings],
) -> None:
    engine = FakeEngine(CONFIG, engine_info=PODMAN)

    with ComposeStack(make_settings(), engine):
        runs = len(engine.healthchecks_run)
    time.sleep(0.3)

    assert runs >= 1
    assert len(engine.healthchecks_run) == runs  # no check after the teardown


def test_a_podman_health_event_without_a_verdict_reads_the_containers_state() -> None:
    engine = FakeEngine(CONFIG, statuses={"db": [running("db", "unhealthy", "no response")]})
    watch = CrashWatch(engine, {"db": HealthcheckProbe()})
    watch.start()
    watch.arm({"db": time.monotonic()})

    engine.emit(ContainerEvent("db", "id-db", "health_status"))

    assert [crash.what for crash in watch.crashes] == ["turned unhealthy: no response"]
