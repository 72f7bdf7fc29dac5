"""The client's behaviours over real HTTP against the sandbox Zoom, with a real redis-server."""

from __future__ import annotations

import json
import multiprocessing as mp
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import redis
from click.testing import CliRunner

from tests.client.procs import hammer, settings_for
from zoomq.actions import run_action
from zoomq.client import RedisTokenStore, ZoomClient
from zoomq.client.auth import AuthCodeTokens
from zoomq.errors import DailyLimitExceeded, NotFound, RateLimited
from zoomq.sandbox.config import SandboxConfig
from zoomq.sandbox.server import SandboxServer
from zoomq.settings import Connection, ConnectionType, Settings


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(rate_limits=False, registrants=650)) as server:
        yield server


def _settings(sandbox: SandboxServer, **extra: Any) -> Settings:
    return settings_for(sandbox.api_base_url, sandbox.token_url, **extra)


def _run_processes(
    settings: Settings, conn: Connection, redis_url: str, procs: int, threads: int, calls: int
) -> list[str]:
    ctx = mp.get_context("spawn")
    out: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
    start = ctx.Event()
    args = (settings.model_dump_json(), _conn_json(conn), redis_url, threads, calls, start, out)
    workers = [ctx.Process(target=hammer, args=args) for _ in range(procs)]
    for w in workers:
        w.start()
    start.set()
    errors = [e for _ in workers for e in out.get(timeout=90)]
    for w in workers:
        w.join(10)
    return errors


def _conn_json(conn: Connection) -> str:
    data = conn.model_dump(mode="json")
    data["client_secret"] = conn.client_secret.get_secret_value()
    return json.dumps(data)


def test_one_token_request_for_many_processes(sandbox: SandboxServer, redis_url: str) -> None:
    """Four processes of four threads share one S2S token: Zoom sees one token request."""
    settings = _settings(sandbox)
    settings_json = settings.model_dump(mode="json")
    settings_json["zoom_client_secret"] = "sandbox-secret"
    settings = Settings.model_validate(settings_json)
    errors = _run_processes(settings, settings.connection(), redis_url, 4, 4, 5)
    assert errors == []
    assert sandbox.state.oauth.requests["account_credentials"] == 1
    assert sandbox.state.count("GET", "/v2/users/me") == 80


def test_revoked_token_is_fetched_again_once(sandbox: SandboxServer, redis_url: str) -> None:
    """When Zoom forgets the token (401/124), the client fetches one new token and goes on."""
    r = redis.Redis.from_url(redis_url)
    client = ZoomClient(_settings(sandbox), _settings(sandbox).connection(), redis_client=r)
    client.request("GET", "/users/me")
    sandbox.state.oauth.access.clear()
    assert client.request("GET", "/users/me").json()["email"] == "owner@example.com"
    assert sandbox.state.oauth.requests["account_credentials"] == 2
    client.close()


def _install_oauth(sandbox: SandboxServer, settings: Settings, r: redis.Redis) -> Connection:
    conn = Connection(
        name="partner",
        type=ConnectionType.OAUTH,
        client_id="sandbox-client",
        client_secret="sandbox-secret",
        redirect_uri="http://127.0.0.1/callback",
    )
    answer = httpx.get(
        sandbox.authorize_url,
        params={"response_type": "code", "client_id": conn.client_id,
                "redirect_uri": conn.redirect_uri, "state": "s1"},
    )  # fmt: skip
    assert answer.status_code == 302
    query = parse_qs(urlsplit(answer.headers["location"]).query)
    assert query["state"] == ["s1"]
    with httpx.Client() as http:
        tokens = AuthCodeTokens(settings, conn, RedisTokenStore(r), http)
        tokens.exchange_code(query["code"][0], "http://127.0.0.1/callback")
    return conn


def test_refresh_token_rotation_under_concurrent_refresh(
    sandbox: SandboxServer, redis_url: str
) -> None:
    """Sixteen concurrent callers find the token stale: one refresh, and no token is burnt."""
    settings = _settings(sandbox, zoom_account_id=None)
    r = redis.Redis.from_url(redis_url)
    conn = _install_oauth(sandbox, settings, r)
    store = RedisTokenStore(r)
    settings_json = settings.model_dump(mode="json")
    settings_json["zoom_client_secret"] = "sandbox-secret"
    settings = Settings.model_validate(settings_json)
    for round_ in range(1, 3):
        token = store.get("oauth:partner")
        assert token is not None
        store.set("oauth:partner", token.expired(), ttl=None)  # everyone must refresh now
        errors = _run_processes(settings, conn, redis_url, 4, 4, 2)
        assert errors == []
        assert sandbox.state.oauth.requests["refresh_token"] == round_
    newest = store.get("oauth:partner")
    assert newest is not None
    assert newest.refresh_token != token.refresh_token
    # The stored refresh token is the live one: one more refresh succeeds.
    answer = httpx.post(
        sandbox.token_url,
        data={"grant_type": "refresh_token", "refresh_token": newest.refresh_token},
        auth=("sandbox-client", "sandbox-secret"),
    )
    assert answer.status_code == 200


