"""Where a session's time goes: traced plugin-cold and plugin-warm sessions next to raw Compose's steps.

    .venv/bin/python -m benchmarks.breakdown --runs 3 --json benchmarks/breakdown.json

The plugin sessions run with `-p benchmarks.trace_plugin`, which timestamps pytest's phases, the
stack's lifecycle, every engine call, probe check and docker CLI process. Raw Compose runs its
steps one by one. For both, the engine's container events (create, start, health_status, die,
destroy) are recorded, so the table shows when the engine had the stack ready and when each tool
noticed. Times are medians over the runs, in seconds after the process was spawned.
"""

from __future__ import annotations

import argparse
import json
import random
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
    COMPOSE_FILES,
    REPO,
    Workspace,
    base_env,
    leftovers,
    median,
    read_json,
    run_measured,
)
from benchmarks.scenarios import ALL, PluginWarm, Scenario

TRACED = ("ref-pytest-bare", "ref-plugin-idle", "plugin-cold", "plugin-warm")


class RunFailed(Exception):
    """One traced run failed its checks: reported, and left out of the medians."""


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
        events = []
        for line in self.lines:
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
                }
            )
        return events


def engine_timeline(events: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Per service: first create, start, healthy; count of execs; first kill/die and destroy."""
    out: dict[str, dict[str, float]] = defaultdict(dict)
    for event in events:
        action = event["action"]
        key = {
            "create": "created",
            "start": "started",
            "health_status: healthy": "healthy",
            "kill": "killed",
            "die": "died",
            "destroy": "destroyed",
        }.get(action)
        if action.startswith("exec_start"):
            out[event["service"]]["execs"] = out[event["service"]].get("execs", 0) + 1
        elif key and key not in out[event["service"]]:
            out[event["service"]][key] = event["at"]
    return dict(out)


# -- one traced run -------------------------------------------------------------------------------


def traced_plugin(ws: Workspace, scenario: Scenario, tag: str, prefix: str, timeout: float) -> dict[str, Any]:
    inv = scenario.invocation(ws, tag, prefix)
    trace_path = ws.path("records") / f"trace-{tag}.json"
    inv.argv += ["-p", "benchmarks.trace_plugin"]
    events = EngineEvents()
    t0 = time.time()
    inv.env.update(PYTHONPATH=str(REPO), BENCH_TRACE=str(trace_path), BENCH_T0=repr(t0))
    out = run_measured(
        inv.argv,
        cwd=inv.cwd,
        env=inv.env,
        timeout=timeout,
        log=ws.path("logs") / f"{tag}-{scenario.name}.log",
    )
    check = scenario.check(ws, inv, out, measured=not tag.startswith("prime"))
    project = inv.project or ""
    docker_events = events.stop(lambda p: p == project, t0)
    trace = read_json(trace_path)
    at_exit = read_json(trace_path.with_name(trace_path.name + ".atexit"))
    if isinstance(trace, dict) and isinstance(at_exit, float):
        trace["marks"]["atexit (threads joined)"] = at_exit
    if check.problems or not isinstance(trace, dict):
        raise RunFailed(f"{scenario.name} run {tag} failed: {check.problems or 'no trace written'}")
    return {
        "seconds": out.seconds,
        "trace": trace,
        "engine": engine_timeline(docker_events),
        "info": check.info,
    }


def traced_raw(ws: Workspace, tag: str, prefix: str, timeout: float) -> dict[str, Any]:
    project = f"{prefix}-raw-{tag}"
    compose = ["docker", "compose", "-p", project, *(a for f in COMPOSE_FILES for a in ("-f", str(f)))]
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
        address = step("docker compose port web 3000", [*compose, "port", "web", "3000"])
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


# -- turning traces into rows ---------------------------------------------------------------------


def plugin_rows(run: dict[str, Any]) -> list[tuple[str, float | None, float | None, str]]:
    """(label, start, end, note) rows of one traced session, in the order they happen."""
    trace = run["trace"]
    marks, events = trace["marks"], trace["events"]

    def all_of(name: str, detail: str | None = None) -> list[dict[str, Any]]:
        # pytest's phases are named after the test: match them by prefix.
        return [
            e
            for e in events
            if (e["name"] == name or (name.startswith("pytest ") and e["name"].startswith(name + " ")))
            and (detail is None or e["detail"] == detail)
        ]

    def one(name: str, detail: str | None = None) -> tuple[float | None, float | None]:
        found = all_of(name, detail)
        return (found[0]["start"], found[-1]["end"]) if found else (None, None)

    def thread_of(name: str) -> str:
        found = all_of(name)
        return found[0]["thread"] if found else "MainThread"

    def cli_note(start: float | None, end: float | None, thread: str | None = "MainThread") -> str:
        if start is None or end is None:
            return ""
        calls = [
            e
            for e in events
            if e["name"] in ("docker CLI", "header: docker CLI")
            and start - 0.0005 <= e["start"]
            and e["end"] <= end + 0.0005
            and (thread is None or e["thread"] == thread)
        ]
        return "; ".join(f"{c['detail']} {c['end'] - c['start']:.2f}" for c in calls)

    rows: list[tuple[str, float | None, float | None, str]] = [
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
            "",
        ),
    ]
    start, end = one("report header (plugin)")
    rows.append(("  report header (plugin)", start, end, cli_note(start, end, None)))  # type: ignore[arg-type]
    setup = all_of("pytest setup")
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
    for label, name in (
        (
            "  ComposeStack() (imports engine + python_on_whales)",
            "ComposeStack.__init__ (imports engine, python_on_whales)",
        ),
        ("  stack.start", "stack.start"),
        ("    engine.check", "engine.check"),
        ("    plan_probes (engine.config)", "stack.plan_probes"),
        ("    engine.sweep_orphans", "engine.sweep_orphans"),
        ("    fingerprint (reuse)", "fingerprint.stack_fingerprint"),
        ("    write override", "override.write_override"),
        ("    reuse verdict (reuse)", "stack._reuse_verdict"),
        ("    engine.down before recreate (reuse)", "engine.down"),
        ("    engine.build", "engine.build"),
        ("    up (engine.up in a thread)", "stack._up_until"),
        ("    wait_until_ready", "readiness.wait_until_ready"),
    ):
        start, end = one(name)
        if name == "engine.down":  # only a down inside start counts here
            found = [e for e in all_of(name) if setup and e["end"] <= setup[0]["end"]]
            start, end = (found[0]["start"], found[0]["end"]) if found else (None, None)
        if start is not None:
            leaf = name not in ("stack.start", "readiness.wait_until_ready", "stack._up_until")
            note = cli_note(start, end, thread_of(name)) if leaf else ""
            if name == "stack._up_until":
                note = cli_note(start, end, "compose-up")
            rows.append((label, start, end, note))
    for service in ("redis", "web", "worker"):
        start, end = one("readiness per service", service)
        checks = [e for e in events if e["name"].startswith("probe ") and e["detail"] == service]
        statuses = all_of("engine.status", service)
        note = ""
        if checks:
            kinds = sorted({c["name"].split()[1].split(".")[0] for c in checks})
            durations = [c["end"] - c["start"] for c in checks]
            note = (
                f"{len(checks)} {'/'.join(kinds)} checks, {min(durations):.2f}-{max(durations):.2f} s each; "
                f"{len(statuses)} status calls, {sum(s['end'] - s['start'] for s in statuses):.2f} s"
            )
        if start is not None:
            rows.append((f"      {service} ready", start, end, note))
    for phase in ("call", "teardown"):
        found = all_of(f"pytest {phase}")
        if found:
            rows.append(
                (
                    f"pytest {phase}" + (" (the test's GET)" if phase == "call" else ""),
                    found[0]["start"],
                    found[0]["end"],
                    "",
                )
            )
    for label, name in (("  stack.stop", "stack.stop"), ("    engine.down", "engine.down")):
        found = [e for e in all_of(name) if not setup or e["start"] >= setup[0]["end"]]
        if found:
            rows.append(
                (label, found[0]["start"], found[0]["end"], cli_note(found[0]["start"], found[0]["end"]))
            )
    finish = all_of("pytest sessionfinish")
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
        rows.append(
            (
                "atexit -> process exit (interpreter finalization)",
                marks["atexit (threads joined)"],
                run["seconds"],
                "",
            )
        )
    else:
        rows.append(("unconfigure -> process exit", marks.get("pytest_unconfigure"), run["seconds"], ""))
    return rows


def cli_totals(run: dict[str, Any]) -> dict[str, dict[str, float]]:
    totals: dict[str, dict[str, float]] = {}
    for event in run["trace"]["events"]:
        if event["name"] not in ("docker CLI", "header: docker CLI"):
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


def merge_rows(runs: list[list[tuple[str, float | None, float | None, str]]]) -> list[dict[str, Any]]:
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


def merge_engine(runs: list[dict[str, dict[str, float]]]) -> dict[str, dict[str, float | None]]:
    out: dict[str, dict[str, float | None]] = {}
    for service in sorted({s for r in runs for s in r}):
        keys = sorted({k for r in runs for k in r.get(service, {})})
        out[service] = {k: median([r[service][k] for r in runs if k in r.get(service, {})]) for k in keys}
    return out


def print_rows(title: str, rows: list[dict[str, Any]], total: float | None) -> None:
    print(f"\n{title}" + (f" — median total {total:.2f} s" if total is not None else ""))
    print(f"  {'phase':<56}{'at s':>7}{'takes s':>9}  docker CLI calls in it (s)")
    for row in rows:
        print(f"  {row['phase']:<56}{row['start']:>7.2f}{row['seconds']:>9.2f}  {row['note'][:150]}")


def print_engine(engine: dict[str, dict[str, float | None]]) -> None:
    keys = ["created", "started", "healthy", "execs", "killed", "died", "destroyed"]
    print(f"  {'engine events':<14}" + "".join(f"{k:>10}" for k in keys))
    for service, values in engine.items():
        cells = []
        for k in keys:
            v = values.get(k)
            cells.append(
                f"{v:>10.0f}"
                if k == "execs" and v is not None
                else (f"{v:>10.2f}" if v is not None else f"{'-':>10}")
            )
        print(f"  {service:<14}" + "".join(cells))


def _first_error(exc: Exception) -> str:
    lines = [line.strip() for line in str(exc).replace("\\n", "\n").splitlines()]
    errors = [line for line in lines if line.startswith("E ") or "Error" in line or "Exception" in line]
    return (errors or lines or [""])[0][:200]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.breakdown", description=__doc__.split("\n\n")[0]
    )
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
    ws = Workspace.create()
    prefix = f"bench{secrets.token_hex(3)}"
    rng = random.Random(args.seed)
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in ("raw", *TRACED)}
    warm = ALL["plugin-warm"]
    counter = 0
    problems: list[str] = []
    try:
        run_measured(
            PluginWarm.prune_invocation(ws).argv,
            cwd=ws.path("warm"),
            env=base_env(),
            timeout=args.timeout,
            log=ws.path("logs") / "prune-before.log",
        )
        print("priming plugin-warm (unmeasured) ...", flush=True)
        for attempt in range(2):
            try:
                traced_plugin(ws, warm, f"prime{attempt}", prefix, args.timeout)
                break
            except RunFailed as exc:
                problems.append(str(exc))
                print(
                    f"  priming failed{', retrying' if attempt == 0 else ''}: {_first_error(exc)}", flush=True
                )
        for n in range(args.runs):
            order = list(results)
            rng.shuffle(order)
            for name in order:
                counter += 1
                tag = f"{counter:03d}"
                try:
                    if name == "raw":
                        run = traced_raw(ws, tag, prefix, args.timeout)
                    else:
                        run = traced_plugin(ws, ALL[name], tag, prefix, args.timeout)
                except RunFailed as exc:
                    problems.append(str(exc))
                    print(f"  run {n + 1} {name:<12} FAILED: {_first_error(exc)}", flush=True)
                    continue
                results[name].append(run)
                print(f"  run {n + 1} {name:<12} {run['seconds']:6.2f} s", flush=True)
    finally:
        run_measured(
            PluginWarm.prune_invocation(ws).argv,
            cwd=ws.path("warm"),
            env=base_env(),
            timeout=args.timeout,
            log=ws.path("logs") / "prune-after.log",
        )
        left = leftovers(
            lambda p: p.startswith(prefix) or (PluginWarm.kept is not None and p == PluginWarm.kept)
        )
        if left:
            print("removing leftovers: " + ", ".join(map(str, left)), file=sys.stderr)
            harness.remove_objects(left)
        ws.remove()

    report: dict[str, Any] = {"runs": args.runs, "environment": harness.versions(), "problems": problems}
    raw = results["raw"]
    raw_rows = merge_rows([[(s["name"], s["start"], s["end"], "") for s in r["steps"]] for r in raw])
    raw_total = median([r["seconds"] for r in raw])
    print_rows("raw compose (steps run one by one from Python)", raw_rows, raw_total)
    raw_engine = merge_engine([r["engine"] for r in raw])
    print_engine(raw_engine)
    report["raw"] = {
        "median_seconds": raw_total,
        "rows": raw_rows,
        "engine": raw_engine,
        "seconds": [r["seconds"] for r in raw],
    }
    for name in TRACED:
        runs = results[name]
        rows = merge_rows([plugin_rows(r) for r in runs])
        total = median([r["seconds"] for r in runs])
        print_rows(f"{name} (traced: -p benchmarks.trace_plugin)", rows, total)
        engine = merge_engine([r["engine"] for r in runs])
        if engine:
            print_engine(engine)
        totals: dict[str, list[tuple[float, float]]] = defaultdict(list)
        for r in runs:
            for key, value in cli_totals(r).items():
                totals[key].append((value["calls"], value["seconds"]))
        cli = {
            k: {"calls": median([v[0] for v in vs]), "seconds": median([v[1] for v in vs])}
            for k, vs in totals.items()
        }
        print(
            "  docker CLI processes (median per session): "
            + ", ".join(
                f"{k} x{v['calls']:g} {v['seconds']:.2f} s"
                for k, v in sorted(cli.items(), key=lambda kv: -kv[1]["seconds"])
            )
        )
        report[name] = {
            "median_seconds": total,
            "ratio_to_raw": total / raw_total if total and raw_total else None,
            "seconds": [r["seconds"] for r in runs],
            "rows": rows,
            "engine": engine,
            "docker_cli": cli,
            "traces": [r["trace"] for r in runs],
        }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=1) + "\n")
    print(f"\nwritten: {args.json}")
    if problems:
        print(f"{len(problems)} failed run(s), left out of the medians; see 'problems' in the JSON")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
