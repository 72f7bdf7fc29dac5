"""Installing an authorization-code connection against the project's Zoom sandbox."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import redis

from receiver import create_app
from tests.receiver.conftest import ServerThread, make_settings
from zoomq.sandbox.server import SandboxServer


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


@pytest.fixture
def receiver(sandbox: SandboxServer, redis_url: str, tmp_path: Path) -> Iterator[httpx.Client]:
    """The receiver under uvicorn, with an OAuth connection whose redirect_uri is unset (so
    the receiver's own callback URL is used) and one with an explicit redirect_uri."""
    connections = [
        oauth_connection(sandbox),
        oauth_connection(
            sandbox, "fixed", redirect_uri="https://zoomq.example/oauth/zoom/callback"
        ),
    ]
    app = create_app(make_settings(redis_url, tmp_path, connections=connections))
    with ServerThread(app) as running, httpx.Client(base_url=running.url, timeout=10) as http:
        yield http


def install(http: httpx.Client, connection: str) -> dict[str, str]:
    response = http.get("/oauth/zoom/install", params={"connection": connection})
    assert response.status_code == 302
    location = urlsplit(response.headers["location"])
    query = {k: v[0] for k, v in parse_qs(location.query).items()}
    return {"url": f"{location.scheme}://{location.netloc}{location.path}", **query}


def test_install_redirects_to_zoom_with_a_stored_state(
    receiver: httpx.Client, sandbox: SandboxServer, redis_client: redis.Redis
) -> None:
    """The install link goes to the authorize URL with code flow parameters and a fresh state."""
    first, second = install(receiver, "fixed"), install(receiver, "fixed")
    assert first["url"] == sandbox.authorize_url
    assert first["response_type"] == "code"
    assert first["client_id"] == "sandbox-client"
    assert first["redirect_uri"] == "https://zoomq.example/oauth/zoom/callback"
    assert first["state"] != second["state"]
    key = f"zoomq:oauth_state:{first['state']}"
    assert json.loads(redis_client.get(key) or b"{}")["connection"] == "fixed"
    assert 0 < redis_client.ttl(key) <= 600


def test_full_consent_flow_stores_tokens(receiver: httpx.Client, redis_client: redis.Redis) -> None:
    """install → Zoom's authorize → callback: the code is exchanged and the tokens stored."""
    response = receiver.get(
        "/oauth/zoom/install", params={"connection": "oauthapp"}, follow_redirects=True
    )
    assert response.status_code == 200
    assert "connected" in response.text
    assert response.url.path == "/oauth/zoom/callback"
    stored = json.loads(redis_client.get("zoomq:oauth:oauthapp") or b"{}")
    assert stored["access_token"]
    assert stored["refresh_token"]
    assert redis_client.keys("zoomq:oauth_state:*") == []  # consumed


def test_state_is_single_use(receiver: httpx.Client) -> None:
    """Replaying a callback (same state) is refused after the first use."""
    authorize = receiver.get("/oauth/zoom/install", params={"connection": "oauthapp"})
    consent = httpx.get(authorize.headers["location"])  # the sandbox answers 302 to us
    callback = urlsplit(consent.headers["location"])
    first = receiver.get(f"{callback.path}?{callback.query}")
    again = receiver.get(f"{callback.path}?{callback.query}")
    assert first.status_code == 200
    assert again.status_code == 400
    assert again.json() == {"error": "unknown or expired state"}


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
    state = install(receiver, "oauthapp")["state"]
    response = receiver.get("/oauth/zoom/callback", params={"code": "bogus", "state": state})
    assert response.status_code == 502
    assert "Invalid authorization code" in response.json()["error"]
    assert redis_client.get("zoomq:oauth:oauthapp") is None


def test_install_needs_a_known_oauth_connection(receiver: httpx.Client) -> None:
    """Unknown connection 404; a server-to-server connection has nothing to install."""
    assert receiver.get("/oauth/zoom/install", params={"connection": "nope"}).status_code == 404
    assert receiver.get("/oauth/zoom/install", params={"connection": "team"}).status_code == 400
