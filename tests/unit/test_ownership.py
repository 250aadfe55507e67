"""Stack ownership: the owner label, telling a dead owner, and the janitor that sweeps its stacks."""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from python_on_whales.exceptions import DockerException

from pytest_tel3sis_compose.ownership import (
    LABEL_KEEP,
    LABEL_OWNER,
    PROJECT_LABEL,
    WORKDIR_PREFIX,
    Janitor,
    Owner,
    make_workdir,
    sweep_workdirs,
)

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/stat").exists(), reason="telling a dead owner needs Linux's /proc"
)


@pytest.fixture
def me() -> Owner:
    """This test process as an owner: same host, same boot and pid namespace, right start time."""
    return Owner.of(os.getpid())


@pytest.fixture
def dead_pid() -> int:
    """The pid of a process that has run and been reaped (skipped if it is in use again)."""
    child = subprocess.Popen(["true"])
    child.wait()
    try:
        os.kill(child.pid, 0)
    except ProcessLookupError:
        return child.pid
    pytest.skip(f"pid {child.pid} was reused at once")


@pytest.fixture
def dead(me: Owner, dead_pid: int) -> Owner:
    """An owner on this host, in this space, whose process no longer runs."""
    return replace(me, pid=dead_pid, started="12345")


# -- the label ----------------------------------------------------------------------------


def test_owner_of_this_process(me: Owner) -> None:
    assert me.host == socket.gethostname()
    assert me.pid == os.getpid()
    assert me.started.isdigit()
    assert me.space.count("/") == 1  # "<boot id>/<pid namespace inode>"


@pytest.mark.parametrize(
    "owner",
    [
        Owner("ci-runner-7", 4242, "987654", "0b1c-boot/4026531836"),
        Owner("host@with-at", 1, "", ""),  # the pid follows the last @
        Owner("h", 99999, "5", ""),
    ],
)
def test_label_and_parse_round_trip(owner: Owner) -> None:
    assert Owner.parse(owner.label()) == owner


def test_label_format() -> None:
    assert Owner("box", 12, "345", "boot/678").label() == "box@12:345:boot/678"


@pytest.mark.parametrize(
    "label",
    ["", "no-at-sign", "@12:345:boot/1", "box@", "box@:345:boot/1", "box@x12:345:boot/1", "box@-12:3:s"],
)
def test_parse_of_a_malformed_label_is_none(label: str) -> None:
    assert Owner.parse(label) is None


def test_parse_of_a_label_with_a_non_decimal_digit_is_none() -> None:
    assert Owner.parse("box@²:345:boot/1") is None


# -- is_gone ------------------------------------------------------------------------------


def test_a_live_owner_with_its_start_time_is_not_gone(me: Owner) -> None:
    assert me.is_gone() is False


def test_a_reaped_process_in_the_same_space_is_gone(dead: Owner) -> None:
    assert dead.is_gone() is True


def test_a_process_that_was_alive_when_labelled_is_gone_once_it_ends() -> None:
    child = subprocess.Popen(["sleep", "30"])
    try:
        owner = Owner.of(child.pid)
        assert owner.started.isdigit()
        assert owner.is_gone() is False
    finally:
        child.kill()
        child.wait()
    try:
        os.kill(child.pid, 0)
    except ProcessLookupError:
        pass
    else:
        pytest.skip(f"pid {child.pid} was reused at once")

    assert owner.is_gone() is True


def test_a_dead_pid_on_another_host_is_not_judged(dead: Owner) -> None:
    assert replace(dead, host=f"not-{socket.gethostname()}").is_gone() is False


def test_a_dead_pid_in_another_boot_or_pid_namespace_is_not_judged(dead: Owner) -> None:
    assert replace(dead, space="another-boot-id/4026531836").is_gone() is False


def test_a_dead_pid_with_no_known_space_is_not_judged(dead: Owner) -> None:
    assert replace(dead, space="").is_gone() is False


