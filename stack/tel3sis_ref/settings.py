"""Settings shared by the web service and the worker, read from the environment."""

from __future__ import annotations

import os

REDIS_URL = os.environ.get("REDIS_URL", "redis://localhost:6379/0")
# How long the web service waits for the worker to finish a task it submitted.
TASK_TIMEOUT_SECONDS = float(os.environ.get("TASK_TIMEOUT_SECONDS", "10"))
