import httpx
import redis

from pytest_tel3sis_compose import ComposeStack


def test_migrations_ran_before_the_app(compose_stack: ComposeStack) -> None:
    host, port = compose_stack.endpoint("db")

    assert redis.Redis(host=host, port=port).get("schema_version") == b"3"
    assert "applied migrations up to 3" in compose_stack.logs("migrate")


def test_app_answers(compose_stack: ComposeStack) -> None:
    response = httpx.get(compose_stack.url("app") + "/")

    assert response.status_code == 200
