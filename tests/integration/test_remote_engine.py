"""A remote engine (DOCKER_HOST=tcp://...): URLs point at the engine's host, and work.

A second engine on this machine, listening on another loopback address with
its own data and exec roots, stands in for a remote Docker host.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ADDRESS = "127.0.0.2"
PORT = 2375
IMAGE = "python:3.11-slim-bookworm"  # the engine bootstrap guarantees it

STACK = f"""
services:
  web:
    image: {IMAGE}
    command: ["python", "-m", "http.server", "8000"]
    user: "65534"
    ports: ["{ADDRESS}::8000"]
    x-tel3sis-probe: {{http: {{port: 8000, path: /}}}}
"""


@pytest.fixture(scope="module")
def remote_engine() -> Iterator[str]:
    if os.geteuid() != 0 or shutil.which("dockerd") is None or shutil.which("ip") is None:
        pytest.skip("starting a second Docker engine needs root, dockerd and iproute2")
    # Short paths: the engine's sockets live under exec-root, and socket paths are short.
    root = Path(tempfile.mkdtemp(prefix="t3e-", dir="/tmp"))
    url = f"tcp://{ADDRESS}:{PORT}"
    # Its own bridge and address pool: with `--bridge none` a second engine
    # deletes the first one's docker0 when it stops, and two engines drawing
    # from the same default pool can give two networks one subnet.
    bridge = f"t3e{os.getpid() % 100000}"
    subprocess.run(["ip", "link", "add", bridge, "type", "bridge"], check=True)
    subprocess.run(["ip", "addr", "add", "10.255.254.1/24", "dev", bridge], check=True)
    subprocess.run(["ip", "link", "set", bridge, "up"], check=True)
    engine = subprocess.Popen(
        ["dockerd", "--host", url, "--tls=false", "--data-root", str(root / "data"),
         "--exec-root", str(root / "exec"), "--pidfile", str(root / "pid"),
         "--bridge", bridge, "--iptables=false", "--default-address-pool", "base=10.254.0.0/16,size=24"],
        stdout=subprocess.DEVNULL, stderr=(root / "log").open("w"), start_new_session=True,
    )  # fmt: skip
    env = {**os.environ, "DOCKER_HOST": url}
    try:
        deadline = time.monotonic() + 30
        while subprocess.run(["docker", "info"], env=env, capture_output=True, check=False).returncode:
            if engine.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the second engine did not start:\n{(root / 'log').read_text()[-2000:]}")
            time.sleep(0.3)
        # It starts with no images: hand it the base image from the first engine.
        save = subprocess.Popen(["docker", "save", IMAGE], stdout=subprocess.PIPE)
        subprocess.run(["docker", "load", "-q"], stdin=save.stdout, env=env, check=True, capture_output=True)
        save.wait()
        yield url
    finally:
        engine.terminate()
        engine.wait(60)
        subprocess.run(["ip", "link", "del", bridge], check=False)
        shutil.rmtree(root, ignore_errors=True)


def test_urls_point_at_the_remote_engine_and_answer(
    pytester: pytest.Pytester,
    write_compose: Callable[[str], Path],
    remote_engine: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    write_compose(STACK)
    pytester.makepyfile(
        """
        import httpx

        def test_remote(compose_stack):
            url = compose_stack.url("web")
            assert url.startswith("http://127.0.0.2:"), url
            assert "Directory listing" in httpx.get(url).text
        """
    )
    project = f"remote-{os.getpid()}"
    monkeypatch.setenv("DOCKER_HOST", remote_engine)

    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--compose-project-name", project)

    result.assert_outcomes(passed=1)
    assert _containers(project, remote_engine) == "", "the remote engine kept the stack's containers"
    monkeypatch.delenv("DOCKER_HOST")
    assert _containers(project, None) == "", "the stack ran on the local engine"


def _containers(project: str, docker_host: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "DOCKER_HOST"}
    if docker_host:
        env["DOCKER_HOST"] = docker_host
    listed = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label=com.docker.compose.project={project}"],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return listed.stdout
