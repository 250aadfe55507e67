import time

import httpx
import redis

from pytest_tel3sis_compose import ComposeStack


def test_health(compose_stack: ComposeStack) -> None:
    response = httpx.get(compose_stack.url("web") + "/health")

    assert response.json() == {"status": "ok"}


def test_task_runs_on_the_worker(compose_stack: ComposeStack) -> None:
    base = compose_stack.url("web")
    task_id = httpx.post(base + "/tasks", json={"x": 2, "y": 3}).json()["id"]

    deadline = time.monotonic() + 30
    body = httpx.get(f"{base}/tasks/{task_id}").json()
    while body["status"] != "SUCCESS" and time.monotonic() < deadline:
        time.sleep(0.2)
        body = httpx.get(f"{base}/tasks/{task_id}").json()

    assert body == {"id": task_id, "status": "SUCCESS", "result": 5}


def test_redis_is_reachable_from_the_host(compose_stack: ComposeStack) -> None:
    host, port = compose_stack.endpoint("redis")

    assert redis.Redis(host=host, port=port).ping()
