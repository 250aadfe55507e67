"""What `docker info` answered, remembered between sessions while nothing it depends on changed.

`docker info` lists the CLI's plugins, and the CLI starts each plugin to ask
for its metadata: about a twentieth of a second here, and a tenth of a
second of CPU with the engine's own work, most of what asking the engine
costs a session that reuses a kept stack. What the plugin reads from it
(Compose's version and executable, rootless, the cgroup driver) changes only
with the CLI, its configuration, Compose or the engine. So an answer is
remembered under a key made of those (the CLI's executable, its
configuration files and plugin folder, the Docker environment variables, the
engine's socket, Compose's executable) and used only while the key is the
same, for at most `TTL_SECONDS`, and only with the same `docker version`
answer, which is asked every session (it is cheap). The TTL bounds what no
key can see, such as a second Compose installed in another plugin folder.

Files live in a folder of the temporary directory only this user may write;
one they may not (another owner, wider permissions, a symlink) is not used.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

TTL_SECONDS = 600

#: What the docker CLI reads from the environment that could change its answers.
_ENVIRONMENT = (
    "DOCKER_HOST",
    "DOCKER_CONTEXT",
    "DOCKER_CONFIG",
    "DOCKER_API_VERSION",
    "DOCKER_CERT_PATH",
    "DOCKER_TLS_VERIFY",
    "HOME",
)


@dataclass(frozen=True)
class Remembered:
    version: str
    """The `docker version` answer the details went with."""
    details: str
    """The `docker info` answer."""
    compose_binary: str


def recall(folder: Path | None = None) -> Remembered | None:
    """The answer remembered under today's key and not older than the TTL, else None."""
    key = _cli_key()
    where = _folder(folder)
    if key is None or where is None:
        return None
    try:
        entry = json.loads((where / f"{key}.json").read_text())
        age = time.time() - float(entry["at"])
        remembered = Remembered(str(entry["version"]), str(entry["details"]), str(entry["compose_binary"]))
        still = entry["compose_stat"] == _stat(remembered.compose_binary)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return remembered if still and 0 <= age < TTL_SECONDS else None


def remember(answer: Remembered, folder: Path | None = None) -> None:
    """Keep `answer` for sessions to come; best effort (a read-only temp dir just means asking)."""
    key = _cli_key()
    where = _folder(folder, create=True)
    if key is None or where is None:
        return
    entry = {
        "at": time.time(),
        "version": answer.version,
        "details": answer.details,
        "compose_binary": answer.compose_binary,
        "compose_stat": _stat(answer.compose_binary),
    }
    try:
        fd, staged = tempfile.mkstemp(dir=where, suffix=".tmp")
        with os.fdopen(fd, "w") as out:
            json.dump(entry, out)
        os.replace(staged, where / f"{key}.json")  # readers see the old file or the new, never half
        _forget_expired(where)
    except OSError:
        return


def _cli_key() -> str | None:
    """A digest of what the CLI's answers depend on, here and now; None without a docker CLI."""
    docker = shutil.which("docker")
    if docker is None:
        return None
    config = Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker")
    host = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    parts = {
        "environment": {name: os.environ.get(name) for name in _ENVIRONMENT},
        "docker": [os.path.realpath(docker), _stat(docker)],
        "config": [_stat(config / name) for name in ("config.json", "contexts/meta", "cli-plugins")],
        # A daemon started again makes its socket anew (unless systemd holds it: the TTL then).
        "socket": _stat(host.removeprefix("unix://")) if host.startswith("unix://") else None,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:24]


def _stat(path: str | Path) -> list[int] | None:
    try:
        found = os.stat(path)
    except (OSError, ValueError):
        return None
    return [found.st_ino, found.st_size, found.st_mtime_ns, found.st_ctime_ns]


def default_folder() -> Path:
    return Path(tempfile.gettempdir()) / f"tel3sis-engine-{os.getuid()}"


def _folder(folder: Path | None, create: bool = False) -> Path | None:
    """This user's folder for remembered answers, if it is safe to trust what it holds."""
    uid = os.getuid() if hasattr(os, "getuid") else None
    if uid is None:
        return None  # no owner to check (Windows): always ask
    where = folder or default_folder()
    try:
        if create:
            where.mkdir(mode=0o700, exist_ok=True)
        found = os.lstat(where)
    except OSError:
        return None
    # An executable's path is read from here: only a folder of this user's, closed to others, will do.
    safe = stat.S_ISDIR(found.st_mode) and found.st_uid == uid and not found.st_mode & 0o077
    return where if safe else None


def _forget_expired(where: Path) -> None:
    for path in where.iterdir():  # answers, and any file a write cut short left
        try:
            if time.time() - path.stat().st_mtime > TTL_SECONDS:
                path.unlink()
        except OSError:
            continue
