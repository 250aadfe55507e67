"""The plugin on stacks written the way ordinary projects write them (tests/stacks/), unchanged.

Each stack is copied into an inner session's folder and run there with its own
pytest.ini and tests, as its users run it: fixed host ports on every interface,
`container_name`, no healthchecks, services that die.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from python_on_whales import docker

from tests.integration.conftest import leftovers, remove_project

STACKS = Path(__file__).resolve().parents[1] / "stacks"

# Added to the tutorial's own tests: while its stack runs, where are its ports published?
PORTS_ON_LOOPBACK = """
from python_on_whales import docker


def test_every_published_port_is_on_loopback(compose_stack):
    label = ("label", f"com.docker.compose.project={compose_stack.project_name}")
    containers = docker.container.list(filters=[label])
    bindings = [
        binding["HostIp"]
        for container in containers
        for bound in (container.network_settings.ports or {}).values()
        for binding in bound or []
    ]
    assert len(containers) == 4
    assert bindings, "nothing published"
    assert set(bindings) == {"127.0.0.1"}, bindings
"""


def built_images(project: str) -> list[str]:
    """The images Compose built and named after the project."""
    found = docker.image.list(filters=[("label", f"com.docker.compose.project={project}")])
    return [tag for image in found for tag in image.repo_tags]


def remove_built_images(project: str) -> None:
    found = docker.image.list(filters=[("label", f"com.docker.compose.project={project}")])
    if found:
        docker.image.remove(found, force=True)


@pytest.fixture
def stack_copy(pytester: pytest.Pytester) -> Callable[[str], Path]:
    def copy(name: str) -> Path:
        shutil.copytree(STACKS / name, pytester.path, dirs_exist_ok=True)
        return pytester.path

    return copy


@pytest.fixture
def projects() -> Iterator[list[str]]:
    """Project names for sessions run by hand; whatever is left of them is removed afterwards."""
    names = [f"foreign-{secrets.token_hex(3)}-{n}" for n in range(2)]
    yield names
    for name in names:
        remove_project(name)
        remove_built_images(name)


def session(folder: Path, project: str, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE_PROCESS")}
    return subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--compose-project-name", project, *args],
        cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def test_two_concurrent_sessions_of_the_tutorial_stack_both_pass_on_loopback(
    tmp_path: Path, projects: list[str]
) -> None:
    folder = tmp_path / "tutorial"
    shutil.copytree(STACKS / "tutorial", folder)
    (folder / "tests" / "test_ports.py").write_text(PORTS_ON_LOOPBACK)

    # One session with the stack's own HTTP probe for web; the other with no probe declared
    # at all, so every service falls back on the plugin's defaults.
    running = [session(folder, projects[0]), session(folder, projects[1], "-o", "compose_probes=")]
    outputs = [process.communicate(timeout=600)[0] for process in running]

    for process, output in zip(running, outputs, strict=True):
        assert process.returncode == 0, output
        assert "5 passed" in output, output
        assert "web: 8004 -> 127.0.0.1:<ephemeral> (container port 8000)" in output
        assert "dashboard: 5556 -> 127.0.0.1:<ephemeral> (container port 5555)" in output
        assert "web: container_name tutorial-web dropped (kept as an alias)" in output
    assert re.search(r"web +http://127\.0\.0\.1:\d+ .* published ports answer \(8000\)", outputs[1])
    assert [leftovers(project) for project in projects] == [[], []]
    # Compose built `<project>-web` and the like for each session: gone with its stack.
    assert [built_images(project) for project in projects] == [[], []]


# The healthcheck Celery projects usually give a worker; this one also logs to a file.
CELERY_PING = """
services:
  worker:
    healthcheck:
      test: ["CMD-SHELL", "celery --app=worker.celery inspect ping -d celery@$$HOSTNAME -t 2"]
      interval: 5s
      timeout: 10s
      retries: 5
"""


def test_a_worker_logging_to_a_file_is_pinged_with_its_own_healthcheck(
    tmp_path: Path, projects: list[str]
) -> None:
    folder = tmp_path / "tutorial"
    shutil.copytree(STACKS / "tutorial", folder)
    (folder / "docker-compose.health.yml").write_text(CELERY_PING)
    compose_files = ("--compose-file", "docker-compose.yml", "--compose-file", "docker-compose.health.yml")

    process = session(folder, projects[0], *compose_files, "-v")
    output = process.communicate(timeout=600)[0]

    assert process.returncode == 0, output
    assert "4 passed" in output, output
    # Its `ready.` line is in the file, not the container's log: the plugin pinged it anyway.
    assert re.search(r"worker +waiting on its healthcheck's celery ping", output), output
    assert re.search(r"worker +ready in \d+\.\d s", output), output
    assert leftovers(projects[0]) == []


@pytest.mark.parametrize(
    ("compose_file", "service", "code", "line"),
    [
        ("docker-compose.yml", "api", 3, "api: DATABASE_URL is not set"),
        ("docker-compose.late.yml", "worker", 5, "worker: lost connection to the broker"),
    ],
    ids=["exits-1s-after-start", "dies-4s-in-while-tests-run"],
)
def test_a_service_that_exits_after_start_fails_the_run_naming_it(
    pytester: pytest.Pytester,
    inner_project: str,
    stack_copy: Callable[[str], Path],
    compose_file: str,
    service: str,
    code: int,
    line: str,
) -> None:
    stack_copy("crashy")

    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--compose-file", compose_file)

    assert result.ret == pytest.ExitCode.TESTS_FAILED, result.stdout.str()
    result.stdout.fnmatch_lines(
        [
            f"StackCrashed: the compose stack {inner_project} (compose_stack) failed *:",
            f"service '{service}' exited with code {code} at *, after the stack was ready",
            "its last log lines:",
        ]
    )
    assert f"    {line}" in result.stdout.lines
    result.stdout.fnmatch_lines([f"  CRASHED: service '{service}' exited with code {code} at *"])
    # `inner_project` then checks that nothing of the stack is left.


def test_oneshot_stack_runs_its_migration_before_the_app(
    pytester: pytest.Pytester, inner_project: str, stack_copy: Callable[[str], Path]
) -> None:
    stack_copy("oneshot")

    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")

    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*migrate*completed successfully*"])
