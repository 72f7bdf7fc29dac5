"""Installing an authorization-code connection against the project's Zoom sandbox.

Every install starts with a grant that ``zoomq connections install`` writes
(``issue_grant``); the receiver redeems its token once.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import redis

from receiver import create_app
from tests.clock import FakeClock
from tests.receiver.conftest import ServerThread, make_settings
from zoomq.client.install import InstallGrant, grant_key, issue_grant
from zoomq.sandbox.server import SandboxServer

PREFIX = "zoomq"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer() as running:
        yield running


def oauth_connection(
    sandbox: SandboxServer, name: str = "oauthapp", **extra: Any
) -> dict[str, Any]:
    return {
        "name": name,
        "type": "oauth",
        "client_id": "sandbox-client",
        "client_secret": "sandbox-secret",
        "oauth_token_url": sandbox.token_url,
        "oauth_authorize_url": sandbox.authorize_url,
        **extra,
    }


def connections(sandbox: SandboxServer) -> list[dict[str, Any]]:
    """One OAuth connection whose redirect_uri is unset (so the receiver's own callback URL
    is used) and one with an explicit redirect_uri."""
    return [
        oauth_connection(sandbox),
        oauth_connection(
            sandbox, "fixed", redirect_uri="https://zoomq.example/oauth/zoom/callback"
        ),
    ]


@pytest.fixture
def receiver(sandbox: SandboxServer, redis_url: str, tmp_path: Path) -> Iterator[httpx.Client]:
    """The receiver under uvicorn."""
    app = create_app(make_settings(redis_url, tmp_path, connections=connections(sandbox)))
    with ServerThread(app) as running, httpx.Client(base_url=running.url, timeout=10) as http:
        yield http


def grant(client: redis.Redis, connection: str = "oauthapp", *, replace: bool = False) -> str:
    """What `zoomq connections install` does: a grant, and the token that redeems it."""
    return issue_grant(client, PREFIX, InstallGrant(connection, replace=replace), ttl=600)


def install(http: httpx.Client, token: str) -> dict[str, str]:
    response = http.get("/oauth/zoom/install", params={"token": token})
    assert response.status_code == 302, response.text
    location = urlsplit(response.headers["location"])
    query = {k: v[0] for k, v in parse_qs(location.query).items()}
    return {"url": f"{location.scheme}://{location.netloc}{location.path}", **query}


def snapshot(client: redis.Redis) -> dict[bytes, bytes | None]:
    """Every key of the database with its value (strings) or type (anything else)."""
    found: dict[bytes, bytes | None] = {}
    for key in client.keys("*"):
        kind = client.type(key)
        found[key] = client.get(key) if kind == b"string" else kind
    return found


def test_install_redirects_to_zoom_with_a_state_bound_to_the_grant(
    receiver: httpx.Client, sandbox: SandboxServer, redis_client: redis.Redis
) -> None:
    """The link goes to the authorize URL with code flow parameters and a state that
    carries the grant (connection, replace); the grant itself is gone."""
    token = grant(redis_client, "fixed", replace=True)
    first = install(receiver, token)
    second = install(receiver, grant(redis_client, "fixed"))
    assert first["url"] == sandbox.authorize_url
    assert first["response_type"] == "code"
    assert first["client_id"] == "sandbox-client"
    assert first["redirect_uri"] == "https://zoomq.example/oauth/zoom/callback"
    assert first["state"] != second["state"]
    key = f"zoomq:oauth_state:{first['state']}"
    record = json.loads(redis_client.get(key) or b"{}")
    assert record["connection"] == "fixed"
    assert record["replace"] is True
    assert 0 < redis_client.ttl(key) <= 600
    assert redis_client.exists(grant_key(PREFIX, token)) == 0
    assert redis_client.keys("zoomq:oauth_install:*") == []


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"connection": "oauthapp"},
        {"token": ""},
        {"token": "never-issued"},
        {"token": "x" * 200},
    ],
)
def test_install_without_a_valid_token_is_403(
    receiver: httpx.Client, query: dict[str, str]
) -> None:
    """No install without an operator's token; the error names the token."""
    response = receiver.get("/oauth/zoom/install", params=query)
    assert response.status_code == 403
    assert response.json()["error"].startswith("token is ")
    assert "zoomq connections install" in response.json()["error"]


