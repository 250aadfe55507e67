"""Interrupted and killed sessions leave nothing behind; live sessions are never touched."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from python_on_whales import docker

from tests.integration.conftest import BASE_IMAGE, CACHE_WITH_VOLUME, leftovers, remove_project

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="signals and /proc as on Linux")

# A stack that never becomes ready, so a run is always caught mid-start.
SLOW_STACK = f"""
services:
  slow:
    image: {BASE_IMAGE}
    command: ["sh", "-c", "sleep 600"]
    init: true
    healthcheck: {{test: ["CMD", "test", "-f", "/tmp/never"], interval: 1s, retries: 1000}}
    volumes: [scratch:/scratch]
volumes:
  scratch: {{}}
"""

QUICK_STACK = CACHE_WITH_VOLUME

# A test that signals it runs, then waits to be interrupted or killed.
WAITING_TEST = """
import os, pathlib, time

def test_waits(compose_stack):
    pathlib.Path(os.environ["MARKER"]).write_text(compose_stack.project_name)
    time.sleep(300)
"""

QUICK_TEST = """
def test_quick(compose_stack):
    assert compose_stack.ready_after
"""


class Session:
    """One pytest session in a subprocess, on its own compose project."""

    def __init__(
        self, folder: Path, compose: str, test: str, extra_files: dict[str, str] | None = None
    ) -> None:
        folder.mkdir(parents=True)
        (folder / "docker-compose.yml").write_text(textwrap.dedent(compose))
        (folder / "test_inner.py").write_text(textwrap.dedent(test))
        for name, text in (extra_files or {}).items():
            (folder / name).write_text(textwrap.dedent(text))
        self.folder = folder
        self.project = f"crash-{secrets.token_hex(4)}"
        self.marker = folder / "running"
        self.process: subprocess.Popen[str] | None = None

    def start(self, *args: str) -> Session:
        env = {**os.environ, "MARKER": str(self.marker)}
        env = {k: v for k, v in env.items() if not k.startswith("COVERAGE_PROCESS")}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist",
             "--compose-project-name", self.project, *args],
            cwd=self.folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            # Its own process group, as a terminal gives a command: Ctrl-C reaches all of it.
            start_new_session=True,
        )  # fmt: skip
        return self

    def run(self, *args: str, timeout: float = 300) -> tuple[int, str]:
        self.start(*args)
        assert self.process is not None
        output, _ = self.process.communicate(timeout=timeout)
        return self.process.returncode, output

    def signal_and_wait(self, signum: int, timeout: float = 90) -> tuple[int, str]:
        assert self.process is not None
        self.process.send_signal(signum)
        output, _ = self.process.communicate(timeout=timeout)
        return self.process.returncode, output

    def ctrl_c(self) -> None:
        """What Ctrl-C in a terminal does: SIGINT to every process of the group."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGINT)


