"""ComposeStack with the Docker boundary faked: lifecycle, teardown, probe plan, URLs."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import yaml

from pytest_tel3sis_compose.core.boundary import CommandResult, ContainerStatus
from pytest_tel3sis_compose.core.model import ProjectSpec
from pytest_tel3sis_compose.core.ownership import LABEL_OWNER, LABEL_SESSION, Owner
from pytest_tel3sis_compose.core.planning import plan_probes
from pytest_tel3sis_compose.core.probes import (
    CommandProbe,
    CompletedProbe,
    HealthcheckProbe,
    HttpProbe,
    ProbeResult,
    ProbeTarget,
    RunningProbe,
)
from pytest_tel3sis_compose.core.settings import StackSettings
from pytest_tel3sis_compose.core.stack import ComposeStack
from pytest_tel3sis_compose.errors import (
    ComposeError,
    ConfigError,
    EngineError,
    StackStartError,
    UnknownServiceError,
)
from tests.unit.fakes import (
    FakeDockerException,
    FakeEngine,
    compose,
    created,
    exited,
    port_entry,
    running,
    service,
)

MakeSettings = Callable[..., StackSettings]

DB_LOGS = "PostgreSQL init process complete\nFATAL: password authentication failed for user app\n"


@pytest.fixture
def release_up() -> Iterator[threading.Event]:
    """An event that a blocking FakeEngine.up() waits on; always set after the test."""
    event = threading.Event()
    yield event
    event.set()


def simple_config() -> dict[str, Any]:
    return compose(
        db=service(healthcheck=["CMD", "pg_isready"]),
        web=service(ports=[3000], depends_on={"db": "service_healthy"}),
    )


def assert_down_after_up_ended(engine: FakeEngine) -> None:
    """A `down` ran after the (timed-out) `up` returned: nothing `up` created late survives."""
    names = engine.names()
    assert "up_done" in names, f"teardown must wait for a timed-out `up` to end: {names}"
    assert names[-1] == "down"
    assert names.index("down") < names.index("up_done") < len(names) - 1


def started(settings: StackSettings, engine: FakeEngine) -> ComposeStack:
    stack = ComposeStack(settings, engine)
    stack.start()
    return stack


# -- the whole lifecycle --------------------------------------------------------------------


def test_happy_path_every_service_ready_and_urls_work(make_settings: MakeSettings, http_server: str) -> None:
    server_port = int(http_server.rsplit(":", 1)[1])
    config = compose(
        redis=service(ports=[6379], healthcheck=["CMD", "redis-cli", "ping"]),
        migrate=service(),
        web=service(
            ports=[port_entry(3000, server_port)],
            probe={"http": {"port": 3000, "path": "/health", "json": {"*": "ok"}}},
            depends_on={"redis": "service_healthy", "migrate": "service_completed_successfully"},
        ),
        worker=service(probe={"command": ["celery", "inspect", "ping"]}),
    )
    engine = FakeEngine(
        config,
        statuses={
            "redis": [None, running("redis", "starting"), running("redis", "healthy", "PONG")],
            "migrate": [running("migrate"), exited("migrate", 0)],
            "web": [created("web"), running("web")],
        },
        exec_results={"worker": [CommandResult(1, "no nodes"), CommandResult(0, "pong")]},
    )

    with ComposeStack(make_settings(timeout=5), engine) as stack:
        assert set(stack.ready_after) == {"redis", "migrate", "web", "worker"}
        assert all(0 <= seconds < 5 for seconds in stack.ready_after.values())
        assert stack.url("web") == http_server  # the HTTP probe passed against this very server
        assert stack.url("redis") == f"http://127.0.0.1:{32768 + 6379}"
        assert stack.endpoint("redis") == ("127.0.0.1", 32768 + 6379)
        assert stack.services == ("redis", "migrate", "web", "worker")
        assert engine.lifecycle() == ["check", "config", "build", "up"]
        assert len(engine.exec_calls) == 2

    assert engine.lifecycle() == ["check", "config", "build", "up", "down"]
    assert stack.teardown_seconds is not None
    assert stack.project_name == "unit"


def test_no_build_when_settings_say_so_and_down_timeout_is_passed(make_settings: MakeSettings) -> None:
    engine = FakeEngine(simple_config(), statuses={"db": [running("db", "healthy")]})

    with ComposeStack(make_settings(build=False, down_timeout=7), engine):
        pass

    assert engine.lifecycle() == ["check", "config", "up", "down"]
    assert engine.down_calls == [("down", 7)]


def test_logs_of_a_service(make_settings: MakeSettings) -> None:
    engine = FakeEngine(simple_config(), logs={"db": DB_LOGS})
    stack = ComposeStack(make_settings(), engine)

    assert stack.logs("db", tail=1) == "FATAL: password authentication failed for user app\n"
    assert engine.log_calls == [("db", 1)]
    with pytest.raises(UnknownServiceError, match="known services: db, web"):
        stack.logs("api")


# -- down runs exactly once whenever something was started ------------------------------


def test_down_once_after_success(make_settings: MakeSettings) -> None:
    engine = FakeEngine(simple_config(), statuses={"db": [running("db", "healthy")]})
    stack = ComposeStack(make_settings(), engine)

    with stack:
        assert engine.count("down") == 0
    stack.stop()  # a second stop does nothing

    assert engine.down_calls == [("down", 0)]


def test_stop_without_start_does_nothing(make_settings: MakeSettings) -> None:
    engine = FakeEngine(simple_config())

    ComposeStack(make_settings(), engine).stop()

    assert engine.calls == []


def test_failed_start_fails_fast_names_service_exit_code_and_logs_and_goes_down_once(
    make_settings: MakeSettings,
) -> None:
    engine = FakeEngine(
        simple_config(),
        statuses={"db": [running("db", "starting"), exited("db", 3)], "web": [created("web")]},
        logs={"db": DB_LOGS},
    )
    began = time.monotonic()

    with pytest.raises(StackStartError) as info, ComposeStack(make_settings(timeout=10), engine):
        pytest.fail("the body must not run when the start failed")

    assert time.monotonic() - began < 2, "failed within 2 s while the timeout was 10 s"
    assert info.value.service == "db"
    message = str(info.value)
    assert "service 'db' did not become ready: its container exited with code 3" in message
    assert "    FATAL: password authentication failed for user app" in message
    assert "probe: native healthcheck" in message
    assert engine.down_calls == [("down", 0)]


def test_probe_never_passing_fails_at_the_timeout_with_last_output(make_settings: MakeSettings) -> None:
    engine = FakeEngine(
        simple_config(),
        statuses={"db": [running("db", "unhealthy", "no response on /var/run/postgresql:5432")]},
    )
    began = time.monotonic()

    with pytest.raises(StackStartError) as info, ComposeStack(make_settings(timeout=0.3), engine):
        pass

    assert time.monotonic() - began < 3
    assert info.value.reason == "its probe did not pass before the timeout"
    assert "unhealthy: no response on /var/run/postgresql:5432" in str(info.value)
    assert engine.count("down") == 1


def test_down_once_after_an_exception_in_the_body(make_settings: MakeSettings) -> None:
    engine = FakeEngine(simple_config())

    with pytest.raises(ZeroDivisionError), ComposeStack(make_settings(), engine):
        _ = 1 / 0

    assert engine.count("down") == 1


def test_down_once_after_keyboard_interrupt_in_the_body(make_settings: MakeSettings) -> None:
    engine = FakeEngine(simple_config())

    with pytest.raises(KeyboardInterrupt), ComposeStack(make_settings(), engine):
        raise KeyboardInterrupt

    assert engine.count("down") == 1


def test_down_once_after_keyboard_interrupt_from_up(make_settings: MakeSettings) -> None:
    engine = FakeEngine(simple_config(), up_interrupt=True)

    with pytest.raises(KeyboardInterrupt), ComposeStack(make_settings(), engine):
        pytest.fail("the body must not run")

    assert engine.lifecycle() == ["check", "config", "build", "up", "down"]


def test_keyboard_interrupt_from_up_stays_a_keyboard_interrupt(make_settings: MakeSettings) -> None:
    """Ctrl-C during `up` interrupts; it is not reported as a failed start."""
    engine = FakeEngine(simple_config(), up_interrupt=True)

    with pytest.raises(KeyboardInterrupt) as info, ComposeStack(make_settings(), engine):
        pass

    assert type(info.value) is KeyboardInterrupt
    assert info.value is engine.up_error  # the very interrupt `up` raised, not a wrapper


def ctrl_c_while_up_runs(make_settings: MakeSettings, release_up: threading.Event) -> FakeEngine:
    """Start a stack whose `up` blocks, press Ctrl-C (a real SIGINT) meanwhile; return the engine."""
    engine = FakeEngine(simple_config(), up_release=release_up)

    def press_ctrl_c() -> None:
        if engine.up_entered.wait(5):
            time.sleep(0.05)  # let the main thread reach its wait on `up`
            os.kill(os.getpid(), signal.SIGINT)

    presser = threading.Thread(target=press_ctrl_c)
    presser.start()
    try:
        with pytest.raises(KeyboardInterrupt), ComposeStack(make_settings(timeout=5), engine):
            pytest.fail("the body must not run")
    finally:
        presser.join()
    return engine


def test_ctrl_c_while_up_runs_interrupts_and_takes_the_stack_down(
    make_settings: MakeSettings, release_up: threading.Event
) -> None:
    engine = ctrl_c_while_up_runs(make_settings, release_up)

    assert engine.count("down") >= 1


def test_ctrl_c_while_up_runs_waits_for_up_and_sweeps_again(
    make_settings: MakeSettings, release_up: threading.Event
) -> None:
    engine = ctrl_c_while_up_runs(make_settings, release_up)

    assert_down_after_up_ended(engine)


def test_an_up_that_ends_during_down_is_swept_again(
    make_settings: MakeSettings, release_up: threading.Event
) -> None:
    engine = FakeEngine(simple_config(), up_release=release_up, up_ends_during_down=True)

    with pytest.raises(StackStartError), ComposeStack(make_settings(timeout=0.2), engine):
        pass

    assert_down_after_up_ended(engine)


def test_keyboard_interrupt_while_waiting_goes_through_and_down_runs(make_settings: MakeSettings) -> None:
    def interrupt(service: str, argv: object) -> None:
        raise KeyboardInterrupt

    config = compose(worker=service(probe={"command": ["true"]}))
    engine = FakeEngine(config, on_execute=interrupt)

    with pytest.raises(KeyboardInterrupt), ComposeStack(make_settings(), engine):
        pass

    assert engine.count("down") == 1


def test_down_failing_after_a_failed_start_keeps_the_start_error_as_context(
    make_settings: MakeSettings,
) -> None:
    engine = FakeEngine(
        simple_config(),
        statuses={"db": [exited("db", 1)]},
        down_error=EngineError("taking project 'unit' down failed"),
    )

    with pytest.raises(EngineError) as info, ComposeStack(make_settings(), engine):
        pass

    assert isinstance(info.value.__context__, StackStartError)
    assert engine.count("down") == 1


def test_orphans_are_swept_and_labels_applied_after_validation_and_before_anything_is_created(
    make_settings: MakeSettings,
) -> None:
    engine = FakeEngine(simple_config(), orphans=["pytest-1-dead00"])

    with ComposeStack(make_settings(), engine) as stack:
        override = engine.added_files[0]
        document = yaml.safe_load(override.read_text())

    names = engine.names()
    assert names.index("config") < names.index("labelled") < names.index("remove_project") < names.index("up")
    assert names.index("add_compose_file") < names.index("build") < names.index("up")
    assert stack.prepared.swept == ["pytest-1-dead00"]
    assert set(document["services"]) == {"db", "web"}
    labels = document["services"]["web"]["labels"]
    assert labels[LABEL_OWNER] == Owner.of(stack.settings.owner_pid).label()
    assert labels[LABEL_SESSION] == stack.settings.session_id
    assert not override.exists(), "the plugin's own files are removed at teardown"


def test_the_override_folder_is_removed_after_a_failed_build(make_settings: MakeSettings) -> None:
    engine = FakeEngine(simple_config(), build_error=EngineError("building failed"))

    with pytest.raises(EngineError), ComposeStack(make_settings(), engine):
        pass

    assert len(engine.added_files) == 1
    assert not engine.added_files[0].parent.exists()
    assert "down" not in engine.names()


# -- nothing is taken down when nothing was started ---------------------------------------


def test_probes_for_an_unknown_service_fail_before_anything_starts(make_settings: MakeSettings) -> None:
    engine = FakeEngine(simple_config())
    settings = make_settings(probes={"api": RunningProbe(), "cache": RunningProbe(), "web": RunningProbe()})

    with pytest.raises(ConfigError) as info, ComposeStack(settings, engine):
        pass

    assert str(info.value) == (
        "probes are declared for api, cache, which the compose files do not define; known services: db, web"
    )
    assert engine.names() == ["check", "config"]  # no sweep, no build, no up, and so no down


def test_bad_probe_field_fails_before_anything_starts(make_settings: MakeSettings) -> None:
    engine = FakeEngine(compose(web=service(probe={"http": {"path": "/"}})))

    with (
        pytest.raises(ConfigError, match="x-tel3sis-probe field of service 'web'"),
        ComposeStack(make_settings(), engine),
    ):
        pass

    assert engine.names() == ["check", "config"]


@pytest.mark.parametrize(
    ("engine_kwargs", "error", "calls"),
    [
        ({"check_error": EngineError("no Docker engine answers")}, EngineError, ["check"]),
        ({"config_error": ConfigError("the compose files are invalid")}, ConfigError, ["check", "config"]),
        ({"build_error": EngineError("building failed")}, EngineError, ["check", "config", "build"]),
    ],
)
def test_failures_before_up_do_not_take_anything_down(
    make_settings: MakeSettings, engine_kwargs: dict[str, Any], error: type[Exception], calls: list[str]
) -> None:
    engine = FakeEngine(simple_config(), **engine_kwargs)

    with pytest.raises(error), ComposeStack(make_settings(), engine):
        pass

    assert engine.lifecycle() == calls
    assert "down" not in engine.names()


def test_no_services_fails_before_anything_starts(make_settings: MakeSettings) -> None:
    engine = FakeEngine({"services": {}})

    with pytest.raises(ConfigError, match="define no services"), ComposeStack(make_settings(), engine):
        pass

    assert engine.names() == ["check", "config"]


# -- up that hangs or fails ---------------------------------------------------------------


def test_up_blocking_past_the_deadline_names_the_exited_service(
    make_settings: MakeSettings, release_up: threading.Event
) -> None:
    engine = FakeEngine(
        simple_config(),
        statuses={"db": [exited("db", 1)], "web": [created("web")]},
        logs={"db": DB_LOGS},
        up_release=release_up,
    )
    began = time.monotonic()

    with pytest.raises(StackStartError) as info, ComposeStack(make_settings(timeout=0.3), engine):
        pass

    assert time.monotonic() - began < 2, "up must be bounded by the 0.3 s timeout"
    assert info.value.service == "db"
    assert info.value.reason == (
        "`docker compose up` did not finish before the timeout\ncontainer exited, exit code 1"
    )
    assert "FATAL: password authentication failed" in str(info.value)
    assert_down_after_up_ended(engine)


def test_up_blocking_names_the_unhealthy_service_with_its_health_output(
    make_settings: MakeSettings, release_up: threading.Event
) -> None:
    engine = FakeEngine(
        simple_config(),
        statuses={"db": [running("db", "unhealthy", "pg_isready: no response")], "web": [None]},
        up_release=release_up,
    )

    with pytest.raises(StackStartError) as info, ComposeStack(make_settings(timeout=0.2), engine):
        pass

    assert info.value.service == "db"
    assert info.value.reason.endswith("container running, health unhealthy")
    assert info.value.probe_output == "pg_isready: no response"
    assert_down_after_up_ended(engine)


def test_diagnosis_prefers_an_exited_service_over_an_unhealthy_one(
    make_settings: MakeSettings, release_up: threading.Event
) -> None:
    config = compose(
        migrate=service(),
        db=service(healthcheck=["CMD", "pg_isready"]),
        cache=service(),
        web=service(depends_on={"migrate": "service_completed_successfully"}),
    )
    engine = FakeEngine(
        config,
        statuses={
            "migrate": [exited("migrate", 0)],  # completed as it should: not the culprit
            "db": [running("db", "starting")],
            "cache": [exited("cache", 137)],
            "web": [None],
        },
        up_release=release_up,
    )

    with pytest.raises(StackStartError) as info, ComposeStack(make_settings(timeout=0.2), engine):
        pass

    assert info.value.service == "cache"
    assert "exit code 137" in info.value.reason


def test_diagnosis_without_a_suspect_names_the_first_service(
    make_settings: MakeSettings, release_up: threading.Event
) -> None:
    engine = FakeEngine(simple_config(), statuses={"db": [None], "web": [None]}, up_release=release_up)

    with pytest.raises(StackStartError) as info, ComposeStack(make_settings(timeout=0.2), engine):
        pass

    assert info.value.service == "db"
    assert info.value.reason == "`docker compose up` did not finish before the timeout"


def test_up_raising_an_engine_exception_names_the_unhealthy_service(make_settings: MakeSettings) -> None:
    failure = FakeDockerException("dependency failed to start: container unit-db-1 is unhealthy\n")
    engine = FakeEngine(
        simple_config(),
        statuses={"db": [running("db", "unhealthy", "no response")], "web": [None]},
        logs={"db": DB_LOGS},
        up_error=failure,
    )

    with pytest.raises(StackStartError) as info, ComposeStack(make_settings(), engine):
        pass

    assert info.value.service == "db"
    assert info.value.reason == (
        "`docker compose up` failed: dependency failed to start: container unit-db-1 is unhealthy\n"
        "container running, health unhealthy"
    )
    assert "FATAL: password authentication failed" in str(info.value)
    assert engine.count("down") == 1


def test_up_raising_an_exception_without_stderr_uses_its_message(make_settings: MakeSettings) -> None:
    engine = FakeEngine(simple_config(), statuses={"web": [exited("web", 2)]}, up_error=OSError("no space"))

    with pytest.raises(StackStartError) as info, ComposeStack(make_settings(), engine):
        pass

    assert info.value.service == "web"
    assert info.value.reason.startswith("`docker compose up` failed: no space")


def test_up_failing_with_no_service_to_blame_says_the_stack_did_not_start(
    make_settings: MakeSettings,
) -> None:
    stderr = "network shared-proxy declared as external, but could not be found"
    engine = FakeEngine(
        simple_config(), statuses={"db": [None], "web": [None]}, up_error=FakeDockerException(stderr)
    )

    with pytest.raises(StackStartError) as info, ComposeStack(make_settings(), engine):
        pass

    assert str(info.value) == f"the stack did not start: `docker compose up` failed: {stderr}"
    assert engine.count("down") == 1


def test_up_raising_a_compose_error_goes_through_as_is(make_settings: MakeSettings) -> None:
    error = EngineError("the engine went away")
    engine = FakeEngine(simple_config(), up_error=error)

    with pytest.raises(EngineError) as info, ComposeStack(make_settings(), engine):
        pass

    assert info.value is error
    assert engine.count("down") == 1


def test_an_infinite_timeout_is_refused(make_settings: MakeSettings) -> None:
    """Refused up front, instead of overflowing the wait on `up` (timestamp out of range)."""
    with pytest.raises(ConfigError, match="at most 86400 seconds, not inf"):
        make_settings(timeout=float("inf"))


def test_the_largest_timeout_works(make_settings: MakeSettings) -> None:
    engine = FakeEngine(simple_config())

    with ComposeStack(make_settings(timeout=86400), engine) as stack:
        assert set(stack.ready_after) == {"db", "web"}


# -- which probe each service gets ----------------------------------------------------------


def test_probe_precedence() -> None:
    config = compose(
        configured=service(ports=[8080], healthcheck=["CMD", "true"], probe={"command": ["from-compose"]}),
        declared=service(healthcheck=["CMD", "true"], probe={"command": ["from-compose"]}),
        healthy=service(healthcheck=["CMD", "true"]),
        disabled=service(healthcheck={"test": ["CMD", "true"], "disable": True}),
        migrate=service(healthcheck=["CMD", "true"]),
        plain=service(depends_on={"migrate": "service_completed_successfully"}),
    )
    from_settings = HttpProbe(8080, "/ready")

    plan = plan_probes(ProjectSpec.from_config(config), {"configured": from_settings})

    assert plan["configured"] is from_settings  # settings.probes beat x-tel3sis-probe
    assert isinstance(plan["declared"], CommandProbe)  # x-tel3sis-probe beats the healthcheck
    assert plan["declared"].argv == ("from-compose",)
    assert type(plan["healthy"]) is HealthcheckProbe
    assert type(plan["disabled"]) is RunningProbe
    # One-shot dependency: a healthcheck would fail it once it exits 0, so completion wins.
    assert type(plan["migrate"]) is CompletedProbe
    assert type(plan["plain"]) is RunningProbe


def test_probe_field_beats_completed_dependency() -> None:
    config = compose(
        seed=service(probe="running"),
        web=service(depends_on={"seed": "service_completed_successfully"}),
    )

    plan = plan_probes(ProjectSpec.from_config(config), {})

    assert type(plan["seed"]) is RunningProbe


# -- url() ------------------------------------------------------------------------------------


def test_url_before_start_raises(make_settings: MakeSettings) -> None:
    stack = ComposeStack(make_settings(), FakeEngine(simple_config()))

    with pytest.raises(ComposeError, match="the stack is not ready"):
        stack.url("web")


def test_url_after_stop_raises(make_settings: MakeSettings) -> None:
    with ComposeStack(make_settings(), FakeEngine(simple_config())) as stack:
        assert stack.url("web")

    with pytest.raises(ComposeError, match="the stack is not ready"):
        stack.url("web")


def test_url_of_an_unknown_service(make_settings: MakeSettings) -> None:
    stack = started(make_settings(), FakeEngine(simple_config()))

    with pytest.raises(
        UnknownServiceError, match="no service named 'api' in the compose files; known services: db, web"
    ) as info:
        stack.url("api")

    assert info.value.known == ["db", "web"]


def two_port_config() -> dict[str, Any]:
    return compose(api=service(ports=[3000, 9000]), worker=service(), web=service(ports=[3000]))


def test_url_of_an_unpublished_port_lists_the_published_ones(make_settings: MakeSettings) -> None:
    stack = started(make_settings(), FakeEngine(two_port_config()))

    with pytest.raises(ConfigError) as info:
        stack.url("api", 8080)

    message = str(info.value)
    assert "service 'api' does not publish port 8080; it publishes 3000, 9000." in message
    assert '"127.0.0.1::8080"' in message


def test_url_of_a_service_with_two_ports_needs_the_port(make_settings: MakeSettings) -> None:
    stack = started(make_settings(), FakeEngine(two_port_config()))

    with pytest.raises(ConfigError, match=r"publishes 3000, 9000; say which with url\('api', port=\.\.\.\)"):
        stack.url("api")
    assert stack.url("api", 9000) == f"http://127.0.0.1:{32768 + 9000}"


def test_url_of_a_service_without_ports(make_settings: MakeSettings) -> None:
    stack = started(make_settings(), FakeEngine(two_port_config()))

    with pytest.raises(ConfigError, match="service 'worker' publishes no port; add one under `ports:`"):
        stack.url("worker")
    with pytest.raises(ConfigError, match="does not publish port 3000; it publishes no port"):
        stack.url("worker", 3000)


class PassingHttpProbe(HttpProbe):
    """An HttpProbe that passes without a server: for url() defaults only."""

    def check(self, target: ProbeTarget) -> ProbeResult:
        return ProbeResult(True, "stubbed")


def test_url_defaults_to_the_http_probe_port(make_settings: MakeSettings) -> None:
    engine = FakeEngine(two_port_config(), ports={("api", 9000): ("127.0.0.1", 40000)})
    stack = started(make_settings(probes={"api": PassingHttpProbe(9000, "/health")}), engine)

    assert stack.url("api") == "http://127.0.0.1:40000"


@pytest.mark.parametrize(
    ("probes", "probe_field"),
    [
        ({"web": PassingHttpProbe(8080)}, None),  # from pytest configuration or conftest.py
        ({}, {"http": {"port": 8080, "path": "/health"}}),  # from the compose file
    ],
)
def test_http_probe_on_an_unpublished_port_fails_before_anything_starts(
    make_settings: MakeSettings, probes: dict[str, HttpProbe], probe_field: Any
) -> None:
    engine = FakeEngine(compose(db=service(), web=service(ports=[3000], probe=probe_field)))

    with pytest.raises(ConfigError) as info, ComposeStack(make_settings(probes=probes), engine):
        pytest.fail("the body must not run")

    assert str(info.value) == (
        "the HTTP probe of service 'web' uses port 8080, which the service does not publish "
        '(it publishes 3000); add it under `ports:`, for example "127.0.0.1::8080"'
    )
    assert engine.names() == ["check", "config"]  # no sweep, no build, no up, and so no down


def test_http_probe_on_a_service_without_ports_says_it_publishes_none() -> None:
    project = ProjectSpec.from_config(compose(worker=service()))

    with pytest.raises(
        ConfigError, match=r"uses port 8080, which the service does not publish \(it publishes no port\)"
    ):
        plan_probes(project, {"worker": HttpProbe(8080)})


def test_url_is_looked_up_once_per_port(make_settings: MakeSettings) -> None:
    engine = FakeEngine(simple_config())
    stack = started(make_settings(), engine)

    assert stack.url("web") == stack.url("web", 3000)
    assert engine.port_calls == [("web", 3000)]


def test_the_port_a_probe_finds_in_its_status_asks_compose_nothing(make_settings: MakeSettings) -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:  # what the default port probe reaches
        public = server.getsockname()[1]
        published = ContainerStatus("web", "id-web", "running", ports={3000: ("127.0.0.1", public)})
        web = {"image": "x", "ports": [port_entry(3000)]}  # no probe declared: the port probe
        engine = FakeEngine(compose(web=web), statuses={"web": [published]})

        stack = started(make_settings(), engine)

    assert stack.url("web") == f"http://127.0.0.1:{public}"
    assert engine.port_calls == []


def test_url_when_compose_reports_no_port(make_settings: MakeSettings) -> None:
    stack = started(make_settings(), FakeEngine(simple_config(), ports={("web", 3000): None}))

    with pytest.raises(EngineError, match="Compose reports no published port for web:3000"):
        stack.url("web")


@pytest.mark.parametrize(
    ("bound", "docker_host", "url"),
    [
        # A local engine: the address compose bound is reachable as it is.
        ("127.0.0.1", "127.0.0.1", "http://127.0.0.1:40000"),
        ("127.0.0.5", "127.0.0.1", "http://127.0.0.5:40000"),
        # Bound on every interface: reach it at the Docker host.
        ("0.0.0.0", "127.0.0.1", "http://127.0.0.1:40000"),
        ("0.0.0.0", "127.0.0.2", "http://127.0.0.2:40000"),
        ("::", "127.0.0.1", "http://127.0.0.1:40000"),
        # A remote engine: its own address wins where compose bound every interface.
        ("0.0.0.0", "192.0.2.10", "http://192.0.2.10:40000"),
        # 127.0.0.2 is loopback too, hence a local engine: compose's bound address is kept.
        ("127.0.0.1", "127.0.0.2", "http://127.0.0.1:40000"),
        # IPv6 addresses are bracketed.
        ("::1", "127.0.0.1", "http://[::1]:40000"),
        ("::", "::1", "http://[::1]:40000"),
        ("0.0.0.0", "2001:db8::5", "http://[2001:db8::5]:40000"),
    ],
)
def test_url_host(make_settings: MakeSettings, bound: str, docker_host: str, url: str) -> None:
    engine = FakeEngine(simple_config(), ports={("web", 3000): (bound, 40000)})
    stack = started(make_settings(host=docker_host), engine)

    assert stack.url("web") == url


@pytest.mark.parametrize("docker_host", ["192.0.2.10", "docker"])
def test_port_on_a_remote_engines_loopback_is_refused_with_the_fix(
    make_settings: MakeSettings, docker_host: str
) -> None:
    engine = FakeEngine(simple_config(), ports={("web", 3000): ("127.0.0.1", 40000)})
    stack = started(make_settings(host=docker_host), engine)

    with pytest.raises(ConfigError) as info:
        stack.url("web")

    message = str(info.value)
    assert f"publishes port 3000 on 127.0.0.1 of the Docker host {docker_host}" in message
    assert f'"{docker_host}::3000"' in message


def test_endpoint_strips_ipv6_brackets(make_settings: MakeSettings) -> None:
    engine = FakeEngine(simple_config(), ports={("web", 3000): ("::1", 40000)})
    stack = started(make_settings(), engine)

    assert stack.endpoint("web") == ("::1", 40000)


def test_status_of_a_service_with_no_container_is_tolerated(make_settings: MakeSettings) -> None:
    """A None status while containers are being created is not a failure."""
    engine = FakeEngine(simple_config(), statuses={"web": [None, None, running("web")]})

    stack = started(make_settings(), engine)

    assert engine.status_calls["web"] >= 3
    assert isinstance(engine.status("web"), ContainerStatus)
    assert set(stack.ready_after) == {"db", "web"}


def test_a_udp_port_is_reached_by_its_protocol_and_a_missing_one_is_named_with_it(
    make_settings: MakeSettings,
) -> None:
    udp = port_entry(5353, protocol="udp")
    engine = FakeEngine(compose(dns=service(ports=[udp], probe="running")), ports={})

    with ComposeStack(make_settings(), engine) as stack:
        address = stack.endpoint("dns", 5353, protocol="udp")
        with pytest.raises(ConfigError, match=r"publishes 5353/udp; name one with endpoint\('dns', port"):
            stack.endpoint("dns", protocol="udp")
        with pytest.raises(ConfigError, match="publishes no port"):
            stack.endpoint("dns")  # TCP: none

    assert address == ("127.0.0.1", 32768 + 5353)


def test_a_service_on_the_hosts_network_is_reached_at_the_engine_hosts_own_port(
    make_settings: MakeSettings,
) -> None:
    exporter = {**service(ports=[18766], probe="running"), "network_mode": "host"}
    engine = FakeEngine(compose(exporter=exporter), ports={("exporter", 18766): None})

    with ComposeStack(make_settings(), engine) as stack:
        url = stack.url("exporter")

    assert url == "http://127.0.0.1:18766"
    assert engine.port_calls == []


def test_a_failed_build_removes_what_it_built_and_takes_nothing_down(make_settings: MakeSettings) -> None:
    built = {**service(), "build": {"context": "."}}
    del built["image"]
    engine = FakeEngine(compose(app=built), build_error=EngineError("building failed"))

    with pytest.raises(EngineError), ComposeStack(make_settings(project_name="p9"), engine):
        pass

    assert ("remove_images", ("p9-app",)) in engine.calls
    assert "down" not in engine.names()


def test_the_default_port_probe_waits_while_the_container_is_only_created(
    make_settings: MakeSettings,
) -> None:
    web = {"image": "x", "ports": [port_entry(3000)]}  # no probe declared: the default
    engine = FakeEngine(compose(web=web), statuses={"web": [created("web"), exited("web", 0)]}, ports={})

    with ComposeStack(make_settings(), engine) as stack:
        probe = stack.probes["web"].describe()

    assert probe == "published ports answer (3000)"
    assert engine.port_calls == []  # never asked while only created: it was not an error


def test_a_stack_starts_once(make_settings: MakeSettings) -> None:
    stack = ComposeStack(make_settings(), FakeEngine(simple_config()))
    with stack, pytest.raises(ComposeError, match="start\\(\\) starts a new stack once"):
        stack.start()
