"""WebhookSender against a real endpoint on loopback: Zoom's delivery and retry semantics."""

from __future__ import annotations

import itertools

import httpx
import pytest

from tests.webhooks.conftest import SECRET, FakeClock, LoopbackZoom, Reply, WarpClock
from zoomq.clock import SystemClock
from zoomq.sandbox.webhooks import Attempt, WebhookSender, build_event
from zoomq.webhooks import WebhookVerificationError, WebhookVerifier

SCALE = 1e-4  # 5/20/60 minutes become 0.03/0.12/0.36 s


def test_500_then_200_is_delivered_after_one_resigned_retry(
    loopback: LoopbackZoom, http: httpx.Client
) -> None:
    """A 500 is retried 5 (scaled) minutes later, re-signed with a fresh timestamp, same body."""
    clock = WarpClock(SCALE)
    url, endpoint = loopback.endpoint(500, 200, clock=clock)
    sender = WebhookSender(http, SECRET, clock, time_scale=SCALE)
    result = sender.deliver(url, build_event("recording.completed", clock=clock))

    assert result.delivered
    assert [(a.number, a.status) for a in result.attempts] == [(1, 500), (2, 200)]
    assert result.attempts[0].retry_in == pytest.approx(300 * SCALE)
    assert result.attempts[1].retry_in is None
    first, retry = endpoint.deliveries
    assert first.failure is None
    assert retry.failure is None  # verified at "retry time" with a 300 s tolerance
    assert first.body == retry.body
    gap = int(retry.headers["x-zm-request-timestamp"]) - int(
        first.headers["x-zm-request-timestamp"]
    )
    assert 299 <= gap < 600  # five minutes, plus however long the loopback round trip took
    assert first.headers["x-zm-signature"] != retry.headers["x-zm-signature"]
    assert first.headers["x-zm-request-id"] != retry.headers["x-zm-request-id"]
    # Had Zoom resent the first signature, it would be stale by now.
    with pytest.raises(WebhookVerificationError) as caught:
        endpoint.verifier.verify(first.body, first.headers)
    assert caught.value.reason == "stale_timestamp"


def test_headers_are_zooms(loopback: LoopbackZoom, http: httpx.Client) -> None:
    """Each delivery carries Zoom's user agent, content type, ids, timestamp and signature."""
    url, endpoint = loopback.endpoint(200)
    WebhookSender(http, SECRET).deliver(url, build_event("meeting.created"))
    headers = endpoint.deliveries[0].headers
    assert headers["user-agent"] == "Zoom Marketplace/1.0a"
    assert headers["content-type"] == "application/json; charset=utf-8"
    assert headers["x-zm-signature"].startswith("v0=")
    assert headers["x-zm-request-timestamp"].isdigit()
    assert headers["x-zm-trackingid"].startswith("v=2.0;")
    assert len(headers["x-zm-request-id"]) == 36


@pytest.mark.parametrize("status", [302, 400, 401, 404, 429])
def test_3xx_and_4xx_are_never_retried(
    loopback: LoopbackZoom, http: httpx.Client, status: int
) -> None:
    """A redirect or client error ends the delivery at once, undelivered."""
    reply = Reply(status=status, headers={"location": "/elsewhere"} if status == 302 else {})
    url, endpoint = loopback.endpoint(reply, 200)
    result = WebhookSender(http, SECRET, time_scale=SCALE).deliver(url, build_event("user.created"))
    assert not result.delivered
    assert len(result.attempts) == 1
    assert result.attempts[0].status == status
    assert result.attempts[0].retry_in is None
    assert len(endpoint.deliveries) == 1
    assert "not retried" in result.describe()


def test_204_is_delivered(loopback: LoopbackZoom, http: httpx.Client) -> None:
    """204 No Content is success, as is 200."""
    url, _ = loopback.endpoint(204)
    assert WebhookSender(http, SECRET).deliver(url, build_event("user.deleted")).delivered


def test_timeout_is_retried(loopback: LoopbackZoom, http: httpx.Client) -> None:
    """An endpoint slower than the deadline counts as a failure and is tried again."""
    url, endpoint = loopback.endpoint(Reply(delay=0.6), 200)
    sender = WebhookSender(http, SECRET, time_scale=SCALE, deadline=0.2)
    result = sender.deliver(url, build_event("meeting.deleted"))
    assert result.delivered
    assert result.attempts[0].error == "timeout"
    assert result.attempts[0].status is None
    assert result.attempts[0].elapsed_ms < 600
    assert result.attempts[1].status == 200
    assert [d.failure for d in endpoint.deliveries] == [None, None]


