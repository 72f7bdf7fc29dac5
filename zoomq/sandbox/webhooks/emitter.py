"""The sandbox's webhook hook: emit one signed event per change, in the background."""

from __future__ import annotations

import random
import threading
from collections import deque
from typing import Any

import httpx
import structlog

from zoomq.clock import Clock
from zoomq.sandbox.webhooks.events import wrap_event
from zoomq.sandbox.webhooks.sender import ZOOM_DEADLINE, DeliveryResult, WebhookSender

__all__ = ["SandboxEmitter", "make_sandbox_emitter"]

log = structlog.get_logger(__name__)


class SandboxEmitter:
    """``emitter(event_name, object)`` delivers that event once, in a daemon thread.

    It never raises into the caller (the sandbox request that changed something must not
    fail because the receiver is down) and never retries: Zoom's retry schedule is the
    ``webhook send`` command's business. ``wait()`` lets tests and shutdown drain it.
    """

    def __init__(
        self,
        url: str,
        secret: str,
        http: httpx.Client,
        *,
        clock: Clock | None = None,
        account_id: str | None = None,
        rng: random.Random | None = None,
        deadline: float = ZOOM_DEADLINE,
    ) -> None:
        self.url = url
        self._account_id = account_id
        self._clock = clock
        self._rng = rng
        self._sender = WebhookSender(
            http, secret, clock, deadline=deadline, retry_delays=(), rng=rng
        )
        self._threads: set[threading.Thread] = set()
        self._lock = threading.Lock()
        #: The latest results, newest last (bounded, for tests and debugging).
        self.results: deque[DeliveryResult] = deque(maxlen=100)

    def __call__(self, event_name: str, obj: dict[str, Any]) -> None:
        try:
            event = wrap_event(
                event_name, obj, account_id=self._account_id, clock=self._clock, rng=self._rng
            )
            thread = threading.Thread(
                target=self._deliver, args=(event,), name=f"webhook-{event_name}", daemon=True
            )
            with self._lock:
                self._threads.add(thread)
            thread.start()
        except Exception:  # the hook must never break the sandbox request that fired it
            log.exception("webhook_emit_failed", webhook_event=event_name, url=self.url)

    def _deliver(self, event: dict[str, Any]) -> None:
        try:
            result = self._sender.deliver(self.url, event)
            self.results.append(result)
            attempt = result.attempts[-1]
            log.info(
                "webhook_emitted",
                webhook_event=result.event,
                url=self.url,
                delivered=result.delivered,
                status=attempt.status,
                error=attempt.error,
                elapsed_ms=attempt.elapsed_ms,
            )
        except Exception:  # a background thread has no caller to raise to
            log.exception("webhook_emit_failed", webhook_event=event.get("event"), url=self.url)
        finally:
            with self._lock:
                self._threads.discard(threading.current_thread())

    def wait(self, timeout: float | None = None) -> bool:
        """Join the deliveries in flight; True if none is left."""
        with self._lock:
            pending = list(self._threads)
        for thread in pending:
            thread.join(timeout)
        with self._lock:
            return not self._threads


def make_sandbox_emitter(
    url: str,
    secret: str,
    http: httpx.Client,
    *,
    clock: Clock | None = None,
    account_id: str | None = None,
) -> SandboxEmitter:
    """An ``on_event`` hook for a sandbox config: ``(event_name, object) -> None``."""
    return SandboxEmitter(url, secret, http, clock=clock, account_id=account_id)
