"""rawRequest and the month-window runner, against a fake client that records every call."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Mapping
from datetime import date
from typing import Any, cast

import httpx
import pytest

from zoomq.actions import runners
from zoomq.actions.catalog import CATALOG
from zoomq.actions.inputs import ListUsersRecordings, RawRequest
from zoomq.client.http import ZoomClient
from zoomq.client.ratelimit import RateCategory
from zoomq.client.scope import ApiScope
from zoomq.errors import InvalidInput, NotFound


def _called(method: Callable[..., Any], *args: Any, **kwargs: Any) -> dict[str, Any]:
    """The arguments of a call to ``method``, defaults filled in, by name (``self`` left out).

    The fake records calls under the real method's own signature, so the two cannot drift.
    """
    bound = inspect.signature(method).bind(*args, **kwargs)
    bound.apply_defaults()
    _self, *named = bound.arguments.items()
    return dict(named)


class FakeClient:
    """The two ``ZoomClient`` methods the runners use; records calls, answers from a script."""

    def __init__(
        self,
        *,
        response: httpx.Response | Exception | None = None,
        pages: Mapping[tuple[str | None, str | None], list[dict[str, Any]]] | None = None,
        base_url: str = "https://api.zoom.us/v2",
        origins: tuple[str, ...] = (),
    ) -> None:
        self.scope = ApiScope(base_url, origins)
        self.response = response
        self.pages = dict(pages or {})
        self.requests: list[dict[str, Any]] = []
        self.page_calls: list[dict[str, Any]] = []
        self.pages_served = 0

    def request(self, *args: Any, **kwargs: Any) -> httpx.Response:
        call = _called(ZoomClient.request, self, *args, **kwargs)
        call["url"] = call.pop("path_or_url")
        del call["user_quota"]
        self.requests.append(call)
        method, path_or_url = call["method"], call["url"]
        if isinstance(self.response, Exception):
            raise self.response
        if self.response is None:
            raise AssertionError(f"unexpected request {method} {path_or_url}")
        return self.response

    def iter_pages(self, *args: Any, **kwargs: Any) -> Iterator[dict[str, Any]]:
        call = _called(ZoomClient.iter_pages, self, *args, **kwargs)
        call["params"] = params = dict(call["params"])
        max_pages = call["max_pages"]
        self.page_calls.append(call)
        window = (params.get("from"), params.get("to"))
        if window not in self.pages:
            raise AssertionError(f"unexpected window {window}")
        for index, page in enumerate(self.pages[window]):
            if max_pages is not None and index >= max_pages:
                return
            self.pages_served += 1
            yield page


def raw(client: FakeClient, data: dict[str, Any]) -> dict[str, Any]:
    model = RawRequest.model_validate(data)
    return runners.raw_request(cast("ZoomClient", client), CATALOG["rawRequest"], model)


def windows(client: FakeClient, data: dict[str, Any]) -> dict[str, Any]:
    model = ListUsersRecordings.model_validate(data)
    return runners.month_windows(cast("ZoomClient", client), CATALOG["listUsersRecordings"], model)


def meeting(uuid: str) -> dict[str, Any]:
    return {"uuid": uuid, "topic": f"meeting {uuid}"}


# -- rawRequest -----------------------------------------------------------------------------


def test_raw_request_sends_and_shapes_the_answer() -> None:
    """A relative path goes to the client as given; the answer carries data, status and headers."""
    client = FakeClient(
        response=httpx.Response(200, json={"id": "u1"}, headers={"X-Zm-Trackingid": "t-1"})
    )
    result = raw(
        client,
        {
            "method": "patch",
            "url": "/users/u1",
            "queryParams": [{"key": "login_type", "value": "100"}],
            "data": '{"first_name": "Jill"}',
        },
    )
    assert result["data"]["data"] == {"id": "u1"}
    assert result["data"]["status"] == 200
    assert result["data"]["headers"]["x-zm-trackingid"] == "t-1"
    assert client.requests == [
        {
            "method": "PATCH",
            "url": "/users/u1",
            "params": {"login_type": "100"},
            "json": {"first_name": "Jill"},
            "content": None,
            "headers": None,
            "category": RateCategory.LIGHT,
            "raise_for_status": True,
        }
    ]


def test_raw_request_never_overrides_authorization() -> None:
    """A caller's Authorization (any case) and Host headers are dropped; others are kept."""
    client = FakeClient(response=httpx.Response(204))
    raw(
        client,
        {
            "method": "DELETE",
            "url": "/users/u1",
            "headers": {
                "authorization": "Bearer stolen",
                "AUTHORIZATION": "Basic x",
                " Authorization": "Bearer spaced",
                "Host": "evil.example",
                "X-Request-Id": "r-1",
            },
        },
    )
    assert client.requests[0]["headers"] == {"X-Request-Id": "r-1"}


