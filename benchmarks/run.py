"""Run the benchmark: each scenario on each chosen stack once per round, shuffled; then imports and memory.

    .venv/bin/python -m benchmarks.run --stack all --rounds 5 --json benchmarks/results.json

Prints, per stack, medians, minima and each median's ratio to raw Compose's and to the hand-tuned
script's (all from the same interleaved rounds), checks the targets, and writes everything as
JSON. Exit status: 0 when every run passed its checks, 2 when one did not, 1 with --check when a
target was missed.
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
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from types import FrameType
from typing import Any

from benchmarks import harness
from benchmarks.harness import (
    PYTHON,
    REPO,
    STACKS,
    Stack,
    Workspace,
    base_env,
    leftovers,
    median,
    project_exists,
    read_json,
    remove_objects,
    run_measured,
    wait_settled,
)
from benchmarks.scenarios import ALL_NAMES, DEFAULT, PluginWarm, Scenario, build


@dataclass(frozen=True)
class Target:
    """`scenario`'s median on `stack` is at most `limit` times `baseline`'s, from the same rounds."""

    stack: str
    scenario: str
    baseline: str
    limit: float
    why: str

    def __str__(self) -> str:
        return f"{self.stack}: {self.scenario} <= {self.limit:g}x {self.baseline}"


# The targets of issue 12 (speed on stacks we did not tune).
TARGETS = (
    Target("ordinary", "plugin-cold", "handwritten", 1.10, "within 10% of the hand-tuned lower bound"),
    Target("ordinary", "plugin-cold", "raw", 0.75, "cold, on a stack written the ordinary way"),
    Target("reference", "plugin-cold", "raw", 0.65, "no worse than before issue 12"),
    Target("reference", "plugin-warm", "raw", 0.12, "warm (--compose-reuse)"),
    Target("ordinary", "plugin-warm", "raw", 0.12, "warm (--compose-reuse)"),
)
IMPORT_TARGET_MS = 150.0  # import pytest_tel3sis_compose, fresh interpreter
# The module pytest loads for the plugin, from its entry point: it moves when the package is refactored.
PLUGIN_MODULE = harness.plugin_module()
IMPORT_SNIPPETS = {
    "pytest_tel3sis_compose": "import pytest_tel3sis_compose",
    PLUGIN_MODULE: f"import {PLUGIN_MODULE}",
    f"{PLUGIN_MODULE} (pytest already imported)": f"import {PLUGIN_MODULE}",
}
_TIMER = "import time; t = time.perf_counter(); {stmt}; print(time.perf_counter() - t)"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--stack",
        default="all",
        choices=[*STACKS, "all"],
        help="the stack(s) every stack scenario runs on, interleaved in one run (default all)",
    )
    parser.add_argument("--rounds", type=int, default=5, help="measured rounds, 1..100 (default 5)")
    parser.add_argument("--json", type=Path, default=REPO / "benchmarks" / "results.json", help="output")
    parser.add_argument(
        "--scenarios",
        default=",".join(DEFAULT),
        help=f"comma-separated, from: {', '.join(ALL_NAMES)} (default: all)",
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
    unknown = [n for n in names if n not in ALL_NAMES]
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(unknown)}; known: {', '.join(ALL_NAMES)}")
    if not 1 <= args.rounds <= 100 or not 0 <= args.warmup <= 10:
        parser.error("--rounds must be 1..100 and --warmup 0..10")
    if not 1 <= args.import_runs <= 100 or not 0 <= args.memory_runs <= 20:
        parser.error("--import-runs must be 1..100 and --memory-runs 0..20")
    args.names = names
    args.stacks = list(STACKS.values()) if args.stack == "all" else [STACKS[args.stack]]
    return args


def log(message: str) -> None:
    print(message, flush=True)


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.stacks: list[Stack] = args.stacks
        self.ws = Workspace.create(self.stacks)
        self.prefix = f"bench{secrets.token_hex(3)}"
        self.rng = random.Random(args.seed)
        self.scenarios: list[Scenario] = build(args.names, self.stacks)
        self.runs: dict[str, list[dict[str, Any]]] = {s.key: [] for s in self.scenarios}
        self.problems: list[str] = []
        self.counter = 0
        self.pids: list[int] = []

    @property
    def warm(self) -> list[PluginWarm]:
        return [s for s in self.scenarios if isinstance(s, PluginWarm)]

    # -- one run ---------------------------------------------------------------------------

    def execute(self, scenario: Scenario, label: str, *, measured: bool = True) -> dict[str, Any]:
        if isinstance(scenario, PluginWarm) and label != "prime":
            self._keep_only(scenario)
        self.counter += 1
        tag = f"{self.counter:03d}"
        inv = scenario.invocation(self.ws, tag, self.prefix)
        logfile = self.ws.path("logs") / f"{tag}-{scenario.key.replace('/', '-')}.log"
        outcome = run_measured(inv.argv, cwd=inv.cwd, env=inv.env, timeout=self.args.timeout, log=logfile)
        self.pids.append(outcome.pid)
        check = scenario.check(self.ws, inv, outcome, measured=measured)
        status = "ok" if not check.problems else "FAILED"
        extra = ""
        if "reuse" in check.info:
            extra = f" ({check.info['reuse']})"
        if "started_once" in check.info:
            extra = f" (started once: {check.info['started_once']}, workers {check.info.get('workers')})"
        log(f"  {label:<8} {scenario.key:<26} {outcome.seconds:7.2f} s  {status}{extra}")
        for problem in check.problems:
            message = f"{label} {scenario.key}: {problem}"
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
        for stack in self.stacks:
            log(f"building the {stack.name} stack's images once (docker compose build) ...")
            argv = ["docker", "compose", *stack.compose_args(), "build", "--quiet"]
            out = run_measured(
                argv,
                cwd=stack.directory,
                env=base_env(),
                timeout=900,
                log=self.ws.path("logs") / f"000-build-{stack.name}.log",
            )
            if out.returncode != 0:
                raise SystemExit(f"docker compose build of {stack.name} failed:\n{out.tail()}")
            log(f"  built in {out.seconds:.1f} s")

    def prune_warm(self, label: str) -> None:
        for warm in self.warm:
            self._prune(warm, label)

    def _prune(self, warm: PluginWarm, label: str) -> None:
        inv = warm.prune_invocation(self.ws)
        out = run_measured(
            inv.argv,
            cwd=inv.cwd,
            env=inv.env,
            timeout=self.args.timeout,
            log=self.ws.path("logs") / f"prune-{warm.on.name}-{label}-{self.counter:03d}.log",
        )
        said = out.log.read_text(errors="replace").strip().splitlines()
        log(f"  prune {warm.on.name} ({label}): {said[-1] if said else ''} [{out.seconds:.2f} s]")
        if out.returncode != 0:
            self.problems.append(
                f"--compose-prune {warm.key} ({label}) exited {out.returncode}: {out.tail()}"
            )
        if warm.kept and project_exists(warm.kept):
            self.problems.append(f"--compose-prune {warm.key} ({label}) left {warm.kept}")

    def _keep_only(self, warm: PluginWarm) -> None:
        """Before a warm run, its own kept stack and no other, as a user's machine has.

        A second kept stack's healthchecks (a `celery inspect ping` every 2 s costs a
        core for most of a second) would load this CPU-bound run, and every other
        scenario with it; so the other is pruned, and this one primed (unmeasured) again.
        """
        for other in self.warm:
            if other is not warm and other.kept and project_exists(other.kept):
                self._prune(other, "switch")
        if not (warm.kept and project_exists(warm.kept)):
            log(f"  priming {warm.key} (unmeasured: creates the stack it keeps) ...")
            self.execute(warm, "prime", measured=False)
            if warm.kept and not wait_settled(warm.kept):
                self.problems.append(f"{warm.key}: the kept stack's healthchecks never settled")

    def rounds(self) -> list[list[str]]:
        orders = []
        for n in range(self.args.warmup):
            log(f"warm-up round {n + 1}/{self.args.warmup} (unmeasured)")
            for scenario in self._shuffled():
                self.execute(scenario, "warm-up")
        for n in range(self.args.rounds):
            order = self._shuffled()
            orders.append([s.key for s in order])
            log(f"round {n + 1}/{self.args.rounds}")
            for scenario in order:
                if not harness.engine_answers():
                    raise SystemExit(
                        "the Docker engine stopped answering; `bash scripts/bootstrap-docker.sh`"
                    )
                result = self.execute(scenario, f"r{n + 1}")
                result["round"] = n + 1
                self.runs[scenario.key].append(result)
        return orders

    def _shuffled(self) -> list[Scenario]:
        order = list(self.scenarios)
        self.rng.shuffle(order)
        return order

    def memory(self) -> dict[str, Any]:
        """Peak RSS of the pytest process itself: plugin-cold against bare pytest on a trivial test."""
        if self.args.memory_runs == 0:
            return {}
        stack = self.stacks[0]
        variants = build(["ref-pytest-bare", "ref-plugin-idle", "plugin-cold"], [stack])
        samples: dict[str, list[int]] = {s.key: [] for s in variants}
        log(f"memory: {self.args.memory_runs} runs each of {', '.join(samples)} (-p benchmarks.rss_plugin)")
        for _ in range(self.args.memory_runs):
            order = list(variants)
            self.rng.shuffle(order)
            for scenario in order:
                self.counter += 1
                tag = f"{self.counter:03d}"
                inv = scenario.invocation(self.ws, tag, self.prefix)
                rss_file = self.ws.path("records") / f"rss-{tag}.json"
                inv.argv += ["-p", "benchmarks.rss_plugin"]
                inv.env.update(PYTHONPATH=str(REPO), BENCH_RSS=str(rss_file))
                logfile = self.ws.path("logs") / f"{tag}-mem-{scenario.key.replace('/', '-')}.log"
                out = run_measured(inv.argv, cwd=inv.cwd, env=inv.env, timeout=self.args.timeout, log=logfile)
                self.pids.append(out.pid)
                check = scenario.check(self.ws, inv, out)
                data = read_json(rss_file)
                if check.problems or not isinstance(data, dict):
                    self.problems.extend(
                        f"memory {scenario.key}: {p}" for p in check.problems or ["no RSS written"]
                    )
                    continue
                samples[scenario.key].append(int(data["maxrss_kb"]))
        medians = {n: median(v) for n, v in samples.items()}
        bare = medians.get("ref-pytest-bare")
        result: dict[str, Any] = {
            "stack": stack.name,
            "peak_rss_kb": samples,
            "median_peak_rss_kb": medians,
        }
        if bare is not None:
            for key, name in (
                ("plugin_cold_cost_kb", f"{stack.name}/plugin-cold"),
                ("plugin_loaded_cost_kb", "ref-plugin-idle"),
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
            [PYTHON, "-X", "importtime", "-c", f"import pytest; import {PLUGIN_MODULE}"],
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
        f"pytest + {PLUGIN_MODULE}": f"import pytest, {PLUGIN_MODULE}",
        "pytest + python_on_whales": "import pytest, python_on_whales",
        "pytest + plugin + python_on_whales + httpx": (
            f"import pytest, httpx, python_on_whales, {PLUGIN_MODULE}"
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
    """Per scenario key: runs, median, minimum, and ratios to the same stack's raw and hand-tuned medians."""

    def good_median(key: str) -> float | None:
        return median([r["seconds"] for r in bench.runs.get(key, []) if r["ok"]])

    scenarios: dict[str, Any] = {}
    for scenario in bench.scenarios:
        runs = bench.runs[scenario.key]
        good = [r["seconds"] for r in runs if r["ok"]]
        med = median(good)
        stack = scenario.stack.name if scenario.stack and scenario.uses_stack else None
        # Stackless reference sessions are compared with the first stack's baselines.
        baseline_stack = stack or bench.stacks[0].name
        ratios = {}
        for baseline in ("raw", "handwritten"):
            base = good_median(f"{baseline_stack}/{baseline}")
            ratios[baseline] = (med / base) if med is not None and base else None
        scenarios[scenario.key] = {
            "stack": stack,
            "scenario": scenario.name,
            "description": scenario.description,
            "runs": runs,
            "seconds": [r["seconds"] for r in runs],
            "failed_runs": sum(not r["ok"] for r in runs),
            "median": med,
            "min": min(good) if good else None,
            "ratio_to_raw": ratios["raw"],
            "ratio_to_handwritten": ratios["handwritten"],
            "median_wait4_maxrss_kb": median([r["wait4_maxrss_kb"] for r in runs]),
        }
    return scenarios


