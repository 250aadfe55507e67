"""The measured scenarios: how each one is started, and how its run is checked afterwards.

Every stack scenario brings one stack (see `harness.STACKS`) up until ready, makes one
`GET /v1/health` expecting 200 and every value "ok", and takes it all down. A scenario object
is bound to one stack; its `key` ("ordinary/plugin-cold") names it in reports.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from benchmarks.harness import (
    PYTHON,
    RAW_SCRIPT,
    REPO,
    STACKS,
    Invocation,
    Outcome,
    Stack,
    Workspace,
    base_env,
    leftovers,
    read_json,
    remove_objects,
)

PYTEST = [PYTHON, "-m", "pytest", "-p", "no:cacheprovider"]
_REUSE_LINE = re.compile(r"compose stack (\S+): (.+?)(?:; kept|$)", re.M)


@dataclass
class Check:
    problems: list[str]
    info: dict[str, object]


class Scenario:
    name = ""
    description = ""
    uses_stack = True
    needs_module: str | None = None

    def __init__(self, stack: Stack | None = None) -> None:
        if self.uses_stack and stack is None:
            raise ValueError(f"{self.name} runs on a stack")
        self.stack = stack

    @property
    def key(self) -> str:
        return f"{self.stack.name}/{self.name}" if self.stack and self.uses_stack else self.name

    @property
    def on(self) -> Stack:
        assert self.stack is not None, f"{self.name} runs on no stack"
        return self.stack

    def folder(self, ws: Workspace, kind: str) -> Path:
        return ws.path(f"{self.on.name}-{kind}")

    def invocation(self, ws: Workspace, tag: str, prefix: str) -> Invocation:
        raise NotImplementedError

    def check(self, ws: Workspace, inv: Invocation, outcome: Outcome, *, measured: bool = True) -> Check:
        problems: list[str] = []
        info: dict[str, object] = {}
        if outcome.timed_out:
            problems.append("timed out")
        if outcome.returncode != 0:
            problems.append(f"exit code {outcome.returncode}; log tail:\n{outcome.tail()}")
        if self.uses_stack and inv.record is not None and not self._recorded(inv):
            problems.append(
                f"the test did not record its request (no {inv.record.name}); log tail:\n{outcome.tail()}"
            )
        self.inspect(inv, outcome, problems, info, measured)
        left = leftovers(lambda project: self.owns(project, inv, outcome))
        if left:
            problems.append("left behind: " + ", ".join(map(str, left)))
            remove_objects(left)
        return Check(problems, info)

    def _recorded(self, inv: Invocation) -> bool:
        return inv.record is not None and inv.record.exists()

    def inspect(
        self, inv: Invocation, outcome: Outcome, problems: list[str], info: dict[str, object], measured: bool
    ) -> None:
        """Scenario-specific checks of a finished run."""

    def owns(self, project: str, inv: Invocation, outcome: Outcome) -> bool:
        """Whether a Compose project is this run's, and so must be gone after it."""
        return project == inv.project

    def _project(self, prefix: str, short: str, tag: str) -> str:
        return f"{prefix}-{self.on.name[:3]}-{short}-{tag}"


def _record_path(ws: Workspace, key: str, tag: str) -> Path:
    return ws.path("records") / f"{key.replace('/', '-')}-{tag}.json"


class Raw(Scenario):
    name = "raw"
    description = "docker compose up -d --wait; compose port; curl GET; down -v (bash)"

    def invocation(self, ws: Workspace, tag: str, prefix: str) -> Invocation:
        project = self._project(prefix, "raw", tag)
        files = [str(f) for f in self.on.compose_files]
        argv = ["bash", "-c", RAW_SCRIPT, "raw", project, str(self.on.web_port), *files]
        return Invocation(argv, ws.root, base_env(), project=project)


