"""The issue's bar: a hand-written script on the reference stack (stdlib only).

`up -d` without --wait, poll the real readiness signals every 100 ms in parallel (web: GET
/v1/health all "ok"; worker: a Celery ping it answers), one request, then `down -v -t 0`.

Usage: python benchmarks/handwritten.py PROJECT COMPOSE_FILE...
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

TIMEOUT = 120.0
PING = "celery -A tel3sis_ref.worker inspect ping -d celery@$HOSTNAME -t 2"


def main(project: str, *files: str) -> int:
    compose = ["docker", "compose", "-p", project, *(arg for f in files for arg in ("-f", f))]
    try:
        subprocess.run([*compose, "up", "-d"], check=True, timeout=TIMEOUT)
        address = subprocess.run(
            [*compose, "port", "web", "3000"], check=True, capture_output=True, text=True, timeout=30
        ).stdout.strip()
        url = f"http://{address}/v1/health"
        deadline = time.monotonic() + TIMEOUT

        def web() -> bool:
            return healthy(url)

        def worker() -> bool:
            done = subprocess.run(
                [*compose, "exec", "-T", "worker", "sh", "-c", PING], capture_output=True, timeout=30
            )
            return done.returncode == 0

        ready: dict[str, bool] = {}
        threads = [
            threading.Thread(target=poll, args=(name, check, deadline, ready))
            for name, check in (("web", web), ("worker", worker))
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if not all(ready.get(name) for name in ("web", "worker")):
            print(f"not ready: {ready}", file=sys.stderr)
            return 1
        return 0 if healthy(url) else 1
    finally:
        subprocess.run([*compose, "down", "-v", "-t", "0"], timeout=TIMEOUT)


def poll(name: str, check: object, deadline: float, ready: dict[str, bool]) -> None:
    while time.monotonic() < deadline:
        try:
            if check():  # type: ignore[operator]
                ready[name] = True
                return
        except (OSError, subprocess.SubprocessError):
            pass
        time.sleep(0.1)
    ready[name] = False


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            body = json.load(response)
            return response.status == 200 and bool(body) and all(v == "ok" for v in body.values())
    except (OSError, ValueError, urllib.error.URLError):
        return False


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
