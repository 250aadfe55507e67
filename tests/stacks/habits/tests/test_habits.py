import httpx

from pytest_tel3sis_compose import ComposeStack


def test_greeting_comes_from_the_env_file(compose_stack: ComposeStack) -> None:
    response = httpx.get(compose_stack.url("web") + "/")

    assert response.text.strip() == "hello from habits"


def test_cache_is_running(compose_stack: ComposeStack) -> None:
    assert "Ready to accept connections" in compose_stack.logs("cache")


def test_debug_profile_is_not_started(compose_stack: ComposeStack) -> None:
    assert "monitor" not in compose_stack.services
