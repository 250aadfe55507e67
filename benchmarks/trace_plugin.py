"""pytest plugin for `benchmarks.breakdown`: one session's timeline, written to $BENCH_TRACE.

Loaded with `-p benchmarks.trace_plugin`, so it is imported before the plugin under test. Times
are seconds after $BENCH_T0 (the harness's clock just before it spawned this process). Never
used in the timed benchmark runs.

The package under test is refactored often, so this traces only through seams that are part of
its public surface or outside it altogether, and fails the session loudly (a usage error at
start, exit status 3 at the end, the reason on stderr and in the trace) when one is missing,
rather than writing a trace with empty rows:

- S1 `pytest_tel3sis_compose.ComposeStack`, constructed with a `listener` argument, with
  `start()`, `stop()` and the properties `services` and `project_name`;
- S2 the listener protocol: `listener(service, state, detail)`; for each service "waiting" when
  the plugin starts waiting on it and "ready" when it calls it ready (every service waited on,
  at least one per start); for the stack (service None) "building", "starting" or "reusing",
  "ready", "stopping", "stopped";
- S3 `pytest_tel3sis_compose.Probe`, the base class of every probe, with `check(target)`;
  `target.service` names the service;
- S4 the pytest plugin's name, "tel3sis_compose";
- S5 every docker CLI process the session runs is started with `subprocess.Popen` (the standard
  library; python-on-whales and `subprocess.run` both use it).
"""

from __future__ import annotations

import atexit
import functools
import inspect
import json
import os
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Generator
from typing import Any

import pytest

T0 = float(os.environ.get("BENCH_T0") or time.time())
PLUGIN_NAME = "tel3sis_compose"
EVENTS: list[dict[str, Any]] = []
"""Spans: pytest phases, stack.start/stop, probe checks, processes."""
STATES: list[dict[str, Any]] = []
"""What the stack's listener was told, in order."""
MARKS: dict[str, float] = {"trace plugin imported": time.time() - T0}
CPU: dict[str, dict[str, float]] = {"trace plugin imported": {"self": time.process_time()}}
STACKS: list[dict[str, Any]] = []
"""Each ComposeStack.start() seen: project, services, whether it returned, ready_after."""
SEAM_ERRORS: list[str] = []
_LOCK = threading.Lock()
_TRACED = "_bench_traced"


def now() -> float:
    return time.time() - T0


def mark(name: str) -> None:
    MARKS.setdefault(name, now())


def span(name: str, start: float, end: float, detail: str = "", **extra: Any) -> None:
    with _LOCK:
        EVENTS.append(
            {
                "name": name,
                "start": round(start, 4),
                "end": round(end, 4),
                "thread": threading.current_thread().name,
                "detail": detail,
                **extra,
            }
        )


@atexit.register  # registered first, so run last of the atexit callbacks (after threads are joined)
def _at_exit() -> None:
    path = os.environ.get("BENCH_TRACE")
    if path and not os.environ.get("PYTEST_XDIST_WORKER"):
        with open(path + ".atexit", "w") as out:
            out.write(repr(now()))


# -- S5: every process, docker CLI or not, from start to reaping --------------------------------

_SKIP_WITH_VALUE = {
    "--file",
    "-f",
    "--project-name",
    "-p",
    "--project-directory",
    "--env-file",
    "--config",
    "--context",
    "--format",
}


def short_command(argv: Any) -> str:
    """`docker compose --file a -p x up --detach` -> `compose up --detach`: the verb and its flags."""
    words = [str(argv)] if isinstance(argv, (str, bytes)) else [str(a) for a in argv]
    if not words:
        return "?"
    program = os.path.basename(words[0])
    # Compose's plugin executable, run directly, is `docker compose` all the same.
    out = [] if program == "docker" else ["compose"] if program == "docker-compose" else [program]
    skip = False
    for word in words[1:]:
        if skip:
            skip = False
            continue
        if word in _SKIP_WITH_VALUE:
            skip = True
            continue
        if word.startswith(("--file=", "--project-name=", "--project-directory=", "--format=")):
            continue
        out.append(word if len(word) < 40 else word[:12] + "...")
    return " ".join(out)


