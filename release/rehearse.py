"""Rehearse a release here: the workflow's steps against a real registry on loopback.

    python -m release.rehearse --version 1.4.2
    python -m release.rehearse --version 1.5.0-rc.1 --registry 127.0.0.1:5000 --notes-out notes.md

The steps are the release workflow's, in its order, with the same rules (``release.versioning``),
labels (``release.image``), package checks (``release.dist``), image tests
(``release.image_check``) and notes template (``release.notes``):

1. check the tag against the package version; compute the tags for the version;
2. build the plugin's sdist and wheel from the working tree (with that version), check them,
   install the wheel into a fresh venv and run a stack test with it (``release.dist``);
3. build stack/Dockerfile with the OCI labels (the classic builder: this engine has no buildx;
   the layer cache is reused, so only the label layers are new) and push it once, under its
   ``sha-<7 hex>`` tag (the workflow pushes by digest alone; the classic builder needs a tag);
4. remove every local tag, pull the image back by digest, and check its labels;
5. run the reference stack's integration tests through the plugin against that digest, with
   ``--compose-no-build`` (``release.image_check``);
6. only then tag the tested digest with the release's other tags, and check through the
   registry API that the registry holds exactly the release's tags, each resolving to it;
7. render the release notes: the package page link, the digest, the wheel and sdist.

The rehearsal cannot put OCI annotations on an image index (the classic builder makes no index);
tests/release/test_workflow.py checks that the workflow does.

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
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from release import dist, image_check, notes
from release.image import image_repository, oci_labels
from release.registry import LocalRegistry, RegistryClient, RegistryError
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
#: The Compose project of a rehearsal's image tests is this prefix and the run id.
PROJECT_PREFIX = "tel3sis-rehearsal-"
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
    files: list[notes.Distribution] = field(default_factory=list)
    image_check: image_check.ImageCheck | None = None
    notes: str = ""

    @property
    def name(self) -> str:
        """The repository's name on its registry (owner/tel3sis)."""
        return self.repository.split("/", 1)[1]

    @property
    def reference(self) -> str:
        return f"{self.repository}@{self.digest}"

    @property
    def project(self) -> str:
        """The Compose project the image tests run under."""
        return f"{PROJECT_PREFIX}{self.run_id}"


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


def _push_once(result: Rehearsal, log: Log) -> None:
    """Push the image under its sha tag only: no release tag may point at it before it is tested."""
    ref = f"{result.repository}:{result.tags[-1]}"
    output = _docker("push", ref).stdout
    match = re.search(r"digest: (sha256:[0-9a-f]{64})", output)
    if match is None:
        raise RehearsalError(f"docker push {ref} printed no digest:\n{output}")
    result.digest = match[1]
    repo_digests = json.loads(_inspect(ref, "{{json .RepoDigests}}"))
    if result.reference not in repo_digests:
        raise RehearsalError(f"{ref}: RepoDigests {repo_digests} lack {result.reference}")
    log(f"pushed {ref} once, as {result.digest}")


def _promote(result: Rehearsal, registry: RegistryClient, log: Log) -> None:
    """Point the release's other tags at the tested digest, then read every tag back."""
    for tag in result.tags[:-1]:
        ref = f"{result.repository}:{tag}"
        _docker("tag", result.reference, ref)
        output = _docker("push", ref).stdout
        if f"digest: {result.digest}" not in output:
            raise RehearsalError(
                f"docker push {ref} did not push the tested digest {result.digest}:\n{output}"
            )
    log(f"tagged the tested digest {', '.join(result.tags[:-1])}")

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
    """Remove every local tag, then pull the pushed digest: what runs next came from the registry."""
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


def _python_package(result: Rehearsal, root: Path, scratch: Path, log: Log) -> None:
    """The workflow's dist job: build once, check, install into a fresh venv and run a stack test."""
    tree = dist.copy_tree(root, scratch / "source")
    dist.set_version(tree, str(result.version))
    (scratch / "exercise").mkdir()
    built = dist.build_check_exercise(tree, scratch / "dist", result.version, scratch / "exercise", log)
    result.files = [notes.Distribution.of(path) for path in built.files]


