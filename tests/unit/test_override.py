"""The compose override: labels on everything the project creates, fast healthchecks, extras."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from pytest_tel3sis_compose.core.model import ProjectSpec
from pytest_tel3sis_compose.core.override import FAST_START_INTERVAL, build_override, write_override
from tests.unit.fakes import service

LABELS = {"io.tel3sis.compose.owner": "box@12:345:boot/678", "io.tel3sis.compose.session": "s-1"}


def project(**sections: Any) -> ProjectSpec:
    """ProjectSpec of a config with services web, db and worker plus the given top-level sections."""
    config: dict[str, Any] = {
        "name": "unit",
        "services": {"web": service(), "db": service(), "worker": service()},
        **sections,
    }
    return ProjectSpec.from_config(config)


def test_every_service_is_labelled() -> None:
    document = build_override(project(), LABELS)

    assert document["services"] == {
        "web": {"labels": LABELS},
        "db": {"labels": LABELS},
        "worker": {"labels": LABELS},
    }


def test_the_default_network_is_labelled_when_the_config_declares_none() -> None:
    document = build_override(project(), LABELS)

    assert document["networks"] == {"default": {"labels": LABELS}}
    assert "volumes" not in document  # no named volumes: no section


def test_every_declared_network_and_named_volume_is_labelled_external_ones_not() -> None:
    spec = project(
        networks={
            "default": {"name": "unit_default"},
            "backend": {"name": "unit_backend"},
            "shared": {"name": "shared", "external": True},
        },
        volumes={
            "data": {"name": "unit_data"},
            "cache": None,
            "outside": {"name": "outside", "external": True},
        },
    )

    document = build_override(spec, LABELS)

    assert document["networks"] == {"default": {"labels": LABELS}, "backend": {"labels": LABELS}}
    assert document["volumes"] == {"data": {"labels": LABELS}, "cache": {"labels": LABELS}}


def test_no_network_section_for_a_project_with_no_networks() -> None:
    spec = ProjectSpec(services=project().services)

    assert build_override(spec, LABELS) == {
        "services": {"web": {"labels": LABELS}, "db": {"labels": LABELS}, "worker": {"labels": LABELS}}
    }


def test_labels_are_copies_not_the_callers_mapping() -> None:
    labels = dict(LABELS)
    document = build_override(project(volumes={"data": {}}), labels)
    labels["added"] = "later"

    assert document["services"]["web"]["labels"] == LABELS
    assert document["networks"]["default"]["labels"] == LABELS
    assert document["volumes"]["data"]["labels"] == LABELS
    document["services"]["web"]["labels"]["mutated"] = "x"
    assert document["services"]["db"]["labels"] == LABELS  # each its own mapping


def test_fast_healthchecks_only_for_the_named_services() -> None:
    document = build_override(project(), LABELS, fast_healthchecks=["db", "worker"], start_period_seconds=5.0)

    assert FAST_START_INTERVAL == "200ms"
    assert document["services"]["db"] == {
        "labels": LABELS,
        "healthcheck": {"start_period": "5s", "start_interval": "200ms"},
    }
    assert document["services"]["worker"]["healthcheck"] == {"start_period": "5s", "start_interval": "200ms"}
    assert "healthcheck" not in document["services"]["web"]


@pytest.mark.parametrize(("seconds", "expected"), [(120, "120s"), (7.5, "7.5s"), (30.0, "30s")])
def test_start_period_is_the_timeout_in_seconds(seconds: float, expected: str) -> None:
    document = build_override(project(), LABELS, fast_healthchecks=["db"], start_period_seconds=seconds)

    assert document["services"]["db"]["healthcheck"]["start_period"] == expected


def test_start_period_defaults_to_120_seconds() -> None:
    document = build_override(project(), LABELS, fast_healthchecks=["web"])

    assert document["services"]["web"]["healthcheck"]["start_period"] == "120s"


def test_services_extra_is_merged_into_the_service_keeping_labels_and_healthcheck() -> None:
    extra = {
        "web": {
            "environment": {"COVERAGE_PROCESS_START": "/cov/coveragerc"},
            "volumes": [{"type": "bind", "source": "/tmp/cov", "target": "/cov"}],
        }
    }

    document = build_override(project(), LABELS, [extra], fast_healthchecks=["web"], start_period_seconds=5)

    assert document["services"]["web"] == {
        "labels": LABELS,
        "healthcheck": {"start_period": "5s", "start_interval": "200ms"},
        "environment": {"COVERAGE_PROCESS_START": "/cov/coveragerc"},
        "volumes": [{"type": "bind", "source": "/tmp/cov", "target": "/cov"}],
    }
    assert document["services"]["db"] == {"labels": LABELS}


def test_write_override_writes_yaml_that_reads_back_equal(tmp_path: Path) -> None:
    spec = project(volumes={"data": {"name": "unit_data"}})
    document = build_override(
        spec,
        LABELS,
        [{"web": {"environment": {"A": "1"}}}],
        fast_healthchecks=["db"],
        start_period_seconds=7.5,
    )

    path = write_override(document, tmp_path)

    assert path == tmp_path / "compose.tel3sis.yml"
    assert yaml.safe_load(path.read_text()) == document
    # Written in the document's order, services first, as a person would read it.
    assert list(yaml.safe_load(path.read_text())) == ["services", "networks", "volumes"]
