"""Fakes for client unit tests: a clock that never sleeps, and a scripted transport."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from tests.clock import FakeClock as _FakeClock
from zoomq.settings import Connection, HttpSettings, Settings


class FakeClock(_FakeClock):
    """The shared fake clock, at the time these tests' expectations are computed from."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        super().__init__(now, mono=0.0)


Handler = Callable[[httpx.Request], httpx.Response]


class ScriptedZoom:
    """A MockTransport handler: token endpoint plus a queue of API answers; fails on surprises."""

    def __init__(self, *answers: httpx.Response | Handler) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []
        self.token_requests = 0
        self.auth: list[str | None] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            self.token_requests += 1
            return httpx.Response(
                200, json={"access_token": f"tok-{self.token_requests}", "expires_in": 3600}
            )
        self.requests.append(request)
        self.auth.append(request.headers.get("authorization"))  # the Request is reused on retry
        if not self.answers:
            raise AssertionError(f"unexpected request {request.method} {request.url}")
        answer = self.answers.pop(0)
        return answer(request) if callable(answer) else answer

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)


def settings(**overrides: Any) -> Settings:
    base: dict[str, Any] = {
        "zoom_account_id": "acct",
        "zoom_client_id": "cid",
        "zoom_client_secret": "real-secret-value",
        "zoom_api_base_url": "https://api.zoom.us/v2",
        "zoom_oauth_token_url": "https://zoom.us/oauth/token",
        "http": HttpSettings(max_wait=10.0),
    }
    base.update(overrides)
    return Settings(_env_file=None, **base)


def connection(s: Settings) -> Connection:
    return s.connection()
