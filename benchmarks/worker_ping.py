"""When is the ordinary stack's Celery worker ready, and when does its healthcheck say so?

    .venv/bin/python -m benchmarks.worker_ping --runs 3 --json benchmarks/worker_ping.json

Starts the ordinary stack with `docker compose up -d` (no plugin) in four variants, interleaved:

- `hand-loop`: the compose files as written, plus the worker's own healthcheck command run by hand
  in a loop (`docker exec` every 100 ms after the previous one ends), beside the engine's checks;
- `hand-staggered`: the same, but a new ping starts every 0.5 s without waiting for the last one
  (at most 4 at once), so a ping that fails slowly holds nothing up;
- `engine`: as written, nothing else: the engine's verdict undisturbed;
- `plugin-override`: as written plus what the plugin's override adds to a healthcheck it waits on
  (`start_period` = the session timeout, `start_interval: 200ms`), nothing else.

For each it reports, in seconds after the worker's container started (the engine's `start`
event): when the worker logged `celery@... ready.`, when the first hand-run ping succeeded, when
the engine first reported it healthy, and how long each ping took when it failed and when it
succeeded (hand-run, and the engine's own execs). Traffic: `docker exec` only.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from benchmarks import harness
from benchmarks.breakdown import EngineEvents, engine_timeline, exec_summary
from benchmarks.harness import REPO, STACKS, base_env, leftovers, median

STACK = STACKS["ordinary"]
PING = "celery -A app.worker inspect ping -d celery@$HOSTNAME -t 2"
READY_LINE = re.compile(r"celery@\S+ ready\.")
VARIANTS = ("hand-loop", "hand-staggered", "engine", "plugin-override")
STAGGER, IN_FLIGHT = 0.5, 4
# What the plugin's override gives a healthcheck it waits on (see the package's override module).
PLUGIN_OVERRIDE = """services:
  redis: {healthcheck: {start_period: 120s, start_interval: 200ms}}
  web: {healthcheck: {start_period: 120s, start_interval: 200ms}}
  worker: {healthcheck: {start_period: 120s, start_interval: 200ms}}
