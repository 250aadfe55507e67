"""Rehearse a release here: the workflow's steps against a real registry on loopback.

    python -m release.rehearse --version 1.4.2
    python -m release.rehearse --version 1.5.0-rc.1 --registry 127.0.0.1:5000 --notes-out notes.md

The steps are the release workflow's, with the same rules (``release.versioning``), labels
(``release.image``) and notes template (``release.notes``):

1. check the tag against the package version; compute the tags for the version;
2. build stack/Dockerfile with the OCI labels (the classic builder: this engine has no buildx;
   the layer cache is reused, so only the label layer is new);
3. push every tag, read the digest, and check through the registry API that the registry holds
   exactly those tags, each resolving to that digest;
4. remove the local tags, pull the image back by digest, and check its labels;
5. start the pulled image as docker-compose.yml starts the web service (its environment,
   beside a throwaway Redis on a private network, port published on 127.0.0.1 only), run the
   web service's compose healthcheck in it until it passes, and probe /v1/health from here;
6. render the release notes for the pushed image.

Without ``--registry`` it starts Debian's docker-registry on a free 127.0.0.1 port and stops it
at the end. Every container, network and volume it creates, and every image tag, is removed on
success and on failure alike; the build cache stays, so the next rehearsal is quick.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from release import notes
from release.image import image_repository, oci_labels
from release.registry import LocalRegistry, RegistryClient, RegistryError, require_loopback
from release.versioning import (
    ReleaseError,
    TagMismatchError,
    Version,
    check_tag,
    image_tags,
    read_package_version,
)

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = "stack/Dockerfile"
COMPOSE_FILE = "docker-compose.yml"
WEB_PORT = 3000
#: Label on every container and network a rehearsal creates, valued with its run id.
RUN_LABEL = "org.tel3sis.rehearsal"
DEFAULT_REPOSITORY = "rehearsal/pytest-tel3sis-compose"

Log = Callable[[str], None]


class RehearsalError(Exception):
    """A rehearsal step failed; the message says which and shows what Docker said."""


def _log(message: str) -> None:
    print(f"[rehearse] {message}", file=sys.stderr, flush=True)


@dataclass
class Rehearsal:
    """What a rehearsal published, and what it saw of it."""

    run_id: str
    version: Version
    repository: str  # REGISTRY/owner/tel3sis
    revision: str
    tags: list[str]
    digest: str = ""
    registry_tags: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    health: dict[str, Any] = field(default_factory=dict)
    healthy_after: float = 0.0
    notes: str = ""

    @property
    def name(self) -> str:
        """The repository's name on its registry (owner/tel3sis)."""
        return self.repository.split("/", 1)[1]

    @property
    def reference(self) -> str:
        return f"{self.repository}@{self.digest}"