def test_a_dead_pid_is_not_judged_where_the_system_tells_no_space(
    dead: Owner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("pytest_tel3sis_compose.ownership._pid_space", lambda: "")

    assert replace(dead, space="").is_gone() is False


def test_a_live_pid_with_another_start_time_is_a_reused_pid_so_gone(me: Owner) -> None:
    assert me.is_gone() is False
    assert replace(me, started="1").is_gone() is True


def test_a_live_pid_with_no_recorded_start_time_is_not_gone(me: Owner) -> None:
    assert replace(me, started="").is_gone() is False


# -- the janitor -------------------------------------------------------------------------


class FakeCli:
    """Stands in for python_on_whales.utils.run: scripted outputs, every command recorded."""

    def __init__(self) -> None:
        self.commands: list[list[str]] = []
        self.outputs: dict[tuple[str, ...], str | Exception] = {}

    def script(self, *prefix: str, result: str | Exception) -> None:
        """Commands whose arguments (after `docker`) start with `prefix` give `result`."""
        self.outputs[prefix] = result

    def __call__(self, args: list[Any], *more: Any, **kwargs: Any) -> str:
        command = [str(arg) for arg in args]
        self.commands.append(command)
        for prefix, result in self.outputs.items():
            if tuple(command[1 : 1 + len(prefix)]) == prefix:
                if isinstance(result, Exception):
                    raise result
                return result
        return ""


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch) -> FakeCli:
    fake = FakeCli()
    monkeypatch.setattr("python_on_whales.utils.run", fake)
    return fake


@pytest.fixture
def janitor() -> Janitor:
    return Janitor(SimpleNamespace(client_config=SimpleNamespace(docker_cmd=["docker"])))


def listing(*rows: tuple[str, str]) -> str:
    return "".join(f"{project}\t{value}\n" for project, value in rows)


def format_for(label: str) -> str:
    return f'{{{{.Label "{PROJECT_LABEL}"}}}}\t{{{{.Label "{label}"}}}}'


def test_orphaned_projects_are_those_whose_every_owner_is_gone(
    cli: FakeCli, janitor: Janitor, me: Owner, dead: Owner
) -> None:
    elsewhere = replace(dead, host=f"not-{socket.gethostname()}")
    cli.script(
        "ps",
        result=listing(
            ("dead-stack", dead.label()),
            ("half-dead", dead.label()),
            ("alive", me.label()),
            ("other-host", elsewhere.label()),
            ("garbled", "not an owner label"),
        ),
    )
    cli.script("network", result=listing(("dead-stack", dead.label()), ("net-only-dead", dead.label())))
    cli.script("volume", result=listing(("half-dead", me.label())))  # one owner still lives

    assert janitor.orphaned_projects() == {"dead-stack", "net-only-dead"}


def test_orphaned_projects_lists_containers_networks_and_volumes_by_label(
    cli: FakeCli, janitor: Janitor
) -> None:
    janitor.orphaned_projects()

    filters = ["--filter", f"label={LABEL_OWNER}", "--filter", f"label={PROJECT_LABEL}"]
    fmt = ["--format", format_for(LABEL_OWNER)]
    assert cli.commands == [
        ["docker", "ps", "--all", *filters, *fmt],
        ["docker", "network", "ls", *filters, *fmt],
        ["docker", "volume", "ls", *filters, *fmt],
    ]
    assert format_for(LABEL_OWNER) == (
        '{{.Label "com.docker.compose.project"}}\t{{.Label "io.tel3sis.compose.owner"}}'
    )


def test_listing_lines_lacking_a_project_or_a_value_are_skipped(
    cli: FakeCli, janitor: Janitor, dead: Owner
) -> None:
    cli.script("ps", result=f"\t{dead.label()}\nno-owner\t\nno-tab-at-all\n\nreal\t{dead.label()}\nreal\t\n")

    assert janitor.orphaned_projects() == {"real"}  # its empty value is no living owner


