"""ZoomClient behaviour over httpx.MockTransport: retries, 429s, errors, auth, pages."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.client.fakes import FakeClock, ScriptedZoom, connection, settings
from zoomq.client import (
    Backoff,
    MemoryRateLimiter,
    MemoryTokenStore,
    RateCategory,
    RetryPolicy,
    ZoomClient,
)
from zoomq.errors import (
    BadRequest,
    Conflict,
    DailyLimitExceeded,
    NotFound,
    PageTokenExpired,
    PermissionDenied,
    RateLimited,
    ServerError,
    TransportError,
    Unauthorized,
)
from zoomq.settings import HttpSettings


def make(zoom: ScriptedZoom, clock: FakeClock | None = None, **overrides: object) -> ZoomClient:
    s = settings(**overrides)
    clock = clock or FakeClock()
    # A budget so large that the limiter never waits: the sleeps seen are the retry policy's.
    conn = connection(s).model_copy(update={"rate_limits": {"light": 1e9, "medium": 1e9}})
    return ZoomClient(
        s,
        conn,
        policy=RetryPolicy(max_attempts=4, backoff=Backoff(rand=lambda: 0.5)),
        transport=zoom.transport(),
        clock=clock,
        limiter=MemoryRateLimiter(clock),
        token_store=MemoryTokenStore(),
    )


def zoom_error(status: int, code: int, message: str, **headers: str) -> httpx.Response:
    return httpx.Response(
        status,
        json={"code": code, "message": message},
        headers={"x-zm-trackingid": "T1", **headers},
    )


def test_sends_bearer_token_and_base_path() -> None:
    """Requests go to the API base with the S2S token fetched once."""
    zoom = ScriptedZoom(httpx.Response(200, json={"id": "u1"}), httpx.Response(200, json={}))
    client = make(zoom)
    assert client.request("GET", "/users/me").json() == {"id": "u1"}
    client.request("GET", "users/u2")
    assert [str(r.url) for r in zoom.requests] == [
        "https://api.zoom.us/v2/users/me",
        "https://api.zoom.us/v2/users/u2",
    ]
    assert zoom.auth[0] == "Bearer tok-1"
    assert zoom.token_requests == 1


def test_retries_5xx_with_backoff_then_succeeds() -> None:
    """A 503 then a 502 are retried after jittered backoff."""
    clock = FakeClock()
    zoom = ScriptedZoom(httpx.Response(503), httpx.Response(502), httpx.Response(200, json={}))
    make(zoom, clock).request("GET", "/users/me")
    assert len(zoom.requests) == 3
    assert [s for s in clock.sleeps if s > 0] == [0.125, 0.25]  # half of 0.25 * 2**n


def test_post_is_not_retried_on_500() -> None:
    """A POST that got 500 may have taken effect: it is not repeated by the client."""
    zoom = ScriptedZoom(zoom_error(500, 500, "boom"))
    with pytest.raises(ServerError) as info:
        make(zoom).request("POST", "/users", json={})
    assert info.value.status == 500
    assert len(zoom.requests) == 1


def test_429_with_retry_after_seconds_is_slept() -> None:
    """A per-second 429 with a short Retry-After is waited out, then retried."""
    clock = FakeClock()
    zoom = ScriptedZoom(
        zoom_error(
            429, 429, "You have reached the maximum per-second rate limit", **{"Retry-After": "2"}
        ),
        httpx.Response(200, json={"ok": True}),
    )
    assert make(zoom, clock).request("GET", "/users/me").json() == {"ok": True}
    assert any(2.0 <= s <= 2.2 for s in clock.sleeps)


def test_429_without_retry_after_backs_off() -> None:
    """Without headers, 429s back off with jitter and finally raise RateLimited for the queue."""
    per_second = "You have reached the maximum per-second rate limit for this API. Try again later."
    zoom = ScriptedZoom(*[zoom_error(429, 429, per_second) for _ in range(4)])
    with pytest.raises(RateLimited) as info:
        make(zoom).request("GET", "/users/me")
    assert not info.value.daily
    assert info.value.retry_after >= 1.0
    assert len(zoom.requests) == 4


def test_long_retry_after_raises_rate_limited_without_sleeping() -> None:
    """A wait above the cap is not slept: the queue layer gets RateLimited(retry_after)."""
    clock = FakeClock()
    zoom = ScriptedZoom(
        zoom_error(
            429, 429, "per-second", **{"Retry-After": "60", "X-RateLimit-Category": "Medium"}
        )
    )
    with pytest.raises(RateLimited) as info:
        make(zoom, clock).request("GET", "/users/me")
    assert 60 <= info.value.retry_after < 61
    assert info.value.category == "Medium"
    assert sum(clock.sleeps) == 0


def test_daily_429_with_iso_retry_after_raises_daily_limit() -> None:
    """Zoom's daily 429 (ISO Retry-After) becomes DailyLimitExceeded with reset_at."""
    clock = FakeClock(now=1_800_000_000.0)  # 2027-01-15T08:00:00Z
    zoom = ScriptedZoom(
        zoom_error(
            429,
            429,
            "You have reached the maximum daily rate limit for this API.",
            **{"Retry-After": "2027-01-16T00:00:00Z", "X-RateLimit-Type": "Daily-limit"},
        )
    )
    with pytest.raises(DailyLimitExceeded) as info:
        make(zoom, clock).request("GET", "/users")
    assert info.value.reset_at.isoformat() == "2027-01-16T00:00:00+00:00"
    assert info.value.retry_after == pytest.approx(
        1_800_000_000 // 86400 * 86400 + 86400 - 1_800_000_000
    )


