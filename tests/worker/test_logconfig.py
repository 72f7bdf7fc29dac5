"""Worker logging: Celery's standard-library records are redacted like structlog's."""

from __future__ import annotations

import logging

import pytest
import structlog

from worker.logconfig import setup_worker_logging

SECRET = "s3cr3t-VALUE-123"


def test_stdlib_records_are_rendered_through_redaction(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A Celery-style log record with a token in its args is printed without it."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    root.handlers = []
    try:
        setup_worker_logging("json", "INFO")
        logging.getLogger("celery.worker.strategy").info(
            "Task %s received: %r", "zoomq.events.handle", {"download_token": SECRET}
        )
        # Zoom's own secrets, in the one vocabulary of zoomq.logs.
        logging.getLogger("celery.app.trace").info(
            "Task args: %r",
            {"recording_play_passcode": SECRET, "start_url": f"https://z/s/1?zak={SECRET}"},
        )
        try:
            raise ValueError(f"boom with Bearer {SECRET}")
        except ValueError:
            logging.getLogger("celery.app.trace").exception("Task failed")
        for handler in root.handlers:
            handler.flush()
    finally:
        root.handlers, level = saved
        root.setLevel(level)
        structlog.reset_defaults()
    err = capsys.readouterr().err
    assert "zoomq.events.handle" in err
    assert "Task failed" in err
    assert "recording_play_passcode" in err
    assert "/s/1?zak=" in err
    assert SECRET not in err
