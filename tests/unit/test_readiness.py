"""wait_until_ready: probes in parallel, fail fast on an exited container, one clear error."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from concurrent.futures import wait as real_wait
from typing import Any

import pytest

from pytest_tel3sis_compose.core import readiness
from pytest_tel3sis_compose.core.boundary import CommandResult, ContainerStatus
from pytest_tel3sis_compose.core.probes import (
    CommandProbe,
    CompletedProbe,
    HealthcheckProbe,
    LogProbe,
    Probe,
    ProbeResult,
    ProbeTarget,
    RunningProbe,
)
from pytest_tel3sis_compose.core.readiness import wait_until_ready
from pytest_tel3sis_compose.errors import EngineError, StackStartError
from tests.unit.fakes import FakeEngine, FakeFollower, compose, created, exited, running, service

LOGS = "booting\nreading config\nFATAL: cannot bind 0.0.0.0:5432\n"


def _wait(
    engine: FakeEngine, probes: Mapping[str, Probe], timeout: float = 5.0, log_lines: int = 50
) -> dict[str, float]:
    started = time.monotonic()
    return wait_until_ready(
        engine,
        probes,
        started=started,
        deadline=started + timeout,
        address_for=lambda name, port, status: ("127.0.0.1", port),
        poll_interval=0.01,
        log_lines=log_lines,
    )


class NeverReady(Probe):
    """A probe that never passes and counts its checks."""

    def __init__(self) -> None:
        self.checks = 0

    def check(self, target: ProbeTarget) -> ProbeResult:
        self.checks += 1
        return ProbeResult(False, f"warming up, check {self.checks}")

    def describe(self) -> str:
        return "never ready"


def test_every_service_ready_returns_when_each_was_ready() -> None:
    engine = FakeEngine(
        compose(db=service(), web=service()),
        statuses={
            "db": [None, created("db"), running("db", "starting"), running("db", "healthy", "ok")],
            "web": [None, running("web")],
        },
    )
    before = time.monotonic()

    ready = _wait(engine, {"db": HealthcheckProbe(), "web": RunningProbe()})

    assert set(ready) == {"db", "web"}
    assert all(0 <= seconds <= time.monotonic() - before for seconds in ready.values())
    assert ready["db"] > ready["web"]  # db needed more polls
    assert engine.status_calls["db"] >= 4  # it kept polling until healthy


def test_an_exited_container_fails_fast_with_its_logs() -> None:
    engine = FakeEngine(
        compose(db=service(), web=service()),
        statuses={"db": [running("db"), exited("db", 3)], "web": [created("web")]},
        logs={"db": LOGS},
    )
    began = time.monotonic()

    with pytest.raises(StackStartError) as info:
        _wait(engine, {"db": NeverReady(), "web": RunningProbe()}, timeout=10)

    assert time.monotonic() - began < 2, "an exited container must not wait for the 10 s timeout"
    error = info.value
    assert error.service == "db"
    assert error.reason == "its container exited with code 3"
    assert error.probe == "never ready"
    assert error.probe_output == "warming up, check 1"
    message = str(error)
    assert message.startswith("service 'db' did not become ready: its container exited with code 3")
    assert "    FATAL: cannot bind 0.0.0.0:5432" in message
    assert message.splitlines()[-1].endswith(": web")  # the others still pending are named
    assert ("db", 50) in engine.log_calls


def test_dead_container_fails_too() -> None:
    dead = ContainerStatus("db", "id-db", "dead", 137)
    engine = FakeEngine(compose(db=service()), statuses={"db": [dead]})

    with pytest.raises(StackStartError, match="exited with code 137"):
        _wait(engine, {"db": RunningProbe()}, timeout=10)


def test_completed_probe_counts_exit_zero_as_ready() -> None:
    engine = FakeEngine(
        compose(migrate=service(), web=service()),
        statuses={"migrate": [None, running("migrate"), exited("migrate", 0)]},
    )

    ready = _wait(engine, {"migrate": CompletedProbe(), "web": RunningProbe()})

    assert set(ready) == {"migrate", "web"}


def test_completed_probe_with_failing_exit_fails_fast() -> None:
    engine = FakeEngine(compose(migrate=service()), statuses={"migrate": [exited("migrate", 2)]})

    with pytest.raises(
        StackStartError, match="'migrate' did not become ready: its container exited with code 2"
    ):
        _wait(engine, {"migrate": CompletedProbe()}, timeout=10)


def test_running_probe_accepts_exit_zero() -> None:
    """A one-shot service without a healthcheck that exits 0 before it is seen running is ready."""
    engine = FakeEngine(compose(job=service()), statuses={"job": [None, exited("job", 0)]})
    began = time.monotonic()

    ready = _wait(engine, {"job": RunningProbe()}, timeout=10)

    assert set(ready) == {"job"}
    assert time.monotonic() - began < 2, "an exit 0 must be ready at once, not at the timeout"


def test_running_probe_with_failing_exit_fails_fast() -> None:
    engine = FakeEngine(compose(job=service()), statuses={"job": [created("job"), exited("job", 1)]})
    began = time.monotonic()

    with pytest.raises(StackStartError, match="'job' did not become ready: its container exited with code 1"):
        _wait(engine, {"job": RunningProbe()}, timeout=10)

    assert time.monotonic() - began < 2, "a failed exit must not wait for the 10 s timeout"


def test_probe_never_passing_fails_at_the_timeout_with_its_last_output() -> None:
    engine = FakeEngine(compose(web=service()), logs={"web": "".join(f"line {i}\n" for i in range(100))})
    probe = NeverReady()
    began = time.monotonic()

    with pytest.raises(StackStartError) as info:
        _wait(engine, {"web": probe}, timeout=0.2, log_lines=3)

    assert time.monotonic() - began < 3
    error = info.value
    assert error.reason == "its probe did not pass before the timeout"
    assert probe.checks >= 2
    assert error.probe_output == f"warming up, check {probe.checks}"  # the last, not the first
    message = str(error)
    assert f"last probe output:\n    warming up, check {probe.checks}" in message
    assert "last 3 log lines of 'web':\n    line 97\n    line 98\n    line 99" in message
    assert "line 96" not in message


def test_command_probe_output_reaches_the_error() -> None:
    engine = FakeEngine(
        compose(worker=service()),
        exec_results={"worker": [CommandResult(1, "Error: No nodes replied within time constraint")]},
    )

    with pytest.raises(StackStartError) as info:
        _wait(engine, {"worker": CommandProbe(["celery", "inspect", "ping"])}, timeout=0.1)

    assert "exit 1: Error: No nodes replied within time constraint" in str(info.value)
    assert "probe: command celery inspect ping" in str(info.value)
    assert engine.exec_calls[0] == ("worker", ("celery", "inspect", "ping"))


def test_a_service_without_container_times_out_with_no_probe_output() -> None:
    engine = FakeEngine(compose(web=service()), statuses={"web": [None]})

    with pytest.raises(StackStartError) as info:
        _wait(engine, {"web": RunningProbe()}, timeout=0.1)

    assert "last probe output:\n    (none)" in str(info.value)
    assert "last 50 log lines of 'web':\n    (no output)" in str(info.value)


def test_an_engine_error_in_a_probe_goes_through_as_is() -> None:
    def broken(service: str, argv: object) -> None:
        raise EngineError("the engine went away")

    engine = FakeEngine(compose(worker=service()), on_execute=broken)

    with pytest.raises(EngineError, match="the engine went away"):
        _wait(engine, {"worker": CommandProbe(["true"])}, timeout=10)


def test_a_probe_that_hangs_past_the_deadline_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    # wait_until_ready gives hung probes a fixed 5 s of grace after the deadline; shrink
    # that grace (and only that) so the test stays fast.
    grace: list[float] = []

    def short_wait(fs: Any, timeout: float, return_when: str) -> Any:
        grace.append(timeout)
        return real_wait(fs, timeout=max(0.0, timeout - 4.8), return_when=return_when)

    monkeypatch.setattr(readiness, "wait", short_wait)
    release = threading.Event()

    def hang(service: str, argv: object) -> None:
        release.wait(10)

    engine = FakeEngine(compose(worker=service()), on_execute=hang, logs={"worker": "still starting\n"})
    try:
        with pytest.raises(StackStartError) as info:
            _wait(engine, {"worker": CommandProbe(["sleep", "infinity"])}, timeout=0.1)
    finally:
        release.set()

    assert grace[0] >= 5  # the real deadline plus the grace
    assert info.value.service == "worker"
    assert info.value.reason == "its probe did not return before the timeout"
    assert "probe: command sleep infinity" in str(info.value)
    assert "still starting" in str(info.value)


def test_probes_run_in_parallel() -> None:
    """Two probes that each wait for the other to have started can only pass together."""
    barrier = threading.Barrier(2, timeout=2)

    def meet(service: str, argv: object) -> None:
        barrier.wait()

    engine = FakeEngine(compose(a=service(), b=service()), on_execute=meet)

    ready = _wait(engine, {"a": CommandProbe(["true"]), "b": CommandProbe(["true"])}, timeout=5)

    assert set(ready) == {"a", "b"}


def test_a_log_line_ends_the_wait_between_polls() -> None:
    """The follower wakes the log probe: with an hour between polls, the line still ends the wait."""
    engine = FakeEngine(compose(worker=service()), logs={"worker": "starting\n"})

    def announce() -> None:
        time.sleep(0.2)  # after the first, failed, look
        engine._logs["worker"] += "celery@abc ready.\n"

    threading.Thread(target=announce, daemon=True).start()
    started = time.monotonic()
    done = threading.Event()
    ready: dict[str, float] = {}

    def run() -> None:
        ready.update(
            wait_until_ready(
                engine,
                {"worker": LogProbe(r"ready\.")},
                started=started,
                deadline=started + 7200,
                address_for=lambda name, port, status: ("127.0.0.1", port),
                poll_interval=3600,
            )
        )
        done.set()

    threading.Thread(target=run, daemon=True).start()

    assert done.wait(30), "the log probe slept until its next poll"
    assert set(ready) == {"worker"}


class CountingEngine(FakeEngine):
    """Counts how a container's log is read: whole reads, and followers started."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reads: list[str] = []
        self.followed: list[str] = []

    def container_log(self, container_id: str) -> str:
        self.reads.append(container_id)
        return super().container_log(container_id)

    def follow_log(self, container_id: str) -> FakeFollower:
        self.followed.append(container_id)
        return FakeFollower(lambda: FakeEngine.container_log(self, container_id))  # not counted as a read


