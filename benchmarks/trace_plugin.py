"""pytest plugin for `benchmarks.breakdown`: timestamps of one session's phases, written to $BENCH_TRACE.

Loaded with `-p benchmarks.trace_plugin`, so it is imported before the plugin under test and can
wrap its functions: the stack's lifecycle, every engine call, every probe check, every docker CLI
process python-on-whales runs, and pytest's phases. Times are seconds after $BENCH_T0 (the
harness's clock just before it spawned this process). Never used in the timed benchmark runs.
"""

from __future__ import annotations

import atexit
import functools
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Generator
from typing import Any

import pytest

T0 = float(os.environ.get("BENCH_T0") or time.time())
EVENTS: list[dict[str, Any]] = []
MARKS: dict[str, float] = {"trace plugin imported": time.time() - T0}
_LOCK = threading.Lock()
_patched_run = False


@atexit.register  # registered first, so run last of the atexit callbacks (after threads are joined)
def _at_exit() -> None:
    path = os.environ.get("BENCH_TRACE")
    if path and not os.environ.get("PYTEST_XDIST_WORKER"):
        with open(path + ".atexit", "w") as out:
            out.write(repr(time.time() - T0))


def mark(name: str) -> None:
    MARKS.setdefault(name, time.time() - T0)


def span(name: str, start: float, end: float, detail: str = "") -> None:
    with _LOCK:
        EVENTS.append(
            {
                "name": name,
                "start": round(start - T0, 4),
                "end": round(end - T0, 4),
                "thread": threading.current_thread().name,
                "detail": detail,
            }
        )


MISSING: list[str] = []


def wrap(owner: Any, attr: str, name: str, detail: Callable[..., str] | None = None) -> None:
    """Time every call of owner.attr as a span; a name the package no longer has is noted, not fatal."""
    original = getattr(owner, attr, None)
    if original is None:
        MISSING.append(f"{getattr(owner, '__name__', owner)}.{attr}")
        return
    if getattr(original, "_traced", False):
        return

    @functools.wraps(original)
    def traced(*args: Any, **kwargs: Any) -> Any:
        start = time.time()
        try:
            return original(*args, **kwargs)
        finally:
            text = ""
            if detail is not None:
                try:
                    text = detail(*args, **kwargs)
                except Exception:  # a detail is a nicety; never break the session for it
                    text = "?"
            span(name, start, time.time(), text)

    traced._traced = True  # type: ignore[attr-defined]
    setattr(owner, attr, traced)


_SKIP_WITH_VALUE = {"--file", "--project-name", "--project-directory", "--env-file", "--config", "--context"}


def _short_command(argv: Any, *_: Any, **__: Any) -> str:
    words = [str(a) for a in argv]
    out: list[str] = []
    skip = False
    for word in words[1:]:
        if skip:
            skip = False
            continue
        if word in _SKIP_WITH_VALUE:
            skip = True
            continue
        out.append(word if len(word) < 40 else word[:12] + "...")
    return " ".join(out)


def _patch_docker_cli() -> None:
    """Trace every docker CLI process python-on-whales starts (each module holds its own `run`)."""
    global _patched_run
    if _patched_run or "python_on_whales.utils" not in sys.modules:
        return
    import python_on_whales.utils as utils

    original = utils.run
    wrap(utils, "run", "docker CLI", _short_command)
    traced = utils.run
    for module in list(sys.modules.values()):
        name = getattr(module, "__name__", "")
        if (
            name.startswith(("python_on_whales", "pytest_tel3sis_compose"))
            and getattr(module, "run", None) is original
        ):
            module.run = traced  # type: ignore[attr-defined]
    _patched_run = True


def _service(*args: Any, **_: Any) -> str:
    return str(args[1]) if len(args) > 1 else ""


def _target_service(probe: Any, target: Any, *_: Any, **__: Any) -> str:
    return str(getattr(target, "service", ""))


def _install() -> None:
    from pytest_tel3sis_compose import plugin, probes, readiness, reporting, stack

    cls = stack.ComposeStack
    original_init = cls.__init__

    @functools.wraps(original_init)
    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        start = time.time()
        original_init(self, *args, **kwargs)
        span("ComposeStack.__init__ (imports engine, python_on_whales)", start, time.time())
        _patch_docker_cli()
        engine = type(self.engine)
        if engine.__name__ == "WhalesEngine":
            for method in ("check", "config", "sweep_orphans", "build", "up", "down", "stop", "image_id"):
                wrap(engine, method, f"engine.{method}")
            for method in ("status", "execute", "port", "logs"):
                wrap(engine, method, f"engine.{method}", _service)
            wrap(engine, "_project_containers", "engine._project_containers")
            wrap(engine, "container_log", "engine.container_log")

    cls.__init__ = init  # type: ignore[method-assign]
    for method in ("start", "plan_probes", "stop", "_take_down", "_up_until", "_reuse_verdict", "_diagnose"):
        wrap(cls, method, f"stack.{method}")
    wrap(stack, "wait_until_ready", "readiness.wait_until_ready")
    wrap(stack, "stack_fingerprint", "fingerprint.stack_fingerprint")
    wrap(stack, "write_override", "override.write_override")
    wrap(readiness, "_wait_one", "readiness per service", _service)
    for probe in (
        "HttpProbe",
        "CommandProbe",
        "HealthcheckProbe",
        "RunningProbe",
        "CompletedProbe",
        "LogProbe",
    ):
        if hasattr(probes, probe):
            wrap(getattr(probes, probe), "check", f"probe {probe}.check", _target_service)
    wrap(plugin, "header_lines", "report header (plugin)")
    wrap(reporting, "_ask", "header: docker CLI", lambda argv: " ".join(argv[1:3]))
    wrap(plugin, "summary_lines", "terminal summary (plugin)")
    wrap(plugin, "attach_logs", "attach logs (plugin)")
    try:
        from pytest_tel3sis_compose import fixtures

        wrap(fixtures, "start_or_attach", "sharing.start_or_attach")
    except ImportError:
        pass


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    mark("pytest_configure")
    if config.pluginmanager.has_plugin("tel3sis_compose"):
        _install()


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart() -> None:
    mark("pytest_sessionstart")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_finish() -> None:
    mark("collection finished")


def _phase(name: str) -> Generator[None, Any, Any]:
    start = time.time()
    try:
        return (yield)
    finally:
        span(name, start, time.time())


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
def pytest_sessionfinish() -> Generator[None, Any, Any]:
    return (yield from _phase("pytest sessionfinish"))


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    mark("pytest_unconfigure")
    path = os.environ.get("BENCH_TRACE")
    if not path:
        return
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker:
        path += f".{worker}"
    with open(path, "w") as out:
        json.dump({"marks": MARKS, "events": EVENTS, "pid": os.getpid(), "not_traced": MISSING}, out)