class Handwritten(Scenario):
    name = "handwritten"
    description = (
        "hand-tuned lower bound: up -d, poll the stack's own readiness signals every 100 ms "
        "in parallel, one GET, down -v -t 0 (Python, stdlib)"
    )

    def invocation(self, ws: Workspace, tag: str, prefix: str) -> Invocation:
        project = self._project(prefix, "hand", tag)
        script = REPO / "benchmarks" / "handwritten.py"
        argv = [PYTHON, str(script), self.on.name, project, *map(str, self.on.compose_files)]
        return Invocation(argv, ws.root, base_env(), project=project)


class PytestDocker(Scenario):
    name = "pytest-docker"
    description = "pytest session, pytest-docker's docker_services with docker_setup ['up -d --wait']"

    def invocation(self, ws: Workspace, tag: str, prefix: str) -> Invocation:
        project = self._project(prefix, "pd", tag)
        record = _record_path(ws, self.key, tag)
        env = base_env(BENCH_PROJECT=project, BENCH_RECORD=str(record))
        argv = [*PYTEST, "-p", "no:tel3sis_compose"]
        return Invocation(argv, self.folder(ws, "pytest_docker"), env, project=project, record=record)


class Testcontainers(Scenario):
    name = "testcontainers"
    description = "pytest session, a session fixture around testcontainers' DockerCompose(wait=True)"
    needs_module = "testcontainers"

    def invocation(self, ws: Workspace, tag: str, prefix: str) -> Invocation:
        project = self._project(prefix, "tc", tag)
        record = _record_path(ws, self.key, tag)
        env = base_env(COMPOSE_PROJECT_NAME=project, BENCH_RECORD=str(record))
        argv = [*PYTEST, "-p", "no:tel3sis_compose"]
        return Invocation(argv, self.folder(ws, "testcontainers"), env, project=project, record=record)


class PluginCold(Scenario):
    name = "plugin-cold"
    description = "pytest --compose-no-build, one test on compose_stack.url('web')"
    kind = "plugin"
    options: tuple[str, ...] = ("--compose-no-build",)

    def invocation(self, ws: Workspace, tag: str, prefix: str) -> Invocation:
        record = _record_path(ws, self.key, tag)
        env = base_env(BENCH_RECORD=str(record))
        return Invocation([*PYTEST, *self.options], self.folder(ws, self.kind), env, record=record)

    def inspect(
        self, inv: Invocation, outcome: Outcome, problems: list[str], info: dict[str, object], measured: bool
    ) -> None:
        data = read_json(inv.record) if inv.record else None
        if isinstance(data, dict):
            inv.project = str(data.get("project"))
            info["project"] = inv.project

    def owns(self, project: str, inv: Invocation, outcome: Outcome) -> bool:
        # The plugin names a session's project pytest-<pid>-<random>; <pid> is our child.
        return project == inv.project or project.startswith(f"pytest-{outcome.pid}-")


class PluginWarm(PluginCold):
    name = "plugin-warm"
    description = "as plugin-cold with --compose-reuse, reusing the stack an unmeasured run kept"
    kind = "warm"
    options = ("--compose-no-build", "--compose-reuse")

    def __init__(self, stack: Stack | None = None) -> None:
        super().__init__(stack)
        self.kept: str | None = None
        """The project the plugin keeps for this stack, once a run has said which."""

    def inspect(
        self, inv: Invocation, outcome: Outcome, problems: list[str], info: dict[str, object], measured: bool
    ) -> None:
        super().inspect(inv, outcome, problems, info, measured)
        match = _REUSE_LINE.search(outcome.log.read_text(errors="replace"))
        verdict = match[2] if match else None
        info["reuse"] = verdict
        if match:
            self.kept = match[1]
        if measured and verdict != "reused":
            problems.append(f"the kept stack was not reused (plugin said: {verdict!r})")
        kept = self.kept
        if kept and not leftovers(lambda project: project == kept):
            problems.append(f"the stack {kept} was not kept")

    def owns(self, project: str, inv: Invocation, outcome: Outcome) -> bool:
        # The kept stack stays on purpose; anything else of this run must be gone.
        return project != self.kept and project.startswith(f"pytest-{outcome.pid}-")

    def prune_invocation(self, ws: Workspace) -> Invocation:
        return Invocation([*PYTEST, "--compose-prune"], self.folder(ws, "warm"), base_env())


