"""Isolation: fixed and all-interface ports become ephemeral loopback ports; names two sessions share."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pytest_tel3sis_compose.core.isolation import Replace, Reset, isolate
from pytest_tel3sis_compose.core.override import write_override

# As `docker compose config` prints the ports of "8004:8000", "0.0.0.0:5556:5555", "6379",
# "127.0.0.1::6380" and "[::]:7000:7000/udp".
PORTS = [
    {"mode": "ingress", "target": 8000, "published": "8004", "protocol": "tcp"},
    {"mode": "ingress", "host_ip": "0.0.0.0", "target": 5555, "published": "5556", "protocol": "tcp"},
    {"mode": "ingress", "target": 6379, "protocol": "tcp"},
    {"mode": "ingress", "host_ip": "127.0.0.1", "target": 6380, "protocol": "tcp"},
    {"mode": "ingress", "host_ip": "::", "target": 7000, "published": "7000", "protocol": "udp"},
]


def config(**services: dict[str, Any]) -> dict[str, Any]:
    return {"name": "p", "services": services, "networks": {"default": {"name": "p_default"}}}


def test_every_port_goes_to_an_ephemeral_loopback_port_and_each_change_is_said() -> None:
    isolation = isolate(config(web={"image": "x", "ports": PORTS}), "p")

    ports = isolation.services["web"]["ports"]
    assert isinstance(ports, Replace)  # replaces the user's list rather than adding to it
    assert ports == [
        {"mode": "ingress", "target": 8000, "protocol": "tcp", "host_ip": "127.0.0.1"},
        {"mode": "ingress", "target": 5555, "protocol": "tcp", "host_ip": "127.0.0.1"},
        {"mode": "ingress", "target": 6379, "protocol": "tcp", "host_ip": "127.0.0.1"},
        {"mode": "ingress", "target": 6380, "protocol": "tcp", "host_ip": "127.0.0.1"},
        {"mode": "ingress", "target": 7000, "protocol": "udp", "host_ip": "127.0.0.1"},
    ]
    assert isolation.rewritten == (
        "web: 8004 -> 127.0.0.1:<ephemeral> (container port 8000)",
        "web: 0.0.0.0:5556 -> 127.0.0.1:<ephemeral> (container port 5555)",
        "web: * -> 127.0.0.1:<ephemeral> (container port 6379)",
        "web: :::7000/udp -> 127.0.0.1:<ephemeral>/udp (container port 7000)",
    )


def test_a_service_already_on_ephemeral_loopback_ports_is_left_alone() -> None:
    ports = [{"mode": "ingress", "host_ip": "127.0.0.1", "target": 3000, "protocol": "tcp"}]

    assert isolate(config(web={"image": "x", "ports": ports}), "p").services == {}


def test_kept_ports_stay_as_written_per_service_or_for_all() -> None:
    stack = config(web={"image": "x", "ports": PORTS}, db={"image": "y", "ports": PORTS[:1]})

    assert set(isolate(stack, "p", keep_ports=("web",)).services) == {"db"}
    assert isolate(stack, "p", keep_ports=("*",)).services == {}


def test_a_remote_engine_keeps_the_interface_and_only_loses_the_fixed_number() -> None:
    isolation = isolate(config(web={"image": "x", "ports": PORTS[:2]}), "p", local=False)

    assert isolation.services["web"]["ports"] == [
        {"mode": "ingress", "target": 8000, "protocol": "tcp"},
        {"mode": "ingress", "target": 5555, "protocol": "tcp", "host_ip": "0.0.0.0"},
    ]
    assert isolation.rewritten[0] == "web: 8004 -> *:<ephemeral> (container port 8000)"


def test_container_name_is_dropped_and_kept_as_an_alias_on_every_network_of_the_service() -> None:
    isolation = isolate(
        config(
            db={"image": "x", "container_name": "my-db", "networks": {"default": None, "back": None}},
            host={"image": "x", "container_name": "on-host", "network_mode": "host"},
        ),
        "p",
    )

    db = isolation.services["db"]
    assert isinstance(db["container_name"], Reset)
    assert db["networks"] == {"default": {"aliases": ["my-db"]}, "back": {"aliases": ["my-db"]}}
    assert "networks" not in isolation.services["host"]  # a host network namespace takes no alias
    assert "db: container_name my-db dropped (kept as an alias)" in isolation.rewritten


def test_named_and_external_volumes_and_networks_are_reported() -> None:
    stack = {
        "services": {"web": {"image": "x"}},
        "networks": {"default": {"name": "p_default"}, "shared": {"name": "corp-net", "external": True}},
        "volumes": {"data": {"name": "p_data"}, "cache": {"name": "shared-cache"}},
    }

    assert isolate(stack, "p").shared == (
        "network shared is external (corp-net): sessions running side by side share it",
        "volume cache is named shared-cache explicitly: sessions running side by side share it",
    )


def test_the_override_file_carries_composes_merge_tags(tmp_path: Path) -> None:
    isolation = isolate(config(web={"image": "x", "ports": PORTS[:1], "container_name": "w"}), "p")

    text = write_override({"services": isolation.services}, tmp_path).read_text()

    assert "ports: !override\n" in text
    assert "container_name: !reset ''\n" in text


def test_a_service_on_the_hosts_network_keeps_its_ports_and_is_reported() -> None:
    ports = [{"mode": "ingress", "target": 18766, "published": "18766", "protocol": "tcp"}]

    isolation = isolate(config(exporter={"image": "x", "network_mode": "host", "ports": ports}), "p")

    assert isolation.services == {}
    assert isolation.shared == (
        "service exporter uses the host's network (network_mode: host): "
        "sessions running side by side share it",
    )
