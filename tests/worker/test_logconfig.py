"""Worker logging: Celery's standard-library records are redacted like structlog's."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import structlog

from worker.logconfig import setup_worker_logging
from zoomq.logs import configure_logging

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


def _zoomq_handlers(root: logging.Logger) -> list[logging.Handler]:
    # pytest keeps handlers of its own on the root logger during a test.
    return [
        h for h in root.handlers if isinstance(h.formatter, structlog.stdlib.ProcessorFormatter)
    ]


@pytest.fixture
def clean_logging() -> Iterator[logging.Logger]:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    root.handlers = []
    structlog.reset_defaults()
    try:
        yield root
    finally:
        root.handlers, level = saved
        root.setLevel(level)
        structlog.reset_defaults()


def test_the_signal_keeps_what_the_entry_point_configured(clean_logging: logging.Logger) -> None:
    """After the CLI configured logging, setup_logging at the same level changes nothing."""
    configure_logging("json", "INFO", cache=False)
    handlers, config = clean_logging.handlers[:], structlog.get_config()
    setup_worker_logging("json", logging.INFO)  # what Celery passes for --loglevel INFO
    assert clean_logging.handlers == handlers
    assert structlog.get_config() == config


def test_a_different_worker_loglevel_applies(clean_logging: logging.Logger) -> None:
    """`zoomq worker --loglevel DEBUG` under an INFO configuration logs at DEBUG, one handler."""
    configure_logging("json", "INFO", cache=False)
    setup_worker_logging("json", logging.DEBUG)
    assert clean_logging.level == logging.DEBUG
    assert len(_zoomq_handlers(clean_logging)) == 1


def test_a_process_without_configuration_is_configured(clean_logging: logging.Logger) -> None:
    """`celery -A worker.app worker` starts unconfigured: the signal configures it."""
    setup_worker_logging("json", "WARNING")
    assert structlog.is_configured()
    assert clean_logging.level == logging.WARNING
    assert len(_zoomq_handlers(clean_logging)) == 1
