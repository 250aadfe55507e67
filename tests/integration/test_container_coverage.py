"""--compose-coverage: code that ran only inside the containers shows in the host's report."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def line_of(path: str, marker: str) -> int:
    """The 1-based number of the only line of `path` containing `marker`."""
    numbers = [n for n, line in enumerate((REPO / path).read_text().splitlines(), 1) if marker in line]
    assert len(numbers) == 1, f"{marker!r} is on lines {numbers} of {path}"
    return numbers[0]


def hits(report: ET.Element, filename: str) -> dict[int, int]:
    for cls in report.iter("class"):
        if cls.get("filename") == filename:
            return {int(line.get("number", 0)): int(line.get("hits", 0)) for line in cls.iter("line")}
    raise AssertionError(f"{filename} is not in the report")


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> ET.Element:
    """Run one reference-stack test with pytest-cov and --compose-coverage, as a user would."""
    out = tmp_path_factory.mktemp("coverage")
    env = {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE_")}
    env["COVERAGE_FILE"] = str(out / ".coverage")
    result = subprocess.run(
        [
            sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
            "tests/integration/test_reference_stack.py::test_task_runs_on_the_worker_through_redis",
            "--compose-coverage", "--cov", f"--cov-report=xml:{out / 'coverage.xml'}",
        ],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert not list(out.glob(".coverage.*")), "container data files were left uncombined"
    return ET.parse(out / "coverage.xml").getroot()


def test_web_handler_lines_that_ran_in_the_container_are_hit(report: ET.Element) -> None:
    web = hits(report, "stack/tel3sis_ref/web.py")

    assert web[line_of("stack/tel3sis_ref/web.py", "result = analyze_transcript.delay(")] > 0
    assert web[line_of("stack/tel3sis_ref/web.py", 'return {"task_id": result.id')] > 0


def test_celery_task_lines_that_ran_in_the_worker_are_hit(report: ET.Element) -> None:
    worker = hits(report, "stack/tel3sis_ref/worker.py")

    assert worker[line_of("stack/tel3sis_ref/worker.py", "counts = Counter(words)")] > 0


def test_lines_that_never_ran_are_missed(report: ET.Element) -> None:
    web = hits(report, "stack/tel3sis_ref/web.py")
    worker = hits(report, "stack/tel3sis_ref/worker.py")

    assert web[line_of("stack/tel3sis_ref/web.py", "status_code=504")] == 0
    assert worker[line_of("stack/tel3sis_ref/worker.py", 'return {"words": 0, "top_words": []}')] == 0


def test_report_paths_are_relative_to_the_repository_root(report: ET.Element) -> None:
    filenames = {cls.get("filename") for cls in report.iter("class")}

    assert "pytest_tel3sis_compose/core/stack.py" in filenames
    assert all(name and not name.startswith("/") for name in filenames)
