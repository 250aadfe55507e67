"""The forensics bundle: what a failed start or a failed test leaves behind to read.

One folder per stack, written before the stack goes down:

- `config.yml`: the resolved compose configuration, environment values and
  build arguments redacted (they are where secrets live);
- `ps.txt`: each service's container, state, exit code, health, published
  ports, and its healthcheck's recent runs (start, exit code, output);
- `logs/<service>.log`: every service's whole log;
- `events.jsonl`: the engine's events for the project, as the crash watch saw them;
- `timeline.txt`: the stack's own account: build, up, each probe's start, its
  state changes, ready or failed, and teardown, with times.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import yaml

from pytest_tel3sis_compose.core.boundary import ContainerStatus
from pytest_tel3sis_compose.core.stack import ComposeStack

REDACTED = "<redacted>"


def write_bundle(stack: ComposeStack, folder: Path) -> Path:
    """Write the stack's bundle into `folder`; return it. Best effort: what cannot be read is said."""
    folder.mkdir(parents=True, exist_ok=True)
    services = list(stack.services)
    (folder / "config.yml").write_text(yaml.safe_dump(redacted(stack.config), sort_keys=False))
    with ThreadPoolExecutor(max(1, len(services)), thread_name_prefix="forensics") as pool:
        statuses = dict(zip(services, pool.map(stack.compose.status, services), strict=True))
        logs = dict(zip(services, pool.map(stack.compose.logs, services), strict=True))
    (folder / "ps.txt").write_text("".join(_ps(service, statuses[service]) for service in services))
    (folder / "logs").mkdir(exist_ok=True)
    for service, text in logs.items():
        (folder / "logs" / f"{service}.log").write_text(text)
    (folder / "events.jsonl").write_text(
        "".join(json.dumps(dataclasses.asdict(event)) + "\n" for event in stack.watch.snapshot())
    )
    (folder / "timeline.txt").write_text("".join(line + "\n" for line in stack.timeline.lines()))
    return folder


def redacted(config: Mapping[str, Any]) -> dict[str, Any]:
    """The configuration with every environment value and build argument replaced."""
    copy: dict[str, Any] = json.loads(json.dumps(config, default=str))
    for service in (copy.get("services") or {}).values():
        _redact_values(service, "environment")
        _redact_values(service.get("build") or {}, "args")
    for secret in (copy.get("secrets") or {}).values():
        _redact_values(secret or {}, "environment", whole=True)
    return copy


def _redact_values(holder: dict[str, Any], key: str, whole: bool = False) -> None:
    value = holder.get(key)
    if whole and value is not None:
        holder[key] = REDACTED
    elif isinstance(value, dict):
        holder[key] = {name: REDACTED for name in value}
    elif isinstance(value, list):
        holder[key] = [f"{str(item).partition('=')[0]}={REDACTED}" for item in value]


def _ps(service: str, status: ContainerStatus | None) -> str:
    if status is None:
        return f"{service}: no container\n\n"
    lines = [
        f"{service}: container {status.container_id[:12]} {status.state}"
        + (f", exit code {status.exit_code}" if status.state == "exited" else "")
        + (f", health {status.health}" if status.health else ""),
        *(f"  port {port} -> {host}:{public}" for port, (host, public) in status.ports.items()),
        *(f"  healthcheck {run}" for run in status.health_log),
    ]
    return "\n".join(lines) + "\n\n"
