"""Stack ownership: the owner label, telling a dead owner, and the janitor that sweeps its stacks."""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
from dataclasses import replace
from pathlib import Path

import pytest

from pytest_tel3sis_compose.core.ownership import (
    KEPT_FOR_FAILURE,
    LABEL_FILES,
    LABEL_KEEP,
    LABEL_OWNER,
    WORKDIR_PREFIX,
    Janitor,
    Owner,
    files_key,
    make_workdir,
    sweep_workdirs,
)
from pytest_tel3sis_compose.errors import EngineError

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
    monkeypatch.setattr("pytest_tel3sis_compose.core.ownership._pid_space", lambda: "")

    assert replace(dead, space="").is_gone() is False


def test_a_live_pid_with_another_start_time_is_a_reused_pid_so_gone(me: Owner) -> None:
    assert me.is_gone() is False
    assert replace(me, started="1").is_gone() is True


def test_a_live_pid_with_no_recorded_start_time_is_not_gone(me: Owner) -> None:
    assert replace(me, started="").is_gone() is False


# -- the janitor -------------------------------------------------------------------------


class ListingEngine:
    """An engine whose labelled listings are scripted; removals are recorded."""

    def __init__(self, **rows: list[tuple[str, str]]) -> None:
        self.rows = rows
        self.removed: list[str] = []
        self.fail_on: set[str] = set()

    def labelled(self, label: str) -> list[tuple[str, str]]:
        if "listing" in self.fail_on:
            raise EngineError("the engine went away")
        return list(self.rows.get(label, []))

    def remove_project(self, project: str) -> None:
        if project in self.fail_on:
            raise EngineError(f"cannot remove {project}")
        self.removed.append(project)


def janitor_on(engine: ListingEngine) -> Janitor:
    return Janitor(engine)  # type: ignore[arg-type]  # only the listings are used


def test_orphaned_projects_are_those_whose_every_owner_is_gone(me: Owner, dead: Owner) -> None:
    elsewhere = replace(dead, host=f"not-{socket.gethostname()}")
    engine = ListingEngine(
        **{
            LABEL_OWNER: [
                ("dead-stack", dead.label()),
                ("half-dead", dead.label()),
                ("alive", me.label()),
                ("other-host", elsewhere.label()),
                ("garbled", "not an owner label"),
                ("net-only-dead", dead.label()),
                ("half-dead", me.label()),  # one owner still lives
            ]
        }
    )

    assert janitor_on(engine).orphaned_projects() == {"dead-stack", "net-only-dead"}


def test_kept_projects_are_those_with_the_keep_label() -> None:
    engine = ListingEngine(**{LABEL_KEEP: [("kept-a", "true"), ("kept-a", "true"), ("kept-b", "true")]})

    assert janitor_on(engine).kept_projects() == {"kept-a", "kept-b"}


def test_sweep_removes_the_orphans_and_tolerates_what_it_cannot(
    me: Owner, dead: Owner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    engine = ListingEngine(**{LABEL_OWNER: [("b", dead.label()), ("a", dead.label()), ("c", me.label())]})
    engine.fail_on = {"a"}  # another session removed it meanwhile, say

    assert janitor_on(engine).sweep() == ["b"]
    assert engine.removed == ["b"]


def test_sweep_gives_up_quietly_when_the_engine_cannot_list() -> None:
    engine = ListingEngine()
    engine.fail_on = {"listing"}

    assert janitor_on(engine).sweep() == []


def test_prune_removes_orphans_and_only_the_named_kept_stacks(dead: Owner) -> None:
    engine = ListingEngine(
        **{
            LABEL_OWNER: [("orphan", dead.label())],
            LABEL_KEEP: [("kept-here", "true"), ("kept-elsewhere", "true")],
        }
    )

    assert janitor_on(engine).prune({"kept-here", "never-kept"}) == ["kept-here", "orphan"]
    assert engine.removed == ["kept-here", "orphan"]


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


def test_prune_removes_stacks_kept_after_failures_only_of_the_compose_files_given(tmp_path: Path) -> None:
    mine, theirs = [tmp_path / "a.yml"], [tmp_path / "other" / "b.yml"]
    engine = ListingEngine(
        **{
            LABEL_KEEP: [("failed-here", KEPT_FOR_FAILURE), ("failed-elsewhere", KEPT_FOR_FAILURE)],
            LABEL_FILES: [("failed-here", files_key(mine)), ("failed-elsewhere", files_key(theirs))],
        }
    )

    assert janitor_on(engine).prune(set(), [mine]) == ["failed-here"]
    assert engine.removed == ["failed-here"]


def test_stacks_kept_after_failures_are_no_orphans(dead: Owner) -> None:
    engine = ListingEngine(
        **{
            LABEL_OWNER: [("kept", dead.label()), ("gone", dead.label())],
            LABEL_KEEP: [("kept", KEPT_FOR_FAILURE)],
        }
    )

    assert janitor_on(engine).orphaned_projects() == {"gone"}