def test_unauthenticated_calls_write_nothing(
    receiver: httpx.Client, redis_client: redis.Redis
) -> None:
    """A burst of install and callback calls without a valid token or state leaves the
    keyspace exactly as it was (an operator's pending grant included)."""
    pending = grant(redis_client)
    before = snapshot(redis_client)
    assert list(before) == [grant_key(PREFIX, pending).encode()]
    for i in range(40):
        assert receiver.get(
            "/oauth/zoom/install", params={"connection": "oauthapp"}
        ).is_client_error
        assert receiver.get("/oauth/zoom/install").status_code == 403
        assert (
            receiver.get("/oauth/zoom/install", params={"token": f"guess-{i}"}).status_code == 403
        )
        callback = receiver.get("/oauth/zoom/callback", params={"code": "c", "state": f"s-{i}"})
        assert callback.status_code == 400
    assert snapshot(redis_client) == before
    assert redis_client.dbsize() == 1


def test_token_is_single_use(receiver: httpx.Client, redis_client: redis.Redis) -> None:
    """The second use of a link is refused and writes nothing."""
    token = grant(redis_client)
    install(receiver, token)
    before = snapshot(redis_client)
    again = receiver.get("/oauth/zoom/install", params={"token": token})
    assert again.status_code == 403
    assert "already used" in again.json()["error"]
    assert snapshot(redis_client) == before


def test_expired_token_is_refused(receiver: httpx.Client, redis_client: redis.Redis) -> None:
    """A grant past its TTL is gone from Redis, and its link is refused."""
    token = issue_grant(redis_client, PREFIX, InstallGrant("oauthapp"), ttl=1)
    deadline = time.monotonic() + 5
    while redis_client.exists(grant_key(PREFIX, token)):  # until Redis expires it
        assert time.monotonic() < deadline
        time.sleep(0.05)
    response = receiver.get("/oauth/zoom/install", params={"token": token})
    assert response.status_code == 403
    assert redis_client.dbsize() == 0


def test_full_consent_flow_stores_tokens(receiver: httpx.Client, redis_client: redis.Redis) -> None:
    """link → Zoom's authorize → callback: the code is exchanged and the tokens stored."""
    response = receiver.get(
        "/oauth/zoom/install", params={"token": grant(redis_client)}, follow_redirects=True
    )
    assert response.status_code == 200
    assert "connected" in response.text
    assert response.url.path == "/oauth/zoom/callback"
    stored = json.loads(redis_client.get("zoomq:oauth:oauthapp") or b"{}")
    assert stored["access_token"]
    assert stored["refresh_token"]
    assert redis_client.keys("zoomq:oauth_state:*") == []  # consumed
    assert redis_client.keys("zoomq:oauth_install:*") == []


def consent(receiver: httpx.Client, token: str) -> str:
    """Follow a link through Zoom's consent; the callback path and query, not yet called."""
    authorize = receiver.get("/oauth/zoom/install", params={"token": token})
    assert authorize.status_code == 302, authorize.text
    location = httpx.get(authorize.headers["location"]).headers["location"]
    callback = urlsplit(location)
    return f"{callback.path}?{callback.query}"


def test_state_is_single_use(receiver: httpx.Client, redis_client: redis.Redis) -> None:
    """Replaying a callback (same state) is refused after the first use."""
    callback = consent(receiver, grant(redis_client))
    first = receiver.get(callback)
    again = receiver.get(callback)
    assert first.status_code == 200
    assert again.status_code == 400
    assert again.json() == {"error": "unknown or expired state"}


def test_installed_connection_is_kept_without_replace(
    receiver: httpx.Client, sandbox: SandboxServer, redis_client: redis.Redis
) -> None:
    """A link made without --replace cannot overwrite tokens stored since (the code is
    not even exchanged); one made with --replace does."""
    early = grant(redis_client)  # made while the connection had no tokens
    assert receiver.get(consent(receiver, grant(redis_client))).status_code == 200
    stored = redis_client.get("zoomq:oauth:oauthapp")
    exchanges = sandbox.state.oauth.requests["authorization_code"]
    refused = receiver.get(consent(receiver, early))
    assert refused.status_code == 409
    assert "already has tokens" in refused.json()["error"]
    assert "--replace" in refused.json()["error"]
    assert redis_client.get("zoomq:oauth:oauthapp") == stored
    assert sandbox.state.oauth.requests["authorization_code"] == exchanges
    replaced = receiver.get(consent(receiver, grant(redis_client, replace=True)))
    assert replaced.status_code == 200
    assert redis_client.get("zoomq:oauth:oauthapp") != stored


