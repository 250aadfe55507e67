import time

from pytest_tel3sis_compose import ComposeStack


def test_cache_started(compose_stack: ComposeStack) -> None:
    assert "Ready to accept connections" in compose_stack.logs("cache")


def test_runs_for_a_while(compose_stack: ComposeStack) -> None:
    # Long enough for a service that dies a few seconds in to die meanwhile.
    deadline = time.monotonic() + 8
    while time.monotonic() < deadline:
        assert "Ready to accept connections" in compose_stack.logs("cache")
        time.sleep(0.5)
