"""Where a session's time goes: traced plugin sessions next to raw Compose's steps, per stack.

    .venv/bin/python -m benchmarks.breakdown --stack ordinary --runs 3 --json benchmarks/breakdown.json

The plugin sessions run with `-p benchmarks.trace_plugin` (see its list of the seams it needs),
which timestamps pytest's phases, the stack's start and stop, what the stack's listener is told
(each service waited on, and called ready), every probe check and every docker CLI process. Raw
Compose runs its steps one by one. For both, the engine's container events are recorded: when
each container was created and started, every exec in it (healthchecks are execs: their exit
codes and durations), and when its healthcheck first passed. So the per-service table shows,
for each service, when its container started, when its own check first passed and when the plugin
called it ready. A warm session also runs once under `python -X importtime`. Times are medians
over the runs, in seconds after the process was spawned.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import secrets
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks import harness
from benchmarks.harness import (
    REPO,
    STACKS,
    Stack,
    Workspace,
    base_env,
    leftovers,
    median,
    read_json,
    run_measured,
)
from benchmarks.scenarios import PluginCold, PluginWarm, ReferenceBare, ReferencePluginIdle, Scenario

Row = tuple[str, float | None, float | None, str]


class RunFailed(Exception):
    """One traced run failed its checks: reported, and left out of the medians."""


# -- the engine's side ------------------------------------------------------------------------------


class EngineEvents:
    """`docker events` for containers while a run lasts (our own child, stopped by its pid)."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            ["docker", "events", "--format", "{{json .}}", "--filter", "type=container"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=base_env(),
        )
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        time.sleep(0.3)  # connected before the run starts

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    def stop(self, project: Callable[[str], bool], t0: float) -> list[dict[str, Any]]:
        time.sleep(0.3)
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.reader.join(5)
        return parse_events(self.lines, project, t0)


def parse_events(lines: list[str], project: Callable[[str], bool], t0: float) -> list[dict[str, Any]]:
    events = []
    for line in lines:
        try:
            event = json.loads(line)
        except ValueError:
            continue
        attributes = event.get("Actor", {}).get("Attributes", {})
        if not project(attributes.get("com.docker.compose.project", "")):
            continue
        events.append(
            {
                "at": round(event["timeNano"] / 1e9 - t0, 3),
                "service": attributes.get("com.docker.compose.service", "?"),
                "action": event.get("Action", event.get("status", "")),
                "exec": attributes.get("execID"),
                "exit": attributes.get("exitCode"),
            }
        )
    return events


