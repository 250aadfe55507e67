"""The Celery application and its one task."""

import os

from celery import Celery

REDIS_URL = os.environ.get("REDIS_URL", "redis://localhost:6379/0")

celery_app = Celery("app", broker=REDIS_URL, backend=REDIS_URL)


@celery_app.task
def add(x: int, y: int) -> int:
    return x + y
