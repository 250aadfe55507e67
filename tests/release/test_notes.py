"""The release notes template."""

from __future__ import annotations

from pathlib import Path

import pytest

from release.__main__ import main
from release.notes import render
from release.versioning import ReleaseError, Version

IMAGE = "ghcr.io/owner/tel3sis"
DIGEST = "sha256:" + "ab" * 32
SHA = "0123456789abcdef0123456789abcdef01234567"


def test_notes_start_with_the_reference_digest_and_pull_line() -> None:
    notes = render(IMAGE, Version.parse("1.4.2"), DIGEST, SHA)
    lines = notes.splitlines()

    assert lines[0] == "## Container image"
    assert f"`{IMAGE}:1.4.2`" in lines[:4]
    assert f"- Digest: `{DIGEST}`" in lines
    assert f"docker pull {IMAGE}@{DIGEST}" in lines
    assert "- Tags: `1.4.2`, `1.4`, `latest`, `sha-0123456`" in lines
    assert "pre-release" not in notes


def test_prerelease_notes_say_latest_did_not_move() -> None:
    notes = render(IMAGE, Version.parse("1.5.0-rc.1"), DIGEST, SHA)

    assert "- Tags: `1.5.0-rc.1`, `sha-0123456`" in notes
    assert "This is a pre-release" in notes


def test_the_workflow_notes_say_how_to_verify_the_attestation() -> None:
    notes = render(IMAGE, Version.parse("1.4.2"), DIGEST, SHA, github_repository="Owner/repo")

    assert f"gh attestation verify oci://{IMAGE}@{DIGEST} --repo Owner/repo" in notes


@pytest.mark.parametrize(
    ("image", "digest", "why"),
    [
        (IMAGE, "sha256:abc", "not an image digest"),
        (IMAGE + ":1.4.2", DIGEST, "without a tag"),
        (IMAGE + "@" + DIGEST, DIGEST, "without a tag"),
    ],
)
def test_notes_refuse_what_is_not_an_image_and_digest(image: str, digest: str, why: str) -> None:
    with pytest.raises(ReleaseError, match=why):
        render(image, Version.parse("1.4.2"), digest, SHA)


def test_notes_command_writes_the_file_the_workflow_passes_to_gh(tmp_path: Path) -> None:
    out = tmp_path / "notes.md"

    status = main(
        ["notes", "--image", IMAGE, "--version", "1.4.2", "--revision", SHA, "--digest", DIGEST,
         "--repository", "Owner/repo", "--output", str(out)]
    )  # fmt: skip

    assert status == 0
    assert out.read_text() == render(IMAGE, Version.parse("1.4.2"), DIGEST, SHA, "Owner/repo")
