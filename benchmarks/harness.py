"""What the benchmark commands share: paths, the scenarios' workspace, measured subprocesses, Docker checks.

Every scenario is one subprocess, timed from spawn to exit. Nothing here imports the plugin:
the harness must not warm any cache the measured processes would otherwise pay for.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
PROJECT_LABEL = "com.docker.compose.project"

# Variables that would change what the measured sessions do.
_SCRUBBED_ENV = (
    "PYTEST_ADDOPTS",
    "PYTEST_PLUGINS",
    "PYTEST_XDIST_WORKER",
    "COVERAGE_PROCESS_START",
    "COVERAGE_FILE",
    "COMPOSE_PROJECT_NAME",
    "COMPOSE_FILE",
    "COMPOSE_PROFILES",
    "PYTHONPATH",
    # Python's default is to cache compiled modules, as on a developer's machine or a CI runner;
    # with this set, every Python scenario would compile pytest's and the plugin's sources anew.
    "PYTHONDONTWRITEBYTECODE",
)


def base_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED_ENV}
    env.update(extra)
    return env


# -- the stacks ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stack:
    """A compose stack the scenarios run: a `web` service whose GET /v1/health answers every value "ok"."""

    name: str
    compose_files: tuple[Path, ...]
    web_port: int
    """The container port of `web`, published on an ephemeral loopback port."""
    services: tuple[str, ...]
    description: str

    @property
    def directory(self) -> Path:
        """The project directory: Compose takes it from the first file."""
        return self.compose_files[0].parent

    def compose_args(self) -> list[str]:
        return [arg for f in self.compose_files for arg in ("-f", str(f))]


STACKS: dict[str, Stack] = {
    stack.name: stack
    for stack in (
        Stack(
            "reference",
            (REPO / "docker-compose.yml", REPO / "docker-compose.ci.yml"),
            3000,
            ("redis", "web", "worker"),
            "tuned for the plugin: x-tel3sis-probe on web (HTTP) and worker (log line), "
            "worker --without-mingle --without-gossip --pool=solo",
        ),
        Stack(
            "ordinary",
            (REPO / "benchmarks" / "stacks" / "ordinary" / "docker-compose.yml",),
            8000,
            ("redis", "web", "worker"),
            "written the ordinary way: native healthchecks only (redis-cli ping 1 s, web health 1 s, "
            "celery inspect ping -t 2 every 2 s), default worker flags, no probe declarations",
        ),
    )
}


# -- the scenarios' files ---------------------------------------------------------------------

_GET_HEALTH = """
def get_health(base_url):
    response = httpx.get(base_url + "/v1/health", timeout=10)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body and all(value == "ok" for value in body.values()), body
    assert base_url.startswith(("http://127.", "http://localhost", "http://[::1]")), base_url


def record(suffix="", **data):
    pathlib.Path(os.environ["BENCH_RECORD"] + suffix).write_text(json.dumps(data))
"""

_HEADER = "import json, os, pathlib\n\nimport httpx\n"

PLUGIN_TEST = (
    _HEADER
    + _GET_HEALTH
    + """

def test_health(compose_stack):
    get_health(compose_stack.url("web"))
    record(project=compose_stack.project_name)
"""
)

XDIST_TEST = (
    "import subprocess\n\nimport pytest\n"
    + _HEADER
    + _GET_HEALTH
    + """

@pytest.mark.parametrize("n", range(4))
def test_health(compose_stack, n):
    get_health(compose_stack.url("web"))
    # Which containers serve this worker: the same IDs everywhere means one stack, started once.
    listing = subprocess.run(
        ["docker", "ps", "-a", "--no-trunc",
         "--filter", f"label=com.docker.compose.project={compose_stack.project_name}",
         "--format", '{{.ID}} {{.Label "io.tel3sis.compose.session"}}'],
        capture_output=True, text=True, timeout=30, check=True,
    ).stdout.split()
    record(
        f".{n}",
        worker=os.environ.get("PYTEST_XDIST_WORKER", "controller"),
        project=compose_stack.project_name,
        containers=sorted(listing[0::2]),
        sessions=sorted(set(listing[1::2])),
    )
"""
)


def pytest_docker_conftest(stack: Stack) -> str:
    return f"""
import os

import pytest


@pytest.fixture(scope="session")
def docker_compose_file():
    return {[str(f) for f in stack.compose_files]!r}