def targets(scenarios: dict[str, Any], imports: dict[str, Any], stacks: list[Stack]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    names = {s.name for s in stacks}
    for target in TARGETS:
        key = f"{target.stack}/{target.scenario}"
        if target.stack not in names or key not in scenarios:
            continue
        value = scenarios[key][f"ratio_to_{target.baseline}"]
        result[str(target)] = {
            "value": value,
            "met": value is not None and value <= target.limit,
            "why": target.why,
        }
    for stack in stacks:
        xdist_runs = scenarios.get(f"{stack.name}/plugin-xdist", {}).get("runs", [])
        if xdist_runs:
            once = all(r.get("started_once") for r in xdist_runs)
            result[f"{stack.name}: pytest -n 2 starts the stack once"] = {"value": once, "met": once}
    import_ms = imports.get("median_ms", {}).get("pytest_tel3sis_compose")
    if import_ms is not None:
        result[f"import pytest_tel3sis_compose <= {IMPORT_TARGET_MS:g} ms"] = {
            "value": import_ms,
            "met": import_ms <= IMPORT_TARGET_MS,
        }
    return result


def _cell(value: float | None, fmt: str) -> str:
    return format(value, fmt) if value is not None else "-"


def print_report(
    scenarios: dict[str, Any],
    goals: dict[str, Any],
    memory: dict[str, Any],
    imports: dict[str, Any],
    stacks: list[Stack],
) -> None:
    groups = [(s.name, [k for k, v in scenarios.items() if v["stack"] == s.name]) for s in stacks]
    groups.append(("no stack", [k for k, v in scenarios.items() if v["stack"] is None]))
    for title, keys in groups:
        if not keys:
            continue
        log("")
        log(f"{title}: {STACKS[title].description}" if title in STACKS else f"{title} (vs {stacks[0].name})")
        log(
            f"  {'scenario':<17}{'runs':>5}{'failed':>7}{'median s':>10}{'min s':>8}{'x raw':>8}{'x hand':>7}"
        )
        for key in keys:
            data = scenarios[key]
            log(
                f"  {data['scenario']:<17}{len(data['runs']):>5}{data['failed_runs']:>7}"
                f"{_cell(data['median'], '.2f'):>10}{_cell(data['min'], '.2f'):>8}"
                f"{_cell(data['ratio_to_raw'], '.2f'):>8}{_cell(data['ratio_to_handwritten'], '.2f'):>7}"
            )
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
        shown = f"{value:.2f}x" if isinstance(value, float) and "x " in goal else value
        if isinstance(value, float) and goal.endswith("ms"):
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
    missing = [s.key for s in bench.scenarios if s.needs_module and not harness.has_module(s.needs_module)]
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
    log(
        f"workspace {bench.ws.root}; stacks {', '.join(s.name for s in bench.stacks)}; "
        f"projects {bench.prefix}-*; seed {args.seed}"
    )
    packages: Any = environment["packages"]
    log(
        f"docker {environment['docker_engine']}, compose {environment['compose']}, "
        f"python {environment['python']}, testcontainers {packages['testcontainers']}; "
        f"load average {' '.join(f'{v:.1f}' for v in harness.load_average())}"
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
            if any(w.kept and project_exists(w.kept) for w in bench.warm):
                bench.prune_warm("cleanup")
            bench.sweep()
        finally:
            if args.keep:
                log(f"kept the workspace with every run's log: {bench.ws.root}")
            else:
                bench.ws.remove()
    environment["load_average_end"] = harness.load_average()
    scenarios = summarise(bench)
    goals = targets(scenarios, imports, bench.stacks)
    print_report(scenarios, goals, memory, imports, bench.stacks)
    result = {
        "started": started.isoformat(timespec="seconds"),
        "duration_seconds": round(time.monotonic() - clock, 1),
        "rounds": args.rounds,
        "warmup_rounds": args.warmup,
        "seed": args.seed,
        "environment": environment,
        "stacks": {
            s.name: {
                "compose_files": [str(f.relative_to(REPO)) for f in s.compose_files],
                "description": s.description,
            }
            for s in bench.stacks
        },
        "orders": orders,
        "scenarios": scenarios,
        "medians": {k: v["median"] for k, v in scenarios.items()},
        "ratios_to_raw": {k: v["ratio_to_raw"] for k, v in scenarios.items()},
        "ratios_to_handwritten": {k: v["ratio_to_handwritten"] for k, v in scenarios.items()},
        "xdist_started_once": {
            s.name: [r.get("started_once") for r in bench.runs.get(f"{s.name}/plugin-xdist", [])]
            for s in bench.stacks
        },
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
