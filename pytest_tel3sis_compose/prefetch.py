"""Work a stack will need, started early in a background thread.

pytest spends a few tenths of a second loading plugins and collecting before
the first test asks for the stack; the imports of the engine (python-on-whales)
and of httpx, and `docker compose config`, can run meanwhile. A result is used only if the same
files (unchanged since), project and engine ask for it; otherwise the stack
asks Compose itself, so a stale or failed prefetch costs nothing but time.
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from pytest_tel3sis_compose.docker_host import engine_key

_pending: dict[tuple[object, ...], Future[Mapping[str, Any]]] = {}
_lock = threading.Lock()


def _key(files: Sequence[Path], project: str, directory: Path | None) -> tuple[object, ...]:
    stamps = tuple((str(path), path.stat().st_mtime_ns) for path in map(Path, files))
    return stamps, project, str(directory), engine_key()


def start(files: Sequence[Path], project: str, directory: Path | None = None) -> None:
    """Begin importing the engine and reading the compose config, without waiting."""
    try:
        key = _key(files, project, directory)
    except OSError:
        return  # a missing file: the stack will say so itself
    future: Future[Mapping[str, Any]] = Future()
    with _lock:
        if key in _pending:
            return
        _pending[key] = future

    # Compose runs as its own process while this one imports: the two overlap.
    command = ["docker", "compose", *(f"--file={path}" for path in files), f"--project-name={project}"]
    if directory is not None:
        command.append(f"--project-directory={directory}")
    try:
        compose = subprocess.Popen(
            [*command, "config"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
    except OSError:
        compose = None

    def work() -> None:
        try:
            # The slowest first: python-on-whales; the stack waits on it before anything else.
            import pytest_tel3sis_compose.engine  # noqa: F401, I001

            import httpx  # noqa: F401 - for the HTTP probes (the tests often import it too)
            import yaml

            if compose is None:
                raise OSError("docker is not installed")
            text, _ = compose.communicate(timeout=60)
            loaded = yaml.safe_load(text) if compose.returncode == 0 else None
            if not isinstance(loaded, Mapping):
                raise ValueError("compose config failed")  # the stack asks again, and reports it
            future.set_result(loaded)
        except BaseException as exc:  # handed to whoever takes it, who then asks again
            future.set_exception(exc)

    threading.Thread(target=work, name="compose-prefetch", daemon=True).start()


def take(files: Sequence[Path], project: str, directory: Path | None = None) -> Mapping[str, Any] | None:
    """The prefetched config for exactly these files, project and engine, or None."""
    try:
        key = _key(files, project, directory)
    except OSError:
        return None
    with _lock:
        future = _pending.pop(key, None)
    if future is None:
        return None
    try:
        return future.result(timeout=60)
    except BaseException:
        return None
