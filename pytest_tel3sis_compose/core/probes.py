"""Readiness probes: how the plugin decides that a service is ready for tests.

A probe is checked repeatedly while the stack starts, each time against the
service's current container; the first passing check makes the service ready.
Declare one per service next to it in the compose file (`x-tel3sis-probe:`),
in pytest configuration (`compose_probes`), or from conftest.py by overriding
the `compose_probes` fixture with `Probe` objects.
"""

from __future__ import annotations

import json
import re
import socket
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from pytest_tel3sis_compose.core.boundary import CommandResult, ContainerStatus
from pytest_tel3sis_compose.errors import ConfigError, EngineError

JsonPredicate = Callable[[Any], bool]


@dataclass(frozen=True)
class ProbeResult:
    ok: bool
    output: str


class ProbeTarget(Protocol):
    """What a probe may look at: the service's container, its ports, a shell in it."""

    service: str
    status: ContainerStatus

    def address(self, port: int) -> tuple[str, int]:
        """Host and port where a published container port is reached from here."""

    def base_url(self, port: int) -> str: ...

    def execute(self, argv: Sequence[str]) -> CommandResult: ...

    def container_log(self) -> str:
        """Everything the service's current container has written so far."""


class Probe(ABC):
    #: A container that exited with code 0 counts as ready (one-shot services).
    accepts_completion = False
    #: The probe waits on the container's native healthcheck.
    waits_on_healthcheck = False

    @abstractmethod
    def check(self, target: ProbeTarget) -> ProbeResult:
        """Check once; never raise for a service that is merely not ready yet."""

    @abstractmethod
    def describe(self) -> str:
        """A short human description, used in progress lines and errors."""


class HealthcheckProbe(Probe):
    """Ready when the container's native healthcheck reports healthy."""

    waits_on_healthcheck = True

    def check(self, target: ProbeTarget) -> ProbeResult:
        status = target.status
        if status.health is None:
            return ProbeResult(False, "the container has no healthcheck")
        return ProbeResult(status.health == "healthy", f"{status.health}: {status.health_output}")

    def describe(self) -> str:
        return "native healthcheck"


class AllOf(Probe):
    """Ready when every one of its probes passes, checked in order."""

    def __init__(self, *probes: Probe) -> None:
        self.probes = probes
        self.accepts_completion = all(probe.accepts_completion for probe in probes)
        self.waits_on_healthcheck = any(probe.waits_on_healthcheck for probe in probes)

    def __repr__(self) -> str:
        return f"AllOf{self.probes!r}"

    def describe(self) -> str:
        return " and ".join(probe.describe() for probe in self.probes)

    def check(self, target: ProbeTarget) -> ProbeResult:
        outputs = []
        for probe in self.probes:
            result = probe.check(target)
            if not result.ok:
                return result
            outputs.append(result.output)
        return ProbeResult(True, "; ".join(outputs))


def http_probe_of(probe: Probe | None) -> HttpProbe | None:
    """The HTTP probe a probe is, or holds: it names the port a service's URL defaults to."""
    if isinstance(probe, HttpProbe):
        return probe
    if isinstance(probe, AllOf):
        return next((found for inner in probe.probes if (found := http_probe_of(inner))), None)
    return None


class RunningProbe(Probe):
    """Ready as soon as the container runs, or has run and exited 0.

    For services with nothing better to check. A one-shot service (a
    migration, a seed job) that exits 0 before it is seen running is ready
    too, where `docker compose up --wait` would call it failed. As a default
    (`image_healthcheck`), a healthcheck the image itself declares (a
    Dockerfile HEALTHCHECK, which the compose files do not show) must pass too.
    """

    accepts_completion = True

    def __init__(self, image_healthcheck: bool = False) -> None:
        self.image_healthcheck = image_healthcheck

    def check(self, target: ProbeTarget) -> ProbeResult:
        status = target.status
        ready = status.state == "running" or (status.state == "exited" and status.exit_code == 0)
        if ready and status.state == "running" and self.image_healthcheck:
            return image_health(status)
        return ProbeResult(ready, status.state)

    def describe(self) -> str:
        return "container running (or exited 0)"


