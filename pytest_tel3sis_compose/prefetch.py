"""Work a stack will need, started early in a background thread.

pytest spends a few tenths of a second loading plugins and collecting before
the first test asks for the stack; the engine's import (python-on-whales) and
`docker compose config` can run meanwhile. A result is used only if the same
files (unchanged since), project and engine ask for it; otherwise the stack
asks Compose itself, so a stale or failed prefetch costs nothing but time.
"""

from __future__ import annotations

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

    def work() -> None:
        try:
            from pytest_tel3sis_compose.engine import WhalesEngine

            future.set_result(WhalesEngine(files, project, directory).config(prefetched=False))
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
