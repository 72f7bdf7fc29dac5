"""Fakes for the webhook tests: clocks, and a real Zoom-facing endpoint on loopback."""

from __future__ import annotations

import asyncio
import base64
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.clock import FakeClock
from zoomq.clock import Clock, SystemClock
from zoomq.webhooks import (
    MalformedWebhook,
    WebhookVerificationError,
    WebhookVerifier,
    ZoomEvent,
    parse_envelope,
    plain_token,
    url_validation_response,
)

SECRET = "whsec-test-Zoë-東京"  # non-ASCII on purpose: Zoom secrets are bytes as UTF-8


__all__ = ["SECRET", "FakeClock"]  # FakeClock re-exported for the tests of this folder


class WarpClock:
    """Wall time that runs ``1 / scale`` times faster than real time; real monotonic and sleep.

    A sender with ``time_scale=scale`` waits 0.03 s for Zoom's 5 minutes; on this clock its
    retry is then signed about 300 s after the first attempt, as it would be in real life.
    """

    def __init__(self, scale: float) -> None:
        self.scale = scale
        self._wall0 = time.time()
        self._mono0 = time.monotonic()

    def time(self) -> float:
        return self._wall0 + (time.monotonic() - self._mono0) / self.scale

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


@dataclass(frozen=True)
class Reply:
    """What the loopback endpoint answers to one delivery."""

    status: int = 200
    delay: float = 0.0
    body: Any = None  # JSON-able; "crc" answers url_validation correctly
    secret: str = SECRET  # for "crc": the secret the endpoint believes in
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Delivery:
    """One request the endpoint received, and what its verifier made of it."""

    headers: dict[str, str]
    body: bytes
    failure: str | None  # None: verified; else the verification/envelope reason
    event: ZoomEvent | None


class Endpoint:
    """One scripted webhook endpoint: replies in order, the last one repeating."""

    def __init__(self, replies: list[Reply], clock: Clock, secret: str) -> None:
        self.replies = replies
        self.verifier = WebhookVerifier([secret], clock=clock)
        self.deliveries: list[Delivery] = []

    def next_reply(self) -> Reply:
        return self.replies[min(len(self.deliveries), len(self.replies) - 1)]

    def first_object(self) -> tuple[ZoomEvent, dict[str, Any]]:
        """The first delivery's event and its ``payload.object``; both must be there."""
        event = self.deliveries[0].event
        assert event is not None
        assert event.object is not None
        return event, event.object


class LoopbackZoom:
    """A Starlette app under uvicorn on 127.0.0.1: webhook endpoints plus a fake sandbox."""

    def __init__(self) -> None:
        self._endpoints: dict[str, Endpoint] = {}
        self._lock = threading.Lock()
        self.recordings: dict[str, Any] = {"meetings": []}
        app = Starlette(
            routes=[
                Route("/hook/{name}", self._hook, methods=["POST"]),
                Route("/oauth/token", self._token, methods=["POST"]),
                Route("/v2/users/me/recordings", self._recordings, methods=["GET"]),
            ]
        )
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self.base = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app, log_level="warning", lifespan="off", ws="none", http="h11", access_log=False
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    def start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("loopback server did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(10)
        self._sock.close()

    def endpoint(
        self, *replies: Reply | int, clock: Clock | None = None, secret: str = SECRET
    ) -> tuple[str, Endpoint]:
        """A fresh endpoint answering ``replies`` in turn; returns its URL and its record."""
        script = [r if isinstance(r, Reply) else Reply(status=r) for r in replies] or [Reply()]
        with self._lock:
            name = f"e{len(self._endpoints)}"
            endpoint = Endpoint(script, clock or SystemClock(), secret)
            self._endpoints[name] = endpoint
        return f"{self.base}/hook/{name}", endpoint

    async def _hook(self, request: Request) -> Response:
        endpoint = self._endpoints[request.path_params["name"]]
        body = await request.body()
        failure: str | None = None
        event: ZoomEvent | None = None
        try:
            endpoint.verifier.verify(body, request.headers)
            event = parse_envelope(body)
        except (WebhookVerificationError, MalformedWebhook) as exc:
            failure = exc.reason
        with self._lock:
            reply = endpoint.next_reply()
            endpoint.deliveries.append(Delivery(dict(request.headers), body, failure, event))
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if reply.body == "crc" and event is not None:
            return JSONResponse(url_validation_response(reply.secret, plain_token(event)))
        if reply.body is None:
            return Response(status_code=reply.status, headers=reply.headers)
        if isinstance(reply.body, str | bytes):
            return Response(reply.body, status_code=reply.status, headers=reply.headers)
        return JSONResponse(reply.body, status_code=reply.status, headers=reply.headers)

    async def _token(self, request: Request) -> Response:
        expected = base64.b64encode(b"sandbox-client:sandbox-secret").decode()
        grant = request.query_params.get("grant_type")
        account = request.query_params.get("account_id")
        if request.headers.get("authorization") != f"Basic {expected}":
            return JSONResponse({"reason": "Invalid client_id or client_secret"}, 401)
        if grant != "account_credentials" or account != "sandbox-account":
            return JSONResponse({"reason": "unsupported grant"}, 400)
        return JSONResponse({"access_token": "sandbox-token", "token_type": "bearer"})

    async def _recordings(self, request: Request) -> Response:
        if request.headers.get("authorization") != "Bearer sandbox-token":
            return JSONResponse({"code": 124, "message": "Invalid access token."}, 401)
        return JSONResponse(self.recordings)


@pytest.fixture(scope="session")
def loopback() -> Iterator[LoopbackZoom]:
    server = LoopbackZoom()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client() as client:
        yield client


@pytest.fixture
def refused_url() -> str:
    """A loopback URL nothing listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"
