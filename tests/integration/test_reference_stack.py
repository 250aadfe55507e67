"""The reference TEL3SIS stack, started by the plugin on a real engine."""

from __future__ import annotations

import httpx
import pytest
import redis

from pytest_tel3sis_compose import ComposeStack, ConfigError, UnknownServiceError


def test_health_reports_every_subsystem_ok(compose_stack: ComposeStack) -> None:
    response = httpx.get(compose_stack.url("web") + "/v1/health")

    assert response.status_code == 200
    assert response.json() == {"redis": "ok", "broker": "ok"}


def test_task_runs_on_the_worker_through_redis(compose_stack: ComposeStack) -> None:
    text = "the caller asked the agent to call the caller back"

    response = httpx.post(
        compose_stack.url("web") + "/v1/transcripts/analyze", json={"text": text, "top": 2}, timeout=15
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["result"] == {"words": 10, "top_words": ["the", "caller"]}
    # The result went through Redis: the worker stored it in the result backend.
    host, port = compose_stack.endpoint("redis")
    stored = redis.Redis(host=host, port=port).get(f"celery-task-meta-{body['task_id']}")
    assert stored is not None
    assert b'"SUCCESS"' in stored
    assert "tel3sis.analyze_transcript" in compose_stack.logs("worker")


def test_invalid_input_is_rejected_by_the_web_service(compose_stack: ComposeStack) -> None:
    response = httpx.post(compose_stack.url("web") + "/v1/transcripts/analyze", json={"text": ""})

    assert response.status_code == 422


def test_every_container_with_a_healthcheck_is_healthy_by_dockers_verdict(
    compose_stack: ComposeStack,
) -> None:
    # compose_require_healthy (pyproject.toml) gates readiness on it; this is Docker's own word now.
    assert compose_stack.health() == {"redis": "healthy", "web": "healthy", "worker": "healthy"}


def test_urls_are_on_loopback_and_every_service_was_probed(compose_stack: ComposeStack) -> None:
    assert compose_stack.url("web").startswith("http://127.0.0.1:")
    assert set(compose_stack.ready_after) == {"redis", "web", "worker"}
    worker = compose_stack.probes["worker"].describe()
    assert worker == r"log line matching 'celery@\S+ ready\.' and native healthcheck"
    assert compose_stack.probes["web"].describe().startswith("HTTP GET :3000/v1/health")


def test_unknown_service_and_unpublished_port_say_what_exists(compose_stack: ComposeStack) -> None:
    with pytest.raises(UnknownServiceError, match="known services: redis, web, worker"):
        compose_stack.url("api")
    with pytest.raises(ConfigError, match="does not publish port 8080; it publishes 3000"):
        compose_stack.url("web", 8080)
    with pytest.raises(ConfigError, match="publishes no port"):
        compose_stack.url("worker")
