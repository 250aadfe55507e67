"""The breakdown's tracing: it fills the per-service rows, and fails loudly when a seam is gone.

.venv/bin/python -m pytest benchmarks/tests        # `make bench` runs these first
"""

from __future__ import annotations

import json
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from benchmarks import breakdown, trace_plugin
from benchmarks.harness import REPO, base_env, leftovers, remove_objects, run_measured

# -- the seams, against a stand-in package (no engine) ----------------------------------------------


class Result:
    def __init__(self, ok: bool) -> None:
        self.ok = ok


class StandInProbe:
    def check(self, target: Any) -> Result:
        raise NotImplementedError


class AlwaysReady(StandInProbe):
    def check(self, target: Any) -> Result:
        return Result(True)


def _ignore(service: str | None, state: str, detail: str = "") -> None:
    pass


class StandInStack:
    """Says what the real stack says, for one service `cache`, unless told to forget `forget`."""

    services = ("cache",)
    project_name = "stand-in"
    forget = ""

    def __init__(self, settings: object, engine: object = None, listener: Any = _ignore) -> None:
        self.listener = listener

    def start(self) -> None:
        _start(self, AlwaysReady)

    def stop(self) -> None:
        self.listener(None, "stopped", "0.0 s")


@pytest.fixture
def fresh_trace() -> Iterator[None]:
    """The trace plugin's records emptied before and after (they are module-level)."""

    def clear() -> None:
        for records in (
            trace_plugin.EVENTS,
            trace_plugin.STATES,
            trace_plugin.STACKS,
            trace_plugin.SEAM_ERRORS,
        ):
            records.clear()

    clear()
    yield
    clear()


def _package(**replace: object) -> SimpleNamespace:
    probe = type("Probe", (StandInProbe,), {})
    ready = type("Ready", (probe,), {"check": AlwaysReady.check})
    stack = type("ComposeStack", (StandInStack,), {"start": lambda self: _start(self, ready)})
    return SimpleNamespace(**{"ComposeStack": stack, "Probe": probe, **replace})


def _start(self: StandInStack, probe: type[StandInProbe]) -> None:
    self.listener(None, "reusing", self.project_name)
    for service in self.services:
        self.listener(service, "waiting", "always")
        probe().check(SimpleNamespace(service=service))
        if self.forget != service:
            self.listener(service, "ready", "0.0 s")
    self.listener(None, "ready", "0.0 s")


@pytest.mark.usefixtures("fresh_trace")
def test_every_seam_is_traced_and_the_stack_still_hears_its_listener() -> None:
    package = _package()
    trace_plugin.install(package)
    heard: list[tuple[str | None, str]] = []

    stack = package.ComposeStack(
        None, listener=lambda service, state, detail="": heard.append((service, state))
    )
    stack.start()
    stack.stop()

    assert heard == [
        (None, "reusing"),
        ("cache", "waiting"),
        ("cache", "ready"),
        (None, "ready"),
        (None, "stopped"),
    ]
    assert [(s["service"], s["state"]) for s in trace_plugin.STATES] == heard
    names = [e["name"] for e in trace_plugin.EVENTS]
    assert names.count("probe check") == 1
    assert {"ComposeStack()", "stack.start", "stack.stop"} <= set(names)
    assert trace_plugin.STACKS[0]["services"] == ["cache"]
    assert trace_plugin.runtime_problems() == []


@pytest.mark.parametrize(
    ("replace", "seam"),
    [
        ({"ComposeStack": None}, "S1: pytest_tel3sis_compose.ComposeStack"),
        ({"ComposeStack": type("ComposeStack", (), {"stop": lambda self: None})}, "S1: ComposeStack.start()"),
        (
            {
                "ComposeStack": type(
                    "ComposeStack", (StandInStack,), {"__init__": lambda self, settings: None}
                )
            },
            "S1: ComposeStack(..., listener=...)",
        ),
        ({"Probe": None}, "S3: pytest_tel3sis_compose.Probe"),
    ],
)
@pytest.mark.usefixtures("fresh_trace")
def test_a_missing_seam_is_named_not_skipped(replace: dict[str, object], seam: str) -> None:
    with pytest.raises(trace_plugin.SeamMissing, match=seam.replace("(", r"\(").replace(")", r"\)")):
        trace_plugin.install(_package(**replace))