def rehearse(
    registry: RegistryClient,
    version: str | None = None,
    *,
    github_repository: str | None = None,
    root: Path = ROOT,
    timeout: float = 120,
    python_package: bool = True,
    log: Log = _log,
) -> Rehearsal:
    """Rehearse releasing `version` (default: the package version) to `registry`.

    The image goes to ``REGISTRY/<owner, lower-cased>/tel3sis``, as it goes to GHCR, with the
    owner from `github_repository` (OWNER/NAME). `timeout` is the stack's ``--compose-timeout``
    in the image tests. Without `python_package` the plugin's wheel is not built (the image
    alone). Raises RehearsalError (or ReleaseError) on the first failed step, after cleaning up.
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
    log(f"tag check: v{checked} matches the package version {checked} (Python: {checked.python})")

    repository = github_repository or default_repository(root)
    revision = _git(root, "rev-parse", "HEAD")
    if _git(root, "status", "--porcelain", "--untracked-files=no"):
        log(f"note: the working tree differs from {revision[:7]}; the rehearsal builds the working tree")
    result = Rehearsal(
        run_id=secrets.token_hex(4),
        version=checked,
        repository=image_repository(repository.split("/")[0], registry=registry.address),
        revision=revision,
        tags=image_tags(checked, revision),
    )
    log(f"tags for {checked}: {', '.join(result.tags)}")
    labels = oci_labels(checked, revision, repository)

    with tempfile.TemporaryDirectory(prefix="tel3sis-rehearsal-") as scratch, ExitStack() as stack:
        if python_package:
            _python_package(result, root, Path(scratch), log)
        refs = [f"{result.repository}:{tag}" for tag in result.tags]
        label_layers = _build(result, labels, root, log)
        # Clean-up runs last-registered first: the digest reference, then every tag (promote
        # tags the image again), then the label layers, children before parents (the first is
        # the tagged image itself, gone with its tags by then).
        stack.callback(_cleanup, log, "image", "rm", "--no-prune", *reversed(label_layers))
        stack.callback(_cleanup, log, "image", "rm", "--no-prune", *refs)
        _push_once(result, log)
        stack.callback(_cleanup, log, "image", "rm", "--no-prune", result.reference)
        _pull_back(result, log)
        _check_labels(result, labels, log)
        result.image_check = image_check.run(
            result.reference,
            root=root,
            project=result.project,
            extra_args=("--compose-timeout", f"{timeout:g}"),
            log=log,
        )
        _promote(result, registry, log)
    result.notes = notes.render(
        result.repository, checked, result.digest, revision, repository, files=result.files
    )
    log("rendered the release notes; cleaned up every container, network and image tag it made")
    return result


def summary(result: Rehearsal) -> str:
    labels = "\n".join(f"    {key}={value}" for key, value in sorted(result.labels.items()))
    files = (
        "\n".join(f"    {item.filename}  sha256:{item.sha256}" for item in result.files) or "    (not built)"
    )
    tests = result.image_check.summary if result.image_check else "(not run)"
    return (
        f"rehearsed {result.version.tag}: {result.reference}\n"
        f"  registry tags: {', '.join(result.registry_tags)}\n"
        f"  labels:\n{labels}\n"
        f"  integration tests against {result.reference}: {tests}\n"
        f"  Python package {result.version.python}:\n{files}\n"
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
    parser.add_argument("--timeout", type=float, default=120, help="the image tests' --compose-timeout")
    parser.add_argument(
        "--image-only", action="store_true", help="skip the Python package (build, check, fresh-venv test)"
    )
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
            result = rehearse(
                client,
                args.version,
                github_repository=args.repository,
                timeout=args.timeout,
                python_package=not args.image_only,
            )
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