def _wait_known(
    engine: FakeEngine, probes: Mapping[str, Probe], known: Mapping[str, ContainerStatus]
) -> None:
    started = time.monotonic()
    wait_until_ready(
        engine,
        probes,
        started=started,
        deadline=started + 5,
        address_for=lambda name, port, status: ("127.0.0.1", port),
        poll_interval=0.01,
        known=known,
    )


def test_a_kept_containers_log_is_read_once_and_followed_only_if_the_line_is_not_there() -> None:
    engine = CountingEngine(compose(worker=service()), logs={"worker": "celery@abc ready.\n"})

    _wait_known(engine, {"worker": LogProbe(r"ready\.")}, {"worker": running("worker")})

    assert (engine.reads, engine.followed) == (["id-worker"], [])


def test_a_kept_container_whose_log_lacks_the_line_is_followed_until_it_shows() -> None:
    engine = CountingEngine(compose(worker=service()), logs={"worker": "starting\n"})

    def announce() -> None:
        time.sleep(0.2)
        engine._logs["worker"] += "celery@abc ready.\n"

    threading.Thread(target=announce, daemon=True).start()
    _wait_known(engine, {"worker": LogProbe(r"ready\.")}, {"worker": running("worker")})

    assert (engine.reads, engine.followed) == (["id-worker"], ["id-worker"])


def test_a_container_started_by_this_session_is_followed_from_the_first_look() -> None:
    engine = CountingEngine(compose(worker=service()), logs={"worker": "celery@abc ready.\n"})

    _wait_known(engine, {"worker": LogProbe(r"ready\.")}, {})

    assert (engine.reads, engine.followed) == ([], ["id-worker"])