def test_user_meeting_cap_429_is_daily() -> None:
    """The 100/day per-user meeting cap message maps to DailyLimitExceeded at next midnight UTC."""
    msg = (
        "You have exceeded the daily rate limit (100) of Meeting Create/Update API requests "
        "permitted for this particular user. You may resume these requests at GMT 00:00:00."
    )
    zoom = ScriptedZoom(zoom_error(429, 429, msg))
    with pytest.raises(DailyLimitExceeded) as info:
        make(zoom).request("POST", "/users/me/meetings", json={})
    assert info.value.reset_at.hour == 0


def test_local_user_meeting_counter_stops_the_101st_create() -> None:
    """zoomq counts creates per user itself and refuses the 101st before calling Zoom."""
    zoom = ScriptedZoom(*[httpx.Response(201, json={}) for _ in range(100)])
    client = make(zoom)
    for _ in range(100):
        client.request("POST", "/users/u1/meetings", json={}, user_quota="u1")
    with pytest.raises(DailyLimitExceeded):
        client.request("POST", "/users/u1/meetings", json={}, user_quota="u1")
    assert len(zoom.requests) == 100


@pytest.mark.parametrize(
    ("status", "code", "exc"),
    [
        (400, 300, BadRequest),
        (403, 200, PermissionDenied),
        (404, 1001, NotFound),
        (409, 1005, Conflict),
    ],
)
def test_error_mapping(status: int, code: int, exc: type[Exception]) -> None:
    """Zoom statuses map to distinct types that carry code, message and tracking id."""
    zoom = ScriptedZoom(
        httpx.Response(
            status,
            json={
                "code": code,
                "message": "nope",
                "errors": [{"field": "email", "message": "bad"}],
            },
            headers={"x-zm-trackingid": "TRK"},
        )
    )
    with pytest.raises(exc) as info:
        make(zoom).request("GET", "/users/x")
    err = info.value
    assert (err.status, err.code, err.message, err.tracking_id) == (status, code, "nope", "TRK")  # type: ignore[attr-defined]
    assert err.errors == [{"field": "email", "message": "bad"}]  # type: ignore[attr-defined]


def test_401_code_124_refreshes_token_once() -> None:
    """A rejected token is dropped and fetched again exactly once."""
    zoom = ScriptedZoom(zoom_error(401, 124, "Invalid access token."), httpx.Response(200, json={}))
    client = make(zoom)
    client.request("GET", "/users/me")
    assert zoom.token_requests == 2
    assert zoom.auth == ["Bearer tok-1", "Bearer tok-2"]


def test_401_twice_is_unauthorized() -> None:
    """If the fresh token is refused too, the error surfaces (no loop)."""
    zoom = ScriptedZoom(zoom_error(401, 124, "Invalid"), zoom_error(401, 124, "Invalid"))
    with pytest.raises(Unauthorized):
        make(zoom).request("GET", "/users/me")
    assert zoom.token_requests == 2


def test_unauthorized_drops_the_refused_token_so_the_next_attempt_refreshes() -> None:
    """The queue's one more attempt after Unauthorized runs on a newly fetched token."""
    zoom = ScriptedZoom(
        zoom_error(401, 124, "Invalid"),
        zoom_error(401, 124, "Invalid"),
        httpx.Response(200, json={"id": "u1"}),
    )
    client = make(zoom)
    with pytest.raises(Unauthorized):
        client.request("GET", "/users/me")
    assert client.request("GET", "/users/me").json() == {"id": "u1"}
    assert zoom.token_requests == 3
    assert zoom.auth == ["Bearer tok-1", "Bearer tok-2", "Bearer tok-3"]


def test_a_post_is_retried_on_503_but_not_on_504() -> None:
    """503 means Zoom did not process the request, so even a create may go again."""
    zoom = ScriptedZoom(
        httpx.Response(503, json={"message": "busy"}),
        httpx.Response(201, json={"id": 1}),
        httpx.Response(504, json={"message": "timeout"}),
    )
    client = make(zoom)
    assert client.request("POST", "/users/me/meetings", json={}).json() == {"id": 1}
    with pytest.raises(ServerError):
        client.request("POST", "/users/me/meetings", json={})
    assert len(zoom.requests) == 3


