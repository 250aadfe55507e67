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
one they may not (another owner, wider permissions, a symlink) is not used,
and each file is checked again as it is opened.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import tempfile
import time
from dataclasses import asdict, dataclass
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
)  # HOME is seen through the files it holds: ~/.docker's config.json and cli-plugins


@dataclass(frozen=True)
class Remembered:
    version: str
    """The `docker version` answer the details went with."""
    details: str
    """The `docker info` answer."""
    compose_binary: str


class Memo:
    """Answers kept for the docker CLI as it is when this is made: make it before asking."""

    def __init__(self, key: str, folder: Path, uid: int) -> None:
        self._path = folder / f"{key}.json"
        self._uid = uid

    @classmethod
    def here(cls, folder: Path | None = None) -> Memo | None:
        """None where nothing can be kept: no docker CLI, or no owner to check files by (Windows)."""
        key = _cli_key()
        if key is None or not hasattr(os, "getuid"):
            return None
        return cls(key, folder or default_folder(), os.getuid())

    def recall(self) -> Remembered | None:
        """The answer kept under this key, not older than the TTL, its Compose unchanged; else None."""
        try:
            entry = json.loads(self._read())
            age = time.time() - float(entry["at"])
            remembered = Remembered(*(str(entry[name]) for name in ("version", "details", "compose_binary")))
            kept_stat, compose_stat = entry["compose_stat"], _stat(remembered.compose_binary)
        except (OSError, ValueError, KeyError, TypeError):
            return None
        still = compose_stat is not None and kept_stat == compose_stat
        return remembered if still and 0 <= age < TTL_SECONDS else None

    def remember(self, answer: Remembered) -> None:
        """Keep `answer` for sessions to come; best effort (a read-only temp dir just means asking)."""
        compose_stat = _stat(answer.compose_binary)
        if compose_stat is None or not self._own_folder(create=True):
            return
        entry = {"at": time.time(), **asdict(answer), "compose_stat": compose_stat}
        staged = None
        try:
            fd, staged = tempfile.mkstemp(dir=self._path.parent, suffix=".tmp")
            with os.fdopen(fd, "w") as out:
                json.dump(entry, out)
            os.replace(staged, self._path)  # readers see the old file or the new, never half
        except OSError:
            if staged:
                Path(staged).unlink(missing_ok=True)
            return
        _forget_expired(self._path.parent)

    def _read(self) -> str:
        if not self._own_folder():
            raise OSError("no folder of this user's")
        # The file itself is checked too, as opened: the folder could be swapped since its check.
        with os.fdopen(os.open(self._path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))) as file:
            if not _owned_and_closed(os.fstat(file.fileno()), self._uid):
                raise OSError("not this user's file")
            return file.read()

    def _own_folder(self, create: bool = False) -> bool:
        """The folder is this user's and closed to others: an executable's path is read from it."""
        try:
            if create:
                self._path.parent.mkdir(mode=0o700, exist_ok=True)
            found = os.lstat(self._path.parent)
        except OSError:
            return False
        return stat.S_ISDIR(found.st_mode) and _owned_and_closed(found, self._uid, 0o077)


def _owned_and_closed(found: os.stat_result, uid: int, closed: int = 0o022) -> bool:
    return found.st_uid == uid and not found.st_mode & closed


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
        # config.json names the current context and extra plugin folders; cli-plugins shows a
        # plugin added there, which the CLI would prefer to a system one.
        "config": [_stat(config / name) for name in ("config.json", "cli-plugins")],
        # A daemon started again makes its socket anew, unless systemd holds it (Docker's usual
        # setup): then `docker version` and the TTL.
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


def _forget_expired(where: Path) -> None:
    for path in where.iterdir():  # answers, and any file a write cut short left
        try:
            if time.time() - path.stat().st_mtime > TTL_SECONDS:
                path.unlink()
        except OSError:
            continue
