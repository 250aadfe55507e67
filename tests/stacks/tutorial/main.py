from typing import Annotated, Any

from celery.result import AsyncResult
from fastapi import Body, FastAPI
from fastapi.responses import JSONResponse
from worker import create_task

app = FastAPI()


@app.get("/")
def home() -> dict[str, str]:
    return {"message": "tasks API: POST /tasks, GET /tasks/{task_id}"}


@app.get("/ping")
def ping() -> dict[str, str]:
    return {"ping": "pong!"}


@app.post("/tasks", status_code=201)
def run_task(payload: Annotated[dict[str, Any], Body()]) -> JSONResponse:
    task_type = payload["type"]
    task = create_task.delay(int(task_type))
    return JSONResponse({"task_id": task.id}, status_code=201)


@app.get("/tasks/{task_id}")
def get_status(task_id: str) -> JSONResponse:
    task_result = AsyncResult(task_id)
    result = {
        "task_id": task_id,
        "task_status": task_result.status,
        "task_result": task_result.result,
    }
    return JSONResponse(result)
