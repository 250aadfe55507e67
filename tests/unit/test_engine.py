"""The Docker boundary's own CLI calls: the janitor's listings and removals, with `docker` faked."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from pytest_tel3sis_compose import engine
from pytest_tel3sis_compose.core.boundary import CommandResult
from pytest_tel3sis_compose.core.diagnosis import compose_reason
from pytest_tel3sis_compose.core.ownership import LABEL_KEEP, LABEL_OWNER, PROJECT_LABEL
from pytest_tel3sis_compose.engine import DockerEngine
from pytest_tel3sis_compose.errors import EngineError

_REAL_CLI = engine._cli
_REAL_PROJECT = engine.WhalesProject  # safe here: the `docker` fixture fakes every command


class FakeDocker:
    """Stands in for subprocess.run of `docker ...`: scripted outputs, every command recorded."""

    def __init__(self) -> None:
        self.commands: list[list[str]] = []
        self.outputs: dict[tuple[str, ...], tuple[int, str, str]] = {}
        self.containers: dict[str, dict[str, Any]] = {}
        """By name: what `docker inspect` knows (by that name or by the container's Id)."""

    def script(self, *prefix: str, stdout: str = "", code: int = 0, stderr: str = "") -> None:
        """Commands whose arguments (after `docker`) start with `prefix` give this result."""
        self.outputs[prefix] = (code, stdout, stderr)

    def __call__(self, argv: Sequence[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        command = [str(arg) for arg in argv]
        self.commands.append(command)
        if command[1] == "inspect" and self.containers:
            return self._inspect(command)
        for prefix, (code, stdout, stderr) in self.outputs.items():
            if tuple(command[1 : 1 + len(prefix)]) == prefix:
                return subprocess.CompletedProcess(command, code, stdout, stderr)
        return subprocess.CompletedProcess(command, 0, "", "")

    def _inspect(self, command: list[str]) -> subprocess.CompletedProcess[str]:
        by_ref = {**self.containers, **{raw["Id"]: raw for raw in self.containers.values()}}
        refs = [arg for arg in command[2:] if not arg.startswith("--")]
        found = [by_ref[ref] for ref in refs if ref in by_ref]
        missing = [ref for ref in refs if ref not in by_ref]
        errors = "".join(f"Error: No such container: {ref}\n" for ref in missing)
        return subprocess.CompletedProcess(command, 1 if missing else 0, json.dumps(found), errors)


@pytest.fixture
def docker(monkeypatch: pytest.MonkeyPatch) -> FakeDocker:
    fake = FakeDocker()
    monkeypatch.setattr(engine, "_cli", _REAL_CLI)  # the unit tests' guard refuses it elsewhere
    monkeypatch.setattr(engine.subprocess, "run", fake)
    return fake


def listing(*rows: tuple[str, str]) -> str:
    return "".join(f"{project}\t{value}\n" for project, value in rows)


def format_for(label: str) -> str:
    return f'{{{{.Label "{PROJECT_LABEL}"}}}}\t{{{{.Label "{label}"}}}}'


def test_labelled_lists_containers_networks_and_volumes_by_label(docker: FakeDocker) -> None:
    docker.script("ps", stdout=listing(("a", "owner-a")))
    docker.script("network", stdout=listing(("b", "owner-b")))
    docker.script("volume", stdout=listing(("a", "owner-a2")))

    found = DockerEngine().labelled(LABEL_OWNER)

    assert found == [("a", "owner-a"), ("b", "owner-b"), ("a", "owner-a2")]
    filters = ["--filter", f"label={LABEL_OWNER}", "--filter", f"label={PROJECT_LABEL}"]
    fmt = ["--format", format_for(LABEL_OWNER)]
    assert docker.commands == [
        ["docker", "ps", "--all", *filters, *fmt],
        ["docker", "network", "ls", *filters, *fmt],
        ["docker", "volume", "ls", *filters, *fmt],
    ]
    assert (
        format_for(LABEL_KEEP)
        == '{{.Label "com.docker.compose.project"}}\t{{.Label "io.tel3sis.compose.keep"}}'
    )


def test_listing_lines_lacking_a_project_or_a_value_are_skipped(docker: FakeDocker) -> None:
    docker.script("ps", stdout="\towner\nno-owner\t\nno-tab-at-all\n\nreal\towner\nreal\t\n")

    assert DockerEngine().labelled(LABEL_OWNER) == [("real", "owner")]


def test_remove_project_removes_its_containers_networks_volumes_and_the_images_named_after_it(
    docker: FakeDocker,
) -> None:
    docker.script("ps", stdout="c1\nc2\n")
    docker.script("network", "ls", stdout="n1\n")
    docker.script("volume", "ls", stdout="v1\nv2\n")
    docker.script("image", "ls", stdout="proj-web:latest\ntel3sis:dev\nproj-worker:latest\n")

    DockerEngine().remove_project("proj")

    by_project = ["--filter", f"label={PROJECT_LABEL}=proj"]
    assert docker.commands == [
        ["docker", "ps", "--all", "--quiet", *by_project],
        ["docker", "rm", "--force", "--volumes", "c1", "c2"],
        ["docker", "network", "ls", "--quiet", *by_project],
        ["docker", "network", "rm", "n1"],
        ["docker", "volume", "ls", "--quiet", *by_project],
        ["docker", "volume", "rm", "--force", "v1", "v2"],
        ["docker", "image", "ls", *by_project, "--format", "{{.Repository}}:{{.Tag}}"],
        # A name of its own (tel3sis:dev) stays, though Compose labelled it with the project too.
        ["docker", "image", "rm", "proj-web:latest", "proj-worker:latest"],
    ]


def test_remove_project_issues_no_removal_where_nothing_is_listed(docker: FakeDocker) -> None:
    docker.script("network", "ls", stdout="n1\n")

    DockerEngine().remove_project("proj")

    assert [command[1:3] for command in docker.commands] == [
        ["ps", "--all"],
        ["network", "ls"],
        ["network", "rm"],
        ["volume", "ls"],
        ["image", "ls"],
    ]


def test_remove_project_tolerates_what_is_gone_meanwhile(docker: FakeDocker) -> None:
    docker.script("ps", stdout="c1\n")
    docker.script("rm", code=1, stderr="Error: No such container: c1")
    docker.script("network", "ls", stdout="n1\n")
    docker.script("network", "rm", code=1, stderr="Error: No such network: n1")
    docker.script("volume", "ls", stdout="v1\n")

    DockerEngine().remove_project("proj")  # does not raise, and goes on to the next kind

    assert ["docker", "volume", "rm", "--force", "v1"] in docker.commands


def test_remove_project_raises_other_errors_with_stderr_and_the_fix(docker: FakeDocker) -> None:
    docker.script("ps", stdout="c1\n")
    docker.script("rm", code=1, stderr="Error response from daemon: permission denied")

    with pytest.raises(EngineError, match=r"`docker rm --force --volumes c1` failed: .*permission denied"):
        DockerEngine().remove_project("proj")

    assert [command[1] for command in docker.commands] == ["ps", "rm"]  # stopped there


def test_a_listing_error_is_raised_even_when_it_says_no_such(docker: FakeDocker) -> None:
    docker.script("ps", code=1, stderr="Error: No such object")

    with pytest.raises(EngineError, match="No such object"):
        DockerEngine().labelled(LABEL_OWNER)


# -- the event stream's lines ---------------------------------------------------------------------

DOCKER_DIE = (
    '{"status":"die","id":"3c1a","from":"redis:7-bookworm","Type":"container","Action":"die",'
    '"Actor":{"ID":"3c1a","Attributes":{"com.docker.compose.project":"p",'
    '"com.docker.compose.service":"worker","exitCode":"5","name":"p-worker-1"}},'
    '"scope":"local","time":1796034643,"timeNano":1796034643119487539}'
)
DOCKER_HEALTH = (
    '{"status":"health_status: unhealthy","id":"3c1a","Type":"container",'
    '"Action":"health_status: unhealthy","Actor":{"ID":"3c1a","Attributes":'
    '{"com.docker.compose.service":"db"}},"time":1796034641,"timeNano":1796034641150755188}'
)


def test_a_docker_die_line_becomes_an_event_with_its_exit_code_and_time() -> None:
    event = engine.parse_event(DOCKER_DIE)

    assert event is not None
    assert (event.service, event.container_id, event.action, event.exit_code) == ("worker", "3c1a", "die", 5)
    assert event.at == pytest.approx(1796034643.119487539)


def test_a_health_status_line_carries_the_status_as_detail() -> None:
    event = engine.parse_event(DOCKER_HEALTH)

    assert event is not None
    assert (event.service, event.action, event.detail, event.exit_code) == (
        "db",
        "health_status",
        "unhealthy",
        None,
    )


@pytest.mark.parametrize(
    "line",
    ["", "not json", '{"Actor": {"Attributes": {}}, "Action": "die"}', '{"Action": "start"}', "[1, 2]"],
)
def test_lines_that_are_no_compose_container_event_are_skipped(line: str) -> None:
    assert engine.parse_event(line) is None


def _inspected(
    container_id: str,
    *,
    status: str,
    service: str = "web",
    project: str = "demo",
    health: dict[str, Any] | None = None,
) -> dict[str, Any]:
    state: dict[str, Any] = {"Status": status, "ExitCode": 0}
    if health is not None:
        state["Health"] = health
    return {
        "Id": container_id,
        "State": state,
        "Config": {"Labels": {PROJECT_LABEL: project, "com.docker.compose.service": service}},
        "NetworkSettings": {
            "Ports": {
                "3000/tcp": [{"HostIp": "127.0.0.1", "HostPort": "49153"}],
                "53/udp": [{"HostIp": "127.0.0.1", "HostPort": "49154"}],
                "9000/tcp": None,
            }
        },
    }


def _asked(docker: FakeDocker) -> list[str]:
    return [command[1] for command in docker.commands]


def test_statuses_reads_containers_by_composes_names_in_one_inspect(docker: FakeDocker) -> None:
    health = {
        "Status": "unhealthy",
        "Log": [{"Start": "2026-11-30T12:00:01.5Z", "ExitCode": 1, "Output": " refused \n"}],
    }
    docker.containers = {
        "demo-web-1": _inspected("aaa", status="running"),
        "demo-worker-1": _inspected("bbb", status="running", service="worker", health=health),
    }
    project = _REAL_PROJECT(DockerEngine(), [], "demo")

    statuses = project.statuses(["web", "worker"])

    assert docker.commands == [["docker", "inspect", "--type=container", "demo-web-1", "demo-worker-1"]]
    web, worker = statuses["web"], statuses["worker"]
    assert (web.container_id, web.state, web.health) == ("aaa", "running", None)
    assert web.ports == {3000: ("127.0.0.1", 49153)}
    assert (worker.health, worker.health_output) == ("unhealthy", "refused")
    assert worker.health_log == ("12:00:01 exit 1: refused",)
    project.statuses(["worker"])
    assert docker.commands[-1] == ["docker", "inspect", "--type=container", "bbb"], "by the Id it learnt"


def test_statuses_looks_up_a_container_named_otherwise_with_docker_ps(docker: FakeDocker) -> None:
    docker.containers = {
        "demo-web-1": _inspected("xxx", status="running", project="another"),  # not this project's
        "custom-name": _inspected("aaa", status="running"),
    }
    docker.script("ps", stdout="aaa web\n")
    project = _REAL_PROJECT(DockerEngine(), [], "demo")

    statuses = project.statuses(["web"])

    assert statuses["web"].container_id == "aaa"
    assert _asked(docker) == ["inspect", "ps", "inspect"]
    assert docker.commands[-1][-1] == "aaa"


def test_statuses_looks_up_a_removed_container_again_at_once(docker: FakeDocker) -> None:
    docker.containers = {"demo-web-1": _inspected("aaa", status="running")}
    project = _REAL_PROJECT(DockerEngine(), [], "demo")
    assert project.statuses(["web"])["web"].container_id == "aaa"
    docker.containers = {"demo-web-1": _inspected("bbb", status="running")}  # recreated
    docker.script("ps", stdout="bbb web\n")

    assert project.status("web") is not None
    assert project.status("web").container_id == "bbb"  # type: ignore[union-attr]


def test_a_probe_executing_while_statuses_are_read_still_finds_its_container(docker: FakeDocker) -> None:
    docker.containers = {"demo-worker-1": _inspected("aaa", status="running", service="worker")}
    project = _REAL_PROJECT(DockerEngine(), [Path("a.yml")], "demo")
    project.statuses(["worker"])
    during: list[list[str]] = []
    inspect = docker._inspect

    def inspect_while_a_probe_runs(command: list[str]) -> subprocess.CompletedProcess[str]:
        project.execute("worker", ["true"])  # another thread's probe, at this very moment
        during.append(docker.commands[-1])
        return inspect(command)

    docker._inspect = inspect_while_a_probe_runs  # type: ignore[method-assign]
    project.statuses(["worker"])

    assert during == [["docker", "exec", "aaa", "true"]], "the probe fell back to `compose exec`"


def test_statuses_of_services_without_a_container_asks_nothing_more(docker: FakeDocker) -> None:
    docker.containers = {"other-web-1": _inspected("zzz", status="running", project="other")}
    project = _REAL_PROJECT(DockerEngine(), [], "demo")

    assert project.statuses(["web"]) == {}
    assert _asked(docker) == ["inspect", "ps"]


def test_up_runs_compose_itself_and_a_failure_carries_composes_reason(docker: FakeDocker) -> None:
    progress = " Container demo-web-1  Creating\n"
    docker.script("compose", code=1, stderr=progress + "Error: port is already allocated\n")
    project = _REAL_PROJECT(DockerEngine(), [Path("a.yml")], "demo")

    with pytest.raises(subprocess.CalledProcessError) as raised:
        project.up(["web"])

    compose = ["docker", "compose", "--file=a.yml", "--project-name=demo"]
    assert docker.commands == [[*compose, "up", "--detach", "--remove-orphans", "web"]]
    assert compose_reason(raised.value) == "Error: port is already allocated"
    assert project._docker is None, "python-on-whales was asked to run it"


def test_once_docker_info_named_composes_executable_stacks_run_it_directly(docker: FakeDocker) -> None:
    known = DockerEngine()
    known._info = engine.parse_info("1.45|26.1.5|Engine;", "[]|cgroupfs|v2.40.3|/opt/plugins/docker-compose")
    compose = ["/opt/plugins/docker-compose", "--file=a.yml", "--project-name=demo"]

    _REAL_PROJECT(known, [Path("a.yml")], "demo").up(["web"])
    _REAL_PROJECT(known, [Path("a.yml")], "demo").down(0)

    assert docker.commands == [
        [*compose, "up", "--detach", "--remove-orphans", "web"],
        [*compose, "down", "--volumes", "--remove-orphans", "--timeout=0"],
    ]


def test_execute_runs_in_the_container_a_status_read_found(docker: FakeDocker) -> None:
    docker.containers = {"demo-worker-1": _inspected("aaa", status="running", service="worker")}
    docker.script("exec", stdout=" -> celery@aaa: OK\n")
    project = _REAL_PROJECT(DockerEngine(), [Path("a.yml")], "demo")
    project.statuses(["worker"])

    result = project.execute("worker", ["celery", "inspect", "ping"])

    assert docker.commands[-1] == ["docker", "exec", "aaa", "celery", "inspect", "ping"]
    assert result == CommandResult(0, "-> celery@aaa: OK")


def test_execute_without_a_known_container_asks_compose_and_reports_a_failure(docker: FakeDocker) -> None:
    docker.script("compose", code=1, stdout="Error: No nodes replied within time constraint.\n")
    project = _REAL_PROJECT(DockerEngine(), [Path("a.yml")], "demo")

    result = project.execute("worker", ["celery", "inspect", "ping"])

    compose = ["docker", "compose", "--file=a.yml", "--project-name=demo"]
    assert docker.commands == [[*compose, "exec", "--no-TTY", "worker", "celery", "inspect", "ping"]]
    assert result == CommandResult(1, "Error: No nodes replied within time constraint.")
