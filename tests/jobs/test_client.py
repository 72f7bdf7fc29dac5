"""``zoomq.jobs.Client`` on a MockTransport: what it sends, and the tree's error per refusal.

The client against a real receiver process is in ``tests/e2e/test_jobs_api_e2e.py``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from zoomq.errors import (
    BadRequest,
    Conflict,
    InvalidInput,
    InvalidItems,
    NotFound,
    PermissionDenied,
    ServerError,
    TransportError,
    Unauthorized,
    UnexpectedStatus,
)
from zoomq.jobs.client import JSON_ITEMS, Client
from zoomq.jobs.models import ItemState

KEY = "k" * 40
AT = datetime(2026, 12, 1, tzinfo=UTC).isoformat()


def job(status: str = "running", done: int = 0) -> dict[str, Any]:
    return {
        "job_id": "j1",
        "tenant": "t",
        "action": "getUser",
        "connection": None,
        "status": status,
        "items": 4,
        "counts": {"queued": 4 - done, "succeeded": done},
        "progress": done / 4,
        "rate": 1.0,
        "eta_seconds": None,
        "created_at": AT,
        "updated_at": AT,
        "finished_at": AT if status == "completed" else None,
        "priority": "normal",
        "callback_url": None,
        "status_url": "/v1/jobs/j1",
    }


def client(handler: Callable[[httpx.Request], httpx.Response], **kw: Any) -> Client:
    return Client("http://zoomq.test/", KEY, transport=httpx.MockTransport(handler), **kw)


ACCEPTED = {"job_id": "j1", "items": 2, "status_url": "/v1/jobs/j1"}


def test_a_short_list_goes_as_one_json_body() -> None:
    """Up to JSON_ITEMS items: application/json with the key as a Bearer header."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(202, json=ACCEPTED)

    with client(handler) as jobs:
        accepted = jobs.submit("getUser", [{"userId": "a"}, {"userId": "b"}], connection="c1")
    assert accepted.job_id == "j1"
    [request] = seen
    assert request.url.path == "/v1/jobs"
    assert request.headers["authorization"] == f"Bearer {KEY}"
    body = json.loads(request.content)
    assert body == {
        "action": "getUser",
        "connection": "c1",
        "priority": "normal",
        "items": [{"userId": "a"}, {"userId": "b"}],
    }


def test_an_iterable_is_streamed_as_ndjson() -> None:
    """A generator is sent line by line (chunked), the other fields as query parameters."""
    seen: list[tuple[httpx.Request, bytes]] = []

    def items() -> Iterator[dict[str, Any]]:
        for n in range(JSON_ITEMS + 5):
            yield {"userId": f"u{n}"}

    def handler(request: httpx.Request) -> httpx.Response:
        # A stream of unknown length: chunked, never measured (so never built) up front.
        assert request.headers["transfer-encoding"] == "chunked"
        assert "content-length" not in request.headers
        seen.append((request, request.read()))
        return httpx.Response(202, json={**ACCEPTED, "items": JSON_ITEMS + 5})

    with client(handler) as jobs:
        jobs.submit("getUser", items(), idempotency_key="k-1")
    [(request, content)] = seen
    assert request.headers["content-type"] == "application/x-ndjson"
    assert dict(request.url.params) == {
        "action": "getUser",
        "idempotency_key": "k-1",
        "priority": "normal",
    }
    lines = content.splitlines()
    assert len(lines) == JSON_ITEMS + 5
    assert json.loads(lines[-1]) == {"userId": f"u{JSON_ITEMS + 4}"}


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (400, {"error": "bad_ndjson", "message": "line 3: not JSON"}, BadRequest),
        (401, {"error": "unauthorized", "message": "the API key is not valid"}, Unauthorized),
        (403, {"error": "forbidden", "message": "may not use"}, PermissionDenied),
        (404, {"error": "not_found", "message": "no job"}, NotFound),
        (409, {"error": "idempotency_conflict", "message": "other body"}, Conflict),
        (413, {"error": "too_many_items", "message": "more than 10"}, InvalidInput),
        (503, {"error": "store_unavailable", "message": "Redis"}, ServerError),
        (307, {}, UnexpectedStatus),
    ],
)
def test_refusals_raise_the_tree(status: int, body: dict[str, Any], error: type[Exception]) -> None:
    """Each status its class of zoomq.errors; a redirect is never followed."""
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(str(request.url))
        return httpx.Response(status, json=body, headers={"Location": "http://evil.test/"})

    with client(handler) as jobs, pytest.raises(error) as caught:
        jobs.get("j1")
    assert len(calls) == 1
    if body:
        assert body["message"] in str(caught.value)


