"""Fixtures for the unit tests: settings with a real (empty) compose file, a tiny HTTP server."""

from __future__ import annotations

import json
import tempfile
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from pytest_tel3sis_compose.core.settings import StackSettings

#: Path -> (status, body, content type) served by the `http_server` fixture.
ROUTES: dict[str, tuple[int, str, str]] = {
    "/health": (200, json.dumps({"redis": "ok", "broker": "ok"}), "application/json"),
    "/degraded": (200, json.dumps({"redis": "ok", "broker": "down"}), "application/json"),
    "/text": (200, "plain words", "text/plain"),
    "/broken": (500, "internal error", "text/plain"),
    "/created": (201, json.dumps({"id": 7}), "application/json"),
}


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status, body, content_type = ROUTES.get(self.path, (404, "no such page", "text/plain"))
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass


@pytest.fixture(autouse=True)
def _no_docker(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unit tests fake the Docker boundary: building the real engine is an error here."""
    from pytest_tel3sis_compose import engine

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a unit test tried to use Docker (WhalesProject); pass a FakeEngine")

    monkeypatch.setattr(engine, "WhalesProject", refuse)
    monkeypatch.setattr(engine, "_cli", refuse)


@pytest.fixture(autouse=True)
def _own_engine_memo(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """What one test's fake `docker` answered is never another's (nor this machine's) to recall."""
    from pytest_tel3sis_compose.core import engine_memo

    folder = tmp_path_factory.mktemp("engine-memo")
    monkeypatch.setattr(engine_memo, "default_folder", lambda: folder)


@pytest.fixture(autouse=True)
def _engine_asked_within_the_test() -> Iterator[None]:
    """A warm-up or prefetch still running after its test would find the next test's fake `docker`."""
    yield
    for thread in threading.enumerate():
        if thread.name in ("engine-info", "compose-prefetch"):
            thread.join(10)


@pytest.fixture(scope="session")
def http_server() -> Iterator[str]:
    """Base URL of an HTTP server on 127.0.0.1 serving ROUTES."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def compose_file(tmp_path: Path) -> Path:
    path = tmp_path / "docker-compose.yml"
    path.write_text("services: {}\n")  # only its existence matters: the FakeEngine holds the config
    return path


@pytest.fixture
def make_settings(compose_file: Path) -> Callable[..., StackSettings]:
    """StackSettings with small timeouts; keyword arguments override."""

    def make(**overrides: Any) -> StackSettings:
        values: dict[str, Any] = {
            "compose_files": (compose_file,),
            "project_name": "unit",
            "timeout": 5.0,
            "poll_interval": 0.01,
            "log_lines": 5,
        }
        values.update(overrides)
        return StackSettings(**values)

    return make


@pytest.fixture(autouse=True)
def _stack_folders_in_tmp_path(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Stacks a test starts and never stops leave their folder in pytest's temp dir, not /tmp."""
    base = tmp_path_factory.mktemp("stacks")
    monkeypatch.setattr(tempfile, "tempdir", str(base))
