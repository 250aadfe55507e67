"""The loopback registry's guards, without starting it."""

from __future__ import annotations

import pytest

from release import registry
from release.registry import LocalRegistry, RegistryClient, RegistryError, require_loopback


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2"])
def test_loopback_hosts_are_accepted(host: str) -> None:
    assert require_loopback(host) == host


@pytest.mark.parametrize("host", ["10.0.0.1", "localhost", "::1", "ghcr.io", "0.0.0.0"])
def test_anything_but_ipv4_loopback_is_refused(host: str) -> None:
    with pytest.raises(RegistryError):
        require_loopback(host)
    with pytest.raises(RegistryError):
        RegistryClient(f"{host}:5000")


def test_a_missing_registry_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry.shutil, "which", lambda name: None)

    with pytest.raises(RegistryError, match="apt-get install -y docker-registry"):
        LocalRegistry().start()
