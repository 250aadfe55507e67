"""The Celery application and the tasks the worker runs."""

from __future__ import annotations

import re
from collections import Counter

from celery import Celery

from tel3sis_ref.settings import REDIS_URL

app = Celery("tel3sis", broker=REDIS_URL, backend=REDIS_URL)
app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    result_expires=300,
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)

_WORD = re.compile(r"[a-z']+")


@app.task(name="tel3sis.analyze_transcript")
def analyze_transcript(text: str, top: int = 3) -> dict[str, object]:
    """Summarise a call transcript: its word count and most frequent words."""
    words = _WORD.findall(text.lower())
    if not words:
        return {"words": 0, "top_words": []}
    counts = Counter(words)
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return {"words": len(words), "top_words": [word for word, _ in ranked[:top]]}