def test_raw_request_with_only_dropped_headers_sends_none() -> None:
    """When every header given is dropped, none are passed on."""
    client = FakeClient(response=httpx.Response(200, json={}))
    raw(client, {"method": "GET", "url": "/users/me", "headers": {"Authorization": "x"}})
    assert client.requests[0]["headers"] is None


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example/v2/users",
        "https://api.zoom.us.evil.example/v2/users",
        "https://evil.example/?next=https://api.zoom.us/",
        "https://api-evil.zoom.us/v2/users",
        "https://zoom.us/oauth/token",
        "http://api.zoom.us/v2/users",
        "http://169.254.169.254/latest/meta-data/",
    ],
)
def test_raw_request_refuses_other_hosts(url: str) -> None:
    """Absolute URLs outside the Zoom API are refused before anything is sent (no SSRF)."""
    client = FakeClient(response=httpx.Response(200, json={}))
    with pytest.raises(InvalidInput) as info:
        raw(client, {"method": "GET", "url": url})
    assert info.value.errors[0]["field"] == "url"
    assert client.requests == []


@pytest.mark.parametrize(
    ("url", "origins"),
    [
        ("https://api.zoom.us/v2/users/me", ()),
        ("https://API-EU.zoom.us/v2/users/me", ()),
        ("https://api-us.zoom.us:443/v2/users/me", ()),
        ("http://127.0.0.1:8080/v2/users/me", ("http://127.0.0.1:8080",)),
        ("https://api.example.com/anything", ("api.example.com",)),
    ],
)
def test_raw_request_allows_zoom_hosts(url: str, origins: tuple[str, ...]) -> None:
    """api.zoom.us, regional api-XX.zoom.us and the configured origins are allowed."""
    client = FakeClient(response=httpx.Response(200, json={"ok": True}), origins=origins)
    assert raw(client, {"method": "GET", "url": url})["data"]["data"] == {"ok": True}
    assert client.requests[0]["url"] == url


@pytest.mark.parametrize(
    ("response", "response_type", "expected"),
    [
        (httpx.Response(204), "json", None),
        (httpx.Response(200, text="plain words"), "json", "plain words"),
        (httpx.Response(200, json={"a": 1}), "text", '{"a":1}'),
        (httpx.Response(200, json=[1, 2]), "json", [1, 2]),
    ],
)
def test_raw_request_bodies(response: httpx.Response, response_type: str, expected: Any) -> None:
    """Empty bodies are None, a non-JSON 2xx body is text, and ``text`` returns the raw text."""
    client = FakeClient(response=response)
    result = raw(client, {"method": "GET", "url": "/x", "responseType": response_type})
    assert result["data"]["data"] == expected


def test_raw_request_zoom_errors_propagate() -> None:
    """An error answer from Zoom is an error of the action, not a result."""
    client = FakeClient(response=NotFound("User does not exist", status=404, code=1001))
    with pytest.raises(NotFound):
        raw(client, {"method": "GET", "url": "/users/nobody"})
    assert client.requests[0]["raise_for_status"] is True


# -- month windows --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        ("2026-01-15", "2026-01-15", [("2026-01-15", "2026-01-15")]),
        ("2026-01-15", "2026-02-14", [("2026-01-15", "2026-02-14")]),
        (
            "2026-01-15",
            "2026-04-01",
            [
                ("2026-01-15", "2026-02-14"),
                ("2026-02-15", "2026-03-14"),
                ("2026-03-15", "2026-04-01"),
            ],
        ),
        ("2026-01-31", "2026-03-01", [("2026-01-31", "2026-02-27"), ("2026-02-28", "2026-03-01")]),
        ("2025-12-10", "2026-01-20", [("2025-12-10", "2026-01-09"), ("2026-01-10", "2026-01-20")]),
    ],
)
def test_split_into_months(start: str, end: str, expected: list[tuple[str, str]]) -> None:
    """Windows are consecutive, cover the range and span at most one calendar month."""
    got = runners.split_into_months(date.fromisoformat(start), date.fromisoformat(end))
    assert [(a.isoformat(), b.isoformat()) for a, b in got] == expected


