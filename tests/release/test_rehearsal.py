"""The release rehearsal on the real engine, against a real registry on 127.0.0.1."""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest

from release.registry import LocalRegistry, RegistryClient
from release.rehearse import RUN_LABEL, Rehearsal, RehearsalError, WebService, main, rehearse

pytestmark = pytest.mark.integration


def docker(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=False)


def client(registry: LocalRegistry) -> RegistryClient:
    assert registry.client is not None
    return registry.client


def leftovers(repository: str) -> list[str]:
    """Containers and networks of rehearsals since this test began, and local images of `repository`.

    Rehearsal objects that were there before the test (another run's) are not this test's.
    """
    found = [f"container {name}" for name in _rehearsal_objects("ps", "-aq")]
    found += [f"network {name}" for name in _rehearsal_objects("network", "ls", "-q")]
    images = docker("images", "--digests", "--format", "{{.Repository}}:{{.Tag}}@{{.Digest}}", repository)
    found += [f"image {line}" for line in images.stdout.split()]
    return [item for item in found if item not in _BEFORE]


def _rehearsal_objects(*command: str) -> list[str]:
    return docker(*command, "--filter", f"label={RUN_LABEL}").stdout.split()


_BEFORE: set[str] = set()


@pytest.fixture(autouse=True)
def _note_what_was_there() -> None:
    _BEFORE.clear()
    _BEFORE.update(f"container {name}" for name in _rehearsal_objects("ps", "-aq"))
    _BEFORE.update(f"network {name}" for name in _rehearsal_objects("network", "ls", "-q"))


def assert_published(result: Rehearsal, registry: LocalRegistry, expected_tags: set[str]) -> None:
    api = client(registry)
    registry_tags = api.tags(result.name)
    sha_tags = [tag for tag in registry_tags if tag.startswith("sha-")]

    assert re.fullmatch(r"[0-9a-f]{40}", result.revision)  # HEAD when it ran
    assert set(registry_tags) == expected_tags | {f"sha-{result.revision[:7]}"}
    assert len(sha_tags) == 1
    assert re.fullmatch(r"sha-[0-9a-f]{7}", sha_tags[0])
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", result.digest)
    assert {api.digest(result.name, tag) for tag in registry_tags} == {result.digest}

    labels = result.labels
    assert labels["org.opencontainers.image.version"] == str(result.version)
    assert labels["org.opencontainers.image.revision"] == result.revision
    assert labels["org.opencontainers.image.title"] == "tel3sis"
    assert labels["org.opencontainers.image.source"].startswith("https://github.com/Rehearsal-")
    datetime.strptime(labels["org.opencontainers.image.created"], "%Y-%m-%dT%H:%M:%SZ")

    assert result.health == {"redis": "ok", "broker": "ok"}

    assert f"`{result.repository}:{result.version}`" in result.notes
    assert f"- Digest: `{result.digest}`" in result.notes
    assert f"docker pull {result.repository}@{result.digest}" in result.notes

    assert leftovers(result.repository) == []


def test_rehearsal_of_a_release(local_registry: LocalRegistry) -> None:
    repository = "Rehearsal-Release/pytest-tel3sis-compose"

    result = rehearse(client(local_registry), "1.4.2", github_repository=repository)

    # The owner is lower-cased into the image path, as for ghcr.io/<owner>/tel3sis.
    assert result.repository == f"{local_registry.address}/rehearsal-release/tel3sis"
    assert_published(result, local_registry, {"1.4.2", "1.4", "latest"})


def test_rehearsal_of_a_prerelease_leaves_latest_alone(local_registry: LocalRegistry) -> None:
    repository = "Rehearsal-RC/pytest-tel3sis-compose"

    result = rehearse(client(local_registry), "1.5.0-rc.1", github_repository=repository)

    assert_published(result, local_registry, {"1.5.0-rc.1"})
    assert "latest" not in client(local_registry).tags(result.name)
    assert "This is a pre-release" in result.notes


def test_a_failed_rehearsal_still_cleans_up(
    local_registry: LocalRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    repository = f"{local_registry.address}/rehearsal-failure/tel3sis"
    compose = WebService.from_compose

    def never_healthy(path: Path) -> WebService:
        failing = ["python", "-c", "raise SystemExit('unhealthy: on purpose')"]
        return replace(compose(path), healthcheck=failing)

    # It fails at the last step, with the containers and network up and the image pulled.
    monkeypatch.setattr(WebService, "from_compose", never_healthy)
    with pytest.raises(RehearsalError, match="did not turn healthy within 2 s; last healthcheck: unhealthy"):
        rehearse(
            client(local_registry),
            "2.0.0",
            github_repository="Rehearsal-Failure/pytest-tel3sis-compose",
            timeout=2,
        )

    assert leftovers(repository) == []


def test_command_line_against_a_running_registry(
    local_registry: LocalRegistry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    notes = tmp_path / "notes.md"

    status = main(
        ["--version", "2.0.0", "--registry", local_registry.address,
         "--repository", "Rehearsal-CLI/pytest-tel3sis-compose", "--notes-out", str(notes)]
    )  # fmt: skip

    assert status == 0
    out = capsys.readouterr().out
    assert "registry tags: 2.0, 2.0.0, latest, sha-" in out
    assert json.dumps({"redis": "ok", "broker": "ok"}) in out
    assert f"docker pull {local_registry.address}/rehearsal-cli/tel3sis@sha256:" in notes.read_text()
    assert leftovers(f"{local_registry.address}/rehearsal-cli/tel3sis") == []


def test_command_line_refuses_a_registry_off_loopback(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--registry", "10.1.2.3:5000"]) == 1
    assert "not in 127.0.0.0/8" in capsys.readouterr().err
