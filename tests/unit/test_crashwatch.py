"""The crash watch: what happens to a service after it was called ready, from the engine's events."""

from __future__ import annotations

import time

from pytest_tel3sis_compose.core.boundary import ContainerEvent
from pytest_tel3sis_compose.core.crashwatch import CrashWatch
from pytest_tel3sis_compose.core.probes import CompletedProbe, HealthcheckProbe, RunningProbe
from tests.unit.fakes import FakeEngine, compose, running, service

PROBES = {"web": RunningProbe(), "db": HealthcheckProbe(), "migrate": CompletedProbe()}


def engine() -> FakeEngine:
    return FakeEngine(
        compose(web=service(), db=service(), migrate=service()),
        statuses={"db": [running("db", "unhealthy", "pg_isready: no response")]},
        logs={"web": "".join(f"line {n}\n" for n in range(100)) + "fatal: out of workers\n"},
    )


def die(service: str, code: int, at: float = 1_800_000_000.0) -> ContainerEvent:
    return ContainerEvent(service, f"{service}-id", "die", exit_code=code, at=at)


def watching(fake: FakeEngine, log_lines: int = 3) -> CrashWatch:
    watch = CrashWatch(fake, PROBES, log_lines)
    watch.start()
    return watch


def test_a_death_after_ready_is_a_crash_with_its_code_time_and_last_lines() -> None:
    fake = engine()
    watch = watching(fake)
    watch.arm(dict.fromkeys(PROBES, time.monotonic()))

    fake.emit(die("web", 5))

    (crash,) = watch.crashes
    assert crash.service == "web"
    assert crash.what == "exited with code 5"
    assert crash.logs == "line 98\nline 99\nfatal: out of workers\n"
    description = crash.describe()
    assert description.startswith("service 'web' exited with code 5 at ")
    assert "after the stack was ready" in description
    assert "    fatal: out of workers" in description


def test_signals_oom_restarts_and_unhealthy_are_named() -> None:
    fake = engine()
    watch = watching(fake)
    watch.arm(dict.fromkeys(PROBES, time.monotonic()))

    fake.emit(die("web", 137))
    fake.emit(ContainerEvent("web", "web-id", "oom"))
    fake.emit(ContainerEvent("web", "web-id", "restart"))
    fake.emit(ContainerEvent("db", "db-id", "health_status", detail="unhealthy"))
    fake.emit(ContainerEvent("db", "db-id", "health_status", detail="healthy"))

    assert [crash.what for crash in watch.crashes] == [
        "was killed by signal 9 (SIGKILL), exit code 137",
        "was OOM-killed (it ran out of memory)",
        "restarted",
        "turned unhealthy: pg_isready: no response",
    ]


def test_one_shot_services_exiting_0_and_ordinary_events_are_no_crash() -> None:
    fake = engine()
    watch = watching(fake)
    watch.arm(dict.fromkeys(PROBES, time.monotonic()))

    fake.emit(die("migrate", 0))
    fake.emit(ContainerEvent("web", "web-id", "exec_die", exit_code=1))
    fake.emit(ContainerEvent("web", "web-id", "start"))

    assert watch.crashes == []
    assert [event.action for event in watch.events] == ["die", "exec_die", "start"]  # all kept


def test_what_happened_before_a_service_was_ready_is_left_to_its_probe() -> None:
    fake = engine()
    watch = watching(fake)
    fake.emit(die("web", 1))  # while starting: the probe's business
    ready = time.monotonic()
    fake.emit(die("db", 2))  # arrives after db's ready moment, but before the watch is armed

    watch.arm({"web": ready + 3600, "db": ready})

    assert [(crash.service, crash.what) for crash in watch.crashes] == [("db", "exited with code 2")]


def test_after_close_nothing_counts() -> None:
    fake = engine()
    watch = watching(fake)
    watch.arm(dict.fromkeys(PROBES, time.monotonic()))

    watch.close()
    fake.streams[0].on_event(die("web", 137))  # the teardown's own kill, had it arrived late

    assert watch.crashes == []
    assert fake.streams[0].closed


def test_a_stack_extended_later_is_watched_whole_and_a_service_is_judged_once_it_is_ready() -> None:
    fake = engine()
    watch = watching(fake)
    watch.arm({"web": time.monotonic()})
    fake.emit(die("db", 3))  # db not ready yet: kept for when it is
    watch.arm({"db": time.monotonic() - 1})  # ready before that death

    fake.emit(die("web", 1))

    assert [(crash.service, crash.what) for crash in watch.crashes] == [
        ("db", "exited with code 3"),
        ("web", "exited with code 1"),
    ]


def test_new_since_gives_the_crashes_after_a_count() -> None:
    fake = engine()
    watch = watching(fake)
    watch.arm(dict.fromkeys(PROBES, time.monotonic()))
    fake.emit(die("web", 1))
    seen = len(watch.crashes)
    fake.emit(die("db", 3))

    assert [crash.service for crash in watch.new_since(seen)] == ["db"]
