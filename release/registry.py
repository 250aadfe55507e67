"""A real container registry on loopback: Debian's ``docker-registry`` (distribution 2.8).

The engine pushes to a registry on 127.0.0.0/8 over plain HTTP without any configuration
(loopback registries are trusted as insecure registries by default), so a rehearsal needs no
TLS and sends nothing off the machine.
"""

from __future__ import annotations

import ipaddress
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

import httpx

BINARY = "docker-registry"
INSTALL_HINT = "install it with: bash scripts/bootstrap-registry.sh (apt-get install -y docker-registry)"

#: Manifest media types the registry may answer with; all of them, so that HEAD gives the
#: digest the engine pushed whatever kind of manifest it was.
MANIFEST_TYPES = ", ".join(
    (
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
    )
)

_CONFIG = """\
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
http:
  addr: {host}:{port}
"""


class RegistryError(Exception):
    """The registry is not installed, did not start, or answered unexpectedly."""


def require_loopback(host: str) -> str:
    """`host` itself, if it is an address in 127.0.0.0/8; traffic goes nowhere else."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise RegistryError(f"registry host {host!r} must be an IPv4 loopback address (127.x.y.z)") from None
    if address.version != 4 or not address.is_loopback:
        raise RegistryError(f"registry host {host!r} is not in 127.0.0.0/8")
    return host


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


class RegistryClient:
    """The registry HTTP API (v2) of a registry on loopback."""

    def __init__(self, address: str) -> None:
        require_loopback(address.rpartition(":")[0])
        self.address = address
        # trust_env=False: never route loopback traffic through a proxy from the environment.
        self._http = httpx.Client(base_url=f"http://{address}", timeout=10, trust_env=False)

    def close(self) -> None:
        self._http.close()

    def ping(self) -> bool:
        try:
            return self._http.get("/v2/").status_code == 200
        except httpx.TransportError:
            return False

    def tags(self, name: str) -> list[str]:
        """GET /v2/NAME/tags/list: every tag of a repository, sorted."""
        response = self._http.get(f"/v2/{name}/tags/list")
        if response.status_code == 404:
            return []
        response.raise_for_status()
        return sorted(response.json().get("tags") or [])

    def digest(self, name: str, reference: str) -> str:
        """HEAD /v2/NAME/manifests/REF: the digest a tag (or digest) resolves to."""
        response = self._http.head(f"/v2/{name}/manifests/{reference}", headers={"Accept": MANIFEST_TYPES})
        if response.status_code != 200:
            raise RegistryError(f"{self.address}/{name}:{reference}: HTTP {response.status_code}")
        return response.headers["Docker-Content-Digest"]


class LocalRegistry:
    """``docker-registry serve`` on a free loopback port, with storage in a temporary directory.

    Use as a context manager; leaving it stops the process and deletes the storage.
    """

    def __init__(self, host: str = "127.0.0.1", port: int | None = None, start_timeout: float = 15) -> None:
        self.host = require_loopback(host)
        self._requested_port = port
        self.port = 0
        self.start_timeout = start_timeout
        self._dir: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self.client: RegistryClient | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self) -> LocalRegistry:
        binary = shutil.which(BINARY)
        if binary is None:
            raise RegistryError(f"Debian's {BINARY} is not installed; {INSTALL_HINT}")
        self._dir = Path(tempfile.mkdtemp(prefix="tel3sis-registry-"))
        try:
            # A free port can be taken between the probe and the registry's bind: try again then.
            for _attempt in range(3):
                self.port = self._requested_port or _free_port(self.host)
                if self._serve(binary):
                    return self
                if self._requested_port:
                    break
            raise RegistryError(f"{BINARY} did not start on {self.address}: {self._log_tail()}")
        except BaseException:
            self.stop()
            raise

    def _serve(self, binary: str) -> bool:
        assert self._dir is not None
        config = self._dir / "config.yml"
        storage = self._dir / "storage"
        storage.mkdir(exist_ok=True)
        config.write_text(_CONFIG.format(root=storage, host=self.host, port=self.port))
        with (self._dir / "registry.log").open("ab") as log:
            self._process = subprocess.Popen(
                [binary, "serve", str(config)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C meant for the caller reaches it through stop()
            )
        self.client = RegistryClient(self.address)
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                self._discard_client()
                return False
            if self.client.ping():
                return True
            time.sleep(0.1)
        self._terminate()
        self._discard_client()
        return False

    def _log_tail(self, lines: int = 20) -> str:
        if self._dir is None or not (self._dir / "registry.log").exists():
            return "(no log)"
        text = (self._dir / "registry.log").read_text(errors="replace").strip().splitlines()
        return "\n".join(text[-lines:]) or "(empty log)"

    def _discard_client(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None

    def _terminate(self) -> None:
        if self._process is None:
            return
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=10)
        self._process = None

    def stop(self) -> None:
        self._discard_client()
        self._terminate()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def __enter__(self) -> LocalRegistry:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