def test_connection_refused_is_retried_then_given_up(http: httpx.Client, refused_url: str) -> None:
    """No listener: every attempt fails to connect; after 3 retries the event is dropped."""
    seen: list[Attempt] = []
    sender = WebhookSender(http, SECRET, time_scale=SCALE, on_attempt=seen.append)
    result = sender.deliver(refused_url, build_event("meeting.created"))
    assert not result.delivered
    assert [a.number for a in result.attempts] == [1, 2, 3, 4]
    assert {a.error for a in result.attempts} == {"connect_error"}
    assert [a.retry_in for a in result.attempts] == pytest.approx(
        [300 * SCALE, 1200 * SCALE, 3600 * SCALE, None]
    )
    assert seen == list(result.attempts)
    assert "gave up" in result.describe()


def test_5xx_forever_gives_up_after_three_retries(
    loopback: LoopbackZoom, http: httpx.Client
) -> None:
    """Four attempts in all (the first and 3 retries), each verified by the endpoint."""
    url, endpoint = loopback.endpoint(503)
    result = WebhookSender(http, SECRET, time_scale=SCALE).deliver(
        url, build_event("meeting.updated")
    )
    assert not result.delivered
    assert len(result.attempts) == 4
    assert len(endpoint.deliveries) == 4
    assert {d.failure for d in endpoint.deliveries} == {None}
    assert len({d.body for d in endpoint.deliveries}) == 1


def test_retry_waits_follow_zooms_schedule_from_each_attempt_start() -> None:
    """Waits are 5, 20, 60 minutes counted from the start of the previous attempt."""
    clock = FakeClock()

    def slow_503(request: httpx.Request) -> httpx.Response:
        clock.advance(1.5)  # each attempt takes 1.5 s to fail
        return httpx.Response(503)

    with httpx.Client(transport=httpx.MockTransport(slow_503)) as http:
        result = WebhookSender(http, SECRET, clock).deliver(
            "https://hooks.example/zoom", build_event("meeting.created", clock=clock)
        )
    assert clock.sleeps == [298.5, 1198.5, 3598.5]
    starts = [a.at for a in result.attempts]
    assert [b - a for a, b in itertools.pairwise(starts)] == [300, 1200, 3600]


def test_validate_endpoint_accepts_a_correct_answer(
    loopback: LoopbackZoom, http: httpx.Client
) -> None:
    """An endpoint echoing plainToken with the right encryptedToken passes."""
    url, endpoint = loopback.endpoint(Reply(body="crc"))
    result = WebhookSender(http, SECRET).validate_endpoint(url)
    assert result.ok, result.problems
    assert result.status == 200
    assert endpoint.deliveries[0].failure is None
    assert endpoint.deliveries[0].event is not None
    assert endpoint.deliveries[0].event.event == "endpoint.url_validation"


@pytest.mark.parametrize(
    ("reply", "problem"),
    [
        (Reply(body="crc", secret="another-secret"), "encryptedToken is not"),
        (Reply(status=404), "HTTP 404"),
        (Reply(body="plain text"), "not JSON"),
        (Reply(body=[1]), "not a JSON object"),
        (Reply(body={"plainToken": "other", "encryptedToken": "00"}), "plainToken is not"),
        (Reply(body={"encryptedToken": "00"}), "plainToken is missing"),
        (Reply(body="crc", delay=0.6), "no answer: timeout"),
    ],
)
def test_validate_endpoint_reports_what_is_wrong(
    loopback: LoopbackZoom, http: httpx.Client, reply: Reply, problem: str
) -> None:
    """Each fault of the answer is named in the result."""
    url, _ = loopback.endpoint(reply)
    result = WebhookSender(http, SECRET, deadline=0.3).validate_endpoint(url)
    assert not result.ok
    assert any(problem in p for p in result.problems), result.problems


def test_validate_endpoint_reports_connection_refused(http: httpx.Client, refused_url: str) -> None:
    """No listener is a failed validation, not an exception."""
    result = WebhookSender(http, SECRET).validate_endpoint(refused_url)
    assert not result.ok
    assert result.status is None
    assert "connect_error" in result.problems[0]


def test_receiver_verifies_what_the_sender_signs_with_the_system_clock(
    loopback: LoopbackZoom, http: httpx.Client
) -> None:
    """Real clocks on both sides: the default tolerance admits a fresh delivery."""
    url, endpoint = loopback.endpoint(200, clock=SystemClock())
    WebhookSender(http, SECRET, SystemClock()).deliver(url, build_event("user.updated"))
    delivery = endpoint.deliveries[0]
    assert delivery.failure is None
    WebhookVerifier([SECRET]).verify(delivery.body, delivery.headers)
