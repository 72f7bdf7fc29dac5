"""Sandbox fixtures: a fake clock, a running sandbox and an authorised httpx client."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace

import httpx
import pytest

from zoomq.sandbox import DEFAULT_APP, SandboxConfig, SandboxServer

#: 2025-06-15T12:00:00Z, a Sunday noon: far from midnight, so "today" has room.
EPOCH = 1_749_988_800.0


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self, now: float = EPOCH) -> None:
        self.now = now

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 0.0)

    def advance(self, seconds: float) -> None:
        self.now += seconds


def account_token(server: SandboxServer, account: int = 1) -> str:
    """An access token from the Server-to-Server grant of an account's app (the default's)."""
    app = DEFAULT_APP if account == 1 else server.state.account(account).app
    response = httpx.post(
        server.token_url,
        params={"grant_type": "account_credentials", "account_id": app.account_id},
        auth=(app.client_id, app.client_secret),
    )
    response.raise_for_status()
    return str(response.json()["access_token"])


def api_client(server: SandboxServer, token: str | None = None, **kw: object) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token or account_token(server)}"}
    return httpx.Client(base_url=server.api_base_url, headers=headers, **kw)  # type: ignore[arg-type]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_sandbox() -> Iterator[Callable[..., SandboxServer]]:
    """Start sandboxes with config overrides; all are stopped at the end of the test."""
    started: list[SandboxServer] = []

    def make(config: SandboxConfig | None = None, **overrides: object) -> SandboxServer:
        base = config or SandboxConfig(rate_limits=False)
        server = SandboxServer(replace(base, **overrides)).start()  # type: ignore[arg-type]
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture
def sandbox(clock: FakeClock, make_sandbox: Callable[..., SandboxServer]) -> SandboxServer:
    """A sandbox on a fake clock, rate limits off."""
    return make_sandbox(SandboxConfig(clock=clock, rate_limits=False))


@pytest.fixture
def client(sandbox: SandboxServer) -> Iterator[httpx.Client]:
    with api_client(sandbox) as http:
        yield http
