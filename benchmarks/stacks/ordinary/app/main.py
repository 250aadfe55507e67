"""The web service: a health endpoint over its subsystems, and a task it hands to the worker."""

import redis
from fastapi import FastAPI, Response

from app.worker import REDIS_URL, add, celery_app

app = FastAPI()
cache = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=1)


@app.get("/v1/health")
def health(response: Response) -> dict[str, str]:
    status = {"redis": "ok", "broker": "ok"}
    try:
        cache.ping()
    except redis.RedisError:
        status["redis"] = "error"
    try:
        with celery_app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=1)
    except Exception:
        status["broker"] = "error"
    if "error" in status.values():
        response.status_code = 503
    return status


@app.post("/v1/add")
def submit(x: int, y: int) -> dict[str, int]:
    return {"result": add.delay(x, y).get(timeout=10)}
