import time

import httpx

from pytest_tel3sis_compose import ComposeStack


def test_ping(compose_stack: ComposeStack) -> None:
    response = httpx.get(compose_stack.url("web") + "/ping")

    assert response.json() == {"ping": "pong!"}


def test_home(compose_stack: ComposeStack) -> None:
    response = httpx.get(compose_stack.url("web") + "/")

    assert response.status_code == 200
    assert "POST /tasks" in response.json()["message"]


def test_task_is_queued_and_runs(compose_stack: ComposeStack) -> None:
    base = compose_stack.url("web")
    response = httpx.post(base + "/tasks", json={"type": 1})
    assert response.status_code == 201
    task_id = response.json()["task_id"]

    deadline = time.monotonic() + 30
    while True:
        body = httpx.get(f"{base}/tasks/{task_id}").json()
        if body["task_status"] == "SUCCESS" or time.monotonic() > deadline:
            break
        time.sleep(0.2)

    assert body == {"task_id": task_id, "task_status": "SUCCESS", "task_result": True}


def test_flower_dashboard_answers(compose_stack: ComposeStack) -> None:
    response = httpx.get(compose_stack.url("dashboard") + "/healthcheck")

    assert response.text == "OK"