@pytest.fixture(scope="session")
def docker_compose_project_name():
    return os.environ["BENCH_PROJECT"]


@pytest.fixture(scope="session")
def docker_setup():
    return ["up -d --wait"]  # images are prebuilt: no --build
"""


def pytest_docker_test(stack: Stack) -> str:
    return (
        _HEADER
        + _GET_HEALTH
        + f"""

def test_health(docker_services, docker_ip):
    port = docker_services.port_for("web", {stack.web_port})
    get_health(f"http://{{docker_ip}}:{{port}}")
    record(project=os.environ["BENCH_PROJECT"])
"""
    )


def testcontainers_conftest(stack: Stack) -> str:
    return f"""
import pytest
from testcontainers.compose import DockerCompose


@pytest.fixture(scope="session")
def compose():
    # The project name comes from COMPOSE_PROJECT_NAME: DockerCompose has no parameter for it.
    with DockerCompose(
        context={str(stack.directory)!r},
        compose_file_name={[str(f) for f in stack.compose_files]!r},
        wait=True,
    ) as running:
        yield running
"""


def testcontainers_test(stack: Stack) -> str:
    return (
        _HEADER
        + _GET_HEALTH
        + f"""

def test_health(compose):
    host, port = compose.get_service_host_and_port("web", {stack.web_port})
    get_health(f"http://{{host}}:{{port}}")
    record(project=os.environ["COMPOSE_PROJECT_NAME"])
"""
    )


TRIVIAL_TEST = """
def test_trivial():
    assert True