def test_kept_projects_are_those_with_the_keep_label(cli: FakeCli, janitor: Janitor) -> None:
    cli.script("ps", result=listing(("kept-a", "true"), ("kept-a", "true"), ("not-kept", "")))
    cli.script("network", result=listing(("kept-b", "true")))
    cli.script("volume", result=listing(("kept-c", "true")))

    assert janitor.kept_projects() == {"kept-a", "kept-b", "kept-c"}
    assert all(f"label={LABEL_KEEP}" in command for command in cli.commands)
    assert all(format_for(LABEL_KEEP) in command for command in cli.commands)


def test_remove_removes_the_projects_containers_networks_and_volumes(cli: FakeCli, janitor: Janitor) -> None:
    cli.script("ps", result="c1\nc2\n")
    cli.script("network", "ls", result="n1\n")
    cli.script("volume", "ls", result="v1\nv2\n")

    janitor.remove("proj")

    by_project = ["--filter", f"label={PROJECT_LABEL}=proj"]
    assert cli.commands == [
        ["docker", "ps", "--all", "--quiet", *by_project],
        ["docker", "rm", "--force", "--volumes", "c1", "c2"],
        ["docker", "network", "ls", "--quiet", *by_project],
        ["docker", "network", "rm", "n1"],
        ["docker", "volume", "ls", "--quiet", *by_project],
        ["docker", "volume", "rm", "--force", "v1", "v2"],
    ]


def test_remove_issues_no_removal_where_nothing_is_listed(cli: FakeCli, janitor: Janitor) -> None:
    cli.script("network", "ls", result="n1\n")

    janitor.remove("proj")

    assert [command[1:3] for command in cli.commands] == [
        ["ps", "--all"],
        ["network", "ls"],
        ["network", "rm"],
        ["volume", "ls"],
    ]


def docker_error(*command: str, stderr: str) -> DockerException:
    return DockerException(["docker", *command], 1, b"", stderr.encode())


def test_remove_tolerates_what_is_gone_meanwhile(cli: FakeCli, janitor: Janitor) -> None:
    cli.script("ps", result="c1\n")
    cli.script("rm", result=docker_error("rm", stderr="Error: No such container: c1"))
    cli.script("network", "ls", result="n1\n")
    cli.script("network", "rm", result=docker_error("network", "rm", stderr="Error: No such network: n1"))
    cli.script("volume", "ls", result="v1\n")

    janitor.remove("proj")  # does not raise, and goes on to the next kind

    assert cli.commands[-1] == ["docker", "volume", "rm", "--force", "v1"]


@pytest.mark.parametrize(
    "make_error",
    [
        lambda: docker_error("rm", stderr="Error response from daemon: permission denied"),
        lambda: DockerException(["docker", "rm"], 1, b"", None),  # stderr not captured
    ],
)
def test_remove_reraises_other_errors(
    cli: FakeCli, janitor: Janitor, make_error: Callable[[], DockerException]
) -> None:
    error = make_error()
    cli.script("ps", result="c1\n")
    cli.script("rm", result=error)

    with pytest.raises(DockerException) as raised:
        janitor.remove("proj")

    assert raised.value is error
    assert [command[1] for command in cli.commands] == ["ps", "rm"]  # stopped there


def test_a_listing_error_is_reraised_even_when_it_says_no_such(cli: FakeCli, janitor: Janitor) -> None:
    error = docker_error("ps", stderr="Error: No such object")
    cli.script("ps", result=error)

    with pytest.raises(DockerException) as raised:
        janitor.orphaned_projects()

    assert raised.value is error


# -- the stacks' temporary folders ----------------------------------------------------


def test_sweep_removes_only_folders_of_dead_owners(
    me: Owner, dead: Owner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    mine = make_workdir(me)
    orphan = make_workdir(dead)
    unmarked = tmp_path / f"{WORKDIR_PREFIX}someone-else"
    unmarked.mkdir()

    removed = sweep_workdirs(tmp_path)

    assert removed == [orphan]
    assert not orphan.exists()
    assert mine.is_dir()
    assert unmarked.is_dir()
    assert (mine / "owner").read_text() == me.label()
