"""The plugin's Python package: built from a fresh clone, checked, installed into a fresh venv, run."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from release.dist import DistError, set_version
from release.versioning import Version, read_package_version

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.integration
def test_a_wheel_from_a_fresh_clone_installs_registers_the_plugin_and_runs_a_stack(tmp_path: Path) -> None:
    """What `make wheel-check` runs; the release workflow's dist job runs the same on its checkout."""
    result = subprocess.run(
        [sys.executable, "-m", "release.dist", "--clone", "--outdir", str(tmp_path / "dist")],
        cwd=ROOT, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    log = result.stderr

    assert result.returncode == 0, log
    committed = subprocess.run(
        ["git", "show", "HEAD:pyproject.toml"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    (tmp_path / "pyproject.toml").write_text(committed)
    version = Version.parse(read_package_version(tmp_path / "pyproject.toml")).python
    assert sorted(p.name for p in (tmp_path / "dist").iterdir()) == [
        f"pytest_tel3sis_compose-{version}-py3-none-any.whl",
        f"pytest_tel3sis_compose-{version}.tar.gz",
    ]
    assert "cloned HEAD" in log
    assert "twine check --strict: " in log
    assert f"pytest -VV lists pytest-tel3sis-compose-{version} at " in log
    assert "pytest --help shows --compose-file" in log
    assert re.search(r"the test passed \(1 passed in [\d.]+s\), nothing left behind", log)


def test_set_version_rewrites_the_project_version_only(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        '[build-system]\nrequires = ["x"]\n\n[project]\nname = "p"\nversion = "0.1.0"\n\n'
        '[tool.other]\nversion = "9.9.9"\n'
    )

    set_version(tmp_path, "1.5.0-rc.1")

    assert read_package_version(pyproject) == "1.5.0-rc.1"
    assert 'version = "9.9.9"' in pyproject.read_text()


def test_set_version_needs_a_version_line(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "p"\ndynamic = ["version"]\n')

    with pytest.raises(DistError, match="no version line"):
        set_version(tmp_path, "1.4.2")
