"""Run the benchmark: every scenario once per round, in a shuffled order, then import time and memory.

    .venv/bin/python -m benchmarks.run --rounds 5 --json benchmarks/results.json

Prints medians, minima and each median's ratio to raw Compose's, checks the issue's targets, and
writes everything as JSON. Exit status: 0 when every run passed its checks, 2 when one did not,
1 with --check when a target was missed.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import secrets
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from types import FrameType
from typing import Any

from benchmarks import harness
from benchmarks.harness import (
    COMPOSE_FILES,
    PYTHON,
    REPO,
    Workspace,
    base_env,
    leftovers,
    median,
    read_json,
    remove_objects,
    run_measured,
)
from benchmarks.scenarios import ALL, DEFAULT, PluginWarm, Scenario

TARGETS = {
    "cold": 0.75,  # plugin-cold median / raw median
    "warm": 0.20,  # plugin-warm median / raw median
    "import_ms": 150.0,  # import pytest_tel3sis_compose, fresh interpreter
}
IMPORT_SNIPPETS = {
    "pytest_tel3sis_compose": "import pytest_tel3sis_compose",
    "pytest_tel3sis_compose.plugin.hooks": "import pytest_tel3sis_compose.plugin.hooks",
    "pytest_tel3sis_compose.plugin.hooks (pytest already imported)": (
        "import pytest_tel3sis_compose.plugin.hooks"
    ),
}
_TIMER = "import time; t = time.perf_counter(); {stmt}; print(time.perf_counter() - t)"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="measured rounds, 1..100 (default 5)")
    parser.add_argument("--json", type=Path, default=REPO / "benchmarks" / "results.json", help="output")
    parser.add_argument(
        "--scenarios",
        default=",".join(DEFAULT),
        help=f"comma-separated, from: {', '.join(ALL)} (default: all but handwritten)",
    )
    parser.add_argument(
        "--with-handwritten", action="store_true", help="add the issue's hand-written bar as a scenario"
    )
    parser.add_argument("--warmup", type=int, default=1, help="unmeasured rounds first (default 1)")
    parser.add_argument("--timeout", type=float, default=300, help="seconds per subprocess (default 300)")
    parser.add_argument(
        "--import-runs", type=int, default=9, help="fresh interpreters per import (default 9)"
    )
    parser.add_argument("--memory-runs", type=int, default=3, help="runs per memory variant (default 3)")
    parser.add_argument("--seed", type=int, default=None, help="seed of the shuffles (default: random)")
    parser.add_argument("--no-build", action="store_true", help="skip the up-front `docker compose build`")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument(
        "--keep", action="store_true", help="keep the workspace (every run's log) and say where"
    )
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.scenarios.split(",") if n.strip()]
    if args.with_handwritten and "handwritten" not in names:
        names.append("handwritten")
    unknown = [n for n in names if n not in ALL]
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(unknown)}; known: {', '.join(ALL)}")
    if not 1 <= args.rounds <= 100 or not 0 <= args.warmup <= 10:
        parser.error("--rounds must be 1..100 and --warmup 0..10")
    if not 1 <= args.import_runs <= 100 or not 0 <= args.memory_runs <= 20:
        parser.error("--import-runs must be 1..100 and --memory-runs 0..20")
    args.names = names
    return args


def log(message: str) -> None:
    print(message, flush=True)


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.ws = Workspace.create()
        self.prefix = f"bench{secrets.token_hex(3)}"
        self.rng = random.Random(args.seed)
        self.scenarios: list[Scenario] = [ALL[n] for n in args.names]
        self.runs: dict[str, list[dict[str, Any]]] = {s.name: [] for s in self.scenarios}
        self.problems: list[str] = []
        self.counter = 0
        self.pids: list[int] = []

    # -- one run ---------------------------------------------------------------------------

    def execute(self, scenario: Scenario, label: str, *, measured: bool = True) -> dict[str, Any]:
        self.counter += 1
        tag = f"{self.counter:03d}"
        inv = scenario.invocation(self.ws, tag, self.prefix)
        logfile = self.ws.path("logs") / f"{tag}-{scenario.name}.log"
        outcome = run_measured(inv.argv, cwd=inv.cwd, env=inv.env, timeout=self.args.timeout, log=logfile)
        self.pids.append(outcome.pid)
        check = scenario.check(self.ws, inv, outcome, measured=measured)
        status = "ok" if not check.problems else "FAILED"
        extra = ""
        if "reuse" in check.info:
            extra = f" ({check.info['reuse']})"
        if "started_once" in check.info:
            extra = f" (started once: {check.info['started_once']}, workers {check.info.get('workers')})"
        log(f"  {label:<8} {scenario.name:<16} {outcome.seconds:7.2f} s  {status}{extra}")
        for problem in check.problems:
            message = f"{label} {scenario.name}: {problem}"
            self.problems.append(message)
            log("    " + problem.replace("\n", "\n    "))
        return {
            "seconds": outcome.seconds,
            "ok": not check.problems,
            "returncode": outcome.returncode,
            "wait4_maxrss_kb": outcome.maxrss_kb,
            "problems": check.problems,
            **check.info,
        }

    # -- phases ----------------------------------------------------------------------------

    def build(self) -> None:
        if self.args.no_build:
            return
        log("building the stack's images once (docker compose build) ...")
        argv = ["docker", "compose", *(a for f in COMPOSE_FILES for a in ("-f", str(f))), "build", "--quiet"]
        out = run_measured(
            argv, cwd=REPO, env=base_env(), timeout=900, log=self.ws.path("logs") / "000-build.log"
        )
        if out.returncode != 0:
            raise SystemExit(f"docker compose build failed:\n{out.tail()}")
        log(f"  built in {out.seconds:.1f} s")

    def prune_warm(self, label: str) -> None:
        if not any(s.name == "plugin-warm" for s in self.scenarios):
            return
        inv = PluginWarm.prune_invocation(self.ws)
        out = run_measured(
            inv.argv,
            cwd=inv.cwd,
            env=inv.env,
            timeout=self.args.timeout,
            log=self.ws.path("logs") / f"prune-{label}.log",
        )
        said = out.log.read_text(errors="replace").strip().splitlines()
        log(f"  prune ({label}): {said[-1] if said else ''} [{out.seconds:.2f} s]")
        if out.returncode != 0:
            self.problems.append(f"--compose-prune ({label}) exited {out.returncode}: {out.tail()}")
        if PluginWarm.kept and leftovers(lambda p: p == PluginWarm.kept):
            self.problems.append(f"--compose-prune ({label}) left {PluginWarm.kept}")

    def rounds(self) -> list[list[str]]:
        orders = []
        warm = next((s for s in self.scenarios if s.name == "plugin-warm"), None)
        if warm is not None:
            log("priming plugin-warm (unmeasured: creates the stack it keeps) ...")
            self.execute(warm, "prime", measured=False)
        for n in range(self.args.warmup):
            log(f"warm-up round {n + 1}/{self.args.warmup} (unmeasured)")
            for scenario in self._shuffled():
                self.execute(scenario, "warm-up")
        for n in range(self.args.rounds):
            order = self._shuffled()
            orders.append([s.name for s in order])
            log(f"round {n + 1}/{self.args.rounds}")
            for scenario in order:
                if not harness.engine_answers():
                    raise SystemExit(
                        "the Docker engine stopped answering; `bash scripts/bootstrap-docker.sh`"
                    )
                result = self.execute(scenario, f"r{n + 1}")
                result["round"] = n + 1
                self.runs[scenario.name].append(result)
        return orders

    def _shuffled(self) -> list[Scenario]:
        order = list(self.scenarios)
        self.rng.shuffle(order)
        return order

    def memory(self) -> dict[str, Any]:
        """Peak RSS of the pytest process itself: plugin-cold against bare pytest on a trivial test."""
        if self.args.memory_runs == 0:
            return {}
        variants = ["ref-pytest-bare", "ref-plugin-idle", "plugin-cold"]
        samples: dict[str, list[int]] = {n: [] for n in variants}
        log(f"memory: {self.args.memory_runs} runs each of {', '.join(variants)} (-p benchmarks.rss_plugin)")
        for _ in range(self.args.memory_runs):
            order = list(variants)
            self.rng.shuffle(order)
            for name in order:
                scenario = ALL[name]
                self.counter += 1
                tag = f"{self.counter:03d}"
                inv = scenario.invocation(self.ws, tag, self.prefix)
                rss_file = self.ws.path("records") / f"rss-{tag}.json"
                inv.argv += ["-p", "benchmarks.rss_plugin"]
                inv.env.update(PYTHONPATH=str(REPO), BENCH_RSS=str(rss_file))
                logfile = self.ws.path("logs") / f"{tag}-mem-{name}.log"
                out = run_measured(inv.argv, cwd=inv.cwd, env=inv.env, timeout=self.args.timeout, log=logfile)
                self.pids.append(out.pid)
                check = scenario.check(self.ws, inv, out)
                data = read_json(rss_file)
                if check.problems or not isinstance(data, dict):
                    self.problems.extend(f"memory {name}: {p}" for p in check.problems or ["no RSS written"])
                    continue
                samples[name].append(int(data["maxrss_kb"]))
        medians = {n: median(v) for n, v in samples.items()}
        bare = medians.get("ref-pytest-bare")
        result: dict[str, Any] = {"peak_rss_kb": samples, "median_peak_rss_kb": medians}
        if bare is not None:
            for name, key in (
                ("plugin-cold", "plugin_cold_cost_kb"),
                ("ref-plugin-idle", "plugin_loaded_cost_kb"),
            ):
                if medians.get(name) is not None:
                    result[key] = medians[name] - bare  # type: ignore[operator]
        return result

    def import_times(self) -> dict[str, Any]:
        """`import` of the package and of its pytest plugin, each in a fresh interpreter."""
        log(f"import time: {self.args.import_runs} fresh interpreters per module")
        samples: dict[str, list[float]] = {k: [] for k in IMPORT_SNIPPETS}
        env = base_env()

        def once(key: str) -> float:
            stmt = IMPORT_SNIPPETS[key]
            code = _TIMER.format(stmt=stmt)
            if "already" in key:
                code = "import pytest; " + code
            out = subprocess.run(
                [PYTHON, "-c", code],
                cwd=self.ws.root,
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
                check=True,
            )
            return float(out.stdout.strip())

        for key in samples:
            once(key)  # byte-code caches written, not timed
        for _ in range(self.args.import_runs):
            keys = list(samples)
            self.rng.shuffle(keys)
            for key in keys:
                samples[key].append(once(key))
        result: dict[str, Any] = {
            "seconds": samples,
            "median_ms": {k: round(median(v) * 1000, 1) for k, v in samples.items()},  # type: ignore[operator]
            "min_ms": {k: round(min(v) * 1000, 1) for k, v in samples.items()},
        }
        result["importtime_after_pytest"] = importtime_after_pytest(self.ws.root, env)
        result["fresh_interpreter_peak_rss_kb"] = import_rss(self.ws.root, env)
        return result

    def sweep(self) -> None:
        """Remove anything a run of this harness may have left (they are checked one by one too)."""
        pids = tuple(f"pytest-{pid}-" for pid in self.pids)
        left = leftovers(lambda p: p.startswith(self.prefix) or p.startswith(pids))
        if left:
            self.problems.append("left at the end: " + ", ".join(map(str, left)))
            remove_objects(left)


def importtime_after_pytest(cwd: Path, env: dict[str, str], runs: int = 3) -> dict[str, Any]:
    """-X importtime of the plugin after pytest: self time by top-level package, median of `runs`."""
    by_package: dict[str, list[float]] = {}
    by_module: dict[str, list[float]] = {}
    totals = []
    for _ in range(runs):
        done = subprocess.run(
            [PYTHON, "-X", "importtime", "-c", "import pytest; import pytest_tel3sis_compose.plugin.hooks"],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        rows = []
        for line in done.stderr.splitlines():
            match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)", line)
            if match:
                rows.append((int(match[1]) / 1000, len(match[3]), match[4]))
        end_of_pytest = next(i for i, r in enumerate(rows) if r[1] == 0 and r[2] == "pytest")
        after = rows[end_of_pytest + 1 :]  # what the plugin adds to a process that has pytest
        totals.append(sum(r[0] for r in after))
        packages: dict[str, float] = {}
        for ms, _, name in after:
            packages[name.split(".")[0]] = packages.get(name.split(".")[0], 0) + ms
            by_module.setdefault(name, []).append(ms)
        for name, ms in packages.items():
            by_package.setdefault(name, []).append(ms)
    package_ms = {k: round(median(v) or 0, 1) for k, v in by_package.items()}
    module_ms = {k: round(median(v) or 0, 1) for k, v in by_module.items()}
    return {
        "runs": runs,
        "total_ms": round(median(totals) or 0, 1),
        "self_ms_by_package": dict(sorted(package_ms.items(), key=lambda kv: -kv[1])),
        "heaviest_modules_self_ms": dict(sorted(module_ms.items(), key=lambda kv: -kv[1])[:12]),
    }


def import_rss(cwd: Path, env: dict[str, str]) -> dict[str, int]:
    """Peak RSS (KiB) of a fresh interpreter after each import: what the plugin's libraries weigh."""
    statements = {
        "pytest": "import pytest",
        "pytest + httpx": "import pytest, httpx",
        "pytest + pytest_tel3sis_compose.plugin.hooks": "import pytest, pytest_tel3sis_compose.plugin.hooks",
        "pytest + python_on_whales": "import pytest, python_on_whales",
        "pytest + plugin + engine (python_on_whales) + httpx": (
            "import pytest, httpx, pytest_tel3sis_compose.plugin.hooks, pytest_tel3sis_compose.engine"
        ),
    }
    out = {}
    for label, statement in statements.items():
        code = f"{statement}; import resource; print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
        samples = []
        for _ in range(3):
            done = subprocess.run(
                [PYTHON, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=60, check=True
            )
            samples.append(int(done.stdout.strip()))
        out[label] = int(median(samples) or 0)
    return out


def summarise(bench: Bench) -> dict[str, Any]:
    scenarios: dict[str, Any] = {}
    raw_runs = [r["seconds"] for r in bench.runs.get("raw", []) if r["ok"]]
    raw_median = median(raw_runs)
    for scenario in bench.scenarios:
        runs = bench.runs[scenario.name]
        good = [r["seconds"] for r in runs if r["ok"]]
        med = median(good)
        scenarios[scenario.name] = {
            "description": scenario.description,
            "runs": runs,
            "seconds": [r["seconds"] for r in runs],
            "failed_runs": sum(not r["ok"] for r in runs),
            "median": med,
            "min": min(good) if good else None,
            "ratio_to_raw": (med / raw_median) if med is not None and raw_median else None,
            "median_wait4_maxrss_kb": median([r["wait4_maxrss_kb"] for r in runs]),
        }
    return scenarios


def targets(scenarios: dict[str, Any], imports: dict[str, Any]) -> dict[str, Any]:
    def ratio(name: str) -> float | None:
        return scenarios.get(name, {}).get("ratio_to_raw")

    result: dict[str, Any] = {}
    for key, name in (("cold", "plugin-cold"), ("warm", "plugin-warm")):
        if name not in scenarios or "raw" not in scenarios:
            continue
        value = ratio(name)
        result[f"{name} <= {TARGETS[key]}x raw"] = {
            "value": value,
            "met": value is not None and value <= TARGETS[key],
        }
    xdist_runs = scenarios.get("plugin-xdist", {}).get("runs", [])
    if xdist_runs:
        once = all(r.get("started_once") for r in xdist_runs)
        result["pytest -n 2 starts the stack once"] = {"value": once, "met": once}
    import_ms = imports.get("median_ms", {}).get("pytest_tel3sis_compose")
    if import_ms is not None:
        result[f"import pytest_tel3sis_compose <= {TARGETS['import_ms']:g} ms"] = {
            "value": import_ms,
            "met": import_ms <= TARGETS["import_ms"],
        }
    return result


def print_report(
    scenarios: dict[str, Any], goals: dict[str, Any], memory: dict[str, Any], imports: dict[str, Any]
) -> None:
    log("")
    log(f"{'scenario':<17}{'runs':>5}{'failed':>7}{'median s':>10}{'min s':>8}{'x raw':>8}")
    for name, data in scenarios.items():
        med = f"{data['median']:.2f}" if data["median"] is not None else "-"
        low = f"{data['min']:.2f}" if data["min"] is not None else "-"
        ratio = f"{data['ratio_to_raw']:.2f}" if data["ratio_to_raw"] is not None else "-"
        log(f"{name:<17}{len(data['runs']):>5}{data['failed_runs']:>7}{med:>10}{low:>8}{ratio:>8}")
    if imports:
        log("")
        for key, value in imports["median_ms"].items():
            log(f"import {key}: median {value} ms (min {imports['min_ms'][key]} ms)")
        top = imports["importtime_after_pytest"]["self_ms_by_package"]
        rss = imports.get("fresh_interpreter_peak_rss_kb", {})
        if rss:
            log(
                "  peak RSS of a fresh interpreter after import (MiB): "
                + ", ".join(f"{k} {v / 1024:.1f}" for k, v in rss.items())
            )
        log(
            "  -X importtime after pytest, self ms by package: "
            + ", ".join(f"{k} {v}" for k, v in list(top.items())[:8])
        )
    if memory.get("median_peak_rss_kb"):
        log("")
        meds = memory["median_peak_rss_kb"]
        log(
            "peak RSS of the pytest process (median, MiB): "
            + ", ".join(f"{k} {v / 1024:.1f}" for k, v in meds.items() if v is not None)
        )
        if "plugin_cold_cost_kb" in memory:
            cost = memory["plugin_cold_cost_kb"] / 1024
            log(
                f"  plugin's memory cost, plugin-cold - bare pytest: {cost:.1f} MiB"
                + (
                    f"; loaded but unused: {memory['plugin_loaded_cost_kb'] / 1024:.1f} MiB"
                    if "plugin_loaded_cost_kb" in memory
                    else ""
                )
            )
    log("")
    for goal, data in goals.items():
        value = data["value"]
        shown = f"{value:.2f}x" if isinstance(value, float) and "raw" in goal else value
        if isinstance(value, float) and "ms" in goal:
            shown = f"{value} ms"
        log(f"{'MET   ' if data['met'] else 'MISSED'} {goal}: {shown}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def terminate(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, terminate)
    if not harness.engine_answers():
        print(
            "no Docker engine with Compose v2 answers; run `bash scripts/bootstrap-docker.sh`",
            file=sys.stderr,
        )
        return 2
    bench = Bench(args)
    missing = [s.name for s in bench.scenarios if s.needs_module and not harness.has_module(s.needs_module)]
    if missing:
        print(
            f"missing packages for {', '.join(missing)}: .venv/bin/pip install -e '.[bench]'", file=sys.stderr
        )
        bench.ws.remove()
        return 2
    started = datetime.now(timezone.utc)
    environment = harness.versions()
    environment["load_average_start"] = harness.load_average()
    environment["other_compose_projects_at_start"] = sorted({o.project for o in harness.compose_objects()})
    log(f"workspace {bench.ws.root}; projects {bench.prefix}-*; seed {args.seed}")
    log(
        f"docker {environment['docker_engine']}, compose {environment['compose']}, "
        f"python {environment['python']}, testcontainers {environment['packages']['testcontainers']}"
    )
    orders: list[list[str]] = []
    memory: dict[str, Any] = {}
    imports: dict[str, Any] = {}
    clock = time.monotonic()
    try:
        bench.build()
        bench.prune_warm("before")
        orders = bench.rounds()
        bench.prune_warm("after")
        memory = bench.memory()
        imports = bench.import_times()
    except KeyboardInterrupt:
        log("interrupted: cleaning up")
        harness.CHILDREN.stop_all()
        bench.problems.append("interrupted")
    finally:
        try:
            if PluginWarm.kept and leftovers(lambda p: p == PluginWarm.kept):
                bench.prune_warm("cleanup")
            bench.sweep()
        finally:
            if args.keep:
                log(f"kept the workspace with every run's log: {bench.ws.root}")
            else:
                bench.ws.remove()
    environment["load_average_end"] = harness.load_average()
    scenarios = summarise(bench)
    goals = targets(scenarios, imports)
    print_report(scenarios, goals, memory, imports)
    result = {
        "started": started.isoformat(timespec="seconds"),
        "duration_seconds": round(time.monotonic() - clock, 1),
        "rounds": args.rounds,
        "warmup_rounds": args.warmup,
        "seed": args.seed,
        "environment": environment,
        "compose_files": [str(f.relative_to(REPO)) for f in COMPOSE_FILES],
        "orders": orders,
        "scenarios": scenarios,
        "medians": {k: v["median"] for k, v in scenarios.items()},
        "ratios_to_raw": {k: v["ratio_to_raw"] for k, v in scenarios.items()},
        "xdist_started_once": [r.get("started_once") for r in bench.runs.get("plugin-xdist", [])],
        "memory": memory,
        "import": imports,
        "targets": goals,
        "problems": bench.problems,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    log(f"\nwritten: {args.json}")
    if bench.problems:
        log(f"{len(bench.problems)} problem(s):")
        for problem in bench.problems:
            log("  " + problem.splitlines()[0])
        return 2
    if args.check and not all(g["met"] for g in goals.values()):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
