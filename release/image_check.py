"""The shipped image under the plugin's own integration tests: pulled by digest, never built.

    python -m release.image_check ghcr.io/owner/tel3sis@sha256:<64 hex> [--reports DIR]

1. ``docker pull`` the reference: a digest, so it is the image pushed and no other;
2. run the reference stack's integration tests through the plugin with ``TEL3SIS_IMAGE`` set to
   the reference (the compose files read ``image: ${TEL3SIS_IMAGE:-tel3sis:dev}``) and
   ``--compose-no-build``, under a Compose project of its own;
3. read the engine's events for that project and check that every service the compose files run
   from ``TEL3SIS_IMAGE`` (web and worker) was created from exactly that reference.

The release workflow runs it against the digest it pushed before any tag points at it; the
rehearsal runs it against the digest it pulled back from its registry on loopback.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from release.versioning import ReleaseError

ROOT = Path(__file__).resolve().parent.parent
#: The integration tests that start the reference stack itself (web, worker, Redis) and nothing
#: else: they need no build. The others build their own images or start their own stacks.
TESTS = ("tests/integration/test_reference_stack.py",)
#: The services docker-compose.yml runs from TEL3SIS_IMAGE.
IMAGE_SERVICES = frozenset({"web", "worker"})
_REFERENCE = re.compile(r"[a-z0-9][a-z0-9._:/-]*@sha256:[0-9a-f]{64}")

Log = Callable[[str], None]


class ImageCheckError(ReleaseError):
    """The image could not be pulled, a test failed, or the tests did not run that image."""


def _log(message: str) -> None:
    print(f"[image-check] {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class ImageCheck:
    reference: str
    image_id: str
    project: str
    summary: str  # pytest's last line
    created: dict[str, str]  # service -> the image its container was created from
    seconds: float


def _docker(*args: str, timeout: float = 600) -> str:
    try:
        result = subprocess.run(
            ["docker", *args], capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        raise ImageCheckError(f"docker {args[0]} did not finish within {timeout:.0f} s") from None
    if result.returncode != 0:
        raise ImageCheckError(f"docker {' '.join(args[:2])} failed: {result.stderr.strip()}")
    return result.stdout


class CreatedContainers:
    """Watches the engine's events for the containers Compose creates under one project.

    A live subscription, started before the tests: the engine keeps only its last 256 events for
    ``docker events --since``, which a busy engine overwrites while the tests run.
    """

    def __init__(self, project: str) -> None:
        self._process = subprocess.Popen(
            ["docker", "events", "--since", f"{time.time() - 1:.3f}",
             "--format", "{{json .Actor.Attributes}}",
             "--filter", "type=container", "--filter", "event=create",
             "--filter", f"label=com.docker.compose.project={project}"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )  # fmt: skip

    def stop(self) -> dict[str, str]:
        """The image each container was created from, by service."""
        time.sleep(0.5)  # the last events reach the subscription
        self._process.terminate()
        output, _ = self._process.communicate(timeout=10)
        created: dict[str, str] = {}
        for line in output.splitlines():
            attributes = json.loads(line)
            created[attributes["com.docker.compose.service"]] = attributes["image"]
        return created


def run(
    reference: str,
    *,
    root: Path = ROOT,
    tests: Sequence[str] = TESTS,
    reports: Path | None = None,
    project: str | None = None,
    extra_args: Sequence[str] = (),
    log: Log = _log,
) -> ImageCheck:
    """Pull `reference` (REPOSITORY@sha256:...) and run `tests` through the plugin against it.

    `project` names the tests' Compose project (default: a fresh one); `extra_args` go to pytest.
    """
    if _REFERENCE.fullmatch(reference) is None:
        raise ImageCheckError(
            f"{reference!r} is not an image reference by digest (REPOSITORY@sha256:<64 hex>)"
        )
    started = time.monotonic()
    _docker("pull", "--quiet", reference)
    image_id = _docker("image", "inspect", "--format", "{{.Id}}", reference).strip()
    log(f"pulled {reference} (image {image_id[:19]})")

    project = project or f"image-check-{secrets.token_hex(4)}"
    argv = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *tests]
    argv += ["--compose-no-build", "--compose-project-name", project, *extra_args]
    if reports is not None:
        reports.mkdir(parents=True, exist_ok=True)
        argv += [f"--junitxml={reports / 'junit.xml'}", "-o", "junit_suite_name=image"]
    # The tests run as a user runs them; no coverage of this process leaks into theirs.
    env = {key: value for key, value in os.environ.items() if not key.startswith("COVERAGE_")}
    env["TEL3SIS_IMAGE"] = reference
    watch = CreatedContainers(project)
    try:
        result = subprocess.run(
            argv, cwd=root, env=env, capture_output=True, text=True, timeout=1800, check=False
        )
    finally:
        created = watch.stop()
    output = (result.stdout + result.stderr).strip()
    if reports is not None:
        (reports / "pytest.log").write_text(output + "\n")
    summary = output.splitlines()[-1].strip("= ") if output else ""
    if result.returncode != 0:
        tail = "\n".join(output.splitlines()[-60:])
        raise ImageCheckError(f"the integration tests failed against {reference}:\n{tail}")
    log(f"{', '.join(tests)} through the plugin, --compose-no-build: {summary}")

    wrong = {
        service: image
        for service, image in created.items()
        if service in IMAGE_SERVICES and image != reference
    }
    missing = IMAGE_SERVICES - set(created)
    if wrong or missing:
        raise ImageCheckError(
            f"the tests did not run {reference} for {sorted(IMAGE_SERVICES)}: created {created}"
        )
    log(f"engine events: {', '.join(sorted(IMAGE_SERVICES))} were created from {reference}")
    return ImageCheck(reference, image_id, project, summary, created, time.monotonic() - started)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m release.image_check", description=(__doc__ or "").split("\n\n")[0]
    )
    parser.add_argument("reference", help="REPOSITORY@sha256:<64 hex>, as pushed")
    parser.add_argument("--reports", type=Path, help="write junit.xml and the pytest log here")
    args = parser.parse_args(argv)
    try:
        check = run(args.reference, reports=args.reports)
    except ReleaseError as exc:
        _log(f"FAILED: {exc}")
        return 1
    _log(f"done in {check.seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
