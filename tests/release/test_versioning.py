"""The version check and the tag rules, and the command line the workflow calls."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.version import Version as Pep440

from release.__main__ import main
from release.image import REQUIRED_LABELS, image_repository, oci_labels
from release.versioning import (
    ReleaseError,
    TagMismatchError,
    Version,
    check_tag,
    image_tags,
    read_package_version,
    short_sha,
)

ROOT = Path(__file__).resolve().parents[2]
SHA = "0123456789abcdef0123456789abcdef01234567"


def write_pyproject(directory: Path, version: str) -> Path:
    path = directory / "pyproject.toml"
    path.write_text(f'[project]\nname = "x"\nversion = "{version}"\n')
    return path


def test_the_package_version_is_read_from_pyproject() -> None:
    text = (ROOT / "pyproject.toml").read_text()
    expected = re.search(r'^\[project\][^[]*?^version = "([^"]+)"', text, re.MULTILINE | re.DOTALL)
    assert expected is not None

    assert read_package_version(ROOT / "pyproject.toml") == expected[1]


def test_a_pyproject_without_a_version_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')

    with pytest.raises(ReleaseError, match="no \\[project\\] version"):
        read_package_version(tmp_path / "pyproject.toml")
    with pytest.raises(ReleaseError, match="does not exist"):
        read_package_version(tmp_path / "missing.toml")


@pytest.mark.parametrize("version", ["0.1.0", "1.4.2", "1.5.0-rc.1", "2.0.0-alpha.1", "2.0.0-beta"])
def test_a_tag_that_names_the_package_version_passes(version: str) -> None:
    assert str(check_tag(f"v{version}", version)) == version


@pytest.mark.parametrize(
    ("version", "python"),
    [
        ("1.4.2", "1.4.2"),
        ("1.5.0-rc.1", "1.5.0rc1"),
        ("1.5.0-RC2", "1.5.0rc2"),
        ("2.0.0-alpha.1", "2.0.0a1"),
        ("2.0.0-beta", "2.0.0b0"),
        ("2.0.0-pre.3", "2.0.0rc3"),
    ],
)
def test_the_python_version_is_pep_440s_spelling_of_the_same_version(version: str, python: str) -> None:
    assert Version.parse(version).python == python
    assert str(Pep440(version)) == python  # as setuptools names the wheel, and PyPI the release


@pytest.mark.parametrize("version", ["2.0.0-alpha.1.x-y", "1.5.0-nightly.7", "1.5.0-rc.1.2"])
def test_a_prerelease_pep_440_cannot_spell_is_refused(version: str) -> None:
    """The plugin goes to PyPI under the same version as the image, so both must be able to carry it."""
    with pytest.raises(ReleaseError, match="PEP 440"):
        check_tag(f"v{version}", version)


def test_a_tag_that_does_not_match_says_both_versions() -> None:
    with pytest.raises(TagMismatchError) as failure:
        check_tag("v1.4.2", "0.1.0")

    message = str(failure.value)
    assert "tag v1.4.2 does not match the package version 0.1.0" in message
    assert "pyproject.toml" in message


@pytest.mark.parametrize(
    ("tag", "why"),
    [
        ("1.4.2", "release tags are v<version>"),
        ("v1.4", "not a release version"),
        ("v01.4.2", "not a release version"),
        ("v1.4.2+build.7", "not a release version"),  # '+' cannot be in a Docker tag
        ("v1.4.2-", "not a release version"),
    ],
)
def test_a_tag_that_is_no_release_tag_is_refused(tag: str, why: str) -> None:
    with pytest.raises(ReleaseError, match=why):
        check_tag(tag, "1.4.2")


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("1.4.2", ["1.4.2", "1.4", "latest", "sha-0123456"]),
        ("2.0.0", ["2.0.0", "2.0", "latest", "sha-0123456"]),
        ("0.1.0", ["0.1.0", "0.1", "latest", "sha-0123456"]),
        ("1.5.0-rc.1", ["1.5.0-rc.1", "sha-0123456"]),
    ],
)
def test_tag_rules(version: str, expected: list[str]) -> None:
    assert image_tags(Version.parse(version), SHA) == expected


def test_a_revision_must_be_a_commit_sha() -> None:
    assert short_sha(SHA) == "0123456"
    with pytest.raises(ReleaseError, match="not a commit SHA"):
        short_sha("HEAD")


def test_the_image_is_named_after_the_lower_cased_owner() -> None:
    assert image_repository("TEL3SIS-Org") == "ghcr.io/tel3sis-org/tel3sis"
    assert image_repository("Someone", registry="127.0.0.1:5000") == "127.0.0.1:5000/someone/tel3sis"
    with pytest.raises(ReleaseError):
        image_repository("not/an/owner")


def test_labels_name_the_source_version_and_revision() -> None:
    labels = oci_labels(Version.parse("1.4.2"), SHA, "Owner/repo")

    assert set(REQUIRED_LABELS) <= set(labels)
    assert labels["org.opencontainers.image.source"] == "https://github.com/Owner/repo"
    assert labels["org.opencontainers.image.version"] == "1.4.2"
    assert labels["org.opencontainers.image.revision"] == SHA


def test_check_tag_command_writes_the_workflow_outputs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outputs = tmp_path / "github_output"
    pyproject = write_pyproject(tmp_path, "1.5.0-rc.1")

    status = main(
        ["check-tag", "v1.5.0-rc.1", "--pyproject", str(pyproject), "--owner", "Org",
         "--revision", SHA, "--github-output", str(outputs)]
    )  # fmt: skip

    assert status == 0
    assert outputs.read_text().splitlines() == [
        "tag=v1.5.0-rc.1",
        "version=1.5.0-rc.1",
        "prerelease=true",
        "python-version=1.5.0rc1",
        "image=ghcr.io/org/tel3sis",
        f"revision={SHA}",
    ]
    assert "tags: 1.5.0-rc.1, sha-0123456" in capsys.readouterr().out


def test_check_tag_command_fails_with_both_versions_and_an_annotation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    outputs = tmp_path / "github_output"

    status = main(
        ["check-tag", "v1.4.2", "--pyproject", str(write_pyproject(tmp_path, "1.4.1")),
         "--github-output", str(outputs)]
    )  # fmt: skip

    assert status == 1
    captured = capsys.readouterr()
    assert "error: tag v1.4.2 does not match the package version 1.4.1" in captured.err
    assert captured.out.startswith("::error title=Release check failed::tag v1.4.2 does not match")
    assert not outputs.exists()


def test_the_workflow_command_line_runs_as_a_module() -> None:
    """As the workflow runs it: `python -m release check-tag` from the repository root."""
    version = read_package_version(ROOT / "pyproject.toml")

    def check(tag: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "release", "check-tag", tag]
        return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)

    good, bad = check(f"v{version}"), check("v99.0.0")

    assert good.returncode == 0, good.stderr
    assert bad.returncode == 1
    assert f"tag v99.0.0 does not match the package version {version}" in bad.stderr


def test_tags_command_prints_one_tag_a_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tags", "1.4.2", "--revision", SHA]) == 0
    assert capsys.readouterr().out.split() == ["1.4.2", "1.4", "latest", "sha-0123456"]
