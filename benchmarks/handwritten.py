"""The hand-tuned lower bound: what a person would script for one stack, knowing it well (stdlib only).

`up -d` (no --wait), then poll the readiness signals the stack's own healthchecks use, every
100 ms and in parallel: Redis answers PING (on its published port), web's GET /v1/health
answers 200 with every value "ok", the worker answers a Celery ping (`docker exec` into its
container, the healthcheck's own command). Then one request, then `down -v -t 0`.

Usage: python benchmarks/handwritten.py STACK PROJECT COMPOSE_FILE...   (STACK: reference, ordinary)
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable

TIMEOUT = 120.0
POLL = 0.1
# Per stack: web's container port, and the worker's healthcheck command.
STACKS = {
    "reference": (3000, "celery -A tel3sis_ref.worker inspect ping -d celery@$HOSTNAME -t 2"),
    "ordinary": (8000, "celery -A app.worker inspect ping -d celery@$HOSTNAME -t 2"),
}


def say(what: str) -> None:
    """When each step ended, on stderr (the benchmark's log), in seconds after start."""
    print(f"handwritten: {what} at {time.monotonic() - STARTED:.2f} s", file=sys.stderr, flush=True)


STARTED = time.monotonic()


def main(stack: str, project: str, *files: str) -> int:
    web_port, ping = STACKS[stack]
    compose = ["docker", "compose", "-p", project, *(arg for f in files for arg in ("-f", f))]

    def ask(*argv: str) -> str:
        done = subprocess.run([*compose, *argv], check=True, capture_output=True, text=True, timeout=30)
        return done.stdout.strip()

    try:
        subprocess.run([*compose, "up", "-d"], check=True, timeout=TIMEOUT)
        say("up -d returned")
        deadline = time.monotonic() + TIMEOUT
        found: dict[str, str] = {}

        # Each check learns what it needs (a port, a container) once, in its own thread.
        def redis() -> bool:
            found.setdefault("redis", ask("port", "redis", "6379"))
            return redis_ping(found["redis"])

        def web() -> bool:
            found.setdefault("web", ask("port", "web", str(web_port)))
            return healthy(found["web"])

        def worker() -> bool:
            found.setdefault("worker", ask("ps", "-q", "worker"))
            done = subprocess.run(
                ["docker", "exec", found["worker"], "sh", "-c", ping], capture_output=True, timeout=30
            )
            return done.returncode == 0

        ready: dict[str, bool] = {}
        checks: dict[str, Callable[[], bool]] = {"redis": redis, "web": web, "worker": worker}
        threads = [
            threading.Thread(target=poll, args=(name, check, deadline, ready))
            for name, check in checks.items()
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if not all(ready.get(name) for name in checks):
            print(f"not ready: {ready}", file=sys.stderr)
            return 1
        ok = healthy(found["web"])
        say("request made")
        return 0 if ok else 1
    finally:
        subprocess.run([*compose, "down", "-v", "-t", "0"], timeout=TIMEOUT)
        say("down returned")


def poll(name: str, check: Callable[[], bool], deadline: float, ready: dict[str, bool]) -> None:
    while time.monotonic() < deadline:
        try:
            if check():
                ready[name] = True
                say(f"{name} ready")
                return
        except (OSError, subprocess.SubprocessError):
            pass
        time.sleep(POLL)
    ready[name] = False


def healthy(address: str) -> bool:
    try:
        with urllib.request.urlopen(f"http://{address}/v1/health", timeout=2) as response:
            body = json.load(response)
            return response.status == 200 and bool(body) and all(v == "ok" for v in body.values())
    except (OSError, ValueError, urllib.error.URLError):
        return False


def redis_ping(address: str) -> bool:
    host, _, port = address.rpartition(":")
    with socket.create_connection((host, int(port)), timeout=1) as connection:
        connection.sendall(b"PING\r\n")
        return connection.recv(64).startswith(b"+PONG")


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
