"""Zoom's OAuth server: S2S, authorization code, rotating refresh tokens, authorize."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.sandbox.conftest import FakeClock
from zoomq.sandbox import DEFAULT_APP, OAuthApp, SandboxConfig, SandboxServer

REDIRECT = "https://app.example.com/oauth/callback"
APP = DEFAULT_APP
AUTH = (APP.client_id, APP.client_secret)


def token(
    server: SandboxServer, data: dict[str, str], auth: tuple[str, str] = AUTH
) -> httpx.Response:
    return httpx.post(server.token_url, data=data, auth=auth)


def authorize(server: SandboxServer, state: str = "xyz-123") -> str:
    """The code from an authorize redirect (checking the redirect carries ``state``)."""
    response = httpx.get(
        server.authorize_url,
        params={
            "response_type": "code",
            "client_id": APP.client_id,
            "redirect_uri": REDIRECT,
            "state": state,
        },
    )
    assert response.status_code == 302
    location = urlsplit(response.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    query = parse_qs(location.query)
    assert query["state"] == [state]
    return query["code"][0]


def test_account_credentials_in_query_or_form(sandbox: SandboxServer) -> None:
    """S2S: Basic auth, account_id in the query or the form; Zoom's response fields."""
    in_query = httpx.post(
        sandbox.token_url,
        params={"grant_type": "account_credentials", "account_id": APP.account_id},
        auth=AUTH,
    )
    in_form = token(sandbox, {"grant_type": "account_credentials", "account_id": APP.account_id})
    for response in (in_query, in_form):
        assert response.status_code == 200
        body = response.json()
        assert set(body) == {"access_token", "token_type", "expires_in", "scope", "api_url"}
        assert body["token_type"] == "bearer"
        assert body["expires_in"] == 3600
        assert body["api_url"] == sandbox.url
    assert in_query.json()["access_token"] != in_form.json()["access_token"]
    assert sandbox.state.oauth.requests["account_credentials"] == 2


def test_token_ttl_is_configurable(
    clock: FakeClock, make_sandbox: Callable[..., SandboxServer]
) -> None:
    """``token_ttl`` sets expires_in."""
    server = make_sandbox(SandboxConfig(clock=clock, token_ttl=120))
    body = token(server, {"grant_type": "account_credentials", "account_id": APP.account_id})
    assert body.json()["expires_in"] == 120


def test_wrong_secret_is_401_invalid_client(sandbox: SandboxServer) -> None:
    """A wrong secret or no Basic header: 401 with the OAuth server's body."""
    data = {"grant_type": "account_credentials", "account_id": APP.account_id}
    wrong = token(sandbox, data, auth=(APP.client_id, "not-the-secret"))
    assert wrong.status_code == 401
    assert wrong.json() == {
        "reason": "Invalid client_id or client_secret",
        "error": "invalid_client",
    }
    anonymous = httpx.post(sandbox.token_url, data=data)
    assert anonymous.status_code == 401


def test_wrong_account_or_grant_is_400(sandbox: SandboxServer) -> None:
    """Another account_id, or an unknown grant type, is 400."""
    other = token(sandbox, {"grant_type": "account_credentials", "account_id": "elsewhere"})
    assert other.status_code == 400
    assert other.json()["error"] == "invalid_request"
    unknown = token(sandbox, {"grant_type": "password"})
    assert (unknown.status_code, unknown.json()["error"]) == (400, "unsupported_grant_type")


def test_authorization_code_and_refresh_rotation(sandbox: SandboxServer) -> None:
    """Code -> tokens; each refresh returns a new refresh token; the old one is refused."""
    code = authorize(sandbox)
    first = token(
        sandbox, {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    )
    assert first.status_code == 200
    tokens = first.json()
    assert tokens["refresh_token"]

    refreshed = token(
        sandbox, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    )
    assert refreshed.status_code == 200
    rotated = refreshed.json()
    assert rotated["refresh_token"] != tokens["refresh_token"]
    assert rotated["access_token"] != tokens["access_token"]

    reused = token(
        sandbox, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    )
    assert reused.status_code == 400
    assert reused.json() == {"reason": "Invalid Token!", "error": "invalid_request"}

    again = token(
        sandbox, {"grant_type": "refresh_token", "refresh_token": rotated["refresh_token"]}
    )
    assert again.status_code == 200
    me = httpx.get(
        sandbox.api_base_url + "/users/me",
        headers={"Authorization": f"Bearer {again.json()['access_token']}"},
    )
    assert me.status_code == 200
    assert sandbox.state.oauth.requests == {"authorization_code": 1, "refresh_token": 3}


def test_authorization_code_is_single_use(sandbox: SandboxServer) -> None:
    """The same code twice: the second exchange is refused."""
    code = authorize(sandbox)
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    assert token(sandbox, data).status_code == 200
    second = token(sandbox, data)
    assert second.status_code == 400
    assert second.json()["error"] == "invalid_request"


def test_authorization_code_expires_and_checks_redirect(
    sandbox: SandboxServer, clock: FakeClock
) -> None:
    """A code is refused after 5 minutes, or with another redirect_uri."""
    mismatch = authorize(sandbox)
    other = token(
        sandbox,
        {"grant_type": "authorization_code", "code": mismatch, "redirect_uri": REDIRECT + "x"},
    )
    assert (other.status_code, other.json()["reason"]) == (400, "Redirect URI mismatch.")
    late = authorize(sandbox)
    clock.advance(301)
    expired = token(
        sandbox, {"grant_type": "authorization_code", "code": late, "redirect_uri": REDIRECT}
    )
    assert expired.status_code == 400


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        (
            {"response_type": "token", "client_id": APP.client_id, "redirect_uri": REDIRECT},
            "response",
        ),
        ({"response_type": "code", "client_id": "nobody", "redirect_uri": REDIRECT}, "client_id"),
    ],
)
def test_authorize_refuses_bad_requests(
    sandbox: SandboxServer, params: dict[str, str], reason: str
) -> None:
    """A bad response_type or unknown client: a 400 page, no redirect."""
    response = httpx.get(sandbox.authorize_url, params=params)
    assert response.status_code == 400
    assert reason in response.text


def test_registered_redirect_uris_are_enforced(
    clock: FakeClock, make_sandbox: Callable[..., SandboxServer]
) -> None:
    """An app with redirect_uris refuses any other, and defaults to its first."""
    app = OAuthApp("c2", "s2", "acct-2", redirect_uris=(REDIRECT,))
    server = make_sandbox(SandboxConfig(clock=clock, apps=(APP, app)))
    bad = httpx.get(
        server.authorize_url,
        params={"response_type": "code", "client_id": "c2", "redirect_uri": "https://evil.test/"},
    )
    assert bad.status_code == 400
    default = httpx.get(server.authorize_url, params={"response_type": "code", "client_id": "c2"})
    assert default.headers["location"].startswith(REDIRECT + "?code=")


def test_one_token_request_serves_many_workers(sandbox: SandboxServer) -> None:
    """The token-request counter lets tests check that workers share one token."""
    body = token(sandbox, {"grant_type": "account_credentials", "account_id": APP.account_id})
    access = body.json()["access_token"]
    for _ in range(5):
        response = httpx.get(
            sandbox.api_base_url + "/users/me", headers={"Authorization": f"Bearer {access}"}
        )
        assert response.status_code == 200
    assert sandbox.state.oauth.requests["account_credentials"] == 1
    assert sandbox.state.oauth.issued["account_credentials"] == 1
