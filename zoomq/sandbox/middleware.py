"""The outermost layer of the sandbox: tracking id, injected faults, request log.

A pure ASGI middleware (no per-request objects beyond a closure), so it costs
next to nothing when no fault is active. ``/_sandbox/*`` passes straight through.
"""

from __future__ import annotations

import asyncio
import random

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from zoomq.sandbox.state import SandboxState

__all__ = ["CONTROL_PREFIX", "SandboxMiddleware"]

CONTROL_PREFIX = "/_sandbox"
_TRACKING_HEADER = b"x-zm-trackingid"


class SandboxMiddleware:
    """Adds ``x-zm-trackingid``, answers injected faults, logs (method, path, status, time)."""

    def __init__(self, app: ASGIApp, state: SandboxState) -> None:
        self.app = app
        self.state = state
        self._latency = state.config.latency
        self._random = random.Random(state.config.seed)  # noqa: S311 - a delay, not a secret

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(CONTROL_PREFIX):
            await self.app(scope, receive, send)
            return
        state = self.state
        tracking = state.next_tracking_id()
        status = 500

        # Zoom's time is spent after it counted the request against the budget: the wait
        # comes before the answer, not before the rate limiter (jitter there would bunch
        # evenly sent requests into one of Zoom's seconds).
        delay = (
            self._random.uniform(*self._latency)
            if self._latency is not None and scope["path"].startswith("/v2/")
            else 0.0
        )

        async def send_tracked(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                if delay:
                    await asyncio.sleep(delay)
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), (_TRACKING_HEADER, tracking)]
            await send(message)

        method: str = scope["method"]
        path: str = scope["path"]
        faults = state.faults
        fault = faults.match(method, path) if faults.active else None
        try:
            if fault is not None:
                await faults.respond(fault, scope, receive, send_tracked)
            else:
                await self.app(scope, receive, send_tracked)
        finally:
            state.record(method, path, status)
