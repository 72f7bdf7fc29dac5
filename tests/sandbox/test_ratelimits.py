"""Rate limits per account and category, per plan; daily caps; the per-user meeting cap."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.sandbox.conftest import FakeClock, api_client
from zoomq.sandbox import SandboxConfig, SandboxServer
from zoomq.settings import Plan

PER_SECOND = {
    "code": 429,
    "message": "You have reached the maximum per-second rate limit for this API. Try again later.",
}


def test_burst_gets_per_second_429(
    clock: FakeClock, make_sandbox: Callable[..., SandboxServer]
) -> None:
    """Pro Light is 30/s; at rate_scale 0.1 the fourth call in a second is refused."""
    server = make_sandbox(SandboxConfig(clock=clock, rate_scale=0.1))
    with api_client(server) as client:
        answers = [client.get("/users/me") for _ in range(4)]
        assert [a.status_code for a in answers] == [200, 200, 200, 429]
        assert [a.headers["x-ratelimit-remaining"] for a in answers] == ["2", "1", "0", "0"]
        refused = answers[-1]
        assert refused.json() == PER_SECOND
        assert refused.headers["x-ratelimit-category"] == "Light"
        assert refused.headers["x-ratelimit-type"] == "QPS"
        assert refused.headers["x-ratelimit-limit"] == "3"
        # Medium has its own budget (20/s -> 2/s).
        medium = client.get("/users")
        assert medium.status_code == 200
        assert medium.headers["x-ratelimit-category"] == "Medium"
        assert medium.headers["x-ratelimit-limit"] == "2"
        clock.advance(1)
        assert client.get("/users/me").status_code == 200
    assert server.state.limiter.rejected["qps"] == 1


def test_concurrent_burst_on_the_real_clock(make_sandbox: Callable[..., SandboxServer]) -> None:
    """A parallel burst over loopback: some calls refused, never more than the budget per second."""
    server = make_sandbox(SandboxConfig(rate_scale=0.2))  # Light: 6/s
    with api_client(server) as client, ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda _: client.get("/users/me").status_code, range(40)))
    assert codes.count(429) > 0
    seconds = {int(r.time) for r in server.state.requests if r.path == "/v2/users/me"}
    assert codes.count(200) <= 6 * len(seconds)


def test_free_plan_daily_cap(clock: FakeClock, make_sandbox: Callable[..., SandboxServer]) -> None:
    """Free Medium is 2,000/day; scaled to 2, the third call that day is a daily 429."""
    server = make_sandbox(
        SandboxConfig(clock=clock, plan=Plan.FREE, rate_scale=0.001, token_ttl=2 * 86400)
    )
    with api_client(server) as client:
        first = client.get("/users")
        assert first.headers["x-ratelimit-type"] == "Daily-limit"
        assert first.headers["x-ratelimit-limit"] == "2"
        assert first.headers["x-ratelimit-remaining"] == "1"
        clock.advance(1)
        assert client.get("/users").status_code == 200
        clock.advance(1)
        refused = client.get("/users")
        assert refused.status_code == 429
        assert refused.json()["message"].startswith(
            "You have reached the maximum daily rate limit for this API."
        )
        assert refused.headers["x-ratelimit-type"] == "Daily-limit"
        assert refused.headers["retry-after"] == "2025-06-16T00:00:00Z"
        clock.advance(12 * 3600)  # past midnight UTC
        assert client.get("/users").status_code == 200


def test_user_meeting_create_cap(
    clock: FakeClock, make_sandbox: Callable[..., SandboxServer]
) -> None:
    """Meeting creates/updates count per host per day: the cap's next request is a 429."""
    server = make_sandbox(
        SandboxConfig(clock=clock, rate_scale=100, user_meeting_daily_cap=3, token_ttl=2 * 86400)
    )
    seeded = server.state.seeded
    with api_client(server) as client:
        for _ in range(2):
            assert client.post("/users/me/meetings", json={"topic": "t"}).status_code == 201
        assert (
            client.patch(f"/meetings/{seeded.meeting_id}", json={"topic": "u"}).status_code == 204
        )
        refused = client.post("/users/me/meetings", json={"topic": "t"})
        assert refused.status_code == 429
        assert refused.json() == {
            "code": 429,
            "message": "You have exceeded the daily rate limit (3) of Meeting Create/Update API "
            "requests permitted for this particular user. You may resume these requests at "
            "GMT 00:00:00.",
        }
        assert refused.headers["retry-after"] == "2025-06-16T00:00:00Z"
        other = client.post(f"/users/{seeded.contact_user_id}/meetings", json={"topic": "t"})
        assert other.status_code == 201
        clock.advance(12 * 3600)
        assert client.post("/users/me/meetings", json={"topic": "t"}).status_code == 201


def test_rate_limits_can_be_switched_off(
    clock: FakeClock, make_sandbox: Callable[..., SandboxServer]
) -> None:
    """With rate_limits=False nothing is refused and no X-RateLimit headers are sent."""
    server = make_sandbox(
        SandboxConfig(clock=clock, rate_limits=False, rate_scale=0.01, user_meeting_daily_cap=1)
    )
    with api_client(server) as client:
        answers = [client.get("/users/me") for _ in range(10)]
        answers += [client.post("/users/me/meetings", json={}) for _ in range(3)]
    assert {a.status_code for a in answers} == {200, 201}
    assert all("x-ratelimit-limit" not in a.headers for a in answers)


def test_phone_has_its_own_table(
    clock: FakeClock, make_sandbox: Callable[..., SandboxServer]
) -> None:
    """Zoom Phone Medium is 10/s on Pro, apart from the meeting API's 20/s."""
    server = make_sandbox(SandboxConfig(clock=clock))
    with api_client(server) as client:
        phone: httpx.Response = client.get("/phone/recordings")
        assert phone.headers["x-ratelimit-limit"] == "10"
        assert client.get("/users").headers["x-ratelimit-limit"] == "20"