def _patch_popen() -> None:
    popen = subprocess.Popen
    if getattr(popen.__init__, _TRACED, False):
        return
    original_init, original_wait, original_poll = popen.__init__, popen.wait, popen.poll

    @functools.wraps(original_init)
    def init(self: subprocess.Popen[Any], *args: Any, **kwargs: Any) -> None:
        start = now()
        original_init(self, *args, **kwargs)
        argv = args[0] if args else kwargs.get("args", ())
        words = [str(argv)] if isinstance(argv, (str, bytes)) else [str(a) for a in argv]
        self._bench_started = (start, threading.current_thread().name, words)  # type: ignore[attr-defined]

    def finished(self: subprocess.Popen[Any]) -> None:
        started = self.__dict__.pop("_bench_started", None)
        if started is not None:
            start, thread, words = started
            docker = bool(words) and os.path.basename(words[0]) in ("docker", "docker-compose")
            with _LOCK:
                EVENTS.append(
                    {
                        "name": "docker CLI" if docker else "process",
                        "start": round(start, 4),
                        "end": round(now(), 4),
                        "thread": thread,
                        "detail": short_command(words),
                        "returncode": self.returncode,
                    }
                )

    @functools.wraps(original_wait)
    def wait(self: subprocess.Popen[Any], *args: Any, **kwargs: Any) -> Any:
        result = original_wait(self, *args, **kwargs)
        finished(self)
        return result

    @functools.wraps(original_poll)
    def poll(self: subprocess.Popen[Any]) -> Any:
        result = original_poll(self)
        if result is not None:
            finished(self)
        return result

    for function in (init, wait, poll):
        setattr(function, _TRACED, True)
    popen.__init__ = init  # type: ignore[method-assign]
    popen.wait = wait  # type: ignore[method-assign]
    popen.poll = poll  # type: ignore[method-assign]


if os.environ.get("BENCH_TRACE"):
    _patch_popen()  # at import, before any plugin runs a process (the prefetch runs one early)


# -- S1..S3: the stack's lifecycle, its listener, the probes --------------------------------------


class SeamMissing(Exception):
    pass


def _require(condition: bool, seam: str) -> None:
    if not condition:
        raise SeamMissing(seam)


def install(package: Any) -> None:
    """Wrap the package's seams; raise SeamMissing naming the first one it lacks."""
    stack_class = getattr(package, "ComposeStack", None)
    _require(inspect.isclass(stack_class), "S1: pytest_tel3sis_compose.ComposeStack (a class)")
    for name in ("start", "stop"):
        _require(callable(getattr(stack_class, name, None)), f"S1: ComposeStack.{name}()")
    for name in ("services", "project_name"):
        _require(hasattr(stack_class, name), f"S1: ComposeStack.{name}")
    original_init = stack_class.__init__  # type: ignore[misc]
    signature = inspect.signature(original_init)
    _require("listener" in signature.parameters, "S1: ComposeStack(..., listener=...)")
    probe_class = getattr(package, "Probe", None)
    _require(
        inspect.isclass(probe_class) and callable(getattr(probe_class, "check", None)),
        "S3: pytest_tel3sis_compose.Probe with check(target)",
    )
    if getattr(original_init, _TRACED, False):
        return

    @functools.wraps(original_init)
    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        bound = signature.bind(self, *args, **kwargs)
        given = bound.arguments.get("listener", signature.parameters["listener"].default)
        bound.arguments["listener"] = _listening(self, given)
        start = now()
        original_init(*bound.args, **bound.kwargs)
        span("ComposeStack()", start, now())

    setattr(init, _TRACED, True)
    stack_class.__init__ = init  # type: ignore[misc]
    _wrap_lifecycle(stack_class)
    _wrap_probes(probe_class)


def _listening(stack: Any, listener: Any) -> Callable[..., Any]:
    def traced(service: str | None, state: str, detail: str = "") -> Any:
        with _LOCK:
            STATES.append(
                {
                    "at": round(now(), 4),
                    "service": service,
                    "state": state,
                    "detail": detail,
                    "stack": id(stack),
                    "thread": threading.current_thread().name,
                }
            )
        if listener is not None and listener is not inspect.Parameter.empty:
            return listener(service, state, detail)
        return None

    return traced


def _wrap_lifecycle(stack_class: Any) -> None:
    original_start, original_stop = stack_class.start, stack_class.stop

    @functools.wraps(original_start)
    def start(self: Any, *args: Any, **kwargs: Any) -> Any:
        began = now()
        entry: dict[str, Any] = {"stack": id(self), "project": str(self.project_name), "returned": False}
        STACKS.append(entry)
        try:
            result = original_start(self, *args, **kwargs)
            entry["returned"] = True
            entry["services"] = list(self.services)
            entry["ready_after"] = dict(getattr(self, "ready_after", {}) or {})
            return result
        finally:
            span("stack.start", began, now(), entry["project"])

    @functools.wraps(original_stop)
    def stop(self: Any, *args: Any, **kwargs: Any) -> Any:
        began = now()
        try:
            return original_stop(self, *args, **kwargs)
        finally:
            span("stack.stop", began, now(), str(self.project_name))

    stack_class.start, stack_class.stop = start, stop


