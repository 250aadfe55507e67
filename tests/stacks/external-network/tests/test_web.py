import httpx

from pytest_tel3sis_compose import ComposeStack


def test_web_answers(compose_stack: ComposeStack) -> None:
    assert httpx.get(compose_stack.url("web") + "/").status_code == 200
