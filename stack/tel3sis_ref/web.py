"""The TEL3SIS web service: health of its subsystems and task submission."""

from __future__ import annotations

from typing import Literal

import redis
from celery.exceptions import TimeoutError as TaskTimeout
from fastapi import FastAPI, HTTPException, Response
from pydantic import BaseModel, Field

from tel3sis_ref.settings import REDIS_URL, TASK_TIMEOUT_SECONDS
from tel3sis_ref.worker import analyze_transcript
from tel3sis_ref.worker import app as celery_app

app = FastAPI(title="TEL3SIS reference web service")

Status = Literal["ok", "error"]


def _redis_status() -> Status:
    try:
        client = redis.Redis.from_url(REDIS_URL, socket_timeout=1, socket_connect_timeout=1)
        return "ok" if client.ping() else "error"
    except redis.RedisError:
        return "error"


def _broker_status() -> Status:
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=1)
        return "ok"
    except Exception:  # kombu raises transport-specific errors; any of them means down
        return "error"


@app.get("/v1/health")
def health(response: Response) -> dict[str, Status]:
    """Each subsystem's status; 200 when every one is ok, 503 otherwise."""
    checks = {"redis": _redis_status(), "broker": _broker_status()}
    if any(value != "ok" for value in checks.values()):
        response.status_code = 503
    return checks


class Transcript(BaseModel):
    text: str = Field(min_length=1, max_length=100_000)
    top: int = Field(default=3, ge=1, le=20)


@app.post("/v1/transcripts/analyze")
def analyze(transcript: Transcript) -> dict[str, object]:
    """Run the analysis on the worker and return its result."""
    result = analyze_transcript.delay(transcript.text, transcript.top)
    try:
        outcome = result.get(timeout=TASK_TIMEOUT_SECONDS)
    except TaskTimeout:
        raise HTTPException(status_code=504, detail="the worker did not answer in time") from None
    return {"task_id": result.id, "result": outcome}