class PortProbe(Probe):
    """Ready when every published TCP port answers: a server listens behind it.

    The default for a service with published ports and no healthcheck: that
    its container runs says nothing of whether its server listens yet. A
    connection is not enough on its own: Docker's port proxy accepts it and
    then closes it at once when nothing listens inside. A connection still
    open after a moment, or one that brings data, has a server behind it.
    One-shot services that exit 0 count as ready, as with `RunningProbe`.
    """

    accepts_completion = True

    def __init__(self, ports: Sequence[int], settle: float = 0.1, image_healthcheck: bool = False) -> None:
        self.ports = tuple(ports)
        self.settle = settle
        self.image_healthcheck = image_healthcheck

    def __repr__(self) -> str:
        return f"PortProbe({list(self.ports)!r})"

    def describe(self) -> str:
        return "published ports answer (" + ", ".join(map(str, self.ports)) + ")"

    def check(self, target: ProbeTarget) -> ProbeResult:
        status = target.status
        if status.state == "exited" and status.exit_code == 0:
            return ProbeResult(True, "exited 0")
        if status.state != "running":
            return ProbeResult(False, status.state)  # a created container has no published port yet
        for port in self.ports:
            try:
                host, public = target.address(port)
            except EngineError as exc:
                return ProbeResult(False, str(exc))
            answer = _answers(host, public, self.settle)
            if answer:
                return ProbeResult(False, f"port {port} ({host}:{public}): {answer}{_NOT_SERVED}")
        if self.image_healthcheck:
            return image_health(status)
        return ProbeResult(True, "every published port answers")


_NOT_SERVED = (
    ". A port nothing serves while tests run (a debugger's, say), or a server bound to 127.0.0.1 "
    "inside the container, never answers: declare the service's probe (x-tel3sis-probe or compose_probes)"
)


def image_health(status: ContainerStatus) -> ProbeResult:
    """A healthcheck the image declares (the engine reports one the compose files did not show)."""
    if status.health in (None, "healthy"):
        return ProbeResult(
            True, status.state + (f", image healthcheck {status.health}" if status.health else "")
        )
    return ProbeResult(False, f"its image's healthcheck: {status.health}: {status.health_output}")


def _answers(host: str, port: int, settle: float) -> str:
    """ "" when a server answers on host:port, else what happened instead."""
    try:
        with socket.create_connection((host, port), timeout=2) as connection:
            connection.settimeout(settle)
            try:
                return "" if connection.recv(1) else "closed at once: nothing listens behind it yet"
            except TimeoutError:
                return ""  # still open, waiting for us to speak: a server is there
    except OSError as exc:
        return f"{type(exc).__name__}: {exc}"


class CompletedProbe(Probe):
    """Ready when a one-shot container has exited with code 0."""

    accepts_completion = True

    def check(self, target: ProbeTarget) -> ProbeResult:
        status = target.status
        done = status.state == "exited" and status.exit_code == 0
        return ProbeResult(done, f"{status.state} (exit code {status.exit_code})")

    def describe(self) -> str:
        return "completed successfully"


class HttpProbe(Probe):
    """Ready when `GET path` on a published port answers `status` (and the JSON matches).

    `json` is either a callable taking the decoded body, or a mapping whose
    items must all be in the body; the key `"*"` matches every value, so
    `{"*": "ok"}` means "every subsystem is ok".

    >>> HttpProbe(3000, "/v1/health", json={"*": "ok"})
    HttpProbe(port=3000, path='/v1/health', status=200)
    """

    def __init__(
        self,
        port: int,
        path: str = "/",
        *,
        status: int = 200,
        json: Mapping[str, Any] | JsonPredicate | None = None,
        timeout: float = 2.0,
    ) -> None:
        if not path.startswith("/"):
            raise ConfigError(f"HTTP probe path {path!r} must start with '/'")
        self.port = int(port)
        self.path = path
        self.status = int(status)
        self.json = json
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"HttpProbe(port={self.port}, path={self.path!r}, status={self.status})"

    def describe(self) -> str:
        expectation = f"{self.status}" + (" and JSON match" if self.json is not None else "")
        return f"HTTP GET :{self.port}{self.path} expecting {expectation}"

    def check(self, target: ProbeTarget) -> ProbeResult:
        import httpx  # imported here: keeps plugin import fast for sessions without a stack

        url = target.base_url(self.port) + self.path
        try:
            # Plain HTTP to a published port on loopback: no CA bundle to load (httpx's
            # default TLS set-up costs ~30 ms of CPU a check), and no proxy from the
            # environment, which could not reach this host's loopback anyway.
            with httpx.Client(verify=False, trust_env=False, timeout=self.timeout) as client:
                response = client.get(url)
        except httpx.HTTPError as exc:
            return ProbeResult(False, f"GET {url}: {type(exc).__name__}: {exc}")
        summary = f"GET {url} -> {response.status_code} {response.text[:500]}"
        if response.status_code != self.status:
            return ProbeResult(False, summary)
        if self.json is None:
            return ProbeResult(True, summary)
        try:
            body = response.json()
        except ValueError:
            return ProbeResult(False, summary + " (not JSON)")
        return ProbeResult(json_matches(body, self.json), summary)


