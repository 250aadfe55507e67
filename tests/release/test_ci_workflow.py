"""The integration tests in shards: `make integration SHARD=i/N`, and the CI job that runs them.

The shards are pytest-split's groups over the durations in .test_durations. What matters: the N
shards together run exactly the tests an unsharded run collects, each exactly once; CI's matrix
runs every shard and names its reports as the Makefile does; the coverage job combines every
shard's and the unit tests' reports into one.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CI = ROOT / ".github" / "workflows" / "ci.yml"


def make_dry_run(*args: str) -> list[str]:
    """The command lines `make -n ARGS` prints (nothing runs)."""
    result = subprocess.run(
        ["make", "--no-print-directory", "-n", *args], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return result.stdout.splitlines()


def run_tests_line(*make_args: str) -> tuple[str, list[str]]:
    """The reports name and pytest arguments `make integration ...` hands scripts/run-tests.sh."""
    lines = [line for line in make_dry_run("integration", *make_args) if "scripts/run-tests.sh" in line]
    assert len(lines) == 1, lines
    words = shlex.split(lines[0])
    start = words.index("scripts/run-tests.sh")
    return words[start + 1], words[start + 2 :]


def collected(pytest_args: list[str]) -> list[str]:
    """The node ids pytest selects with these arguments, collecting only."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--collect-only", "-q", *pytest_args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return [line for line in result.stdout.splitlines() if "::" in line]


@pytest.fixture(scope="module")
def ci() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(CI.read_text())
    return data


@pytest.fixture(scope="module")
def unsharded() -> list[str]:
    """What `make integration` runs."""
    name, args = run_tests_line()
    assert name == "compose"
    return collected(args)


@pytest.mark.parametrize("shards", [2, 3])
def test_the_shards_together_run_exactly_the_unsharded_tests_once_each(
    shards: int, unsharded: list[str]
) -> None:
    groups = []
    for group in range(1, shards + 1):
        shard_name, args = run_tests_line(f"SHARD={group}/{shards}")
        assert shard_name == f"compose-{group}-of-{shards}"
        assert f"reports/{shard_name}/logs" in args  # each shard keeps its own reports
        groups.append(collected(args))

    assert len(unsharded) > 20
    assert all(groups), "every shard runs some tests"
    assert sorted(test for group in groups for test in group) == sorted(unsharded)


def test_the_stored_durations_are_of_integration_tests() -> None:
    """What the split balances by. A test without an entry counts as the mean of the others, so a new
    or renamed test only makes the split less even until `make durations` stores it."""
    durations = json.loads((ROOT / ".test_durations").read_text())

    assert len(durations) > 20
    assert all(test.startswith("tests/integration/") and "::" in test for test in durations)
    assert all(seconds > 0 for seconds in durations.values())


def test_a_malformed_shard_is_refused_before_anything_runs() -> None:
    result = subprocess.run(
        ["make", "-n", "integration", "SHARD=2"], cwd=ROOT, capture_output=True, text=True
    )

    assert result.returncode != 0
    assert "SHARD=2: expected i/N" in result.stderr


def test_ci_runs_every_shard_and_names_its_reports_as_make_does(ci: dict[str, Any]) -> None:
    compose = ci["jobs"]["compose"]
    shards = compose["strategy"]["matrix"]["shard"]
    run = next(s for s in compose["steps"] if "make integration" in s.get("run", ""))
    upload = next(s for s in compose["steps"] if s.get("name", "").startswith("Upload this shard"))

    assert shards == list(range(1, len(shards) + 1))
    assert len(shards) >= 2
    assert compose["strategy"]["fail-fast"] is False  # one failing shard does not hide the others
    assert compose["env"]["SHARD"] == "${{ matrix.shard }}/${{ strategy.job-total }}"
    assert run["run"] == 'make integration SHARD="$SHARD"'
    assert compose["outputs"]["shards"] == "${{ strategy.job-total }}"
    for shard in shards:
        folder = compose["env"]["REPORTS"].replace("${{ matrix.shard }}", str(shard))
        folder = folder.replace("${{ strategy.job-total }}", str(len(shards)))
        name, _ = run_tests_line(f"SHARD={shard}/{len(shards)}")
        assert folder == name
    assert upload["with"]["name"] == "${{ env.REPORTS }}"
    assert upload["with"]["overwrite"] is True  # a re-run of one shard replaces its own reports
    assert "reports/${{ env.REPORTS }}/.coverage" in upload["with"]["path"]


def test_the_coverage_job_combines_unit_and_every_shard(ci: dict[str, Any]) -> None:
    coverage = ci["jobs"]["coverage"]
    downloads = [
        s["with"] for s in coverage["steps"] if s.get("uses", "").startswith("actions/download-artifact@")
    ]
    report = next(s for s in coverage["steps"] if "make coverage-report" in s.get("run", ""))
    unit_upload = next(
        s["with"]
        for s in ci["jobs"]["unit"]["steps"]
        if s.get("uses", "").startswith("actions/upload-artifact@")
    )

    assert set(coverage["needs"]) == {"unit", "compose"}
    assert coverage["if"] == "${{ !cancelled() }}"  # failing tests still leave reports to combine
    assert {"name": unit_upload["name"], "path": "reports/unit"} in downloads
    # Every shard's artifact, each into reports/<its name>, the folder make coverage-report reads.
    assert {"pattern": "compose-*-of-*", "path": "reports"} in downloads
    assert report["env"]["SHARDS"] == "${{ needs.compose.outputs.shards }}"
    assert report["run"] == 'make coverage-report SHARDS="$SHARDS"'
    combined = next(
        line for line in make_dry_run("coverage-report", "SHARDS=3") if "coverage-report.sh" in line
    )
    assert shlex.split(combined)[-4:] == [
        "reports/unit",
        "reports/compose-1-of-3",
        "reports/compose-2-of-3",
        "reports/compose-3-of-3",
    ]


def test_coverage_report_refuses_a_missing_shard(tmp_path: Path) -> None:
    present = tmp_path / "compose-1-of-2"
    present.mkdir()
    (present / ".coverage").write_text("")
    (present / "junit.xml").write_text("<testsuites/>")

    result = subprocess.run(
        [
            "bash",
            "scripts/coverage-report.sh",
            str(tmp_path / "out"),
            str(present),
            str(tmp_path / "compose-2-of-2"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )

    assert result.returncode == 1
    assert re.search(r"missing: .*compose-2-of-2/\.coverage", result.stderr)
    assert not (tmp_path / "out").exists()