class PluginXdist(PluginCold):
    name = "plugin-xdist"
    description = "as plugin-cold with 4 tests under pytest -n 2 (one stack shared by the workers)"
    kind = "xdist"
    options = ("--compose-no-build", "-n", "2")
    needs_module = "xdist"

    def _recorded(self, inv: Invocation) -> bool:
        return inv.record is not None and len(self._records(inv)) == 4

    def _records(self, inv: Invocation) -> list[dict[str, object]]:
        assert inv.record is not None
        found = [read_json(inv.record.with_name(f"{inv.record.name}.{n}")) for n in range(4)]
        return [r for r in found if isinstance(r, dict)]

    def inspect(
        self, inv: Invocation, outcome: Outcome, problems: list[str], info: dict[str, object], measured: bool
    ) -> None:
        records = self._records(inv)
        projects = sorted({str(r["project"]) for r in records})
        container_sets = {tuple(cast("list[str]", r["containers"])) for r in records}
        sessions = {s for r in records for s in r["sessions"]}  # type: ignore[attr-defined]
        started_once = (
            len(records) == 4
            and len(projects) == 1
            and len(container_sets) == 1
            and len(next(iter(container_sets))) == len(self.on.services)
            and len(sessions) == 1
        )
        info.update(
            started_once=started_once,
            projects=projects,
            container_sets=len(container_sets),
            session_labels=len(sessions),
            workers=sorted({str(r["worker"]) for r in records}),
        )
        if len(projects) == 1:
            inv.project = projects[0]
        if records and not started_once:
            problems.append(
                f"the stack was not started exactly once: projects {projects}, "
                f"{len(container_sets)} container sets, {len(sessions)} session labels"
            )


class ReferenceBare(Scenario):
    name = "ref-pytest-bare"
    description = "reference, no stack: pytest with one trivial test, -p no:tel3sis_compose"
    uses_stack = False

    def invocation(self, ws: Workspace, tag: str, prefix: str) -> Invocation:
        return Invocation([*PYTEST, "-p", "no:tel3sis_compose"], ws.path("trivial"), base_env())

    def owns(self, project: str, inv: Invocation, outcome: Outcome) -> bool:
        return project.startswith(f"pytest-{outcome.pid}-")


class ReferencePluginIdle(ReferenceBare):
    name = "ref-plugin-idle"
    description = "reference, no stack: pytest with one trivial test, plugin loaded (header, hooks)"

    def invocation(self, ws: Workspace, tag: str, prefix: str) -> Invocation:
        return Invocation(list(PYTEST), ws.path("trivial"), base_env())


STACK_SCENARIOS: dict[str, type[Scenario]] = {
    cls.name: cls
    for cls in (Raw, Handwritten, PytestDocker, Testcontainers, PluginCold, PluginWarm, PluginXdist)
}
STACKLESS_SCENARIOS: dict[str, type[Scenario]] = {
    cls.name: cls for cls in (ReferenceBare, ReferencePluginIdle)
}
ALL_NAMES = [*STACK_SCENARIOS, *STACKLESS_SCENARIOS]
DEFAULT = [
    "raw",
    "handwritten",
    "pytest-docker",
    "testcontainers",
    "plugin-cold",
    "plugin-warm",
    "plugin-xdist",
    "ref-pytest-bare",
    "ref-plugin-idle",
]


def build(names: list[str], stacks: list[Stack]) -> list[Scenario]:
    """One scenario per stack for each stack scenario named, and one of each stackless one."""
    scenarios: list[Scenario] = []
    for stack in stacks:
        scenarios += [STACK_SCENARIOS[n](stack) for n in names if n in STACK_SCENARIOS]
    scenarios += [STACKLESS_SCENARIOS[n]() for n in names if n in STACKLESS_SCENARIOS]
    return scenarios


def scenario(name: str, stack: str | None = None) -> Scenario:
    """One scenario by name, on the named stack."""
    if name in STACKLESS_SCENARIOS:
        return STACKLESS_SCENARIOS[name]()
    return STACK_SCENARIOS[name](STACKS[stack or "reference"])
