"""The engine matrix: the plugin on the engines users run, not only this machine's Docker.

Each engine is started by its bootstrap (scripts/bootstrap-<engine>.sh, also
`make <engine>`); an engine that cannot start here is skipped, with the
bootstrap's reason. On each, the reference stack's integration tests run
through the plugin in an inner session, a small stack with a native
healthcheck comes up ready, and interrupted or killed sessions leave nothing
in that engine's store.

Podman, and Docker spoken to at API 1.43 (as Docker 24 and older speak), are
marked (`-m podman`, `-m old_docker_api` run them alone).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from python_on_whales import DockerClient

from tests.integration.conftest import CACHE_WITH_PORT
from tests.integration.test_crash_safety import QUICK_TEST, WAITING_TEST, Session, wait_for

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the bootstraps are for Debian/Ubuntu")

REPO = Path(__file__).resolve().parents[2]

# A real client on the stack's published port, through the URL the plugin hands out.
PING_TEST = """
import os
import socket

def test_ping(compose_stack):
    host, port = compose_stack.endpoint("cache")
    assert host == "127.0.0.1"
    with socket.create_connection((host, port), timeout=5) as connection:
        connection.sendall(b"PING\\r\\n")
        assert connection.recv(16) == b"+PONG\\r\\n"
    # The engine's own check where it runs one at once while starting; else the plugin runs it.
    quick = os.environ.get("DOCKER_API_VERSION") is None and "podman" not in os.environ["DOCKER_HOST"]
    expected = "native healthcheck" if quick else "its healthcheck's test, run by the plugin"
    assert compose_stack.probes["cache"].describe() == expected
"""


@dataclass(frozen=True)
class Engine:
    name: str
    env: dict[str, str] = field(default_factory=dict)

    @property
    def docker(self) -> DockerClient:
        return DockerClient(host=self.env["DOCKER_HOST"])

    def leftovers(self, project: str) -> list[str]:
        """Every container, network and volume of the project in this engine's store."""
        label = [("label", f"com.docker.compose.project={project}")]
        docker = self.docker
        return (
            [f"container {c.name}" for c in docker.container.list(all=True, filters=label)]
            + [f"network {n.name}" for n in docker.network.list(filters=label)]
            + [f"volume {v.name}" for v in docker.volume.list(filters=label)]
        )

    def remove(self, project: str) -> None:
        label = [("label", f"com.docker.compose.project={project}")]
        docker = self.docker
        docker.container.remove(docker.container.list(all=True, filters=label), force=True, volumes=True)
        docker.network.remove(docker.network.list(filters=label))
        docker.volume.remove(docker.volume.list(filters=label))


def _bootstrap(name: str) -> Engine:
    script = REPO / "scripts" / f"bootstrap-{name}.sh"
    if os.geteuid() != 0:
        pytest.skip(f"{name}: {script.name} needs root (it installs packages and starts the engine)")
    env = {k: v for k, v in os.environ.items() if k != "DOCKER_HOST"}
    try:
        done = subprocess.run(
            ["bash", str(script)], env=env, capture_output=True, text=True, timeout=900, check=False
        )
    except subprocess.TimeoutExpired:
        pytest.skip(f"{name} cannot start here: {script.name} did not finish within 15 minutes")
    found = re.search(r"^export DOCKER_HOST=(\S+)", done.stdout, re.MULTILINE)
    if done.returncode != 0 or not found:
        reason = done.stderr.strip().splitlines()[-3:]
        pytest.skip(f"{name} cannot start here: {script.name} exited {done.returncode}: {' | '.join(reason)}")
    return Engine(name, {"DOCKER_HOST": found.group(1)})


def _main_engine_at_api_1_43() -> Engine:
    # Docker 26 spoken to at API 1.43, as a Docker 24 engine is: the client
    # and Compose then refuse what 1.44 brought, `start_interval` among it.
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    return Engine("docker-api-1.43", {"DOCKER_HOST": host, "DOCKER_API_VERSION": "1.43"})


ENGINES = [
    pytest.param("rootless-docker", id="rootless-docker"),
    pytest.param("podman", id="podman", marks=pytest.mark.podman),
    pytest.param("docker-api-1.43", id="docker-api-1.43", marks=pytest.mark.old_docker_api),
]


@pytest.fixture(scope="module", params=ENGINES)
def engine(request: pytest.FixtureRequest) -> Engine:
    name: str = request.param
    return _main_engine_at_api_1_43() if name == "docker-api-1.43" else _bootstrap(name)


@pytest.fixture
def on_engine(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Engine:
    """The engine, chosen for every session this test starts (they copy the environment)."""
    monkeypatch.delenv("DOCKER_API_VERSION", raising=False)
    for name, value in engine.env.items():
        monkeypatch.setenv(name, value)
    return engine


@pytest.fixture
def sessions(tmp_path: Path, on_engine: Engine) -> Iterator[Callable[..., Session]]:
    made: list[Session] = []

    def make(compose: str, test: str) -> Session:
        made.append(Session(tmp_path / f"s{len(made)}", compose, test))
        return made[-1]

    yield make
    for session in made:
        if session.process and session.process.poll() is None:
            session.process.kill()
            session.process.wait()
        on_engine.remove(session.project)


def test_reference_stack_tests_pass(on_engine: Engine) -> None:
    project = "engine-" + re.sub("[^a-z0-9]+", "-", f"{on_engine.name}-{os.getpid()}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE_PROCESS")}
    try:
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist",
             "tests/integration/test_reference_stack.py", "--compose-project-name", project],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=900, check=False,
        )  # fmt: skip
        left = on_engine.leftovers(project)
    finally:
        on_engine.remove(project)

    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"\b6 passed\b", done.stdout), done.stdout
    assert left == [], f"{on_engine.name} kept {left}"


def test_native_healthcheck_stack_is_ready_and_answers(sessions: Callable[..., Session]) -> None:
    session = sessions(CACHE_WITH_PORT, PING_TEST)

    code, output = session.run()

    assert code == 0, output
    assert "1 passed" in output


def test_ctrl_c_during_tests_leaves_nothing(sessions: Callable[..., Session], on_engine: Engine) -> None:
    session = sessions(CACHE_WITH_PORT, WAITING_TEST).start()
    wait_for(session.marker.exists, "the inner test to run", session)
    assert on_engine.leftovers(session.project), "the stack runs while its test does"

    session.ctrl_c()
    assert session.process is not None
    output, _ = session.process.communicate(timeout=90)

    assert session.process.returncode == pytest.ExitCode.INTERRUPTED, output
    assert on_engine.leftovers(session.project) == []


def test_killed_session_is_swept_by_the_next(sessions: Callable[..., Session], on_engine: Engine) -> None:
    killed = sessions(CACHE_WITH_PORT, WAITING_TEST).start()
    wait_for(killed.marker.exists, "the inner test to run", killed)
    assert killed.process is not None
    os.killpg(killed.process.pid, signal.SIGKILL)  # no cleanup can run
    killed.process.wait()
    assert on_engine.leftovers(killed.project), "a killed session cannot have cleaned up"

    code, output = sessions(CACHE_WITH_PORT, QUICK_TEST).run()

    assert code == 0, output
    assert on_engine.leftovers(killed.project) == []
