"""A small web service and its Celery worker, sharing one Redis."""
