"""The real Docker boundary, on python-on-whales and the Compose v2 CLI."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from python_on_whales import DockerClient, DockerException
from python_on_whales.utils import run

from pytest_tel3sis_compose import prefetch
from pytest_tel3sis_compose.docker_host import VERIFIED, engine_key
from pytest_tel3sis_compose.engine_types import CommandResult, ContainerStatus
from pytest_tel3sis_compose.errors import ConfigError, EngineError
from pytest_tel3sis_compose.ownership import Janitor, sweep_workdirs

_START_ENGINE = (
    "start a Docker engine (Docker Desktop, `sudo systemctl start docker`, or on a bare "
    "Debian/Ubuntu machine `bash scripts/bootstrap-docker.sh` from this project), or point "
    "DOCKER_HOST at one that runs"
)
_INSTALL_COMPOSE = (
    "install Compose v2 as a Docker CLI plugin (Debian/Ubuntu: the docker-compose-plugin "
    "package; or `bash scripts/bootstrap-docker.sh` from this project); the old Python "
    "`docker-compose` v1 is not supported"
)


class WhalesEngine:
    """One compose project, driven through python-on-whales."""

    def __init__(
        self,
        compose_files: Sequence[Path],
        project_name: str,
        project_directory: Path | None = None,
    ) -> None:
        self.docker = DockerClient(
            compose_files=list(compose_files),
            compose_project_name=project_name,
            compose_project_directory=project_directory,
        )
        self.project_name = project_name
        self._directory = project_directory
        self._container_ids: dict[str, str] = {}

    def check(self) -> None:
        if engine_key() in VERIFIED:
            return  # this process saw it answer, Compose included (the report header asked)
        try:
            self.docker.version()
        except DockerException as exc:
            raise EngineError(f"no Docker engine answers: {_stderr(exc)}\nFix: {_START_ENGINE}.") from None
        except FileNotFoundError:
            raise EngineError(f"the `docker` command is not installed.\nFix: {_START_ENGINE}.") from None
        try:
            installed = self.docker.compose.is_installed()
        except DockerException:  # the CLI refuses `compose` outright
            installed = False
        if not installed:
            raise EngineError(f"`docker compose version` failed.\nFix: {_INSTALL_COMPOSE}.")
        VERIFIED.add(engine_key())

    def add_compose_file(self, path: Path) -> None:
        self.docker = DockerClient(
            compose_files=[*self.docker.client_config.compose_files, path],
            compose_project_name=self.project_name,
            compose_project_directory=self.docker.client_config.compose_project_directory,
        )

    def sweep_orphans(self) -> list[str]:
        # Best effort: another session may sweep the same orphan at the same time,
        # and a stack that starts fine must not fail for someone else's leftovers.
        sweep_workdirs()
        janitor = Janitor(self.docker)
        try:
            orphans = sorted(janitor.orphaned_projects())
        except DockerException:
            return []
        removed = []
        for project in orphans:
            try:
                janitor.remove(project)
            except DockerException:
                continue
            removed.append(project)
        return removed

    def config(self) -> Mapping[str, Any]:
        files = [Path(path) for path in self.docker.client_config.compose_files]
        ready = prefetch.take(files, self.project_name, self._directory)
        if ready is not None:
            return ready
        # The YAML form, not --format json: JSON drops service-level x- extension
        # fields, and probes are declared in one.
        try:
            text = run([*self.docker.client_config.docker_compose_cmd, "config"])
        except DockerException as exc:
            raise ConfigError(
                f"the compose files are invalid:\n{_stderr(exc)}\n"
                "Fix the file named above; `docker compose config` shows the same error."
            ) from None
        loaded = yaml.safe_load(str(text))
        if not isinstance(loaded, Mapping):
            raise ConfigError("`docker compose config` printed no mapping; are the compose files empty?")
        return loaded

    def build(self) -> None:
        try:
            self.docker.compose.build()
        except DockerException as exc:
            raise EngineError(f"building the stack's images failed:\n{_stderr(exc)}") from None

    def image_id(self, reference: str) -> str | None:
        try:
            return str(self.docker.image.inspect(reference).id)
        except DockerException:
            return None

    def up(self) -> None:
        # quiet=True captures stderr, so a failure carries Compose's own reason.
        self.docker.compose.up(detach=True, quiet=True, remove_orphans=True)

    def status(self, service: str) -> ContainerStatus | None:
        container_id = self._container_ids.get(service)
        if container_id is None:
            self._container_ids.update(self._project_containers())
            container_id = self._container_ids.get(service)
            if container_id is None:
                return None
        try:
            container = self.docker.container.inspect(container_id)
        except DockerException:
            self._container_ids.pop(service, None)
            return None
        state = container.state
        health = state.health
        last = health.log[-1].output if health and health.log else None
        return ContainerStatus(
            service=service,
            container_id=container_id,
            state=state.status or "unknown",
            exit_code=state.exit_code,
            health=health.status if health else None,
            health_output=(last or "").strip(),
            labels=dict(container.config.labels or {}),
            ports=_published(container.network_settings.ports),
        )

    def _project_containers(self) -> dict[str, str]:
        """Container ID by service, in one `docker ps` (far quicker than `compose ps` per service)."""
        try:
            listed = str(self._list_project_containers())
        except DockerException:
            return {}  # the engine hiccuped: the next poll asks again
        pairs = (line.split(" ", 1) for line in listed.splitlines() if " " in line)
        return {service: container_id for container_id, service in pairs}

    def _list_project_containers(self) -> str:
        return str(
            run(
            [
                *self.docker.client_config.docker_cmd,
                "ps", "--all", "--no-trunc",
                "--filter", f"label=com.docker.compose.project={self.project_name}",
                "--format", '{{.ID}} {{.Label "com.docker.compose.service"}}',
            ]
            )
        )  # fmt: skip

    def execute(self, service: str, argv: Sequence[str]) -> CommandResult:
        try:
            output = self.docker.compose.execute(service, list(argv), tty=False)
        except DockerException as exc:
            return CommandResult(exc.return_code, _stderr(exc))
        return CommandResult(0, (output or "").strip())

    def port(self, service: str, port: int) -> tuple[str, int] | None:
        try:
            host, public = self.docker.compose.port(service, port)
        except DockerException:
            return None
        if host is None or public is None:
            return None
        return host, public

    def logs(
        self,
        service: str,
        tail: int | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> str:
        try:
            return str(
                self.docker.compose.logs(
                    [service],
                    tail=None if tail is None else str(tail),
                    since=since.isoformat() if since else None,
                    until=until.isoformat() if until else None,
                    no_log_prefix=True,
                )
            )
        except DockerException as exc:
            return f"(logs unavailable: {_stderr(exc)})"

    def container_log(self, container_id: str) -> str:
        try:
            return str(self.docker.container.logs(container_id))
        except DockerException as exc:
            return f"(log unavailable: {_stderr(exc)})"

    def stop(self, timeout: int) -> None:
        failure = self._compose_shielded("stop", f"--timeout={timeout}")
        if failure:
            raise EngineError(f"stopping project {self.project_name!r} failed:\n{failure}")

    def down(self, timeout: int) -> None:
        self._container_ids.clear()  # the next `up` makes new containers
        failure = self._compose_shielded("down", "--volumes", "--remove-orphans", f"--timeout={timeout}")
        if failure:
            raise EngineError(
                f"taking project {self.project_name!r} down failed:\n{failure}\n"
                f"Remove it by hand: docker compose -p {self.project_name} down -v --remove-orphans"
            )

    def _compose_shielded(self, *args: str) -> str:
        """Run `docker compose ARGS` out of the terminal's process group; its stderr if it failed.

        A second Ctrl-C reaches every process of the foreground group: run
        in it, a `down` would die half done. In its own session it finishes.
        """
        done = subprocess.run(
            [*map(str, self.docker.client_config.docker_compose_cmd), *args],
            capture_output=True, text=True, start_new_session=True, check=False,
        )  # fmt: skip
        return "" if done.returncode == 0 else (done.stderr.strip() or f"exit code {done.returncode}")


def _published(ports: Mapping[str, Any] | None) -> dict[int, tuple[str, int]]:
    """`{"3000/tcp": [{"HostIp": "127.0.0.1", "HostPort": "32768"}]}` -> `{3000: ("127.0.0.1", 32768)}`."""
    published = {}
    for key, bindings in (ports or {}).items():
        port, _, protocol = key.partition("/")
        if protocol == "tcp" and bindings:
            first = bindings[0]
            published[int(port)] = (first.get("HostIp") or "0.0.0.0", int(first["HostPort"]))
    return published


def _stderr(exc: DockerException) -> str:
    text = (exc.stderr or "").strip() or (exc.stdout or "").strip()
    return text or f"`{' '.join(exc.docker_command)}` exited with {exc.return_code}"


def prune_stacks(kept: set[str]) -> list[str]:
    """Remove the stacks of dead owners, and those of the `kept` projects."""
    janitor = Janitor(DockerClient())
    try:
        projects = janitor.orphaned_projects() | (janitor.kept_projects() & kept)
        for project in sorted(projects):
            janitor.remove(project)
    except DockerException as exc:
        raise EngineError(f"{_stderr(exc)}\nFix: {_START_ENGINE}.") from None
    return sorted(projects)
