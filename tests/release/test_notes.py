"""The release notes template."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from release.__main__ import main
from release.notes import PYPI_NAME, Distribution, distributions, render
from release.versioning import ReleaseError, Version, read_toml

IMAGE = "ghcr.io/owner/tel3sis"
DIGEST = "sha256:" + "ab" * 32
SHA = "0123456789abcdef0123456789abcdef01234567"
REPOSITORY = "Owner/repo"
ROOT = Path(__file__).resolve().parents[2]


def test_notes_link_the_package_page_and_name_the_digest() -> None:
    notes = render(IMAGE, Version.parse("1.4.2"), DIGEST, SHA, REPOSITORY)
    lines = notes.splitlines()

    assert lines[0] == "## Container image"
    page = "https://github.com/Owner/repo/pkgs/container/tel3sis"
    assert f"[`{IMAGE}:1.4.2`]({page})" in lines[:4]
    assert f"- Package page: {page}" in lines
    assert f"- Digest: `{DIGEST}`" in lines
    assert f"docker pull {IMAGE}@{DIGEST}" in lines
    assert "- Tags: `1.4.2`, `1.4`, `latest`, `sha-0123456`" in lines
    assert "pre-release" not in notes
    assert "gh attestation verify" not in notes  # only the workflow attests


def test_notes_link_the_python_package_on_pypi() -> None:
    notes = render(IMAGE, Version.parse("1.5.0-rc.1"), DIGEST, SHA, REPOSITORY)

    assert "## Python package" in notes
    assert "(https://pypi.org/project/pytest-tel3sis-compose/1.5.0rc1/)" in notes
    assert "pip install pytest-tel3sis-compose==1.5.0rc1" in notes


def test_the_pypi_name_is_the_project_name() -> None:
    assert read_toml(ROOT / "pyproject.toml")["project"]["name"] == PYPI_NAME


def test_prerelease_notes_say_latest_did_not_move() -> None:
    notes = render(IMAGE, Version.parse("1.5.0-rc.1"), DIGEST, SHA, REPOSITORY)

    assert "- Tags: `1.5.0-rc.1`, `sha-0123456`" in notes
    assert "This is a pre-release" in notes


def test_the_workflow_notes_say_how_to_verify_the_attestation() -> None:
    notes = render(IMAGE, Version.parse("1.4.2"), DIGEST, SHA, REPOSITORY, attested=True)

    assert f"gh attestation verify oci://{IMAGE}@{DIGEST} --repo Owner/repo" in notes


def test_the_attached_files_are_listed_with_their_sha256(tmp_path: Path) -> None:
    wheel = tmp_path / "pytest_tel3sis_compose-1.4.2-py3-none-any.whl"
    sdist = tmp_path / "pytest_tel3sis_compose-1.4.2.tar.gz"
    wheel.write_bytes(b"wheel bytes")
    sdist.write_bytes(b"sdist bytes")
    (tmp_path / "notes.txt").write_text("not a distribution")

    files = distributions(tmp_path)
    notes = render(IMAGE, Version.parse("1.4.2"), DIGEST, SHA, REPOSITORY, files=files)

    assert [f.filename for f in files] == [wheel.name, sdist.name]
    assert f"| `{wheel.name}` | `{hashlib.sha256(b'wheel bytes').hexdigest()}` |" in notes
    assert f"| `{sdist.name}` | `{hashlib.sha256(b'sdist bytes').hexdigest()}` |" in notes


def test_a_folder_without_distributions_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ReleaseError, match="no wheel or sdist"):
        distributions(tmp_path)


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
        render(image, Version.parse("1.4.2"), digest, SHA, REPOSITORY)


def test_notes_command_writes_the_file_the_workflow_passes_to_gh(tmp_path: Path) -> None:
    out = tmp_path / "notes.md"
    dist = tmp_path / "dist"
    dist.mkdir()
    (dist / "pytest_tel3sis_compose-1.4.2.tar.gz").write_bytes(b"sdist")

    status = main(
        ["notes", "--image", IMAGE, "--version", "1.4.2", "--revision", SHA, "--digest", DIGEST,
         "--repository", REPOSITORY, "--dist", str(dist), "--attested", "--output", str(out)]
    )  # fmt: skip

    files = [Distribution("pytest_tel3sis_compose-1.4.2.tar.gz", hashlib.sha256(b"sdist").hexdigest())]
    expected = render(IMAGE, Version.parse("1.4.2"), DIGEST, SHA, REPOSITORY, files=files, attested=True)
    assert status == 0
    assert out.read_text() == expected
