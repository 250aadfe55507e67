"""Container healthcheck for the web service: exit 0 only when every subsystem is ok."""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request


def main(url: str = "http://127.0.0.1:3000/v1/health") -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            checks = json.load(response)
    except (OSError, ValueError) as exc:
        print(f"unhealthy: {exc}")
        return 1
    failing = sorted(name for name, status in checks.items() if status != "ok")
    print("unhealthy: " + ", ".join(failing) if failing else "healthy")
    return 1 if failing else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