def engine_timeline(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per service: first create, start, healthy, kill, die, destroy; and every exec, paired."""
    out: dict[str, dict[str, Any]] = defaultdict(lambda: {"execs": []})
    names = {
        "create": "created",
        "start": "started",
        "health_status: healthy": "healthy",
        "kill": "killed",
        "die": "died",
        "destroy": "destroyed",
    }
    running: dict[str, dict[str, Any]] = {}
    for event in events:
        action, service = event["action"], event["service"]
        if action.startswith("exec_start"):
            command = action.partition(": ")[2]
            running[event["exec"]] = {"start": event["at"], "command": command}
        elif action == "exec_die" and event["exec"] in running:
            started = running.pop(event["exec"])
            out[service]["execs"].append({**started, "end": event["at"], "exit": int(event["exit"] or -1)})
        elif action in names and names[action] not in out[service]:
            out[service][names[action]] = event["at"]
    return dict(out)


def exec_summary(execs: list[dict[str, Any]]) -> dict[str, Any]:
    """Execs of one service (its healthchecks, and any probe commands): counts and durations."""
    ok = [e["end"] - e["start"] for e in execs if e["exit"] == 0]
    failed = [e["end"] - e["start"] for e in execs if e["exit"] != 0]
    first_ok = min((e["end"] for e in execs if e["exit"] == 0), default=None)
    return {
        "count": len(execs),
        "failed": len(failed),
        "failed_seconds_median": median(failed),
        "ok_seconds_median": median(ok),
        "first_ok_end": first_ok,
        "commands": sorted({e["command"] for e in execs}),
    }


# -- one traced run -------------------------------------------------------------------------------


def traced_plugin(
    ws: Workspace, scenario: Scenario, tag: str, prefix: str, timeout: float, *, importtime: bool = False
) -> dict[str, Any]:
    inv = scenario.invocation(ws, tag, prefix)
    trace_path = ws.path("records") / f"trace-{tag}.json"
    inv.argv += ["-p", "benchmarks.trace_plugin"]
    if importtime:
        # -s: pytest's capture would swallow what the interpreter reports while it is on.
        inv.argv[1:1] = ["-X", "importtime"]
        inv.argv.append("-s")
    events = EngineEvents()
    t0 = time.time()
    inv.env.update(PYTHONPATH=str(REPO), BENCH_TRACE=str(trace_path), BENCH_T0=repr(t0))
    logfile = ws.path("logs") / f"{tag}-{scenario.key.replace('/', '-')}.log"
    out = run_measured(inv.argv, cwd=inv.cwd, env=inv.env, timeout=timeout, log=logfile)
    check = scenario.check(ws, inv, out, measured=not tag.startswith("prime"))
    project = inv.project or ""
    docker_events = events.stop(lambda p: p == project, t0)
    trace = read_json(trace_path)
    at_exit = read_json(trace_path.with_name(trace_path.name + ".atexit"))
    if isinstance(trace, dict) and isinstance(at_exit, float):
        trace["marks"]["atexit (threads joined)"] = at_exit
    if isinstance(trace, dict) and trace.get("seam_errors"):
        raise RunFailed(
            f"{scenario.key} run {tag}: the trace plugin lost a seam: {'; '.join(trace['seam_errors'])}"
        )
    if check.problems or not isinstance(trace, dict):
        raise RunFailed(f"{scenario.key} run {tag} failed: {check.problems or 'no trace written'}")
    run = {
        "seconds": out.seconds,
        "trace": trace,
        "engine": engine_timeline(docker_events),
        "info": check.info,
    }
    if importtime:
        run["importtime"] = importtime_summary(logfile.read_text(errors="replace"))
    return run


def traced_raw(ws: Workspace, stack: Stack, tag: str, prefix: str, timeout: float) -> dict[str, Any]:
    project = f"{prefix}-{stack.name[:3]}-raw-{tag}"
    compose = ["docker", "compose", "-p", project, *stack.compose_args()]
    events = EngineEvents()
    t0 = time.time()
    steps: list[dict[str, Any]] = []

    def step(name: str, argv: list[str]) -> str:
        start = time.time()
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=base_env())
        steps.append({"name": name, "start": start - t0, "end": time.time() - t0})
        if done.returncode != 0:
            raise RunFailed(f"raw step {name} failed: {done.stderr}")
        return done.stdout.strip()

    try:
        step("docker compose up -d --wait", [*compose, "up", "-d", "--wait"])
        address = step(
            f"docker compose port web {stack.web_port}", [*compose, "port", "web", str(stack.web_port)]
        )
        step("curl GET /v1/health", ["curl", "-fsS", "--max-time", "10", f"http://{address}/v1/health"])
    finally:
        step("docker compose down -v", [*compose, "down", "-v"])
    seconds = time.time() - t0
    docker_events = events.stop(lambda p: p == project, t0)
    left = leftovers(lambda p: p == project)
    if left:
        harness.remove_objects(left)
        raise RunFailed(f"raw left {left}")
    return {"seconds": seconds, "steps": steps, "engine": engine_timeline(docker_events)}


# -- -X importtime ----------------------------------------------------------------------------------

_IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)")


def importtime_summary(text: str) -> dict[str, Any]:
    """Self time by top-level package of everything the process imported, and the total."""
    by_package: dict[str, float] = defaultdict(float)
    total = 0.0
    for line in text.splitlines():
        match = _IMPORT_LINE.match(line)
        if match:
            ms = int(match[1]) / 1000
            total += ms
            by_package[match[4].split(".")[0]] += ms
    top = dict(sorted(((k, round(v, 1)) for k, v in by_package.items()), key=lambda kv: -kv[1]))
    return {"total_self_ms": round(total, 1), "self_ms_by_package": top}


# -- turning traces into rows ---------------------------------------------------------------------


def _states(trace: dict[str, Any], service: str | None, state: str) -> list[float]:
    return [s["at"] for s in trace["states"] if s["service"] == service and s["state"] == state]


def _first(values: list[float]) -> float | None:
    return min(values) if values else None


def _processes(
    trace: dict[str, Any], start: float | None, end: float | None, thread: str | None = None
) -> str:
    if start is None or end is None:
        return ""
    calls = [
        e
        for e in trace["events"]
        if e["name"] == "docker CLI"
        and start - 0.0005 <= e["start"]
        and e["end"] <= end + 0.0005
        and (thread is None or e["thread"] == thread)
    ]
    return "; ".join(f"{c['detail'][:40]} {c['end'] - c['start']:.2f}" for c in calls)


def _cli(trace: dict[str, Any], verb: str) -> list[dict[str, Any]]:
    return [e for e in trace["events"] if e["name"] == "docker CLI" and e["detail"].startswith(verb)]


def plugin_rows(run: dict[str, Any]) -> list[Row]:
    """(label, start, end, note) rows of one traced session, in the order they happen."""
    trace = run["trace"]
    marks, events = trace["marks"], trace["events"]

    def spans(prefix: str) -> list[dict[str, Any]]:
        return [e for e in events if e["name"] == prefix or e["name"].startswith(prefix + " ")]

    rows: list[Row] = [
        ("interpreter start, import pytest, load -p plugins", 0.0, marks.get("trace plugin imported"), ""),
        (
            "entry-point plugins (incl. this one), ini, configure",
            marks.get("trace plugin imported"),
            marks.get("pytest_configure"),
            "",
        ),
        (
            "configure hooks -> sessionstart",
            marks.get("pytest_configure"),
            marks.get("pytest_sessionstart"),
            "",
        ),
        (
            "sessionstart -> collection finished (incl. header)",
            marks.get("pytest_sessionstart"),
            marks.get("collection finished"),
            _processes(trace, marks.get("pytest_sessionstart"), marks.get("collection finished")),
        ),
    ]
    setup = spans("pytest setup")
    rows.append(
        (
            "collection -> first setup",
            marks.get("collection finished"),
            setup[0]["start"] if setup else None,
            "",
        )
    )
    if setup:
        rows.append(("pytest setup (the fixtures)", setup[0]["start"], setup[0]["end"], ""))
    constructed = spans("ComposeStack()")
    if constructed:
        rows.append(
            (
                "  ComposeStack() (imports the engine layer)",
                constructed[0]["start"],
                constructed[0]["end"],
                "",
            )
        )
    start = spans("stack.start")
    if start:
        s0, s1 = start[0]["start"], start[0]["end"]
        rows.append(("  stack.start", s0, s1, ""))
        begun = _first(
            [
                t
                for state in ("building", "starting", "reusing")
                for t in _states(trace, None, state)
                if t >= s0
            ]
        )
        rows.append(
            (
                "    checks, config, override (before build/up)",
                s0,
                begun,
                _processes(trace, s0, begun, "MainThread"),
            )
        )
        building, starting = (
            _first(_states(trace, None, "building")),
            _first(_states(trace, None, "starting")),
        )
        if building is not None and starting is not None:
            rows.append(
                (
                    "    build (building -> starting)",
                    building,
                    starting,
                    _processes(trace, building, starting),
                )
            )
        up = [e for e in _cli(trace, "compose up") if s0 <= e["start"] <= s1]
        if up:
            rows.append(("    docker compose up", up[0]["start"], up[0]["end"], ""))
        first_wait = _first([t for s in trace["states"] if s["state"] == "waiting" for t in [s["at"]]])
        ready = _first(_states(trace, None, "ready"))
        rows.append(("    readiness (first wait -> stack ready)", first_wait, ready, ""))
        for service in sorted({s["service"] for s in trace["states"] if s["service"]}):
            waiting, done = (
                _first(_states(trace, service, "waiting")),
                _first(_states(trace, service, "ready")),
            )
            checks = [e for e in events if e["name"] == "probe check" and e["detail"] == service]
            note = ""
            if checks:
                kinds = sorted({c["probe"] for c in checks})
                note = f"{len(checks)} {'/'.join(kinds)} checks"
            rows.append((f"      {service}: waiting -> ready", waiting, done, note))
        rows.append(("    stack ready -> start returns", ready, s1, ""))
    for phase in ("call", "teardown"):
        found = spans(f"pytest {phase}")
        if found:
            label = f"pytest {phase}" + (" (the test's GET)" if phase == "call" else "")
            rows.append((label, found[0]["start"], found[0]["end"], ""))
    stop = [e for e in spans("stack.stop") if not setup or e["start"] >= setup[0]["end"]]
    if stop:
        rows.append(
            (
                "  stack.stop",
                stop[0]["start"],
                stop[0]["end"],
                _processes(trace, stop[0]["start"], stop[0]["end"]),
            )
        )
    finish = spans("pytest sessionfinish")
    if finish:
        rows.append(("pytest sessionfinish", finish[0]["start"], finish[0]["end"], ""))
    rows.append(
        (
            "terminal summary -> unconfigure",
            finish[0]["end"] if finish else None,
            marks.get("pytest_unconfigure"),
            "",
        )
    )
    if "atexit (threads joined)" in marks:
        rows.append(
            (
                "unconfigure -> threads joined, atexit",
                marks.get("pytest_unconfigure"),
                marks["atexit (threads joined)"],
                "",
            )
        )
        rows.append(("atexit -> process exit", marks["atexit (threads joined)"], run["seconds"], ""))
    else:
        rows.append(("unconfigure -> process exit", marks.get("pytest_unconfigure"), run["seconds"], ""))
    return rows


def service_table(run: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per service of one run: container start, own check passing, plugin's verdict, and the gaps."""
    trace, engine = run.get("trace"), run["engine"]
    out: dict[str, dict[str, Any]] = {}
    services = set(engine) | ({s["service"] for s in trace["states"] if s["service"]} if trace else set())
    for service in sorted(services):
        seen = engine.get(service, {"execs": []})
        execs = exec_summary(seen["execs"])
        row: dict[str, Any] = {
            "created": seen.get("created"),
            "started": seen.get("started"),
            "healthy (engine)": seen.get("healthy"),
            "execs": execs["count"],
            "execs failed": execs["failed"],
            "failed exec s": execs["failed_seconds_median"],
            "ok exec s": execs["ok_seconds_median"],
        }
        if trace:
            checks = [e for e in trace["events"] if e["name"] == "probe check" and e["detail"] == service]
            row["plugin waiting"] = _first(_states(trace, service, "waiting"))
            row["plugin ready"] = _first(_states(trace, service, "ready"))
            row["probe checks"] = len(checks)
        if row.get("plugin ready") is not None and row["healthy (engine)"] is not None:
            row["ready - healthy"] = row["plugin ready"] - row["healthy (engine)"]
        reference = row.get("plugin ready") if trace else row["healthy (engine)"]
        if reference is not None and row["started"] is not None:
            row["ready - started"] = reference - row["started"]
        out[service] = row
    return out


def merge_tables(tables: list[dict[str, dict[str, Any]]]) -> dict[str, dict[str, float | None]]:
    out: dict[str, dict[str, float | None]] = {}
    for service in sorted({s for t in tables for s in t}):
        keys: list[str] = []
        for t in tables:
            keys += [k for k in t.get(service, {}) if k not in keys]
        out[service] = {
            k: median([t[service][k] for t in tables if t.get(service, {}).get(k) is not None]) for k in keys
        }
    return out


def cli_totals(run: dict[str, Any]) -> dict[str, dict[str, float]]:
    totals: dict[str, dict[str, float]] = {}
    for event in run["trace"]["events"]:
        if event["name"] != "docker CLI":
            continue
        words = event["detail"].split()
        key = (
            " ".join(words[:2])
            if words and words[0] in ("compose", "container", "network", "volume", "image")
            else (words[0] if words else "?")
        )
        entry = totals.setdefault(key, {"calls": 0, "seconds": 0.0})
        entry["calls"] += 1
        entry["seconds"] += event["end"] - event["start"]
    return totals


def merge_rows(runs: list[list[Row]]) -> list[dict[str, Any]]:
    """Median start and duration of each label over the runs (labels in the first run's order)."""
    order: list[str] = []
    by_label: dict[str, list[tuple[float, float, str]]] = defaultdict(list)
    for rows in runs:
        for label, start, end, note in rows:
            if start is None or end is None:
                continue
            if label not in by_label:
                order.append(label)
            by_label[label].append((start, end, note))
    merged = []
    for label in order:
        values = by_label[label]
        merged.append(
            {
                "phase": label,
                "start": median([v[0] for v in values]),
                "seconds": median([v[1] - v[0] for v in values]),
                "runs": len(values),
                "note": values[len(values) // 2][2],
            }
        )
    return merged


def cpu_summary(runs: list[dict[str, Any]]) -> dict[str, float | None]:
    def at(key: str, field: str) -> float | None:
        return median(
            [r["trace"]["cpu"][key][field] for r in runs if field in r["trace"]["cpu"].get(key, {})]
        )

    return {
        "cpu s at trace plugin import (interpreter, pytest, -p plugins)": at("trace plugin imported", "self"),
        "cpu s at pytest_configure": at("pytest_configure", "self"),
        "cpu s of the pytest process, whole session": at("pytest_unconfigure", "self"),
        "cpu s of its reaped children (docker CLIs)": at("pytest_unconfigure", "children"),
    }


# -- printing -----------------------------------------------------------------------------------


def print_rows(title: str, rows: list[dict[str, Any]], total: float | None) -> None:
    print(f"\n{title}" + (f": median total {total:.2f} s" if total is not None else ""))
    print(f"  {'phase':<52}{'at s':>7}{'takes s':>9}  docker CLI calls in it (s)")
    for row in rows:
        print(f"  {row['phase']:<52}{row['start']:>7.2f}{row['seconds']:>9.2f}  {row['note'][:140]}")


_TABLE_KEYS = (
    "started",
    "healthy (engine)",
    "plugin waiting",
    "plugin ready",
    "ready - healthy",
    "ready - started",
    "execs",
    "execs failed",
    "failed exec s",
    "ok exec s",
    "probe checks",
)


def print_services(table: dict[str, dict[str, float | None]]) -> None:
    keys = [k for k in _TABLE_KEYS if any(k in row for row in table.values())]
    print("  per service (s after spawn; medians):")
    print(f"    {'service':<10}" + "".join(f"{k:>17}" for k in keys))
    for service, row in table.items():
        cells = []
        for key in keys:
            value = row.get(key)
            integral = key in ("execs", "execs failed", "probe checks")
            cells.append(
                f"{'-':>17}" if value is None else (f"{value:>17.0f}" if integral else f"{value:>17.2f}")
            )
        print(f"    {service:<10}" + "".join(cells))


# -- main ---------------------------------------------------------------------------------------


def _first_error(exc: Exception) -> str:
    lines = [line.strip() for line in str(exc).replace("\\n", "\n").splitlines()]
    errors = [line for line in lines if line.startswith("E ") or "Error" in line or "seam" in line]
    return (errors or lines or [""])[0][:300]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.breakdown", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--stack", default="all", choices=[*STACKS, "all"], help="(default all)")
    parser.add_argument("--runs", type=int, default=3, help="traced runs of each (default 3, at most 20)")
    parser.add_argument("--json", type=Path, default=REPO / "benchmarks" / "breakdown.json")
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args(argv)
    if not 1 <= args.runs <= 20:
        parser.error("--runs must be 1..20")
    if not harness.engine_answers():
        print("no Docker engine answers; run `bash scripts/bootstrap-docker.sh`", file=sys.stderr)
        return 2
    stacks = list(STACKS.values()) if args.stack == "all" else [STACKS[args.stack]]
    ws = Workspace.create(stacks)
    prefix = f"bench{secrets.token_hex(3)}"
    rng = random.Random(args.seed)
    traced: list[Scenario] = [ReferenceBare(), ReferencePluginIdle()]
    warm = {s.name: PluginWarm(s) for s in stacks}
    for stack in stacks:
        traced += [PluginCold(stack), warm[stack.name]]
    jobs: list[tuple[str, Stack | None, Scenario | None]] = [(f"{s.name}/raw", s, None) for s in stacks]
    jobs += [(s.key, None, s) for s in traced]
    results: dict[str, list[dict[str, Any]]] = {key: [] for key, _, _ in jobs}
    importtimes: dict[str, dict[str, Any]] = {}
    counter = 0
    problems: list[str] = []

    def prune(label: str) -> None:
        for kept in warm.values():
            inv = kept.prune_invocation(ws)
            run_measured(
                inv.argv,
                cwd=inv.cwd,
                env=inv.env,
                timeout=args.timeout,
                log=ws.path("logs") / f"prune-{kept.on.name}-{label}.log",
            )

    try:
        prune("before")
        for primed in warm.values():
            print(f"priming {primed.key} (unmeasured) ...", flush=True)
            for attempt in range(2):
                try:
                    traced_plugin(ws, primed, f"prime{attempt}", prefix, args.timeout)
                    break
                except RunFailed as exc:
                    problems.append(str(exc))
                    print(
                        f"  priming failed{', retrying' if attempt == 0 else ''}: {_first_error(exc)}",
                        flush=True,
                    )
        for n in range(args.runs):
            order = list(jobs)
            rng.shuffle(order)
            for key, on, job in order:
                counter += 1
                tag = f"{counter:03d}"
                try:
                    if job is None:
                        assert on is not None
                        run = traced_raw(ws, on, tag, prefix, args.timeout)
                    else:
                        run = traced_plugin(ws, job, tag, prefix, args.timeout)
                except RunFailed as exc:
                    problems.append(str(exc))
                    print(f"  run {n + 1} {key:<26} FAILED: {_first_error(exc)}", flush=True)
                    continue
                results[key].append(run)
                print(f"  run {n + 1} {key:<26} {run['seconds']:6.2f} s", flush=True)
        # Imports of a warm session, and of bare pytest for comparison: once each, not timed.
        for imported in [ReferenceBare(), *warm.values()]:
            counter += 1
            try:
                run = traced_plugin(
                    ws, imported, f"{counter:03d}-importtime", prefix, args.timeout, importtime=True
                )
                importtimes[imported.key] = run["importtime"]
            except RunFailed as exc:
                problems.append(str(exc))
    finally:
        prune("after")
        kept = {w.kept for w in warm.values() if w.kept}
        left = leftovers(lambda p: p.startswith(prefix) or p in kept)
        if left:
            print("removing leftovers: " + ", ".join(map(str, left)), file=sys.stderr)
            harness.remove_objects(left)
        ws.remove()

    report: dict[str, Any] = {"runs": args.runs, "environment": harness.versions(), "problems": problems}
    for stack in stacks:
        raw = results[f"{stack.name}/raw"]
        raw_rows = merge_rows([[(s["name"], s["start"], s["end"], "") for s in r["steps"]] for r in raw])
        raw_total = median([r["seconds"] for r in raw])
        print_rows(f"{stack.name}/raw: compose steps run one by one from Python", raw_rows, raw_total)
        raw_services = merge_tables([service_table(r) for r in raw])
        print_services(raw_services)
        report[f"{stack.name}/raw"] = {
            "median_seconds": raw_total,
            "rows": raw_rows,
            "services": raw_services,
            "seconds": [r["seconds"] for r in raw],
            "engine": [r["engine"] for r in raw],
        }
        for own in traced:
            if own.stack is stack:
                report[own.key] = summarise_traced(own.key, results[own.key], raw_total)
    for stackless in traced:
        if stackless.stack is None:
            report[stackless.key] = summarise_traced(stackless.key, results[stackless.key], None)
    for key, summary in importtimes.items():
        top = list(summary["self_ms_by_package"].items())[:10]
        print(
            f"\n-X importtime, {key}: {summary['total_self_ms']:.0f} ms of imports; self ms by package: "
            + ", ".join(f"{k} {v:.0f}" for k, v in top)
        )
    report["importtime"] = importtimes
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=1) + "\n")
    print(f"\nwritten: {args.json}")
    if problems:
        print(f"{len(problems)} failed run(s), left out of the medians; see 'problems' in the JSON")
        for problem in problems:
            print("  " + _first_error(Exception(problem)))
        return 2
    return 0