def json_matches(body: Any, expected: Mapping[str, Any] | JsonPredicate) -> bool:
    if callable(expected):
        try:
            return bool(expected(body))
        except Exception:  # a predicate that cannot judge this body: not ready yet
            return False
    if not isinstance(body, Mapping):
        return False
    for key, value in expected.items():
        if key == "*":
            if not body or any(item != value for item in body.values()):
                return False
        elif body.get(key, _MISSING) != value:
            return False
    return True


_MISSING = object()


class CommandProbe(Probe):
    """Ready when a command run inside the service's container exits 0.

    The command should bound its own run time (for example `celery inspect
    ping -t 2`); the stack's overall timeout bounds it in any case.
    """

    def __init__(self, argv: Sequence[str] | str) -> None:
        self.argv: tuple[str, ...] = ("sh", "-c", argv) if isinstance(argv, str) else tuple(argv)
        if not self.argv:
            raise ConfigError("a command probe needs a command, for example ['redis-cli', 'ping']")

    def __repr__(self) -> str:
        return f"CommandProbe({list(self.argv)!r})"

    def describe(self) -> str:
        return "command " + " ".join(self.argv)

    def check(self, target: ProbeTarget) -> ProbeResult:
        result = target.execute(self.argv)
        return ProbeResult(result.exit_code == 0, f"exit {result.exit_code}: {result.output}")


class OwnHealthcheckProbe(Probe):
    """Ready when the service's native healthcheck test passes, run by the plugin in the container.

    For engines that cannot run it quickly while a service starts (Docker
    before 25, which knows no `start_interval`) or at all (Podman without
    systemd): the same test, so "ready" still means what the service's own
    check means.
    """

    def __init__(self, test: Sequence[str]) -> None:
        kind, *rest = test
        self.test = tuple(test)
        self.argv: tuple[str, ...] = ("sh", "-c", rest[0]) if kind == "CMD-SHELL" else tuple(rest)

    def __repr__(self) -> str:
        return f"OwnHealthcheckProbe({list(self.test)!r})"

    def describe(self) -> str:
        return "its healthcheck's test, run by the plugin"

    def check(self, target: ProbeTarget) -> ProbeResult:
        result = target.execute(self.argv)
        return ProbeResult(result.exit_code == 0, f"exit {result.exit_code}: {result.output}")


class CeleryPingProbe(OwnHealthcheckProbe):
    """A Celery worker's `celery inspect ping` healthcheck, run by the plugin when it can pass.

    A ping sent before the worker listens fails only at its timeout, and its
    interpreter start costs a core while the worker itself starts: run back
    to back by the engine, such pings made the worker healthy 1.5 s after it
    was ready, and on a loaded machine starved its start. So the plugin runs
    the same test itself, as soon as the worker logs `celery@<host> ready.`;
    a worker that logs elsewhere (to a file, or above INFO) is pinged every
    `fallback` seconds instead. Ready still means the service's own check passed:
    Docker's `healthy` counts too, as the same test passed there (on a reused
    stack that spares a ping and its interpreter start).
    """

    READY = re.compile(r"celery@\S+ ready\.")

    def __init__(self, test: Sequence[str], fallback: float = 2.0) -> None:
        super().__init__(test)
        self.fallback = fallback
        self._last_run: float | None = None

    @staticmethod
    def recognises(test: Sequence[str]) -> bool:
        words = " ".join(test[1:]).split()
        return any(word.endswith("celery") for word in words) and "inspect" in words and "ping" in words

    def __repr__(self) -> str:
        return f"CeleryPingProbe({list(self.test)!r})"

    def describe(self) -> str:
        return "its healthcheck's celery ping, run by the plugin once the worker is ready"

    def check(self, target: ProbeTarget) -> ProbeResult:
        status = target.status
        if status.health == "healthy":
            return ProbeResult(True, f"healthy by the engine's own run of it: {status.health_output}")
        announced = self.READY.search(target.container_log())
        if self._last_run is None:
            self._last_run = time.monotonic()  # the fallback's clock starts at the first look
        if not announced and time.monotonic() - self._last_run < self.fallback:
            return ProbeResult(False, "the worker has not logged `ready.` yet")
        result = super().check(target)
        self._last_run = time.monotonic()
        return result


