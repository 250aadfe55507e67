"""Readiness probes: JSON matching, parsing declarations, and each probe against a target."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import pytest

from pytest_tel3sis_compose.core.boundary import CommandResult
from pytest_tel3sis_compose.core.model import ProjectSpec
from pytest_tel3sis_compose.core.planning import plan_probes
from pytest_tel3sis_compose.core.probes import (
    CommandProbe,
    CompletedProbe,
    HealthcheckProbe,
    HttpProbe,
    LogProbe,
    PortProbe,
    Probe,
    ProbeResult,
    RunningProbe,
    json_matches,
    probe_from_line,
    probe_from_spec,
)
from pytest_tel3sis_compose.errors import ConfigError
from tests.unit.fakes import FakeTarget, created, exited, running

WHERE = "the x-tel3sis-probe field of service 'web'"
FORMS_HINT = 'use one of: "healthcheck", "running", "completed"'

# -- json_matches ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected", "matches"),
    [
        ({"redis": "ok", "broker": "ok"}, {"*": "ok"}, True),
        ({"redis": "ok", "broker": "down"}, {"*": "ok"}, False),
        ({}, {"*": "ok"}, False),
        ({"status": "ok", "version": 3}, {"status": "ok"}, True),
        ({"status": "starting"}, {"status": "ok"}, False),
        ({"version": 3}, {"status": "ok"}, False),
        ({}, {"status": None}, False),
        ({"status": None}, {"status": None}, True),
        ({"a": "ok", "b": "ok", "n": 1}, {"n": 1}, True),
        ({"a": "ok", "b": 1}, {"*": "ok", "b": 1}, False),
        ({"a": {"x": 1}}, {"a": {"x": 1}}, True),
    ],
)
def test_json_matches_mapping_forms(body: Any, expected: dict[str, Any], matches: bool) -> None:
    assert json_matches(body, expected) is matches


@pytest.mark.parametrize("body", [["ok", "ok"], "ok", 1, None])
def test_json_mapping_never_matches_a_body_that_is_no_mapping(body: Any) -> None:
    assert json_matches(body, {"*": "ok"}) is False
    assert json_matches(body, {}) is False


def test_json_callable_gets_the_whole_body_and_its_truthiness_counts() -> None:
    seen: list[Any] = []

    def predicate(body: Any) -> Any:
        seen.append(body)
        return len(body)

    assert json_matches(["a", "b"], predicate) is True
    assert json_matches([], predicate) is False
    assert seen == [["a", "b"], []]


# -- probe_from_spec -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "kind"),
    [
        ("healthcheck", HealthcheckProbe),
        ("running", RunningProbe),
        ("completed", CompletedProbe),
        ({"healthcheck": None}, HealthcheckProbe),
        ({"running": {}}, RunningProbe),
        ({"completed": None}, CompletedProbe),
    ],
)
def test_simple_probe_forms(spec: Any, kind: type[Probe]) -> None:
    assert type(probe_from_spec(spec, where=WHERE)) is kind


def test_http_probe_form_with_every_key() -> None:
    probe = probe_from_spec(
        {"http": {"port": 3000, "path": "/v1/health", "status": 204, "json": {"*": "ok"}, "timeout": 0.5}},
        where=WHERE,
    )

    assert isinstance(probe, HttpProbe)
    assert (probe.port, probe.path, probe.status, probe.json, probe.timeout) == (
        3000,
        "/v1/health",
        204,
        {"*": "ok"},
        0.5,
    )
    assert probe.describe() == "HTTP GET :3000/v1/health expecting 204 and JSON match"


def test_http_probe_form_defaults() -> None:
    probe = probe_from_spec({"http": {"port": 8080}}, where=WHERE)

    assert isinstance(probe, HttpProbe)
    assert (probe.port, probe.path, probe.status, probe.json) == (8080, "/", 200, None)
    assert probe.describe() == "HTTP GET :8080/ expecting 200"
    assert repr(probe) == "HttpProbe(port=8080, path='/', status=200)"


def test_command_probe_forms() -> None:
    as_list = probe_from_spec({"command": ["redis-cli", "ping"]}, where=WHERE)
    as_string = probe_from_spec({"command": "redis-cli ping | grep PONG"}, where=WHERE)

    assert isinstance(as_list, CommandProbe)
    assert as_list.argv == ("redis-cli", "ping")
    assert isinstance(as_string, CommandProbe)
    assert as_string.argv == ("sh", "-c", "redis-cli ping | grep PONG")
    assert as_list.describe() == "command redis-cli ping"


def test_a_probe_object_is_taken_as_is() -> None:
    probe = HttpProbe(3000)

    assert probe_from_spec(probe, where=WHERE) is probe


@pytest.mark.parametrize(
    "spec",
    [
        "ready",
        "",
        None,
        42,
        ["running"],
        {"http": {"port": 3000}, "command": ["true"]},
        {"http": 3000},
        {"command": 5},
        {"command": {"argv": ["true"]}},
        {"running": True},
        {"tcp": {"port": 3000}},
        {},
    ],
)
def test_unreadable_probe_names_where_and_lists_the_valid_forms(spec: Any) -> None:
    with pytest.raises(ConfigError) as info:
        probe_from_spec(spec, where=WHERE)

    message = str(info.value)
    assert f"cannot read the probe {spec!r} in {WHERE}" in message
    assert FORMS_HINT in message
    assert '{"command": ["redis-cli", "ping"]}' in message


def test_http_probe_without_port_says_port_is_missing() -> None:
    with pytest.raises(ConfigError) as info:
        probe_from_spec({"http": {"path": "/health"}}, where=WHERE)

    message = str(info.value)
    assert f"bad HTTP probe in {WHERE}: 'port' is missing" in message
    assert FORMS_HINT in message


def test_http_probe_with_unknown_keys_names_them() -> None:
    with pytest.raises(ConfigError) as info:
        probe_from_spec({"http": {"port": 3000, "verb": "HEAD", "url": "/"}}, where=WHERE)

    message = str(info.value)
    assert f"bad HTTP probe in {WHERE}: unknown keys ['url', 'verb']" in message
    assert FORMS_HINT in message


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        ({"port": "web"}, "'port' must be a whole number, not 'web'"),
        ({"port": "80a"}, "'port' must be a whole number, not '80a'"),
        ({"port": 3000, "status": "OK"}, "'status' must be a whole number, not 'OK'"),
    ],
)
def test_http_probe_with_non_numeric_port_or_status_is_a_config_error(
    args: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ConfigError) as info:
        probe_from_spec({"http": args}, where=WHERE)

    message = str(info.value)
    assert f"bad HTTP probe in {WHERE}: {problem}" in message
    assert FORMS_HINT in message


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ({"http": {"port": 3000, "path": "health"}}, "bad HTTP probe in"),
        ({"command": []}, "bad command probe in"),
    ],
)
def test_constructor_errors_name_where(spec: Any, problem: str) -> None:
    with pytest.raises(ConfigError) as info:
        probe_from_spec(spec, where=WHERE)

    message = str(info.value)
    assert f"{problem} {WHERE}: " in message
    assert FORMS_HINT in message


def test_http_probe_json_must_be_a_mapping() -> None:
    with pytest.raises(ConfigError) as info:
        probe_from_spec({"http": {"port": 3000, "json": "ok"}}, where=WHERE)

    message = str(info.value)
    assert f"bad HTTP probe in {WHERE}: 'json' must be a mapping" in message
    assert "not 'ok'" in message


# -- probe_from_line ------------------------------------------------------------------


def test_probe_line_with_json_spec() -> None:
    service, probe = probe_from_line(
        ' web = {"http": {"port": 3000, "path": "/v1/health", "json": {"*": "ok"}}} ',
        where="the compose_probes ini key",
    )

    assert service == "web"
    assert isinstance(probe, HttpProbe)
    assert (probe.port, probe.path, probe.json) == (3000, "/v1/health", {"*": "ok"})


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        ("worker = running", RunningProbe),
        ('migrate="completed"', CompletedProbe),
        ('redis = {"command": ["redis-cli", "ping"]}', CommandProbe),
        ("db = healthcheck", HealthcheckProbe),
    ],
)
def test_probe_line_with_word_or_json_string(line: str, kind: type[Probe]) -> None:
    _, probe = probe_from_line(line, where="ini")

    assert type(probe) is kind


@pytest.mark.parametrize("line", ["web running", "web =", "= running", "   "])
def test_probe_line_without_service_or_spec_shows_the_form(line: str) -> None:
    with pytest.raises(ConfigError) as info:
        probe_from_line(line, where="the compose_probes ini key")

    message = str(info.value)
    assert f"cannot read {line!r} in the compose_probes ini key" in message
    assert "write `SERVICE = SPEC`" in message


def test_probe_line_with_bad_json_names_service_and_where() -> None:
    with pytest.raises(ConfigError) as info:
        probe_from_line('web = {"http": {"port": 3000,}}', where="the compose_probes ini key")

    message = str(info.value)
    assert "the probe for 'web' in the compose_probes ini key is not valid JSON" in message
    assert "line 1" in message  # json's own pointer to the problem


def test_probe_line_with_unknown_spec_names_the_service() -> None:
    with pytest.raises(ConfigError, match=r"in the compose_probes ini key \(web\); use one of"):
        probe_from_line("web = ready", where="the compose_probes ini key")


# -- probes against a target -------------------------------------------------------------


def test_healthcheck_probe_reports_the_health_output() -> None:
    probe = HealthcheckProbe()

    healthy = probe.check(FakeTarget(running("db", "healthy", "PONG")))
    starting = probe.check(FakeTarget(running("db", "starting", "connection refused")))
    none = probe.check(FakeTarget(running("db")))

    assert healthy == ProbeResult(True, "healthy: PONG")
    assert starting == ProbeResult(False, "starting: connection refused")
    assert none == ProbeResult(False, "the container has no healthcheck")


def test_running_probe() -> None:
    probe = RunningProbe()

    assert probe.check(FakeTarget(running("web"))) == ProbeResult(True, "running")
    assert probe.check(FakeTarget(created("web"))) == ProbeResult(False, "created")
    # A one-shot service with no healthcheck that already exited 0 counts as ready...
    assert probe.accepts_completion is True
    assert probe.check(FakeTarget(exited("web", 0))) == ProbeResult(True, "exited")
    # ...but a failed exit never does.
    assert probe.check(FakeTarget(exited("web", 3))) == ProbeResult(False, "exited")
    assert probe.describe() == "container running (or exited 0)"


def test_completed_probe() -> None:
    probe = CompletedProbe()

    assert probe.accepts_completion is True
    assert probe.check(FakeTarget(exited("migrate", 0))) == ProbeResult(True, "exited (exit code 0)")
    assert probe.check(FakeTarget(exited("migrate", 3))) == ProbeResult(False, "exited (exit code 3)")
    assert probe.check(FakeTarget(running("migrate"))).ok is False


def test_command_probe_runs_in_the_target_and_reports_exit_and_output() -> None:
    probe = CommandProbe(["redis-cli", "ping"])
    good = FakeTarget(result=CommandResult(0, "PONG"))
    bad = FakeTarget(result=CommandResult(1, "Could not connect to Redis"))

    assert probe.check(good) == ProbeResult(True, "exit 0: PONG")
    assert probe.check(bad) == ProbeResult(False, "exit 1: Could not connect to Redis")
    assert good.executed == [("redis-cli", "ping")]


def test_command_probe_needs_a_command() -> None:
    with pytest.raises(ConfigError, match="needs a command"):
        CommandProbe([])


def test_http_probe_path_must_start_with_slash() -> None:
    with pytest.raises(ConfigError, match="'health' must start with '/'"):
        HttpProbe(3000, "health")


# -- HttpProbe against a real server ---------------------------------------------------------


def test_http_probe_passes_on_status_and_json(http_server: str) -> None:
    target = FakeTarget(base_url=http_server)

    result = HttpProbe(3000, "/health", json={"*": "ok"}).check(target)

    assert result.ok is True
    assert result.output.startswith(f"GET {http_server}/health -> 200 ")
    assert target.base_url_calls == [3000]


def test_http_probe_goes_straight_to_loopback_past_a_proxy_in_the_environment(
    http_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A proxy (here one that answers nothing) cannot reach this host's loopback.
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)

    assert HttpProbe(3000, "/health", json={"*": "ok"}).check(FakeTarget(base_url=http_server)).ok is True


def test_http_probe_fails_on_status_mismatch(http_server: str) -> None:
    result = HttpProbe(3000, "/broken").check(FakeTarget(base_url=http_server))

    assert result == ProbeResult(False, f"GET {http_server}/broken -> 500 internal error")


def test_http_probe_expected_non_200_status(http_server: str) -> None:
    assert HttpProbe(3000, "/created", status=201).check(FakeTarget(base_url=http_server)).ok is True
    assert HttpProbe(3000, "/created").check(FakeTarget(base_url=http_server)).ok is False


def test_http_probe_fails_on_json_mismatch_and_shows_the_body(http_server: str) -> None:
    result = HttpProbe(3000, "/degraded", json={"*": "ok"}).check(FakeTarget(base_url=http_server))

    assert result.ok is False
    assert '"broker": "down"' in result.output


def test_http_probe_with_json_callable(http_server: str) -> None:
    target = FakeTarget(base_url=http_server)

    assert HttpProbe(3000, "/degraded", json=lambda body: body["redis"] == "ok").check(target).ok
    assert not HttpProbe(3000, "/degraded", json=lambda body: body["broker"] == "ok").check(target).ok


def test_http_probe_fails_when_json_is_expected_but_body_is_not_json(http_server: str) -> None:
    result = HttpProbe(3000, "/text", json={"*": "ok"}).check(FakeTarget(base_url=http_server))

    assert result == ProbeResult(False, f"GET {http_server}/text -> 200 plain words (not JSON)")


def test_http_probe_without_json_ignores_the_body(http_server: str) -> None:
    assert HttpProbe(3000, "/text").check(FakeTarget(base_url=http_server)).ok is True


def test_http_probe_connection_refused_is_not_ready_with_an_explanation() -> None:
    with socket.socket() as sock:  # a port that nothing listens on once the socket is closed
        sock.bind(("127.0.0.1", 0))
        free_port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{free_port}"

    result = HttpProbe(3000, "/health", timeout=1).check(FakeTarget(base_url=url))

    assert result.ok is False
    assert result.output.startswith(f"GET {url}/health: ConnectError: ")


def test_http_probe_takes_digits_in_a_string_as_compose_interpolation_gives_them() -> None:
    probe = probe_from_spec({"http": {"port": "8080", "status": "204"}}, where=WHERE)

    assert isinstance(probe, HttpProbe)
    assert (probe.port, probe.status) == (8080, 204)


# -- LogProbe -------------------------------------------------------------------------


def test_log_probe_passes_on_a_matching_line_and_shows_it() -> None:
    probe = probe_from_spec({"log": r"celery@\S+ ready\."}, where=WHERE)
    target = FakeTarget(log="starting\n[INFO] celery@abc123 ready.\n")

    result = probe.check(target)

    assert isinstance(probe, LogProbe)
    assert result == ProbeResult(True, "celery@abc123 ready.")


def test_log_probe_without_a_match_shows_the_last_line() -> None:
    result = LogProbe("ready to accept").check(FakeTarget(log="booting\nloading data\n"))

    assert result == ProbeResult(False, "no line matches yet; last line: loading data")


def test_log_probe_with_a_bad_pattern_is_a_config_error_naming_where() -> None:
    with pytest.raises(ConfigError, match=r"bad log probe in .*not a valid regular expression"):
        probe_from_spec({"log": "ready ("}, where=WHERE)


# -- PortProbe --------------------------------------------------------------------------------


def _server(behaviour: str) -> tuple[socket.socket, threading.Thread]:
    """A listener on 127.0.0.1 that, per connection, keeps it open, closes it, or says hello."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(5)

    def serve() -> None:
        try:
            connection, _ = listener.accept()
        except OSError:
            return
        with connection:
            if behaviour == "close":
                return
            if behaviour == "hello":
                connection.sendall(b"+hello\r\n")
            time.sleep(0.5)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return listener, thread