@pytest.mark.usefixtures("fresh_trace")
def test_a_service_the_listener_never_called_ready_fails_the_trace() -> None:
    package = _package()
    package.ComposeStack.forget = "cache"
    trace_plugin.install(package)

    package.ComposeStack(None).start()

    problems = trace_plugin.runtime_problems()
    assert len(problems) == 1
    assert "'cache' is 'ready'" in problems[0]


@pytest.mark.parametrize(
    "argv",
    [
        ["docker", "compose", "--file=a.yml", "--project-name=p", "up", "--detach"],
        ["/usr/lib/docker/cli-plugins/docker-compose", "--file=a.yml", "--project-name=p", "up", "--detach"],
    ],
)
def test_compose_reads_the_same_however_it_is_started(argv: list[str]) -> None:
    assert trace_plugin.short_command(argv) == "compose up --detach"


def test_a_session_without_the_plugin_registered_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "test_nothing.py").write_text("def test_nothing():\n    pass\n")
    # No entry-point plugins: the package's plugin is absent, not blocked, as a renamed one would be.
    env = base_env(
        PYTHONPATH=str(REPO), BENCH_TRACE=str(tmp_path / "trace.json"), PYTEST_DISABLE_PLUGIN_AUTOLOAD="1"
    )
    argv = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "benchmarks.trace_plugin"]
    log = tmp_path / "log"

    outcome = run_measured(argv, cwd=tmp_path, env=env, timeout=120, log=log)

    assert outcome.returncode == pytest.ExitCode.USAGE_ERROR, outcome.tail()
    assert "S4: no pytest plugin named 'tel3sis_compose'" in log.read_text()


# -- a real session on a tiny stack ---------------------------------------------------------------

TINY_STACK = """
services:
  cache:
    image: redis:7-bookworm
    command: ["redis-server", "--protected-mode", "no"]
    healthcheck: {test: ["CMD", "redis-cli", "ping"], interval: 1s, retries: 30}
  sleeper:
    image: redis:7-bookworm
    command: ["sleep", "infinity"]
    init: true
"""

TINY_TEST = """
def test_ready(compose_stack):
    assert set(compose_stack.ready_after) == {"cache", "sleeper"}
"""


@pytest.mark.integration
def test_a_real_session_fills_every_services_row(tmp_path: Path) -> None:
    (tmp_path / "docker-compose.yml").write_text(textwrap.dedent(TINY_STACK).lstrip())
    (tmp_path / "pytest.ini").write_text("[pytest]\ncompose_files = docker-compose.yml\n")
    (tmp_path / "test_tiny.py").write_text(textwrap.dedent(TINY_TEST).lstrip())
    trace_path = tmp_path / "trace.json"
    events = breakdown.EngineEvents()
    t0 = time.time()
    env = base_env(PYTHONPATH=str(REPO), BENCH_TRACE=str(trace_path), BENCH_T0=repr(t0))
    argv = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "benchmarks.trace_plugin"]
    outcome = run_measured(argv, cwd=tmp_path, env=env, timeout=180, log=tmp_path / "log")
    own = f"pytest-{outcome.pid}-"
    engine = breakdown.engine_timeline(events.stop(lambda project: project.startswith(own), t0))
    left = leftovers(lambda project: project.startswith(own))
    remove_objects(left)

    assert outcome.returncode == 0, outcome.tail()
    assert not left
    trace = json.loads(trace_path.read_text())
    assert trace["seam_errors"] == []
    run = {"seconds": outcome.seconds, "trace": trace, "engine": engine}
    rows = {label.strip(): (start, end, note) for label, start, end, note in breakdown.plugin_rows(run)}
    for service in ("cache", "sleeper"):
        start, end, note = rows[f"{service}: waiting -> ready"]
        assert start is not None, (service, rows)
        assert end is not None, (service, rows)
        assert start <= end, (service, rows)
        assert "checks" in note
    table = breakdown.service_table(run)
    assert table["cache"]["healthy (engine)"] is not None
    assert (
        table["cache"]["plugin ready"] >= table["cache"]["healthy (engine)"]
    )  # never ready before its check
    assert table["cache"]["ready - started"] > 0
    assert table["sleeper"]["plugin ready"] >= table["sleeper"]["started"]
    assert any(e["detail"].startswith("compose up") for e in trace["events"] if e["name"] == "docker CLI")
