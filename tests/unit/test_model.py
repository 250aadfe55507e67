"""ProjectSpec: what the core reads from `docker compose config`."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_tel3sis_compose.core.model import PROBE_FIELD, ProjectSpec
from pytest_tel3sis_compose.errors import ConfigError, UnknownServiceError
from tests.unit.fakes import compose, port_entry, service


def test_published_tcp_ports_in_order_udp_left_out() -> None:
    config = compose(
        web=service(
            ports=[
                port_entry(3000, "32768"),
                port_entry(53, "32769", protocol="udp"),
                port_entry(9000),  # ephemeral: no published port in the config
                {"target": 8080, "published": "8080"},  # protocol left out: tcp
            ]
        ),
        worker=service(),
    )

    spec = ProjectSpec.from_config(config)

    assert spec.service("web").published_ports == (3000, 9000, 8080)
    assert spec.service("worker").published_ports == ()


@pytest.mark.parametrize(
    ("healthcheck", "expected"),
    [
        (["CMD", "redis-cli", "ping"], True),
        (["CMD-SHELL", "curl -f localhost"], True),
        ({"test": ["CMD", "true"], "disable": False}, True),
        ({"test": ["CMD", "true"], "disable": True}, False),
        ({"disable": True}, False),
        (["NONE"], False),
        ({"interval": "5s"}, False),
        ({"test": []}, False),
    ],
)
def test_healthcheck_detection(healthcheck: Any, expected: bool) -> None:
    spec = ProjectSpec.from_config(compose(db=service(healthcheck=healthcheck)))

    assert spec.service("db").has_healthcheck is expected


def test_no_healthcheck_key() -> None:
    assert ProjectSpec.from_config(compose(db=service())).service("db").has_healthcheck is False


def test_completed_dependency_only_for_service_completed_successfully() -> None:
    config = compose(
        migrate=service(),
        redis=service(),
        cache=service(),
        web=service(
            depends_on={
                "migrate": "service_completed_successfully",
                "redis": "service_healthy",
                "cache": "service_started",
            }
        ),
        worker=service(depends_on=["redis"]),
    )

    spec = ProjectSpec.from_config(config)

    assert {name: s.completed_dependency for name, s in spec.services.items()} == {
        "migrate": True,
        "redis": False,
        "cache": False,
        "web": False,
        "worker": False,
    }


def test_depends_on_without_condition_means_started() -> None:
    config = compose(migrate=service(), web=service())
    config["services"]["web"]["depends_on"] = {"migrate": None}

    assert ProjectSpec.from_config(config).service("migrate").completed_dependency is False


def test_probe_field_is_carried_raw() -> None:
    declared = {"http": {"port": 3000, "path": "/v1/health"}}

    spec = ProjectSpec.from_config(compose(web=service(probe=declared), redis=service()))

    assert PROBE_FIELD == "x-tel3sis-probe"
    assert spec.service("web").probe == declared
    assert spec.service("redis").probe is None


@pytest.mark.parametrize("config", [{}, {"services": {}}, {"services": None}, {"services": ["web"]}])
def test_no_services_is_a_config_error(config: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match="define no services; add a `services:` section"):
        ProjectSpec.from_config(config)


def test_unknown_service_lists_the_known_ones_sorted() -> None:
    spec = ProjectSpec.from_config(compose(web=service(), redis=service(), worker=service()))

    with pytest.raises(UnknownServiceError) as info:
        spec.service("api")

    assert isinstance(info.value, LookupError)
    assert info.value.service == "api"
    assert info.value.known == ["redis", "web", "worker"]
    assert (
        str(info.value) == "no service named 'api' in the compose files; known services: redis, web, worker"
    )


def test_networks_and_volumes_the_project_creates_external_ones_left_out() -> None:
    config = compose(web=service())
    config["networks"] = {"default": {"name": "unit_default"}, "shared": {"external": True}}
    config["volumes"] = {"data": {"name": "unit_data"}, "cache": None, "outside": {"external": True}}

    spec = ProjectSpec.from_config(config)

    assert spec.networks == ("default",)
    assert spec.volumes == ("data", "cache")


def test_without_a_networks_section_the_default_network_is_assumed() -> None:
    spec = ProjectSpec.from_config({"services": {"web": {"image": "busybox"}}})

    assert spec.networks == ("default",)
    assert spec.volumes == ()
