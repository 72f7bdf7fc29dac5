"""The Celery worker: its app (``worker.app``), logging, signals and parked-task scheduler.

``celery -A worker.app worker`` and ``zoomq worker`` both run it.
"""
