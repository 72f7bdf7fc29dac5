"""Worker logging: Celery's standard-library records are redacted like structlog's."""

from __future__ import annotations

import logging

import pytest
import structlog

from worker.logconfig import redact_text, setup_worker_logging

SECRET = "s3cr3t-VALUE-123"


def test_redact_text_scrubs_pairs_inside_text() -> None:
    """Reprs and JSON of task arguments lose their secret values."""
    line = (
        f"args=({{'download_token': '{SECRET}', 'topic': 'x'}},) "
        f'json={{"client_secret": "{SECRET}"}} url=https://h/p?access_token={SECRET} '
        f"bare password={SECRET}"
    )
    out = redact_text(None, "info", {"event": line})["event"]
    assert SECRET not in out
    assert "'topic': 'x'" in out


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
    assert SECRET not in err
