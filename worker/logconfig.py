"""Worker logging: ``zoomq.logs.configure_logging`` plus Celery's own records, redacted.

Celery logs through the standard library (received, succeeded, retry...). Those records
are rendered by structlog's ``ProcessorFormatter`` through the same ``redact`` processor,
with tracebacks formatted *before* redaction, and with ``key: value`` pairs inside text
(reprs of task arguments) scrubbed too.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

from zoomq.logs import REDACTED, configure_logging, redact

__all__ = ["redact_text", "setup_worker_logging"]

_KEYWORDS = r"secret|token|password|passwd|pwd|authorization|api_key|apikey|signature|cookie"
# 'download_token': 'abc' / "client_secret": "x" inside a repr or JSON text.
_QUOTED_PAIR = re.compile(
    rf"(?i)(['\"][A-Za-z0-9_-]*(?:{_KEYWORDS})[A-Za-z0-9_-]*['\"]\s*[:=]\s*)(['\"])(?:\\.|(?!\2).)*\2"
)
# access_token=abc or Authorization: Bearer ... outside a URL query.
_BARE_PAIR = re.compile(rf"(?i)\b([A-Za-z0-9_-]*(?:{_KEYWORDS})[A-Za-z0-9_-]*=)[^\s&,;'\"]+")


def _scrub_text(text: str) -> str:
    text = _QUOTED_PAIR.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}{m.group(2)}", text)
    return _BARE_PAIR.sub(lambda m: f"{m.group(1)}{REDACTED}", text)


def redact_text(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: scrub ``key: value`` secrets inside text fields."""
    for key, value in list(event_dict.items()):
        if isinstance(value, str):
            event_dict[key] = _scrub_text(value)
    return event_dict


def setup_worker_logging(fmt: str = "auto", level: str | int = "INFO") -> None:
    """Configure structlog, then send its lines and the standard library's through one handler.

    ``configure_logging`` prints structlog's lines itself; Celery's records go through a
    ``logging`` handler. Two writers on one stream interleave under threads, so here
    structlog hands its (already processed) event to the same handler, whose formatter
    redacts once more — after tracebacks are formatted — and renders.
    """
    name = logging.getLevelName(level) if isinstance(level, int) else str(level).upper()
    configure_logging(fmt, name)
    chain = list(structlog.get_config()["processors"])
    renderer = chain.pop() if chain and _is_renderer(chain[-1]) else _renderer(fmt)
    structlog.configure(
        processors=[*chain, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[
            structlog.contextvars.merge_contextvars,
            structlog.stdlib.add_logger_name,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
        ],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            redact,
            redact_text,
            renderer,
        ],
    )
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler(sys.stderr))
    for handler in root.handlers:
        handler.setFormatter(formatter)
    root.setLevel(name)


def _is_renderer(processor: Any) -> bool:
    return isinstance(processor, structlog.processors.JSONRenderer | structlog.dev.ConsoleRenderer)


def _renderer(fmt: str) -> Any:
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    if use_json:
        return structlog.processors.JSONRenderer()
    return structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