class LogProbe(Probe):
    """Ready when the container's log has a line matching `pattern` (a regular expression).

    For services that announce their own readiness, such as a Celery worker's
    `celery@host ready.`: seen within one poll, with no process started in
    the container. Only the current container's log counts, so a restarted
    container must announce itself again.
    """

    def __init__(self, pattern: str) -> None:
        try:
            self.regex = re.compile(pattern, re.MULTILINE)
        except re.error as exc:
            raise ConfigError(
                f"the log pattern {pattern!r} is not a valid regular expression: {exc}"
            ) from None
        self.pattern = pattern

    def __repr__(self) -> str:
        return f"LogProbe({self.pattern!r})"

    def describe(self) -> str:
        return f"log line matching '{self.pattern}'"

    def check(self, target: ProbeTarget) -> ProbeResult:
        log = target.container_log()
        found = self.regex.search(log)
        if found:
            return ProbeResult(True, found.group(0))
        last = log.rstrip("\n").rpartition("\n")[2]
        return ProbeResult(False, f"no line matches yet; last line: {last[-300:]}")


_FORMS = (
    'use one of: "healthcheck", "running", "completed", '
    '{"http": {"port": 3000, "path": "/v1/health", "status": 200, "json": {"*": "ok"}}}, '
    '{"command": ["redis-cli", "ping"]}, {"log": "ready to accept connections"}'
)


def probe_from_spec(spec: Any, *, where: str) -> Probe:
    """Turn a declaration from a compose file or pytest configuration into a Probe.

    `where` names the declaration's origin, so errors point at what to fix.
    """
    if isinstance(spec, Probe):
        return spec
    if isinstance(spec, str):
        simple: dict[str, Callable[[], Probe]] = {
            "healthcheck": HealthcheckProbe,
            "running": RunningProbe,
            "completed": CompletedProbe,
        }
        if spec in simple:
            return simple[spec]()
    if isinstance(spec, Mapping) and len(spec) == 1:
        ((kind, args),) = spec.items()
        try:
            if kind == "http" and isinstance(args, Mapping):
                return _http_probe(args)
            if kind == "command" and isinstance(args, (str, list)):
                return CommandProbe(args)
            if kind == "log" and isinstance(args, str):
                return LogProbe(args)
        except ConfigError as exc:
            label = "HTTP" if kind == "http" else kind
            raise ConfigError(f"bad {label} probe in {where}: {exc}; {_FORMS}") from None
        if kind in ("healthcheck", "running", "completed") and not args:
            return probe_from_spec(kind, where=where)
    raise ConfigError(f"cannot read the probe {spec!r} in {where}; {_FORMS}")


def _http_probe(args: Mapping[str, Any]) -> HttpProbe:
    unknown = set(args) - {"port", "path", "status", "json", "timeout"}
    if unknown:
        raise ConfigError(f"unknown keys {sorted(unknown)}")
    if "port" not in args:
        raise ConfigError("'port' is missing")
    args = dict(args)
    for key in ("port", "status"):
        value = args.get(key)
        # Digits in a string too: Compose interpolation (port: ${WEB_PORT}) gives strings.
        if isinstance(value, str) and value.isdigit():
            args[key] = int(value)
        elif key in args and not (isinstance(value, int) and not isinstance(value, bool)):
            raise ConfigError(f"{key!r} must be a whole number, not {value!r}")
    if "timeout" in args and not isinstance(args["timeout"], (int, float)):
        raise ConfigError(f"'timeout' must be a number of seconds, not {args['timeout']!r}")
    if "path" in args and not isinstance(args["path"], str):
        raise ConfigError(f"'path' must be a string, not {args['path']!r}")
    if args.get("json") is not None and not isinstance(args["json"], Mapping):
        raise ConfigError(f'\'json\' must be a mapping such as {{"*": "ok"}}, not {args["json"]!r}')
    return HttpProbe(**args)


def probe_from_line(line: str, *, where: str) -> tuple[str, Probe]:
    """Parse one `compose_probes` ini line: `SERVICE = SPEC`, SPEC a word or JSON."""
    service, sep, raw = line.partition("=")
    service, raw = service.strip(), raw.strip()
    if not sep or not service or not raw:
        raise ConfigError(
            f"cannot read {line!r} in {where}: write `SERVICE = SPEC`, for example "
            '`web = {"http": {"port": 3000, "path": "/v1/health"}}`'
        )
    try:
        spec = json.loads(raw) if raw[0] in '{["' else raw
    except json.JSONDecodeError as exc:
        raise ConfigError(f"the probe for {service!r} in {where} is not valid JSON: {exc}") from None
    return service, probe_from_spec(spec, where=f"{where} ({service})")