def test_connect_error_retried_then_transport_error() -> None:
    """Connection failures retry up to max attempts, then raise TransportError."""
    calls = 0

    def refuse(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        raise httpx.ConnectError("refused", request=request)

    zoom = ScriptedZoom(*[refuse] * 4)
    with pytest.raises(TransportError):
        make(zoom).request("GET", "/users/me")
    assert calls == 4


def test_pagination_follows_tokens_and_stops_on_repeat() -> None:
    """Pages chain via next_page_token at the given page size; a repeated token ends the walk."""
    zoom = ScriptedZoom(
        httpx.Response(200, json={"users": [1, 2], "next_page_token": "a"}),
        httpx.Response(200, json={"users": [3], "next_page_token": "b"}),
        httpx.Response(200, json={"users": [4], "next_page_token": "a"}),
        httpx.Response(200, json={"users": [5], "next_page_token": "a"}),
    )
    client = make(zoom)
    pages = list(
        client.iter_pages(
            "/users", params={"status": "active"}, page_size=300, category=RateCategory.MEDIUM
        )
    )
    assert [p["users"] for p in pages] == [[1, 2], [3], [4]]
    assert zoom.requests[0].url.params["page_size"] == "300"
    assert "next_page_token" not in zoom.requests[0].url.params
    assert zoom.requests[1].url.params["next_page_token"] == "a"


def test_expired_page_token_is_a_clear_error() -> None:
    """Code 300 on a next_page_token request raises PageTokenExpired."""
    zoom = ScriptedZoom(
        httpx.Response(200, json={"users": [1], "next_page_token": "old"}),
        zoom_error(400, 300, "The next page token is invalid or expired."),
    )
    client = make(zoom)

    with pytest.raises(PageTokenExpired):
        list(client.iter_pages("/users", params={}, page_size=300, category=RateCategory.MEDIUM))


def test_requests_refused_by_the_local_limiter_do_not_use_the_daily_cap() -> None:
    """A request the limiter hands back to the queue never reached Zoom: it is not counted."""
    clock = FakeClock()
    zoom = ScriptedZoom(*[httpx.Response(201, json={}) for _ in range(3)])
    s = settings(http=HttpSettings(max_wait=0.0))
    conn = connection(s).model_copy(update={"rate_limits": {"medium": 0.01}})  # 1 per 100 s
    client = ZoomClient(
        s, conn, transport=zoom.transport(), clock=clock,
        limiter=MemoryRateLimiter(clock), token_store=MemoryTokenStore(),
    )  # fmt: skip
    client.request("POST", "/users/u1/meetings", category=RateCategory.MEDIUM, user_quota="u1")
    for _ in range(150):
        with pytest.raises(RateLimited):
            client.request(
                "POST", "/users/u1/meetings", category=RateCategory.MEDIUM, user_quota="u1"
            )
    clock.sleep(100)
    client.request("POST", "/users/u1/meetings", category=RateCategory.MEDIUM, user_quota="u1")
    assert len(zoom.requests) == 2


class _Oversleeping(FakeClock):
    """Wakes ``late`` seconds after each of the first ``times`` sleeps (a starved host)."""

    def __init__(self, late: float, times: int) -> None:
        super().__init__()
        self.late, self.times = late, times

    def sleep(self, seconds: float) -> None:
        extra = self.late if self.times > 0 else 0.0
        self.times -= 1
        super().sleep(seconds + extra)


class _Counting(MemoryRateLimiter):
    def __init__(self, clock: FakeClock) -> None:
        super().__init__(clock)
        self.reserved = 0

    def reserve(self, key: str, budget: Any, max_wait: float) -> float:
        self.reserved += 1
        return super().reserve(key, budget, max_wait)


@pytest.mark.parametrize(("late", "times", "reserved"), [(0.0, 0, 1), (0.3, 1, 2), (0.3, 9, 4)])
def test_a_thread_that_wakes_late_takes_a_new_slot(late: float, times: int, reserved: int) -> None:
    """Woken well past its slot, a request takes a fresh one instead of bunching into a
    later second; after a few tries on a starved host it is sent anyway."""
    clock = _Oversleeping(late, times)
    zoom = ScriptedZoom(httpx.Response(200, json={}))
    s = settings()
    conn = connection(s).model_copy(update={"rate_limits": {"light": 10}})
    limiter = _Counting(clock)
    client = ZoomClient(
        s, conn, transport=zoom.transport(), clock=clock, limiter=limiter,
        token_store=MemoryTokenStore(),
    )  # fmt: skip
    client.request("GET", "/users/me")
    assert limiter.reserved == reserved
    assert len(zoom.requests) == 1
