"""The release rehearsal on the real engine, against a real registry on 127.0.0.1."""

from __future__ import annotations

import re
import subprocess
from datetime import datetime
from pathlib import Path

import pytest

from release.image_check import ImageCheckError
from release.registry import LocalRegistry, RegistryClient
from release.rehearse import PROJECT_PREFIX, Rehearsal, main, rehearse

pytestmark = pytest.mark.integration


def docker(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=False)


def client(registry: LocalRegistry) -> RegistryClient:
    assert registry.client is not None
    return registry.client


def rehearsal_objects() -> set[str]:
    """Containers, networks and volumes of rehearsals' Compose projects (any rehearsal's)."""
    found = set()
    project = '{{.Label "com.docker.compose.project"}}'
    for kind, command in (
        ("container", ("ps", "-a", "--format", f"{{{{.Names}}}} {project}")),
        ("network", ("network", "ls", "--format", f"{{{{.Name}}}} {project}")),
        ("volume", ("volume", "ls", "--format", f"{{{{.Name}}}} {project}")),
    ):
        for line in docker(*command).stdout.splitlines():
            name, _, owner = line.partition(" ")
            if owner.startswith(PROJECT_PREFIX):
                found.add(f"{kind} {name}")
    return found


_BEFORE: set[str] = set()


@pytest.fixture(autouse=True)
def _note_what_was_there() -> None:
    """Rehearsal objects that were there before the test (another run's) are not this test's."""
    _BEFORE.clear()
    _BEFORE.update(rehearsal_objects())


def leftovers(repository: str) -> list[str]:
    """This test's rehearsal containers, networks and volumes, and local images of `repository`."""
    images = docker("images", "--digests", "--format", "{{.Repository}}:{{.Tag}}@{{.Digest}}", repository)
    found = sorted(rehearsal_objects() - _BEFORE)
    return found + [f"image {line}" for line in images.stdout.split()]


def assert_published(result: Rehearsal, registry: LocalRegistry, expected_tags: set[str]) -> None:
    api = client(registry)
    registry_tags = api.tags(result.name)
    sha_tags = [tag for tag in registry_tags if tag.startswith("sha-")]

    assert re.fullmatch(r"[0-9a-f]{40}", result.revision)  # HEAD when it ran
    assert set(registry_tags) == expected_tags | {f"sha-{result.revision[:7]}"}
    assert len(sha_tags) == 1
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", result.digest)
    assert {api.digest(result.name, tag) for tag in registry_tags} == {result.digest}

    labels = result.labels
    assert labels["org.opencontainers.image.version"] == str(result.version)
    assert labels["org.opencontainers.image.revision"] == result.revision
    assert labels["org.opencontainers.image.title"] == "tel3sis"
    assert labels["org.opencontainers.image.source"].startswith("https://github.com/Rehearsal-")
    datetime.strptime(labels["org.opencontainers.image.created"], "%Y-%m-%dT%H:%M:%SZ")

    # The plugin's integration tests ran against the pulled digest, web and worker created from it.
    checked = result.image_check
    assert checked is not None
    assert checked.reference == result.reference
    assert re.fullmatch(r"[1-9]\d* passed in .*", checked.summary), (
        checked.summary
    )  # nothing failed or skipped
    assert {checked.created["web"], checked.created["worker"]} == {result.reference}

    assert f"`{result.repository}:{result.version}`" in result.notes
    assert f"- Digest: `{result.digest}`" in result.notes
    assert f"docker pull {result.repository}@{result.digest}" in result.notes
    assert re.search(
        r"https://github\.com/Rehearsal-[\w-]+/pytest-tel3sis-compose/pkgs/container/tel3sis", result.notes
    )

    assert leftovers(result.repository) == []


def test_rehearsal_of_a_release(local_registry: LocalRegistry) -> None:
    repository = "Rehearsal-Release/pytest-tel3sis-compose"

    result = rehearse(client(local_registry), "1.4.2", github_repository=repository)

    # The owner is lower-cased into the image path, as for ghcr.io/<owner>/tel3sis.
    assert result.repository == f"{local_registry.address}/rehearsal-release/tel3sis"
    assert_published(result, local_registry, {"1.4.2", "1.4", "latest"})
    # The Python package, built with the rehearsed version, checked and run in a fresh venv.
    assert [f.filename for f in result.files] == [
        "pytest_tel3sis_compose-1.4.2-py3-none-any.whl",
        "pytest_tel3sis_compose-1.4.2.tar.gz",
    ]
    for item in result.files:
        assert f"| `{item.filename}` | `{item.sha256}` |" in result.notes
    assert "pip install pytest-tel3sis-compose==1.4.2" in result.notes


def test_rehearsal_of_a_prerelease_leaves_latest_alone(local_registry: LocalRegistry) -> None:
    repository = "Rehearsal-RC/pytest-tel3sis-compose"

    result = rehearse(
        client(local_registry), "1.5.0-rc.1", github_repository=repository, python_package=False
    )

    assert_published(result, local_registry, {"1.5.0-rc.1"})
    assert "latest" not in client(local_registry).tags(result.name)
    assert "This is a pre-release" in result.notes
    assert result.files == []


def test_a_digest_that_fails_its_tests_gets_no_release_tag_and_nothing_is_left(
    local_registry: LocalRegistry,
) -> None:
    repository = f"{local_registry.address}/rehearsal-failure/tel3sis"

    # A stack that cannot be ready in a tenth of a second: the image tests fail after the push and
    # the pull, with the stack's containers up.
    with pytest.raises(ImageCheckError, match=r"integration tests failed against \S+@sha256:"):
        rehearse(
            client(local_registry),
            "2.0.0",
            github_repository="Rehearsal-Failure/pytest-tel3sis-compose",
            timeout=0.1,
            python_package=False,
        )

    # Only the sha tag it was pushed under: the release's tags never named the untested digest.
    assert [
        tag for tag in client(local_registry).tags("rehearsal-failure/tel3sis") if not tag.startswith("sha-")
    ] == []
    assert leftovers(repository) == []


def test_command_line_against_a_running_registry(
    local_registry: LocalRegistry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    notes = tmp_path / "notes.md"

    status = main(
        ["--version", "2.0.0", "--registry", local_registry.address, "--image-only",
         "--repository", "Rehearsal-CLI/pytest-tel3sis-compose", "--notes-out", str(notes)]
    )  # fmt: skip

    assert status == 0
    out = capsys.readouterr().out
    assert "registry tags: 2.0, 2.0.0, latest, sha-" in out
    assert re.search(r"integration tests against \S+@sha256:[0-9a-f]{64}: [1-9]\d* passed in ", out)
    text = notes.read_text()
    assert f"docker pull {local_registry.address}/rehearsal-cli/tel3sis@sha256:" in text
    assert "https://github.com/Rehearsal-CLI/pytest-tel3sis-compose/pkgs/container/tel3sis" in text
    assert leftovers(f"{local_registry.address}/rehearsal-cli/tel3sis") == []


def test_command_line_refuses_a_registry_off_loopback(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--registry", "10.1.2.3:5000"]) == 1
    assert "not in 127.0.0.0/8" in capsys.readouterr().err