def _wrap_probes(probe_class: Any) -> None:
    classes, seen = [probe_class], set()
    while classes:
        cls = classes.pop()
        if cls in seen:
            continue
        seen.add(cls)
        classes.extend(cls.__subclasses__())
        check = cls.__dict__.get("check")
        if check is None or getattr(check, "__isabstractmethod__", False) or getattr(check, _TRACED, False):
            continue
        cls.check = _traced_check(cls.__name__, check)


def _traced_check(name: str, check: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(check)
    def traced(self: Any, target: Any, *args: Any, **kwargs: Any) -> Any:
        began = now()
        result = None
        try:
            result = check(self, target, *args, **kwargs)
            return result
        finally:
            span(
                "probe check",
                began,
                now(),
                str(getattr(target, "service", "?")),
                probe=name,
                ok=bool(getattr(result, "ok", False)),
            )

    setattr(traced, _TRACED, True)
    return traced


def runtime_problems() -> list[str]:
    """What the listener and the processes should have shown for each stack that started."""
    problems = []
    for entry in STACKS:
        if not entry["returned"]:
            continue  # a failed start: the session fails on its own
        own = [s for s in STATES if s["stack"] == entry["stack"]]
        stack_states = {s["state"] for s in own if s["service"] is None}
        # A stack may start only some of its services (the rest later): each one waited on must
        # be called ready, and at least one must have been waited on.
        waited = {s["service"] for s in own if s["service"] and s["state"] == "waiting"}
        if not waited:
            problems.append(
                f"S2: the listener was told of no service it waits on (stack {entry['project']}, "
                f"services {entry['services']})"
            )
        for service in sorted(waited):
            said = {s["state"] for s in own if s["service"] == service}
            if "ready" not in said:
                problems.append(
                    f"S2: the listener was not told {service!r} is 'ready' "
                    f"(stack {entry['project']}; it was told {sorted(said)})"
                )
        for state in ("ready",):
            if state not in stack_states:
                problems.append(f"S2: the listener was not told the stack is {state!r} ({entry['project']})")
        if "reusing" not in stack_states and not any(e["name"] == "docker CLI" for e in EVENTS):
            problems.append(
                "S5: a stack started and no docker CLI process was seen: the plugin reaches the engine "
                "another way now; trace that instead of subprocess.Popen"
            )
    return problems


# -- pytest hooks --------------------------------------------------------------------------------


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    mark("pytest_configure")
    CPU["pytest_configure"] = {"self": time.process_time()}
    if not config.pluginmanager.has_plugin(PLUGIN_NAME):
        if config.pluginmanager.is_blocked(PLUGIN_NAME):
            return  # deliberately disabled (-p no:tel3sis_compose: the bare-pytest reference session)
        SEAM_ERRORS.append(f"S4: no pytest plugin named {PLUGIN_NAME!r} is registered")
        raise pytest.UsageError(f"benchmarks.trace_plugin: {SEAM_ERRORS[-1]}")
    import pytest_tel3sis_compose

    try:
        install(pytest_tel3sis_compose)
    except SeamMissing as missing:
        SEAM_ERRORS.append(str(missing))
        raise pytest.UsageError(
            f"benchmarks.trace_plugin: the package no longer provides seam {missing}; "
            "see the list in benchmarks/trace_plugin.py and keep or replace it"
        ) from None


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart() -> None:
    mark("pytest_sessionstart")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_finish() -> None:
    mark("collection finished")


def _phase(name: str) -> Generator[None, Any, Any]:
    start = now()
    try:
        return (yield)
    finally:
        span(name, start, now())


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, Any, Any]:
    return (yield from _phase(f"pytest setup {item.name}"))


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, Any, Any]:
    return (yield from _phase(f"pytest call {item.name}"))


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, Any, Any]:
    return (yield from _phase(f"pytest teardown {item.name}"))


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_sessionfinish(session: pytest.Session) -> Generator[None, Any, Any]:
    start = now()
    try:
        return (yield)
    finally:
        span("pytest sessionfinish", start, now())
        problems = runtime_problems()
        if problems:
            SEAM_ERRORS.extend(problems)
            for problem in problems:
                print(f"benchmarks.trace_plugin: seam missing: {problem}", file=sys.stderr)
            session.exitstatus = pytest.ExitCode.INTERNAL_ERROR


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    mark("pytest_unconfigure")
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU["pytest_unconfigure"] = {
        "self": own.ru_utime + own.ru_stime,
        "self_user": own.ru_utime,
        "self_system": own.ru_stime,
        "children": children.ru_utime + children.ru_stime,
    }
    path = os.environ.get("BENCH_TRACE")
    if not path:
        return
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker:
        path += f".{worker}"
    with open(path, "w") as out:
        json.dump(
            {
                "marks": MARKS,
                "events": EVENTS,
                "states": STATES,
                "stacks": STACKS,
                "cpu": CPU,
                "pid": os.getpid(),
                "seam_errors": SEAM_ERRORS,
            },
            out,
        )