"""
WAIT = 60.0


def _epoch(stamp: str) -> float:
    # docker logs -t: RFC 3339 with nanoseconds; Python takes microseconds.
    head, _, rest = stamp.partition(".")
    fraction = re.match(r"\d+", rest)
    micro = (fraction[0] if fraction else "0")[:6].ljust(6, "0")
    return datetime.fromisoformat(f"{head}.{micro}+00:00").timestamp()


def one_run(variant: str, project: str, override: Path) -> dict[str, Any]:
    files = [*STACK.compose_args(), *(["-f", str(override)] if variant == "plugin-override" else [])]
    compose = ["docker", "compose", "-p", project, *files]
    events = EngineEvents()
    t0 = time.time()
    pings: list[dict[str, Any]] = []
    stop = threading.Event()

    def hand_loop() -> None:
        container = ""
        while not stop.is_set() and not container:
            listed = subprocess.run(
                [*compose, "ps", "-q", "worker"], capture_output=True, text=True, env=base_env()
            )
            container = listed.stdout.strip()
            if not container:
                stop.wait(0.1)
        if variant == "hand-loop":
            while not stop.is_set() and not ping(container):
                stop.wait(0.1)
            return
        # Staggered: a new ping every STAGGER s without waiting for the last, at most IN_FLIGHT at once.
        flying: list[threading.Thread] = []
        while not stop.is_set() and not any(p["exit"] == 0 for p in pings):
            flying = [t for t in flying if t.is_alive()]
            if len(flying) < IN_FLIGHT:
                flying.append(threading.Thread(target=ping, args=(container,), daemon=True))
                flying[-1].start()
            stop.wait(STAGGER)

    def ping(container: str) -> bool:
        start = time.time() - t0
        done = subprocess.run(
            ["docker", "exec", container, "sh", "-c", PING], capture_output=True, timeout=60, env=base_env()
        )
        pings.append({"start": start, "end": time.time() - t0, "exit": done.returncode})
        return done.returncode == 0

    try:
        up = threading.Thread(
            target=subprocess.run,
            args=([*compose, "up", "-d"],),
            kwargs={"capture_output": True, "env": base_env(), "timeout": WAIT},
        )
        up.start()
        loop = threading.Thread(target=hand_loop, daemon=True)
        if variant.startswith("hand-"):
            loop.start()
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            state = subprocess.run(
                ["docker", "inspect", "--format", "{{.State.Health.Status}}", f"{project}-worker-1"],
                capture_output=True,
                text=True,
                env=base_env(),
            ).stdout.strip()
            hand_done = not variant.startswith("hand-") or any(p["exit"] == 0 for p in pings)
            if state == "healthy" and hand_done:
                break
            time.sleep(0.1)
        up.join(WAIT)
        logs = subprocess.run(
            [*compose, "logs", "-t", "--no-log-prefix", "worker"],
            capture_output=True,
            text=True,
            env=base_env(),
            timeout=30,
        ).stdout
    finally:
        stop.set()
        subprocess.run([*compose, "down", "-v", "-t", "0"], capture_output=True, env=base_env(), timeout=120)
    worker = engine_timeline(events.stop(lambda p: p == project, t0)).get("worker", {"execs": []})
    started = worker.get("started")
    announced = next(
        (_epoch(line.split(" ", 1)[0]) - t0 for line in logs.splitlines() if READY_LINE.search(line)), None
    )

    def since_start(at: float | None) -> float | None:
        return None if at is None or started is None else round(at - started, 3)

    first_ok = min((p["end"] for p in pings if p["exit"] == 0), default=None)
    engine_execs = exec_summary(worker["execs"])
    return {
        "variant": variant,
        "worker logged ready": since_start(announced),
        "first hand ping ok": since_start(first_ok),
        "engine healthy": since_start(worker.get("healthy")),
        "engine first ok exec ended": since_start(engine_execs["first_ok_end"]),
        "hand pings": [
            {"start": since_start(p["start"]), "seconds": round(p["end"] - p["start"], 3), "exit": p["exit"]}
            for p in pings
        ],
        "engine execs": [
            {"start": since_start(e["start"]), "seconds": round(e["end"] - e["start"], 3), "exit": e["exit"]}
            for e in worker["execs"]
            if started is None or e["start"] < (worker.get("killed") or 1e9)
        ],
    }


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    def med(key: str) -> float | None:
        return median([r[key] for r in runs if r[key] is not None])

    def durations(kind: str, ok: bool) -> list[float]:
        return [p["seconds"] for r in runs for p in r[kind] if (p["exit"] == 0) == ok]

    return {
        "runs": len(runs),
        "worker logged ready": med("worker logged ready"),
        "first hand ping ok": med("first hand ping ok"),
        "engine healthy": med("engine healthy"),
        "hand ping failed s": median(durations("hand pings", False)),
        "hand ping ok s": median(durations("hand pings", True)),
        "hand pings failed / ok": (len(durations("hand pings", False)), len(durations("hand pings", True))),
        "engine exec failed s": median(durations("engine execs", False)),
        "engine exec ok s": median(durations("engine execs", True)),
        "engine execs failed / ok": (
            len(durations("engine execs", False)),
            len(durations("engine execs", True)),
        ),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.worker_ping", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--runs", type=int, default=3, help="runs of each variant (default 3)")
    parser.add_argument("--json", type=Path, default=REPO / "benchmarks" / "worker_ping.json")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args(argv)
    if not harness.engine_answers():
        print("no Docker engine answers; run `bash scripts/bootstrap-docker.sh`", file=sys.stderr)
        return 2
    prefix = f"bench{secrets.token_hex(3)}-ping"
    rng = random.Random(args.seed)
    results: dict[str, list[dict[str, Any]]] = {v: [] for v in VARIANTS}
    with tempfile.TemporaryDirectory(prefix="tel3sis-ping-") as folder:
        override = Path(folder) / "plugin-override.yml"
        override.write_text(PLUGIN_OVERRIDE)
        try:
            counter = 0
            for n in range(args.runs):
                order = list(VARIANTS)
                rng.shuffle(order)
                for variant in order:
                    counter += 1
                    run = one_run(variant, f"{prefix}-{counter:02d}", override)
                    results[variant].append(run)
                    print(
                        f"  run {n + 1} {variant:<16} worker logged ready {run['worker logged ready']}, "
                        f"hand ping ok {run['first hand ping ok']}, engine healthy {run['engine healthy']} "
                        "(s after the worker's container started)",
                        flush=True,
                    )
        finally:
            left = leftovers(lambda p: p.startswith(prefix))
            if left:
                print("removing leftovers: " + ", ".join(map(str, left)), file=sys.stderr)
                harness.remove_objects(left)
    summary = {v: summarise(runs) for v, runs in results.items()}
    print("\nmedians, s after the worker's container started:")
    for variant, data in summary.items():
        print(f"  {variant}:")
        for key, value in data.items():
            print(f"    {key:<28} {value}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps({"environment": harness.versions(), "summary": summary, "runs": results}, indent=1) + "\n"
    )
    print(f"\nwritten: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
