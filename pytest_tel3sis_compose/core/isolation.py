"""Isolation: what the override changes so that two sessions of one compose file never collide.

Most compose files are written for one copy on a developer's machine: fixed
host ports, often on every interface, and `container_name`. Two CI jobs on
one runner, or `pytest` beside a running dev stack, then fight over them,
and the services are open to the network while tests run. The override
(the user's files are never touched) publishes every port on an ephemeral
port of 127.0.0.1 (URLs hide the number), drops `container_name` and keeps
the name reachable as a network alias; names two sessions would share
(explicitly named or external volumes and networks) are reported.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from pytest_tel3sis_compose.core.docker_host import LOCAL

#: In `keep_ports`: every service keeps its ports as written.
ALL_SERVICES = "*"


@dataclass(frozen=True)
class Isolation:
    services: Mapping[str, dict[str, Any]] = field(default_factory=dict)
    """Per-service override entries: `ports` (replacing the user's), `container_name`, `networks`."""
    rewritten: tuple[str, ...] = ()
    """What changed, one line each: `web: 8004 -> 127.0.0.1:<ephemeral>`."""
    shared: tuple[str, ...] = ()
    """What two sessions would still share, one line each."""


class Replace(list[Any]):
    """A list that replaces the user's list (`!override`) instead of merging into it."""


class Reset:
    """Removes the user's value (`!reset`)."""


def isolate(
    config: Mapping[str, Any], project_name: str, keep_ports: Collection[str] = (), local: bool = True
) -> Isolation:
    """The override entries that isolate this project, and what they change.

    `keep_ports` names services whose ports stay as written (`*`: all). For a
    remote engine (`local` false) a port stays on the interface written,
    since its loopback is not this machine's; only its number becomes ephemeral.
    """
    services: dict[str, dict[str, Any]] = {}
    rewritten: list[str] = []
    for name, service in dict(config.get("services") or {}).items():
        entry: dict[str, Any] = {}
        # The host's network has no ports to move (they are the host's): reported as shared.
        movable = service.get("network_mode") != "host"
        if movable and ALL_SERVICES not in keep_ports and name not in keep_ports:
            ports, changes = _ports(service.get("ports") or [], local)
            if changes:
                entry["ports"] = ports
                rewritten += [f"{name}: {change}" for change in changes]
        if service.get("container_name"):
            entry.update(_without_container_name(service))
            rewritten.append(f"{name}: container_name {service['container_name']} dropped (kept as an alias)")
        if entry:
            services[name] = entry
    return Isolation(services, tuple(rewritten), tuple(_shared(config, project_name)))


def _ports(ports: list[Mapping[str, Any]], local: bool) -> tuple[Replace, list[str]]:
    replaced, changes = Replace(), []
    for port in ports:
        written_ip, published = port.get("host_ip") or "", str(port.get("published") or "")
        host_ip = LOCAL if local else written_ip
        entry = {key: value for key, value in port.items() if key not in ("host_ip", "published")}
        if host_ip:
            entry["host_ip"] = host_ip
        replaced.append(entry)
        if published or written_ip != host_ip:
            written = f"{written_ip}:{published}" if written_ip and published else published or written_ip
            target = f"{host_ip or '*'}:<ephemeral>"
            suffix = "" if port.get("protocol", "tcp") == "tcp" else f"/{port['protocol']}"
            changes.append(f"{written or '*'}{suffix} -> {target}{suffix} (container port {port['target']})")
    return replaced, changes


def _without_container_name(service: Mapping[str, Any]) -> dict[str, Any]:
    """No fixed name, but the name still resolves for the other services, as an alias."""
    entry: dict[str, Any] = {"container_name": Reset()}
    if not service.get("network_mode"):  # a shared or host network namespace takes no aliases
        networks = service.get("networks") or {"default": None}
        entry["networks"] = {network: {"aliases": [service["container_name"]]} for network in networks}
    return entry


def _shared(config: Mapping[str, Any], project_name: str) -> list[str]:
    found = []
    for kind in ("network", "volume"):
        for key, spec in dict(config.get(f"{kind}s") or {}).items():
            spec = spec or {}
            name = spec.get("name", f"{project_name}_{key}")
            if spec.get("external"):
                found.append(f"{kind} {key} is external ({name})")
            elif name != f"{project_name}_{key}":
                found.append(f"{kind} {key} is named {name} explicitly")
    found += [
        f"service {name} uses the host's network (network_mode: host)"
        for name, service in dict(config.get("services") or {}).items()
        if service.get("network_mode") == "host"
    ]
    return [f"{what}: sessions running side by side share it" for what in found]
