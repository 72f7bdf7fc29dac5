"""Receiver fixtures: settings, signed deliveries, the app under uvicorn and in-process."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import redis
import uvicorn
from starlette.applications import Starlette

from receiver import create_app
from zoomq.clock import SystemClock
from zoomq.sandbox.webhooks import build_event, build_headers, serialize
from zoomq.settings import ReceiverSettings, Settings
from zoomq.webhooks import sign

SECRET = "whsec-receiver-Zoë"  # non-ASCII: secrets are keyed as UTF-8
ROTATED = "whsec-receiver-next"
TEAM_SECRET = "whsec-team-conn"
EVENTS = "events"

T = TypeVar("T")


def make_settings(
    redis_url: str, tmp_path: Path, *, rotating: bool = True, **extra: Any
) -> Settings:
    """``ZOOM_WEBHOOK_SECRET_TOKEN`` plus a connections file: "default" (whose own secret is
    the next one in a rotation), "team" (its own secret) and "bare" (no secret)."""
    connections = [
        {
            "name": "default",
            "account_id": "acct-default",
            "client_id": "default-client",
            "client_secret": "default-client-secret",
            "webhook_secrets": [ROTATED] if rotating else [],
        },
        {
            "name": "team",
            "account_id": "acct-team",
            "client_id": "team-client",
            "client_secret": "team-client-secret",
            "webhook_secrets": [TEAM_SECRET],
        },
        {
            "name": "bare",
            "account_id": "acct-bare",
            "client_id": "bare-client",
            "client_secret": "bare-client-secret",
        },
        *extra.pop("connections", []),
    ]
    path = tmp_path / "connections.json"
    path.write_text(json.dumps(connections))
    values: dict[str, Any] = {
        "zoom_webhook_secret_token": SECRET,
        "redis_url": redis_url,
        "zoomq_connections_file": path,
        **extra,
    }
    return Settings(_env_file=None, **values)


def signed(
    body: bytes,
    secret: str = SECRET,
    *,
    at: float | None = None,
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    """Headers Zoom would send with ``body``, signed at ``at`` (default: now)."""
    timestamp = str(int(time.time() if at is None else at))
    return {
        "content-type": "application/json; charset=utf-8",
        "x-zm-request-timestamp": timestamp,
        "x-zm-signature": sign(secret, timestamp, body),
        **(extra or {}),
    }


def event_body(name: str = "meeting.created", **data: Any) -> bytes:
    """A realistic Zoom event body (the webhooks package's builder), serialised as Zoom does."""
    return serialize(build_event(name, data=data or None))


def zoom_headers(body: bytes, secret: str = SECRET) -> dict[str, str]:
    """The full header set of a Zoom delivery, x-zm-request-id included."""
    return build_headers(secret, body, SystemClock())


class ServerThread:
    """An ASGI app under uvicorn (httptools, lifespan on) on a loopback socket, in a thread."""

    def __init__(self, app: Starlette, port: int = 0) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", port))
        self.port: int = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app, log_level="warning", lifespan="on", ws="none", access_log=False
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    def __enter__(self) -> ServerThread:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the receiver did not start under uvicorn")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(10)
        self._sock.close()


class AppClient:
    """The app in-process over httpx's ASGI transport, lifespan included, driven from sync
    code through an event loop in a thread (Starlette's TestClient, without its deprecation)."""

    def __init__(self, app: Starlette) -> None:
        self.app = app
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._lifespan: Any = None
        self._client: httpx.AsyncClient | None = None

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(30)

    def __enter__(self) -> AppClient:
        self._thread.start()
        self._lifespan = self.app.router.lifespan_context(self.app)
        self.run(self._lifespan.__aenter__())
        self._client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="http://receiver"
        )
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._client is not None
        self.run(self._client.aclose())
        self.run(self._lifespan.__aexit__(None, None, None))
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        assert self._client is not None
        return self.run(self._client.request(method, url, **kwargs))

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)


@pytest.fixture
def settings(redis_url: str, tmp_path: Path) -> Settings:
    return make_settings(redis_url, tmp_path)


@pytest.fixture
def app_factory(settings: Settings) -> Callable[..., Starlette]:
    """``create_app`` over the test settings; keyword arguments override settings.receiver."""

    def factory(**overrides: Any) -> Starlette:
        config = ReceiverSettings.model_validate({**settings.receiver.model_dump(), **overrides})
        return create_app(settings, config)

    return factory


@pytest.fixture
def client(app_factory: Callable[..., Starlette]) -> Iterator[AppClient]:
    with AppClient(app_factory()) as running:
        yield running


@pytest.fixture
def server(app_factory: Callable[..., Starlette]) -> Iterator[ServerThread]:
    with ServerThread(app_factory()) as running:
        yield running


@pytest.fixture
def http(server: ServerThread) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=5) as session:
        yield session


@pytest.fixture
def unanswering_port() -> Iterator[int]:
    """A port that accepts TCP connections (into the backlog) and never answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        yield sock.getsockname()[1]


def queued(client: redis.Redis, queue: str = EVENTS) -> list[bytes]:
    """The messages on a queue, oldest first."""
    items: list[bytes] = client.lrange(queue, 0, -1)  # type: ignore[assignment]
    return items[::-1]