def test_429_without_and_with_retry_after(sandbox: SandboxServer) -> None:
    """Zoom's per-second 429s are retried (backoff, or Retry-After) and the call succeeds."""
    settings = _settings(sandbox)
    client = ZoomClient(settings, settings.connection())
    sandbox.state.faults.inject("GET", "/v2/users/me", 429, count=2)
    assert client.request("GET", "/users/me").status_code == 200
    sandbox.state.faults.inject("GET", "/v2/users/me", 429, count=1, retry_after="1")
    started = time.monotonic()
    assert client.request("GET", "/users/me").status_code == 200
    assert time.monotonic() - started >= 1.0  # Retry-After was honoured, not a short backoff
    sandbox.state.faults.inject("GET", "/v2/users/me", 429, count=1, retry_after="120")
    with pytest.raises(RateLimited) as info:
        client.request("GET", "/users/me")
    assert info.value.retry_after >= 119
    client.close()


def test_sandbox_daily_user_cap_is_daily_limit_exceeded() -> None:
    """The sandbox's 100/day per-user meeting cap (3 here) surfaces as DailyLimitExceeded."""
    config = SandboxConfig(user_meeting_daily_cap=3)
    with SandboxServer(config) as sandbox:
        settings = _settings(sandbox)
        client = ZoomClient(settings, settings.connection())
        owner = sandbox.state.seeded.owner_user_id
        for _ in range(3):
            run_action(client, "createMeeting", {"userId": owner, "topic": "x"})
        with pytest.raises(DailyLimitExceeded) as info:
            run_action(client, "createMeeting", {"userId": owner, "topic": "x"})
        assert info.value.reset_at.hour == 0
        client.close()


def test_client_budget_keeps_zoom_quiet(redis_url: str) -> None:
    """With the sandbox enforcing a small budget, three processes at that budget get no 429."""
    config = SandboxConfig(rate_scale=0.2)  # pro light 30/s -> 6/s at the sandbox
    with SandboxServer(config) as sandbox:
        settings = _settings(sandbox)
        settings_json = settings.model_dump(mode="json")
        settings_json["zoom_client_secret"] = "sandbox-secret"
        settings = Settings.model_validate(settings_json)
        conn = settings.connection().model_copy(update={"rate_limits": {"light": 5.0}})
        errors = _run_processes(settings, conn, redis_url, 3, 2, 3)
        assert errors == []
        assert sandbox.state.count("GET", "/v2/users/me") == 18
        assert sandbox.state.status_counts[429] == 0


def test_list_action_walks_every_page(sandbox: SandboxServer) -> None:
    """listMeetingRegistrants collects every approved registrant over pages of 300."""
    settings = _settings(sandbox)
    with ZoomClient(settings, settings.connection()) as client:
        meeting = sandbox.state.seeded.registration_meeting_id
        out = run_action(client, "listMeetingRegistrants", {"meetingId": meeting})
        registrants = out["data"]["registrants"]
        assert len(registrants) == out["data"]["zoom_total_records"] > 300
        assert len({r["id"] for r in registrants}) == len(registrants)
        assert {r["status"] for r in registrants} == {"approved"}
        assert out["data"]["pages"] == -(-len(registrants) // 300)
        limited = run_action(
            client, "listMeetingRegistrants", {"meetingId": meeting, "maxItems": 10}
        )
        assert len(limited["data"]["registrants"]) == 10


def test_not_found_carries_zoom_code(sandbox: SandboxServer) -> None:
    """An unknown user is NotFound with Zoom's code 1001 and a tracking id."""
    settings = _settings(sandbox)
    with ZoomClient(settings, settings.connection()) as client, pytest.raises(NotFound) as info:
        run_action(client, "getUser", {"userId": "nobody@example.com"})
    assert info.value.code == 1001
    assert info.value.tracking_id


def _cli(sandbox: SandboxServer, redis_url: str, *args: str) -> Any:
    from zoomq.cli import cli

    env = {
        "ZOOM_ACCOUNT_ID": "sandbox-account",
        "ZOOM_CLIENT_ID": "sandbox-client",
        "ZOOM_CLIENT_SECRET": "sandbox-secret",
        "ZOOM_API_BASE_URL": sandbox.api_base_url,
        "ZOOM_OAUTH_TOKEN_URL": sandbox.token_url,
        "REDIS_URL": redis_url,
    }
    return CliRunner().invoke(cli, list(args), env=env)


def test_cli_action_prints_json(sandbox: SandboxServer, redis_url: str) -> None:
    """`zoomq action getUser` prints the user as JSON and exits 0."""
    result = _cli(sandbox, redis_url, "action", "getUser", "--input", '{"userId": "me"}')
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["data"]["email"] == "owner@example.com"


def test_cli_invalid_input_names_the_field(sandbox: SandboxServer, redis_url: str) -> None:
    """A missing required field exits 2 naming it; Zoom is not called."""
    before = sandbox.state.request_count
    result = _cli(
        sandbox, redis_url, "action", "addMeetingRegistrant", "--input", '{"meetingId": 1}'
    )
    assert result.exit_code == 2
    assert "email" in result.stderr
    assert sandbox.state.request_count == before


def test_cli_zoom_error_exits_1_with_code(sandbox: SandboxServer, redis_url: str) -> None:
    """A Zoom error exits 1 and prints Zoom's code and message."""
    result = _cli(sandbox, redis_url, "action", "getMeeting", "--input", '{"meetingId": 1}')
    assert result.exit_code == 1
    assert "3001" in result.stderr


def test_cli_bad_json_exits_2(sandbox: SandboxServer, redis_url: str) -> None:
    """Input that is not JSON exits 2 naming --input."""
    result = _cli(sandbox, redis_url, "action", "getUser", "--input", "{nope")
    assert result.exit_code == 2
    assert "--input" in result.stderr
