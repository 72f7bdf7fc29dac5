"""ZoomClient's own send path: httpx.Client's headers and token rule, and proxies honoured."""

from __future__ import annotations

import httpx
import pytest

from tests.client.fakes import FakeClock, ScriptedZoom, connection, settings
from tests.client.listener import Listener
from zoomq.client import MemoryRateLimiter, MemoryTokenStore, ZoomClient


def _client(s_overrides: dict[str, object], transport: httpx.BaseTransport | None) -> ZoomClient:
    s = settings(**s_overrides)
    clock = FakeClock()
    conn = connection(s).model_copy(update={"rate_limits": {"light": 1e9}})
    return ZoomClient(
        s,
        conn,
        transport=transport,
        clock=clock,
        limiter=MemoryRateLimiter(clock),
        token_store=MemoryTokenStore(),
    )


def test_caller_headers_replace_the_defaults_but_never_the_token() -> None:
    """One Accept (the caller's), the client's User-Agent and encodings, our bearer token."""
    zoom = ScriptedZoom(httpx.Response(200, json={}))
    with _client({}, zoom.transport()) as client:
        client.request("GET", "users/me", headers={"Accept": "text/csv", "Authorization": "B x"})
    sent = zoom.requests[0].headers
    assert sent.get_list("accept") == ["text/csv"]
    assert sent.get_list("authorization") == ["Bearer tok-1"]
    assert sent["user-agent"].startswith("zoomq/")
    assert "gzip" in sent["accept-encoding"]


def test_no_cookie_is_kept_or_sent_back() -> None:
    """A Set-Cookie from Zoom is not returned on the next request (the API wants none)."""
    zoom = ScriptedZoom(
        httpx.Response(200, json={}, headers={"set-cookie": "cred=abc; Path=/"}),
        httpx.Response(200, json={}),
    )
    with _client({}, zoom.transport()) as client:
        client.request("GET", "users/me")
        client.request("GET", "users/me")
    assert "cookie" not in zoom.requests[1].headers


def test_a_proxy_in_the_environment_gets_the_request(monkeypatch: pytest.MonkeyPatch) -> None:
    """With HTTP_PROXY set, the request goes to the proxy (absolute-form target), not Zoom."""
    with Listener() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        with _client(
            {"zoom_api_base_url": "http://zoom.invalid/v2", "zoom_oauth_token_url": proxy.url},
            None,
        ) as client:
            client.tokens.access_token = lambda: "tok"  # type: ignore[method-assign]
            client.request("GET", "users/me")
    assert [s.path for s in proxy.seen] == ["http://zoom.invalid/v2/users/me"]
    assert proxy.seen[0].headers["authorization"] == "Bearer tok"