def summarise_traced(key: str, runs: list[dict[str, Any]], raw_total: float | None) -> dict[str, Any]:
    rows = merge_rows([plugin_rows(r) for r in runs])
    total = median([r["seconds"] for r in runs])
    print_rows(f"{key} (traced: -p benchmarks.trace_plugin)", rows, total)
    services = merge_tables([service_table(r) for r in runs]) if runs and runs[0]["engine"] else {}
    if services:
        print_services(services)
    totals: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for r in runs:
        for name, value in cli_totals(r).items():
            totals[name].append((value["calls"], value["seconds"]))
    cli = {
        k: {"calls": median([v[0] for v in vs]), "seconds": median([v[1] for v in vs])}
        for k, vs in totals.items()
    }
    if cli:
        print(
            "  docker CLI processes (median per session): "
            + ", ".join(
                f"{k} x{v['calls']:g} {v['seconds']:.2f} s"
                for k, v in sorted(cli.items(), key=lambda kv: -(kv[1]["seconds"] or 0))
            )
        )
    cpu = cpu_summary(runs) if runs else {}
    if cpu:
        print("  " + "; ".join(f"{k}: {v:.2f}" for k, v in cpu.items() if v is not None))
    return {
        "median_seconds": total,
        "ratio_to_raw": total / raw_total if total and raw_total else None,
        "seconds": [r["seconds"] for r in runs],
        "rows": rows,
        "services": services,
        "docker_cli": cli,
        "cpu": cpu,
        "traces": [r["trace"] for r in runs],
        "engine": [r["engine"] for r in runs],
    }


if __name__ == "__main__":
    sys.exit(main())
