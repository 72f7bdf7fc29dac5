"""Injected faults: counted, fractional, 429 with Retry-After, hangs; in process and over HTTP."""

from __future__ import annotations

import httpx
import pytest

from tests.sandbox.conftest import account_token
from zoomq.sandbox import DEFAULT_APP, SandboxServer


def test_two_503_then_success(sandbox: SandboxServer, client: httpx.Client) -> None:
    """count=2: the next two matching calls fail, the third succeeds."""
    sandbox.state.faults.inject("GET", "/v2/users/me", 503, count=2)
    answers = [client.get("/users/me") for _ in range(3)]
    assert [a.status_code for a in answers] == [503, 503, 200]
    assert answers[0].json() == {"code": 503, "message": "Service Unavailable."}
    assert answers[0].headers["x-zm-trackingid"]
    assert [r.status for r in list(sandbox.state.requests)[-3:]] == [503, 503, 200]
    assert not sandbox.state.faults.active


def test_pattern_and_method_must_match(sandbox: SandboxServer, client: httpx.Client) -> None:
    """Another method or path is not affected; patterns work with or without /v2."""
    sandbox.state.faults.inject("POST", "/users/*/meetings", 500, count=1)
    assert client.get("/users/me/meetings").status_code == 200
    assert client.post("/users/me/meetings", json={}).status_code == 500
    assert client.post("/users/me/meetings", json={}).status_code == 201


def test_429_with_retry_after(sandbox: SandboxServer, client: httpx.Client) -> None:
    """A 429 fault carries Zoom's per-second body and the given Retry-After."""
    sandbox.state.faults.inject(None, "/v2/users*", 429, count=1, retry_after="3")
    response = client.get("/users")
    assert response.status_code == 429
    assert response.headers["retry-after"] == "3"
    assert response.json()["message"].startswith("You have reached the maximum per-second")


def test_custom_body(sandbox: SandboxServer, client: httpx.Client) -> None:
    """``body`` replaces the default error body."""
    body = {"code": 429, "message": "Too many concurrent requests."}
    sandbox.state.faults.inject("DELETE", "/v2/users/*", 429, count=1, body=body)
    assert client.delete(f"/users/{sandbox.state.seeded.user_ids[-1]}").json() == body


def test_hang_times_the_client_out(sandbox: SandboxServer, client: httpx.Client) -> None:
    """A hang outlasts the client's timeout; the next call is served normally."""
    sandbox.state.faults.inject("GET", "/v2/users/me", "hang", count=1, hang_seconds=5)
    with pytest.raises(httpx.ReadTimeout):
        client.get("/users/me", timeout=0.3)
    assert client.get("/users/me").status_code == 200


def test_fraction_fails_about_that_share(sandbox: SandboxServer, client: httpx.Client) -> None:
    """fraction=0.5 fails roughly half the matching calls until cleared."""
    sandbox.state.faults.inject(None, "/v2/users/me", 500, fraction=0.5)
    codes = [client.get("/users/me").status_code for _ in range(200)]
    assert 60 <= codes.count(500) <= 140
    assert set(codes) == {200, 500}
    sandbox.state.faults.clear()
    assert {client.get("/users/me").status_code for _ in range(20)} == {200}


def test_token_endpoint_can_fail(sandbox: SandboxServer) -> None:
    """Faults apply to /oauth/token as well."""
    sandbox.state.faults.inject("POST", "/oauth/token", 500, count=1)
    data = {"grant_type": "account_credentials", "account_id": DEFAULT_APP.account_id}
    auth = (DEFAULT_APP.client_id, DEFAULT_APP.client_secret)
    assert httpx.post(sandbox.token_url, data=data, auth=auth).status_code == 500
    assert httpx.post(sandbox.token_url, data=data, auth=auth).status_code == 200


def test_faults_over_http(sandbox: SandboxServer) -> None:
    """POST/GET/DELETE /_sandbox/faults drive the same injector."""
    token = account_token(sandbox)
    with httpx.Client(base_url=sandbox.url) as control:
        created = control.post(
            "/_sandbox/faults",
            json={"method": "GET", "path_pattern": "/v2/users/me", "status": 503, "count": 1},
        )
        assert created.status_code == 201
        fault = created.json()
        assert fault["status"] == 503
        assert control.get("/_sandbox/faults").json()["faults"][0]["id"] == fault["id"]
        api = httpx.get(
            sandbox.api_base_url + "/users/me", headers={"Authorization": f"Bearer {token}"}
        )
        assert api.status_code == 503
        control.post("/_sandbox/faults", json={"path_pattern": "/v2/*", "status": 500})
        assert control.delete("/_sandbox/faults").status_code == 204
        assert control.get("/_sandbox/faults").json() == {"faults": []}
        bad = control.post("/_sandbox/faults", json={"path_pattern": "/x", "status": "boom"})
        assert bad.status_code == 400
