"""A small reference TEL3SIS stack: a FastAPI web service and a Celery worker on Redis."""