def _docker(
    *args: str, timeout: float = 300, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    try:
        result = subprocess.run(
            ["docker", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, **env} if env else None,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise RehearsalError(f"docker {shlex.join(args[:3])} did not finish within {timeout:.0f} s") from None
    except FileNotFoundError:
        raise RehearsalError("the docker CLI is not on PATH; run scripts/bootstrap-docker.sh") from None
    if result.returncode != 0:
        output = (result.stderr.strip() or result.stdout.strip()).splitlines()
        raise RehearsalError(
            f"docker {shlex.join(args[:3])} failed (exit {result.returncode}):\n" + "\n".join(output[-30:])
        )
    return result


def _cleanup(log: Log, *args: str) -> None:
    """A clean-up step: never raises, so that one failure does not stop the others."""
    try:
        _docker(*args, timeout=60)
    except RehearsalError as exc:
        if "No such" not in str(exc):
            log(f"clean-up: {exc}")


def _git(root: Path, *args: str) -> str:
    result = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RehearsalError(f"git {shlex.join(args)} failed: {result.stderr.strip()}")
    return result.stdout.strip()


def default_repository(root: Path = ROOT) -> str:
    """OWNER/NAME: $GITHUB_REPOSITORY, else the GitHub origin remote, else a placeholder."""
    if os.environ.get("GITHUB_REPOSITORY"):
        return os.environ["GITHUB_REPOSITORY"]
    try:
        origin = _git(root, "remote", "get-url", "origin")
    except RehearsalError:
        return DEFAULT_REPOSITORY
    match = re.search(r"github\.com[:/]([^/]+/[^/]+?)(?:\.git)?$", origin)
    return match[1] if match else DEFAULT_REPOSITORY


@dataclass(frozen=True)
class WebService:
    """How docker-compose.yml runs the web service and its Redis; the rehearsal runs them alike."""

    environment: dict[str, str]
    healthcheck: list[str]  # argv, run in the container with docker exec
    init: bool
    redis_image: str
    redis_user: str | None
    redis_command: list[str]

    @classmethod
    def from_compose(cls, path: Path) -> WebService:
        services = yaml.safe_load(path.read_text())["services"]
        web, redis = services["web"], services["redis"]
        environment = web.get("environment") or {}
        if isinstance(environment, list):
            environment = dict(item.split("=", 1) for item in environment)
        test = web["healthcheck"]["test"]
        if isinstance(test, str):
            healthcheck = ["/bin/sh", "-c", test]
        elif test[0] == "CMD":
            healthcheck = [str(arg) for arg in test[1:]]
        elif test[0] == "CMD-SHELL":
            healthcheck = ["/bin/sh", "-c", test[1]]
        else:
            raise RehearsalError(f"{path}: cannot use the web healthcheck {test!r}")
        return cls(
            environment={str(k): str(v) for k, v in environment.items()},
            healthcheck=healthcheck,
            init=bool(web.get("init", False)),
            redis_image=redis["image"],
            redis_user=redis.get("user"),
            redis_command=[str(arg) for arg in redis.get("command") or []],
        )


def _build(result: Rehearsal, labels: dict[str, str], root: Path, log: Log) -> list[str]:
    """Build with the classic builder (this engine has no buildx), reusing the layer cache.

    Returns the images the build made for the ``--label`` steps, which the classic builder adds
    one per label after the Dockerfile's own steps: the created-time label is new every time, so
    these are never cache for a later build and are removed with the rest.
    """
    refs = [f"{result.repository}:{tag}" for tag in result.tags]
    args = ["build", "--force-rm", "--file", DOCKERFILE]
    for ref in refs:
        args += ["--tag", ref]
    for key, value in labels.items():
        args += ["--label", f"{key}={value}"]
    started = time.monotonic()
    output = _docker(*args, str(root), timeout=1200, env={"DOCKER_BUILDKIT": "0"}).stdout
    steps = re.split(r"^Step \d+/\d+ : ", output, flags=re.MULTILINE)[1:]
    cached = sum("Using cache" in step for step in steps)
    made = []
    for step in steps[len(steps) - len(labels) :]:
        image = re.findall(r"^ ---> ([0-9a-f]{12})$", step, re.MULTILINE)
        if step.startswith("LABEL ") and "Using cache" not in step and image:
            made.append(image[-1])
    elapsed = time.monotonic() - started
    log(f"built {refs[0]} in {elapsed:.1f} s ({cached} of {len(steps)} steps from the layer cache)")
    return made


def _push(result: Rehearsal, registry: RegistryClient, log: Log) -> None:
    digests = set()
    for tag in result.tags:
        ref = f"{result.repository}:{tag}"
        output = _docker("push", ref).stdout
        match = re.search(r"digest: (sha256:[0-9a-f]{64})", output)
        if match is None:
            raise RehearsalError(f"docker push {ref} printed no digest:\n{output}")
        digests.add(match[1])
    if len(digests) != 1:
        raise RehearsalError(f"the tags were pushed with different digests: {sorted(digests)}")
    result.digest = digests.pop()
    repo_digests = json.loads(_inspect(ref, "{{json .RepoDigests}}"))
    if result.reference not in repo_digests:
        raise RehearsalError(f"{ref}: RepoDigests {repo_digests} lack {result.reference}")
    log(f"pushed {', '.join(result.tags)} as {result.digest}")

    result.registry_tags = registry.tags(result.name)
    if sorted(result.registry_tags) != sorted(result.tags):
        raise RehearsalError(
            f"registry {registry.address} has tags {result.registry_tags} for {result.name}; "
            f"expected exactly {sorted(result.tags)}"
        )
    for tag in result.tags:
        resolved = registry.digest(result.name, tag)
        if resolved != result.digest:
            raise RehearsalError(f"{result.repository}:{tag} resolves to {resolved}, not {result.digest}")
    log(f"registry API: {result.name} has tags {', '.join(result.registry_tags)}, each -> {result.digest}")


def _pull_back(result: Rehearsal, log: Log) -> None:
    _docker("image", "rm", "--no-prune", *(f"{result.repository}:{tag}" for tag in result.tags))
    gone = subprocess.run(
        ["docker", "image", "inspect", result.reference], capture_output=True, text=True, check=False
    )
    if gone.returncode == 0:
        raise RehearsalError(f"{result.reference} is still here without its tags; a pull would prove nothing")
    output = _docker("pull", result.reference).stdout
    if "Downloaded newer image" not in output:
        raise RehearsalError(f"docker pull {result.reference} did not download the image:\n{output}")
    log(f"removed the local tags and pulled {result.reference} back from the registry")


def _check_labels(result: Rehearsal, expected: dict[str, str], log: Log) -> None:
    labels = json.loads(_inspect(result.reference, "{{json .Config.Labels}}")) or {}
    result.labels = {key: value for key, value in labels.items() if key.startswith("org.opencontainers.")}
    wrong = [key for key, value in expected.items() if result.labels.get(key) != value]
    if wrong:
        detail = "\n".join(f"  {k}: expected {expected[k]!r}, found {result.labels.get(k)!r}" for k in wrong)
        raise RehearsalError(f"the pulled image's labels are not the ones built in:\n{detail}")
    version = result.labels["org.opencontainers.image.version"]
    log(f"the pulled image carries the {len(expected)} OCI labels it was built with (version {version})")


def _inspect(target: str, template: str) -> str:
    return _docker("inspect", "--format", template, target).stdout


def _container_state(name: str) -> dict[str, Any]:
    state: dict[str, Any] = json.loads(_inspect(name, "{{json .State}}"))
    return state


def _healthcheck(container: str, argv: list[str]) -> tuple[bool, str]:
    """Run a healthcheck command in a container: whether it passed, and what it printed."""
    try:
        probe = subprocess.run(
            ["docker", "exec", container, *argv], capture_output=True, text=True, timeout=15, check=False
        )
    except subprocess.TimeoutExpired:
        return False, "(timed out after 15 s)"
    return probe.returncode == 0, (probe.stdout + probe.stderr).strip()


def _logs(container: str) -> str:
    output = _docker("logs", "--tail", "30", container)
    return (output.stdout + output.stderr).strip()


def _start_and_probe(result: Rehearsal, web: WebService, stack: ExitStack, timeout: float, log: Log) -> None:
    prefix = f"tel3sis-rehearsal-{result.run_id}"
    label = f"{RUN_LABEL}={result.run_id}"
    network = f"{prefix}-net"
    _docker("network", "create", "--label", label, network)
    stack.callback(_cleanup, log, "network", "rm", network)

    redis_name, web_name = f"{prefix}-redis", f"{prefix}-web"
    redis_args = ["run", "--detach", "--name", redis_name, "--label", label, "--network", network]
    redis_args += ["--network-alias", "redis"]
    if web.redis_user:
        redis_args += ["--user", web.redis_user]
    stack.callback(_cleanup, log, "rm", "--force", "--volumes", redis_name)
    _docker(*redis_args, web.redis_image, *web.redis_command)

    web_args = ["run", "--detach", "--name", web_name, "--label", label, "--network", network]
    web_args += ["--publish", f"127.0.0.1::{WEB_PORT}"]
    if web.init:
        web_args.append("--init")
    for key, value in web.environment.items():
        web_args += ["--env", f"{key}={value}"]
    stack.callback(_cleanup, log, "rm", "--force", "--volumes", web_name)
    started = time.monotonic()
    _docker(*web_args, result.reference)

    # The compose healthcheck, run in the container with docker exec until it passes. Not as a
    # Docker HEALTHCHECK: engine 20.10 has crashed on these machines (nil pointer in ContainerExecStart,
    # daemon/health.go) when a container was removed while the engine was probing it.
    deadline = started + timeout
    while True:
        state = _container_state(web_name)
        if not state.get("Running"):
            raise RehearsalError(f"the pulled image exited with {state.get('ExitCode')}:\n{_logs(web_name)}")
        passed, last = _healthcheck(web_name, web.healthcheck)
        if passed:
            break
        if time.monotonic() > deadline:
            raise RehearsalError(
                f"the pulled image did not turn healthy within {timeout:.0f} s; "
                f"last healthcheck: {last}\nlogs:\n{_logs(web_name)}"
            )
        time.sleep(0.5)
    result.healthy_after = time.monotonic() - started

    published = _docker("port", web_name, f"{WEB_PORT}/tcp").stdout.split()[0]
    require_loopback(published.rpartition(":")[0])
    try:
        response = httpx.get(f"http://{published}/v1/health", timeout=5, trust_env=False)
        result.health = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise RehearsalError(f"GET http://{published}/v1/health failed: {exc}") from None
    if response.status_code != 200 or any(value != "ok" for value in result.health.values()):
        raise RehearsalError(f"GET /v1/health answered {response.status_code} {result.health}")
    log(
        f"pulled image is healthy after {result.healthy_after:.1f} s "
        f"(healthcheck: {shlex.join(web.healthcheck)}); GET http://{published}/v1/health -> {result.health}"
    )


def rehearse(
    registry: RegistryClient,
    version: str | None = None,
    *,
    github_repository: str | None = None,
    root: Path = ROOT,
    timeout: float = 120,
    log: Log = _log,
) -> Rehearsal:
    """Rehearse releasing `version` (default: the package version) to `registry`.

    The image goes to ``REGISTRY/<owner, lower-cased>/tel3sis``, as it goes to GHCR, with the
    owner from `github_repository` (OWNER/NAME). Raises RehearsalError (or ReleaseError for a
    version the rules refuse) on the first failed step, after cleaning up.
    """
    package_version = read_package_version(root / "pyproject.toml")
    wanted = version or package_version
    if wanted != package_version:
        try:
            check_tag(f"v{wanted}", package_version)
        except TagMismatchError as exc:
            log(f"the release workflow would stop here, as it should: {exc}")
        log(f'rehearsing as if pyproject.toml said version = "{wanted}"')
    checked = check_tag(f"v{wanted}", wanted)
    log(f"tag check: v{checked} matches the package version {checked}")

    repository = github_repository or default_repository(root)
    revision = _git(root, "rev-parse", "HEAD")
    if _git(root, "status", "--porcelain", "--untracked-files=no"):
        log(f"note: the working tree differs from {revision[:7]}; the image is built from the working tree")
    result = Rehearsal(
        run_id=secrets.token_hex(4),
        version=checked,
        repository=image_repository(repository.split("/")[0], registry=registry.address),
        revision=revision,
        tags=image_tags(checked, revision),
    )
    log(f"tags for {checked}: {', '.join(result.tags)}")
    labels = oci_labels(checked, revision, repository)
    web = WebService.from_compose(root / COMPOSE_FILE)

    with ExitStack() as stack:
        refs = [f"{result.repository}:{tag}" for tag in result.tags]
        stack.callback(_cleanup, log, "image", "rm", "--no-prune", *refs)
        label_layers = _build(result, labels, root, log)
        # Children before parents; the last one is the tagged image itself, gone with its tags.
        stack.callback(_cleanup, log, "image", "rm", "--no-prune", *reversed(label_layers))
        _push(result, registry, log)
        stack.callback(_cleanup, log, "image", "rm", "--no-prune", result.reference)
        _pull_back(result, log)
        _check_labels(result, labels, log)
        _start_and_probe(result, web, stack, timeout, log)
    result.notes = notes.render(result.repository, checked, result.digest, revision)
    log("rendered the release notes; cleaned up every container, network and image tag it made")
    return result


def summary(result: Rehearsal) -> str:
    labels = "\n".join(f"    {key}={value}" for key, value in sorted(result.labels.items()))
    return (
        f"rehearsed {result.version.tag}: {result.reference}\n"
        f"  registry tags: {', '.join(result.registry_tags)}\n"
        f"  labels:\n{labels}\n"
        f"  healthy after {result.healthy_after:.1f} s; /v1/health: {json.dumps(result.health)}\n"
        f"--- release notes ---\n{result.notes}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m release.rehearse", description=__doc__.split("\n\n")[0] if __doc__ else None
    )
    parser.add_argument("--version", help="the version to release (default: the package version)")
    parser.add_argument("--registry", help="HOST:PORT of a registry on 127.0.0.0/8 (default: start one)")
    parser.add_argument("--repository", help="OWNER/NAME for the image path and labels (default: origin)")
    parser.add_argument("--notes-out", type=Path, help="also write the release notes here")
    parser.add_argument("--timeout", type=float, default=120, help="seconds the image gets to turn healthy")
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        with ExitStack() as stack:
            if args.registry:
                client = RegistryClient(args.registry)
                stack.callback(client.close)
                if not client.ping():
                    raise RegistryError(f"no registry answers at http://{args.registry}/v2/")
            else:
                local = stack.enter_context(LocalRegistry())
                assert local.client is not None
                client = local.client
                _log(f"started docker-registry on {local.address} (stopped at the end)")
            result = rehearse(client, args.version, github_repository=args.repository, timeout=args.timeout)
    except (RehearsalError, RegistryError, ReleaseError) as exc:
        _log(f"FAILED: {exc}")
        return 1
    if args.notes_out:
        args.notes_out.write_text(result.notes, encoding="utf-8")
    print(summary(result))
    _log(f"done in {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