"""


def plugin_ini(stack: Stack) -> str:
    return "[pytest]\ncompose_files =\n" + "".join(f"    {f}\n" for f in stack.compose_files)


PLAIN_INI = "[pytest]\n"

# Raw Compose, as a person would type it: up --wait, ask the port, one request, down -v.
# Arguments: project, web's container port, compose files.
RAW_SCRIPT = r"""
set -uo pipefail
project=$1 port=$2
shift 2
dc=(docker compose -p "$project")
for file in "$@"; do dc+=(-f "$file"); done
status=0
if "${dc[@]}" up -d --wait; then
  if address=$("${dc[@]}" port web "$port") &&
    body=$(curl -fsS --max-time 10 "http://$address/v1/health"); then
    [[ $address == 127.* ]] || { echo "not loopback: $address" >&2; status=1; }
    [[ $body =~ ^\{(\"[^\"]+\":\"ok\",?)+\}$ ]] || { echo "unexpected health: $body" >&2; status=1; }
  else
    status=1
  fi
else
  status=1
fi
"${dc[@]}" down -v || status=1
exit $status
"""


@dataclass
class Workspace:
    """A temporary folder with one sub-folder per scenario and stack; removed at the end."""

    root: Path

    @classmethod
    def create(cls, stacks: Iterable[Stack] = ()) -> Workspace:
        root = Path(tempfile.mkdtemp(prefix="tel3sis-bench-"))
        # Reference sessions without a stack: bare pytest, and pytest with the plugin loaded
        # (its ini names the reference stack, which is never started).
        folders: dict[str, dict[str, str]] = {
            "trivial": {"pytest.ini": plugin_ini(STACKS["reference"]), "test_trivial.py": TRIVIAL_TEST},
        }
        for stack in stacks:
            folders.update(
                {
                    f"{stack.name}-plugin": {"pytest.ini": plugin_ini(stack), "test_bench.py": PLUGIN_TEST},
                    f"{stack.name}-warm": {"pytest.ini": plugin_ini(stack), "test_bench.py": PLUGIN_TEST},
                    f"{stack.name}-xdist": {"pytest.ini": plugin_ini(stack), "test_bench.py": XDIST_TEST},
                    f"{stack.name}-pytest_docker": {
                        "pytest.ini": PLAIN_INI,
                        "conftest.py": pytest_docker_conftest(stack),
                        "test_bench.py": pytest_docker_test(stack),
                    },
                    f"{stack.name}-testcontainers": {
                        "pytest.ini": PLAIN_INI,
                        "conftest.py": testcontainers_conftest(stack),
                        "test_bench.py": testcontainers_test(stack),
                    },
                }
            )
        for folder, files in folders.items():
            (root / folder).mkdir()
            for name, text in files.items():
                (root / folder / name).write_text(textwrap.dedent(text).lstrip())
        (root / "records").mkdir()
        (root / "logs").mkdir()
        return cls(root)

    def path(self, folder: str) -> Path:
        return self.root / folder

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


# -- measured subprocesses ----------------------------------------------------------------------


@dataclass
class Outcome:
    seconds: float
    returncode: int
    pid: int
    maxrss_kb: int
    """ru_maxrss from wait4: on Linux the larger of the process's own peak and its reaped children's."""
    log: Path
    timed_out: bool = False

    def tail(self, lines: int = 25) -> str:
        """The log's last lines, after the first error's opening lines (the plugin's diagnosis)."""
        try:
            text = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        first = next((i for i, line in enumerate(text) if re.search(r"\b\w+Error: ", line)), None)
        head = text[first : first + 10] if first is not None and first < len(text) - lines else []
        return "\n".join([*head, *(["..."] if head else []), *text[-lines:]])


class Children:
    """The process groups this harness started and has not reaped: stopped on interrupt."""

    def __init__(self) -> None:
        self.running: set[int] = set()
        self.lock = threading.Lock()

    def stop_all(self) -> None:
        with self.lock:
            pids = list(self.running)
        for pid in pids:
            _signal_group(pid, signal.SIGTERM)


CHILDREN = Children()


def _signal_group(pid: int, sig: int) -> None:
    # The group of a child started with start_new_session: only ours.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def run_measured(
    argv: Sequence[str], *, cwd: Path, env: dict[str, str], timeout: float, log: Path
) -> Outcome:
    """Run to completion, wall-clock timed from spawn to exit; stop its process group at the timeout.

    At the timeout the group gets SIGTERM (the sessions then take their stacks down), and
    SIGKILL 20 s later.
    """
    timed_out = threading.Event()

    def expire(pid: int) -> None:
        timed_out.set()
        _signal_group(pid, signal.SIGTERM)
        killer = threading.Timer(20, _signal_group, (pid, signal.SIGKILL))
        killer.daemon = True
        killer.start()

    with open(log, "wb") as out:
        started = time.perf_counter()
        process = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        with CHILDREN.lock:
            CHILDREN.running.add(process.pid)
        timer = threading.Timer(timeout, expire, (process.pid,))
        timer.daemon = True
        timer.start()
        try:
            while True:
                try:
                    _, status, usage = os.wait4(process.pid, 0)
                    break
                except InterruptedError:
                    continue
        except BaseException:
            _signal_group(process.pid, signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                _signal_group(process.pid, signal.SIGKILL)
                process.wait()
            raise
        finally:
            timer.cancel()
            with CHILDREN.lock:
                CHILDREN.running.discard(process.pid)
        seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped: keep Popen from waiting again
    return Outcome(seconds, process.returncode, process.pid, usage.ru_maxrss, log, timed_out.is_set())


def run_quiet(argv: Sequence[str], *, timeout: float = 60, cwd: Path | None = None) -> str:
    done = subprocess.run(
        list(argv), capture_output=True, text=True, timeout=timeout, check=True, cwd=cwd, env=base_env()
    )
    return done.stdout


# -- Docker: what is left of a project ----------------------------------------------------------


@dataclass(frozen=True)
class DockerObject:
    project: str
    kind: str  # container, network, volume
    ident: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind} {self.name} (project {self.project})"


def compose_objects() -> list[DockerObject]:
    """Every container, network and volume carrying a Compose project label."""
    found = []
    queries = (
        ("container", ["ps", "-a"], "{{.ID}}\t{{.Names}}"),
        ("network", ["network", "ls"], "{{.ID}}\t{{.Name}}"),
        ("volume", ["volume", "ls"], "{{.Name}}\t{{.Name}}"),
    )
    for kind, command, fields in queries:
        fmt = '{{.Label "' + PROJECT_LABEL + '"}}\t' + fields
        text = run_quiet(["docker", *command, "--filter", f"label={PROJECT_LABEL}", "--format", fmt])
        for line in text.splitlines():
            project, ident, name = line.split("\t")
            found.append(DockerObject(project, kind, ident, name))
    return found


def leftovers(match: Callable[[str], bool]) -> list[DockerObject]:
    return [obj for obj in compose_objects() if match(obj.project)]


def project_exists(project: str) -> bool:
    return bool(leftovers(lambda name: name == project))


def wait_settled(project: str, timeout: float = 120) -> bool:
    """Wait until no container of `project` is still `health: starting`; False at the timeout.

    A stack kept for reuse has usually long settled when a user's next session
    starts; just created, its first healthchecks (a `celery inspect ping` costs a
    core for most of a second) would still land in the run measured next.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        listed = subprocess.run(
            ["docker", "ps", "--filter", f"label={PROJECT_LABEL}={project}", "--format", "{{.Status}}"],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        if listed.returncode == 0 and "starting" not in listed.stdout:
            return True
        time.sleep(0.5)
    return False


def remove_objects(objects: Iterable[DockerObject]) -> None:
    objects = list(objects)
    for kind, command in (("container", ["rm", "-f", "-v"]), ("network", ["network", "rm"])):
        idents = [o.ident for o in objects if o.kind == kind]
        if idents:
            subprocess.run(["docker", *command, *idents], capture_output=True, timeout=120, check=False)
    volumes = [o.name for o in objects if o.kind == "volume"]
    if volumes:
        subprocess.run(
            ["docker", "volume", "rm", "-f", *volumes], capture_output=True, timeout=120, check=False
        )


# -- the environment --------------------------------------------------------------------------


def versions() -> dict[str, object]:
    def ask(argv: list[str]) -> str:
        try:
            return run_quiet(argv, timeout=30).strip()
        except (OSError, subprocess.SubprocessError):
            return "unavailable"

    packages: dict[str, str | None] = {}
    for name in (
        "pytest",
        "pytest-tel3sis-compose",
        "pytest-docker",
        "pytest-xdist",
        "testcontainers",
        "python-on-whales",
        "httpx",
    ):
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            packages[name] = None

    def git(*args: str) -> str:
        try:
            return run_quiet(["git", *args], timeout=30, cwd=REPO).strip()
        except (OSError, subprocess.SubprocessError):
            return "unavailable"

    measured_paths = [
        "pytest_tel3sis_compose",
        "docker-compose.yml",
        "docker-compose.ci.yml",
        "stack",
        "benchmarks/stacks",
    ]
    return {
        # The code measured: the package is under active change, so say which state of it ran.
        "git_commit": git("rev-parse", "--short", "HEAD"),
        "git_uncommitted_changes": git("status", "--porcelain", "--", *measured_paths).splitlines(),
        "docker_engine": ask(["docker", "version", "--format", "{{.Server.Version}}"]),
        "docker_cli": ask(["docker", "version", "--format", "{{.Client.Version}}"]),
        "compose": ask(["docker", "compose", "version", "--short"]),
        "python": platform.python_version(),
        "python_executable": PYTHON,
        "packages": packages,
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "curl": ask(["curl", "--version"]).split("\n")[0],
    }


def plugin_module(name: str = "tel3sis_compose") -> str:
    """The module pytest loads for the plugin (its pytest11 entry point), read without importing it."""
    found = [e.value for e in metadata.entry_points(group="pytest11") if e.name == name]
    if not found:
        raise SystemExit(f"no pytest11 entry point named {name!r}: `pip install -e .` first")
    return found[0].split(":")[0]


def load_average() -> list[float]:
    return list(os.getloadavg())


def engine_answers() -> bool:
    try:
        run_quiet(["docker", "version", "--format", "{{.Server.Version}}"], timeout=20)
        run_quiet(["docker", "compose", "version", "--short"], timeout=20)
    except (OSError, subprocess.SubprocessError):
        return False
    return True


def has_module(name: str) -> bool:
    done = subprocess.run(
        [PYTHON, "-c", f"import importlib.util, sys; sys.exit(importlib.util.find_spec({name!r}) is None)"],
        capture_output=True,
        timeout=60,
        check=False,
    )
    return done.returncode == 0


def median(values: Sequence[float]) -> float | None:
    ordered = sorted(values)
    if not ordered:
        return None
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def read_json(path: Path) -> object | None:
    try:
        data: object = json.loads(path.read_text())
        return data
    except (OSError, ValueError):
        return None


@dataclass
class Invocation:
    argv: list[str]
    cwd: Path
    env: dict[str, str]
    project: str | None = None
    """The Compose project, where the harness names it."""
    record: Path | None = None
    extra: dict[str, object] = field(default_factory=dict)
