"""Coverage inside the containers: the override entries, the config written, the data collected."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from pytest_tel3sis_compose.core.container_coverage import (
    MOUNT_POINT,
    ContainerCoverage,
    CoverageSettings,
    validate_sources,
)
from pytest_tel3sis_compose.core.model import ProjectSpec
from pytest_tel3sis_compose.errors import ConfigError, UnknownServiceError
from tests.unit.fakes import compose, service


def project(**services: dict[str, object]) -> ProjectSpec:
    return ProjectSpec.from_config(compose(**services))


def built() -> dict[str, object]:
    return {**service(), "build": {"context": "."}}


def test_built_services_are_measured_by_default_with_a_writable_folder(tmp_path: Path) -> None:
    coverage = ContainerCoverage(CoverageSettings(tmp_path / ".coverage", source=("/app", "/lib")))

    entries = coverage.prepare(project(web=built(), worker=built(), redis=service()), tmp_path / "cov")

    assert set(entries) == {"web", "worker"}
    assert entries["web"] == {
        "environment": {"COVERAGE_PROCESS_START": f"{MOUNT_POINT}/coveragerc"},
        "volumes": [{"type": "bind", "source": str(tmp_path / "cov"), "target": MOUNT_POINT}],
    }
    rc = (tmp_path / "cov" / "coveragerc").read_text()
    assert "parallel = true" in rc
    assert "sigterm = true" in rc
    assert f"data_file = {MOUNT_POINT}/.coverage" in rc
    assert "    /app\n    /lib\n" in rc
    assert stat.S_IMODE((tmp_path / "cov").stat().st_mode) == 0o777  # non-root services write here


def test_named_services_are_measured_and_unknown_ones_refused(tmp_path: Path) -> None:
    named = ContainerCoverage(CoverageSettings(tmp_path / ".coverage", services=("redis",)))
    unknown = ContainerCoverage(CoverageSettings(tmp_path / ".coverage", services=("nope",)))

    assert set(named.prepare(project(web=built(), redis=service()), tmp_path / "a")) == {"redis"}
    with pytest.raises(UnknownServiceError, match="known services: redis, web"):
        unknown.prepare(project(web=built(), redis=service()), tmp_path / "b")


def test_a_stack_with_nothing_built_needs_services_named(tmp_path: Path) -> None:
    coverage = ContainerCoverage(CoverageSettings(tmp_path / ".coverage"))

    with pytest.raises(ConfigError, match="compose_coverage_services"):
        coverage.prepare(project(redis=service()), tmp_path / "cov")


def test_collect_moves_data_files_beside_the_host_data_file(tmp_path: Path) -> None:
    coverage = ContainerCoverage(CoverageSettings(tmp_path / "reports" / ".coverage.host"))
    coverage.prepare(project(web=built()), tmp_path / "cov")
    (tmp_path / "cov" / ".coverage.web.7.x1").write_text("one")
    (tmp_path / "cov" / ".coverage.worker.8.x2").write_text("two")
    (tmp_path / "cov" / "coveragerc.bak").write_text("not data")

    moved = coverage.collect()

    assert [path.name for path in moved] == [
        ".coverage.host.container.web.7.x1",
        ".coverage.host.container.worker.8.x2",
    ]
    assert [path.read_text() for path in moved] == ["one", "two"]
    assert sorted(path.name for path in (tmp_path / "cov").iterdir()) == ["coveragerc", "coveragerc.bak"]


def test_collect_before_prepare_collects_nothing(tmp_path: Path) -> None:
    assert ContainerCoverage(CoverageSettings(tmp_path / ".coverage")).collect() == []


def test_sources_are_stripped_and_must_not_be_empty() -> None:
    assert validate_sources([" /app ", "", "/lib"]) == ("/app", "/lib")
    with pytest.raises(ConfigError, match="compose_coverage_source is empty"):
        validate_sources(["  ", ""])