@pytest.mark.parametrize(("behaviour", "ready"), [("silent", True), ("hello", True), ("close", False)])
def test_port_probe_a_server_must_keep_the_connection_or_speak(behaviour: str, ready: bool) -> None:
    listener, thread = _server(behaviour)
    port = listener.getsockname()[1]
    target = FakeTarget(running("web"), base_url=f"http://127.0.0.1:{port}")

    result = PortProbe([3000], settle=0.2).check(target)

    listener.close()
    thread.join(2)
    assert result.ok is ready, result.output
    assert target.base_url_calls == [3000]
    if not ready:
        assert result.output.startswith(f"port 3000 (127.0.0.1:{port}): closed at once")


def test_port_probe_a_refused_connection_is_not_ready() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()  # nothing listens there now

    result = PortProbe([3000]).check(FakeTarget(running("web"), base_url=f"http://127.0.0.1:{port}"))

    assert not result.ok
    assert "ConnectionRefusedError" in result.output


def test_port_probe_a_one_shot_that_exited_0_is_ready_and_it_describes_its_ports() -> None:
    probe = PortProbe([3000, 8080])

    assert probe.check(FakeTarget(exited("job", 0))).ok
    assert probe.accepts_completion
    assert probe.describe() == "published ports answer (3000, 8080)"


def test_plan_a_service_with_ports_and_no_healthcheck_waits_on_its_ports() -> None:
    raw = {"services": {"web": {"image": "x", "ports": [{"target": 3000, "protocol": "tcp"}]}}}

    probe = plan_probes(ProjectSpec.from_config(raw), {})["web"]

    assert isinstance(probe, PortProbe)
    assert probe.ports == (3000,)
