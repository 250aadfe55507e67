"""Where the Docker engine is, seen from here: the host its published ports are reached at."""

from __future__ import annotations

import ipaddress
import json
import os
from pathlib import Path
from urllib.parse import urlsplit

from pytest_tel3sis_compose.errors import ConfigError

LOCAL = "127.0.0.1"


def engine_host() -> str:
    """The host of the engine that DOCKER_HOST, or else the current docker context, names.

    A local engine (a unix socket, or no setting at all) is 127.0.0.1.
    """
    docker_host = os.environ.get("DOCKER_HOST")
    if docker_host:
        return host_of(docker_host, where="DOCKER_HOST")
    context_endpoint = _context_endpoint()
    return host_of(context_endpoint, where="the current docker context") if context_endpoint else LOCAL


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


def _context_endpoint() -> str | None:
    name = context_name()
    if name is None:
        return None
    from python_on_whales import DockerException, docker  # only for non-default contexts

    try:
        return str(docker.context.inspect(name).endpoints["docker"].host)
    except (DockerException, KeyError) as exc:
        raise ConfigError(f"cannot read docker context {name!r}: {exc}") from None


def _current_context() -> str | None:
    config = Path(os.environ.get("DOCKER_CONFIG", Path.home() / ".docker")) / "config.json"
    try:
        current = json.loads(config.read_text()).get("currentContext")
    except (OSError, ValueError):
        return None
    return current if isinstance(current, str) else None


def is_loopback(host: str) -> bool:
    """Whether `host` is this machine's loopback (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


#: Engines this process has seen answer, with Compose v2 (keyed by `engine_key()`):
#: the report header asks first, so the stack's own check need not ask again.
VERIFIED: set[str] = set()


def engine_key() -> str:
    """What names the engine the docker CLI talks to in this environment."""
    return "|".join(os.environ.get(name, "") for name in ("DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_CONFIG"))