def wait_for(condition: Callable[[], bool], what: str, *running: Session, timeout: float = 120) -> None:
    """Wait until `condition` holds; fail early, with its output, if a session ends first."""
    deadline = time.monotonic() + timeout
    while not condition():
        for session in running:
            if session.process is not None and session.process.poll() is not None:
                output = session.process.stdout.read() if session.process.stdout else ""
                raise AssertionError(f"the session ended before {what}:\n{output}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def has_container(project: str) -> bool:
    return bool(docker.container.list(filters=[("label", f"com.docker.compose.project={project}")]))


@pytest.fixture
def sessions(tmp_path: Path) -> Iterator[Callable[..., Session]]:
    made: list[Session] = []

    def make(compose: str, test: str, extra_files: dict[str, str] | None = None) -> Session:
        made.append(Session(tmp_path / f"s{len(made)}", compose, test, extra_files))
        return made[-1]

    yield make
    for session in made:
        if session.process and session.process.poll() is None:
            session.process.kill()
            session.process.wait()
        remove_project(session.project)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_during_bring_up_leaves_nothing(sessions: Callable[..., Session], signum: int) -> None:
    session = sessions(SLOW_STACK, QUICK_TEST).start("--compose-timeout", "600")
    wait_for(lambda: has_container(session.project), "the stack's first container", session)

    code, output = session.signal_and_wait(signum)

    assert code == pytest.ExitCode.INTERRUPTED, output
    assert leftovers(session.project) == []


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_during_tests_leaves_nothing(sessions: Callable[..., Session], signum: int) -> None:
    session = sessions(QUICK_STACK, WAITING_TEST).start()
    wait_for(session.marker.exists, "the inner test to run", session)

    code, output = session.signal_and_wait(signum)

    assert code == pytest.ExitCode.INTERRUPTED, output
    assert leftovers(session.project) == []


def test_signal_during_build_leaves_nothing(sessions: Callable[..., Session]) -> None:
    # The token marks this build's step: an earlier run's interrupted build may still be sleeping.
    token = secrets.token_hex(8)
    dockerfile = f"FROM {BASE_IMAGE}\nRUN echo {token} && sleep 60\n"
    compose = """
    services:
      app:
        build: {context: ., dockerfile: Dockerfile.slow}
        image: crash-build-test:never
    """
    session = sessions(compose, QUICK_TEST, {"Dockerfile.slow": dockerfile}).start()
    wait_for(lambda: token in _processes(), "the build to run its slow step", session, timeout=60)

    code, output = session.signal_and_wait(signal.SIGINT)

    assert code == pytest.ExitCode.INTERRUPTED, output
    assert leftovers(session.project) == []


def test_killed_session_is_swept_by_the_next_and_live_session_survives(
    sessions: Callable[..., Session],
) -> None:
    killed = sessions(QUICK_STACK, WAITING_TEST).start()
    live = sessions(QUICK_STACK, WAITING_TEST).start()
    wait_for(
        lambda: killed.marker.exists() and live.marker.exists(),
        "both sessions to run their test",
        killed,
        live,
    )
    assert killed.process is not None
    killed.process.kill()  # SIGKILL: no cleanup can run
    killed.process.wait()
    assert leftovers(killed.project), "a killed session cannot have cleaned up"

    code, output = sessions(QUICK_STACK, QUICK_TEST).run()

    assert code == 0, output
    assert leftovers(killed.project) == []
    assert has_container(live.project)
    code, output = live.signal_and_wait(signal.SIGTERM)
    assert code == pytest.ExitCode.INTERRUPTED, output
    assert leftovers(live.project) == []


def _processes() -> str:
    # -ww: whole command lines (ps cuts them at 80 columns without a terminal).
    return subprocess.run(["ps", "-ww", "-eo", "args"], capture_output=True, text=True, check=True).stdout


# A service that ignores SIGTERM (sleep as PID 1, no init): a graceful stop waits it out.
STUBBORN_STACK = f"""
services:
  stubborn:
    image: {BASE_IMAGE}
    command: ["sleep", "600"]
"""


def test_two_ctrl_c_to_the_whole_group_during_a_slow_teardown_leave_nothing(
    sessions: Callable[..., Session],
) -> None:
    session = sessions(STUBBORN_STACK, WAITING_TEST).start("-o", "compose_down_timeout=15")
    wait_for(session.marker.exists, "the inner test to run", session)

    session.ctrl_c()  # interrupts the test; teardown starts a 15 s graceful down
    time.sleep(3)
    session.ctrl_c()  # a second one, while that down waits: it must still finish
    assert session.process is not None
    output, _ = session.process.communicate(timeout=90)

    assert session.process.returncode == pytest.ExitCode.INTERRUPTED, output
    assert leftovers(session.project) == []


def test_a_killed_session_leaves_no_docker_command_running(sessions: Callable[..., Session]) -> None:
    # No healthcheck: no exec events, so nothing makes an orphaned `docker events` write and fail.
    session = sessions(STUBBORN_STACK, WAITING_TEST).start()
    wait_for(session.marker.exists, "the inner test to run", session)
    assert session.project in _processes()  # the crash watch follows the stack's events

    assert session.process is not None
    session.process.kill()  # SIGKILL: nothing of the session can clean up
    session.process.wait()

    wait_for(
        lambda: session.project not in _processes(), "the killed session's docker commands to end", timeout=15
    )