def test_invalid_items_name_index_and_field() -> None:
    """422 invalid_items is InvalidItems: every listed (index, field, reason), the count."""
    report = {
        "error": "invalid_items",
        "count": 7,
        "errors": [{"index": 3, "field": "email", "reason": "value is not a valid email"}],
    }
    with (
        client(lambda _r: httpx.Response(422, json=report)) as jobs,
        pytest.raises(InvalidItems) as caught,
    ):
        jobs.submit("addMeetingRegistrant", [{"email": "x"}])
    assert caught.value.count == 7
    assert caught.value.errors == report["errors"]


def test_request_errors_name_the_field() -> None:
    """422 invalid_request is InvalidInput naming the request's field."""
    body = {
        "error": "invalid_request",
        "message": "unknown connection",
        "errors": [{"field": "connection", "reason": "'x' is not configured"}],
    }
    with (
        client(lambda _r: httpx.Response(422, json=body)) as jobs,
        pytest.raises(InvalidInput) as caught,
    ):
        jobs.submit("getUser", [{"userId": "a"}], connection="x")
    assert caught.value.errors == [{"field": "connection", "reason": "'x' is not configured"}]
    assert str(caught.value) == (
        "422 invalid_request: unknown connection (connection: 'x' is not configured)"
    )


def test_no_answer_is_a_transport_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with client(handler) as jobs, pytest.raises(TransportError):
        jobs.get("j1")


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_wait_polls_with_backoff_until_the_end() -> None:
    """Polls grow by half up to max_poll; the completed job is returned."""
    answers = iter([job(), job(), job(done=2), job(done=3), job("completed", 4)])
    clock = FakeClock()
    with client(lambda _r: httpx.Response(200, json=next(answers)), clock=clock) as jobs:
        done = jobs.wait("j1", poll=1.0, max_poll=2.0)
    assert done.status == "completed"
    assert done.counts[ItemState.SUCCEEDED] == 4
    assert clock.sleeps == [1.0, 1.5, 2.0, 2.0]


def test_wait_gives_up_at_its_timeout() -> None:
    clock = FakeClock()
    with (
        client(lambda _r: httpx.Response(200, json=job()), clock=clock) as jobs,
        pytest.raises(TimeoutError, match="still running"),
    ):
        jobs.wait("j1", timeout=5.0, poll=1.0)
    assert clock.now == pytest.approx(5.0)


def test_wait_on_a_cancelled_job_says_what_it_waits_for() -> None:
    """Cancelled, its running items not finished: the message says so, not 'still cancelled'."""
    cancelled = {**job("cancelled"), "counts": {"running": 2, "cancelled": 2}}
    clock = FakeClock()
    with (
        client(lambda _r: httpx.Response(200, json=cancelled), clock=clock) as jobs,
        pytest.raises(TimeoutError) as caught,
    ):
        jobs.wait("j1", timeout=2.0, poll=1.0)
    assert str(caught.value) == (
        "job j1 is cancelled, but 2 running item(s) had not finished after 2.0s"
    )


def test_the_base_url_may_end_in_v1_and_replays_are_told() -> None:
    """``.../v1`` is the same receiver; Idempotent-Replayed comes back as ``replayed``."""
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        body = {"job_id": "j1", "items": 1, "status_url": "/v1/jobs/j1"}
        return httpx.Response(202, json=body, headers={"Idempotent-Replayed": "true"})

    with Client("http://zoomq.test/v1/", KEY, transport=httpx.MockTransport(handler)) as jobs:
        accepted = jobs.submit("getUser", [{"userId": "a"}], idempotency_key="k")
    assert seen == ["/v1/jobs"]
    assert accepted.replayed is True


def test_results_are_read_line_by_line() -> None:
    lines = [
        {"index": 0, "state": "succeeded", "input": {"userId": "a"}, "output": {"id": "a"}},
        {
            "index": 1,
            "state": "failed",
            "input": {"userId": "b"},
            "error": {"type": "NotFound", "code": 1001, "message": "User does not exist"},
        },
    ]
    body = b"".join(json.dumps(line).encode() + b"\n" for line in lines)

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v1/jobs/j1/results"
        return httpx.Response(200, content=body, headers={"content-type": "application/x-ndjson"})

    with client(handler) as jobs:
        results = list(jobs.iter_results("j1"))
    assert [r.state for r in results] == [ItemState.SUCCEEDED, ItemState.FAILED]
    assert results[1].error is not None
    assert results[1].error.code == 1001


def test_the_key_is_never_shown() -> None:
    with client(lambda _r: httpx.Response(200, json=job())) as jobs:
        assert KEY not in repr(jobs)
    with pytest.raises(InvalidInput, match="api_key"):
        Client("http://zoomq.test", "")


def test_refusals_of_zoomqs_own_api_do_not_say_zoom() -> None:
    """A 404 from /v1 is zoomq's answer, and its text says so."""
    body = {"error": "not_found", "message": "no job 'j9'"}
    with (
        client(lambda _r: httpx.Response(404, json=body)) as jobs,
        pytest.raises(NotFound) as caught,
    ):
        jobs.get("j9")
    assert str(caught.value) == "zoomq /v1 API error 404: not_found: no job 'j9'"
