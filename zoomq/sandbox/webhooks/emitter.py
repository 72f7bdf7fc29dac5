"""The sandbox's webhook hook: one signed event per change, queued (bounded) and sent in
the background by one thread."""

from __future__ import annotations

import copy
import random
import threading
from collections import deque
from typing import Any

import httpx
import structlog

from zoomq.clock import Clock, SystemClock
from zoomq.sandbox.webhooks.events import wrap_event
from zoomq.sandbox.webhooks.sender import ZOOM_DEADLINE, DeliveryResult, WebhookSender

__all__ = ["MAX_PENDING", "SandboxEmitter", "make_sandbox_emitter"]

log = structlog.get_logger(__name__)


#: Events waiting for delivery beyond which the oldest are dropped (and counted).
MAX_PENDING = 1000


class _FixedClock:
    """The time an event happened, for building it later on the delivery thread."""

    def __init__(self, now: float) -> None:
        self.now = now

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        return None


class SandboxEmitter:
    """``emitter(event_name, object[, account_id])`` delivers that event once, in the background.

    The call only appends to a bounded queue (the sandbox calls it under its lock, on its
    event loop, once per registrant of a batch); one daemon thread builds, signs and posts
    the events in order. Beyond ``max_pending`` waiting events the oldest are dropped and
    counted in ``dropped``: a 10,000-registrant job costs the sandbox 10,000 appends, not
    10,000 threads. It never raises into the caller (the sandbox request that changed
    something must not fail because the receiver is down) and never retries: Zoom's retry
    schedule is the ``webhook send`` command's business. ``wait()`` lets tests and
    shutdown drain it.
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
        max_pending: int = MAX_PENDING,
    ) -> None:
        self.url = url
        self._account_id = account_id
        self._clock: Clock = clock or SystemClock()
        self._rng = rng
        self._sender = WebhookSender(
            http, secret, clock, deadline=deadline, retry_delays=(), rng=rng
        )
        self._pending: deque[tuple[str, dict[str, Any], str | None, float]] = deque(
            maxlen=max_pending
        )
        self._busy = False
        self._thread: threading.Thread | None = None
        self._cond = threading.Condition()
        #: Events dropped because ``max_pending`` were already waiting.
        self.dropped = 0
        #: The latest results, newest last (bounded, for tests and debugging).
        self.results: deque[DeliveryResult] = deque(maxlen=100)

    def __call__(self, event_name: str, obj: dict[str, Any], account_id: str | None = None) -> None:
        try:
            # A copy as it is now: the sandbox may change the object before it is sent.
            snapshot = copy.deepcopy(obj)
            item = (event_name, snapshot, account_id or self._account_id, self._clock.time())
            with self._cond:
                pending = self._pending
                if len(pending) == pending.maxlen:
                    self.dropped += 1
                pending.append(item)
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._run, name="sandbox-webhooks", daemon=True
                    )
                    self._thread.start()
                self._cond.notify()
        except Exception:  # the hook must never break the sandbox request that fired it
            log.exception("webhook_emit_failed", webhook_event=event_name, url=self.url)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending:
                    self._busy = False
                    self._cond.notify_all()
                    self._cond.wait()
                self._busy = True
                name, obj, account_id, at = self._pending.popleft()
            self._deliver(name, obj, account_id, at)

    def _deliver(self, name: str, obj: dict[str, Any], account_id: str | None, at: float) -> None:
        try:
            event = wrap_event(
                name, obj, account_id=account_id, clock=_FixedClock(at), rng=self._rng
            )
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
            log.exception("webhook_emit_failed", webhook_event=name, url=self.url)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until every queued event was delivered (or failed); True if none is left."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._pending and not self._busy, timeout)


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