def test_callback_waits_for_the_token_lock_then_gives_up(
    sandbox: SandboxServer, redis_url: str, redis_client: redis.Redis, tmp_path: Path
) -> None:
    """While a refresh holds the connection's token lock the callback stores nothing; it
    answers 409 once its wait is over."""
    settings = make_settings(redis_url, tmp_path, connections=connections(sandbox))
    clock = FakeClock()
    with ServerThread(create_app(settings, clock=clock)) as running:
        http = httpx.Client(base_url=running.url, timeout=10)
        callback = consent(http, grant(redis_client))
        redis_client.set("zoomq:lock:oauth:oauthapp", "a-worker", px=30_000)
        response = http.get(callback)
        http.close()
    assert response.status_code == 409
    assert "being refreshed" in response.json()["error"]
    assert redis_client.get("zoomq:oauth:oauthapp") is None
    assert sum(clock.sleeps) > 5.0


@pytest.mark.parametrize(
    "query",
    [{"code": "c", "state": "never-issued"}, {"code": "c"}, {"state": "s"}, {}],
)
def test_callback_with_bad_or_missing_state_is_400(
    receiver: httpx.Client, query: dict[str, str]
) -> None:
    """No valid state, no exchange."""
    assert receiver.get("/oauth/zoom/callback", params=query).status_code == 400


def test_refused_code_is_502_with_zooms_reason(
    receiver: httpx.Client, redis_client: redis.Redis
) -> None:
    """A valid state but a code Zoom refuses: 502 carrying the token endpoint's reason."""
    state = install(receiver, grant(redis_client))["state"]
    response = receiver.get("/oauth/zoom/callback", params={"code": "bogus", "state": state})
    assert response.status_code == 502
    assert "Invalid authorization code" in response.json()["error"]
    assert redis_client.get("zoomq:oauth:oauthapp") is None


def test_grant_needs_a_known_oauth_connection(
    receiver: httpx.Client, redis_client: redis.Redis
) -> None:
    """A grant for a connection this receiver lacks is 404, for a server-to-server one 400;
    neither makes a state."""
    missing = receiver.get("/oauth/zoom/install", params={"token": grant(redis_client, "nope")})
    assert missing.status_code == 404
    assert "'nope'" in missing.json()["error"]
    s2s = receiver.get("/oauth/zoom/install", params={"token": grant(redis_client, "team")})
    assert s2s.status_code == 400
    assert redis_client.dbsize() == 0


def test_a_state_cannot_finish_the_install_from_another_browser(
    receiver: httpx.Client, redis_client: redis.Redis
) -> None:
    """Whoever sees the state (a log, a screen) but lacks the install's cookie gets 403,
    stores nothing and leaves the state for the operator's own browser."""
    callback = consent(receiver, grant(redis_client))
    with httpx.Client(base_url=str(receiver.base_url), timeout=10) as other:
        refused = other.get(callback)
        forged = other.get(callback, headers={"Cookie": "zoomq_oauth_install=guessed"})
    for response in (refused, forged):
        assert response.status_code == 403
        assert "another browser" in response.json()["error"]
    assert redis_client.get("zoomq:oauth:oauthapp") is None
    assert receiver.get(callback).status_code == 200
    assert redis_client.get("zoomq:oauth:oauthapp") is not None


def test_the_install_cookie_is_httponly_and_scoped_to_the_callback(
    receiver: httpx.Client, redis_client: redis.Redis
) -> None:
    """The browser binding is not readable by scripts and is sent only to the callback."""
    response = receiver.get("/oauth/zoom/install", params={"token": grant(redis_client)})
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "path=/oauth/zoom/callback" in cookie
    assert "samesite=lax" in cookie