def test_month_windows_walks_each_window() -> None:
    """A long range is listed window by window; pages are joined and duplicates dropped."""
    client = FakeClient(
        pages={
            ("2026-01-15", "2026-02-14"): [
                {"meetings": [meeting("a"), meeting("b")], "next_page_token": "t"},
                {"meetings": [meeting("c")]},
            ],
            ("2026-02-15", "2026-03-14"): [{"meetings": [meeting("c"), meeting("d")]}],
            ("2026-03-15", "2026-03-20"): [{"meetings": []}],
        }
    )
    result = windows(
        client, {"userId": "jill@example.com", "from": "2026-01-15", "to": "2026-03-20", "mc": True}
    )
    assert [m["uuid"] for m in result["data"]["meetings"]] == ["a", "b", "c", "d"]
    assert result["data"]["total_records"] == 4
    assert (result["data"]["from"], result["data"]["to"]) == ("2026-01-15", "2026-03-20")
    assert [call["params"] for call in client.page_calls] == [
        {"mc": "true", "from": "2026-01-15", "to": "2026-02-14"},
        {"mc": "true", "from": "2026-02-15", "to": "2026-03-14"},
        {"mc": "true", "from": "2026-03-15", "to": "2026-03-20"},
    ]
    call = client.page_calls[0]
    assert call["path"] == "/users/jill%40example.com/recordings"
    assert (call["page_size"], call["category"]) == (300, RateCategory.MEDIUM)


def test_month_windows_without_a_range_makes_one_call() -> None:
    """Without from/to, one listing is made with Zoom's default range."""
    client = FakeClient(
        pages={
            (None, None): [{"from": "2026-05-01", "to": "2026-05-02", "meetings": [meeting("a")]}]
        }
    )
    result = windows(client, {"userId": "me"})
    assert client.page_calls[0]["params"] == {}
    assert result["data"] == {
        "meetings": [meeting("a")],
        "total_records": 1,
        "from": "2026-05-01",
        "to": "2026-05-02",
        "pages": 1,
    }


def test_month_windows_max_items_spans_windows() -> None:
    """max_items counts across windows and stops before later windows are listed."""
    client = FakeClient(
        pages={
            ("2026-01-01", "2026-01-31"): [{"meetings": [meeting("a"), meeting("b")]}],
            ("2026-02-01", "2026-02-28"): [{"meetings": [meeting("c"), meeting("d")]}],
            ("2026-03-01", "2026-03-31"): [{"meetings": [meeting("e")]}],
        }
    )
    result = windows(
        client, {"userId": "me", "from": "2026-01-01", "to": "2026-03-31", "maxItems": 3}
    )
    assert [m["uuid"] for m in result["data"]["meetings"]] == ["a", "b", "c"]
    assert len(client.page_calls) == 2


def test_month_windows_max_pages_spans_windows() -> None:
    """max_pages counts pages of every window together."""
    client = FakeClient(
        pages={
            ("2026-01-01", "2026-01-31"): [
                {"meetings": [meeting("a")], "next_page_token": "t"},
                {"meetings": [meeting("b")]},
            ],
            ("2026-02-01", "2026-02-28"): [
                {"meetings": [meeting("c")], "next_page_token": "t"},
                {"meetings": [meeting("d")]},
            ],
            ("2026-03-01", "2026-03-31"): [{"meetings": [meeting("e")]}],
        }
    )
    result = windows(
        client, {"userId": "me", "from": "2026-01-01", "to": "2026-03-31", "maxPages": 3}
    )
    assert [m["uuid"] for m in result["data"]["meetings"]] == ["a", "b", "c"]
    assert [call["max_pages"] for call in client.page_calls] == [3, 1]
    assert result["data"]["pages"] == client.pages_served == 3


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"from_": "2026-13-01", "to": "2026-12-31"}, "from"),
        ({"from_": "2026-01-01", "to": "31.12.2026"}, "to"),
        ({"from_": "2026-03-01", "to": "2026-01-01"}, "from"),
        ({"from_": "2026-03-01", "to": None}, "to"),
    ],
)
def test_month_windows_checks_the_range(values: dict[str, Any], field: str) -> None:
    """Even an unvalidated model is refused with an error naming the bad end of the range."""
    model = ListUsersRecordings.model_construct(user_id="me", **values)
    client = FakeClient()
    with pytest.raises(InvalidInput) as info:
        runners.month_windows(cast("ZoomClient", client), CATALOG["listUsersRecordings"], model)
    assert info.value.errors[0]["field"] == field
    assert client.page_calls == []
