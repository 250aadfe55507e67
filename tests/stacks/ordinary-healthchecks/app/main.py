import redis
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel

from app.worker import REDIS_URL, add

app = FastAPI()
cache = redis.Redis.from_url(REDIS_URL)


class Numbers(BaseModel):
    x: int
    y: int


@app.get("/health")
def health() -> dict[str, str]:
    try:
        cache.ping()
    except redis.RedisError as exc:
        raise HTTPException(status_code=503, detail=str(exc)) from exc
    return {"status": "ok"}


@app.post("/tasks", status_code=202)
def submit(numbers: Numbers) -> dict[str, str]:
    return {"id": add.delay(numbers.x, numbers.y).id}


@app.get("/tasks/{task_id}")
def result(task_id: str) -> dict[str, object]:
    task = add.AsyncResult(task_id)
    return {"id": task_id, "status": task.status, "result": task.result if task.ready() else None}
