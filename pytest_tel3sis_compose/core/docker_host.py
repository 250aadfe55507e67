"""Where the Docker engine is, seen from here, read from the environment without asking Docker."""

from __future__ import annotations

import ipaddress
import json
import os
from pathlib import Path
from urllib.parse import urlsplit

from pytest_tel3sis_compose.errors import ConfigError

LOCAL = "127.0.0.1"


def host_of(endpoint: str, *, where: str) -> str:
    """`tcp://10.0.0.5:2376` -> `10.0.0.5`; `ssh://me@[::1]` -> `::1`; sockets -> 127.0.0.1."""
    if endpoint.startswith(("unix://", "npipe://", "/")):
        return LOCAL
    host = urlsplit(endpoint).hostname
    if not host:
        raise ConfigError(
            f"cannot tell the engine's host from {where} = {endpoint!r}; "
            "expected unix:///path, tcp://HOST:PORT or ssh://[USER@]HOST[:PORT]"
        )
    return host


def context_name() -> str | None:
    """The docker context in use, None for the default one; read without asking Docker."""
    name = os.environ.get("DOCKER_CONTEXT") or _current_context()
    return None if not name or name == "default" else name


def _current_context() -> str | None:
    config = Path(os.environ.get("DOCKER_CONFIG", Path.home() / ".docker")) / "config.json"
    try:
        current = json.loads(config.read_text()).get("currentContext")
    except (OSError, ValueError):
        return None
    return current if isinstance(current, str) else None


def is_this_machine(host: str) -> bool:
    """Whether the engine at `host` is this machine's own (its loopback ports are ours).

    Other loopback addresses (127.0.0.2, ...) name an engine of their own, as a
    remote one would be: what it binds on 127.0.0.1 is not what we reach.
    """
    return host in (LOCAL, "localhost", "::1")


def is_loopback(host: str) -> bool:
    """Whether `host` is this machine's loopback (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
