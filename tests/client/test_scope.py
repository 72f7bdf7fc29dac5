"""ApiScope: where a rawRequest URL may take the bearer token, by origin and path."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.client.fakes import FakeClock, ScriptedZoom, connection
from tests.client.fakes import settings as make_settings
from zoomq.actions import run_action
from zoomq.client import ZoomClient
from zoomq.client.scope import ApiScope, Origin, UnsafeURL, parse_origin
from zoomq.errors import ConfigurationError, InvalidInput

SANDBOX = "http://127.0.0.1:9100/v2"
EXTRA = ("api.example.com", "http://127.0.0.1:7002")


@pytest.fixture
def scope() -> ApiScope:
    return ApiScope(SANDBOX, EXTRA)


@pytest.mark.parametrize(
    ("entry", "origin"),
    [
        ("api.example.com", Origin("https", "api.example.com", 443)),
        ("API.Example.com", Origin("https", "api.example.com", 443)),
        ("api.example.com:8443", Origin("https", "api.example.com", 8443)),
        ("https://api.example.com", Origin("https", "api.example.com", 443)),
        ("https://api.example.com/", Origin("https", "api.example.com", 443)),
        ("http://127.0.0.1:9100", Origin("http", "127.0.0.1", 9100)),
        ("http://127.0.0.1", Origin("http", "127.0.0.1", 80)),
    ],
)
def test_zoom_api_hosts_entries_are_origins(entry: str, origin: Origin) -> None:
    """A bare host means https on port 443; an origin keeps its scheme and port."""
    assert parse_origin(entry) == origin


@pytest.mark.parametrize(
    "entry",
    [
        "ftp://api.example.com",
        "https://api.example.com/v2",
        "https://user:pw@api.example.com",
        "https://api.example.com?x=1",
        "https://",
        "http://[::1",
    ],
)
def test_zoom_api_hosts_refuses_what_is_not_an_origin(entry: str) -> None:
    """Paths, credentials, queries and other schemes: a configuration error naming the setting."""
    with pytest.raises(ConfigurationError, match="ZOOM_API_HOSTS"):
        parse_origin(entry)


@pytest.mark.parametrize(
    "url",
    [
        "/users/me",
        "users/me",
        "/users/me?next=../../x&u=https://evil.example",
        "/meetings/%252Fab%252F%252Fcd%3D%3D/recordings",
        "/users/jill%40example.com",
        "/users:me",
        "http://127.0.0.1:9100/v2/users/me",
        "http://127.0.0.1:9100/v2",
        "https://api.zoom.us/v2/users/me",
        "https://api.zoom.us:443/v2/users/me",
        "https://API-EU.ZOOM.US/v2/users/me",
        "https://api.example.com/other/path",
        "http://127.0.0.1:7002/anything",
    ],
)
def test_in_scope(scope: ApiScope, url: str) -> None:
    """The base origin under its path, Zoom's API under /v2 and configured origins pass."""
    assert scope.check(url) == url


HOSTILE = [
    # climbing out of the base path, plain and encoded
    "/../oauth/token",
    "..",
    "../x",
    "/users/..",
    "/users/./me",
    "/users/../../_sandbox/faults",
    "/%2e%2e/oauth/token",
    "/%2E%2e/x",
    "/%2e%2E/x",
    "/.%2e/x",
    "/users/me%2f..%2f..%2fx",
    "/users%2F..%2Fx",
    "/users/..;x/admin",
    "/users/..%3B/admin",
    "/users/..%3bx/admin",
    "/users/%5c..%5cx",
    "/users\\..\\x",
    "\\\\evil.example\\x",
    "/users/%zz",
    "/users/me%",
    # text a parser may drop or reinterpret
    "/users/m\te",
    "/users/\nme",
    "/users/ me",
    "/users/\x00me",
    "/users/\uff4de",  # a fullwidth m
    "/users/me#frag",
    # other origins: port, scheme, host
    "http://127.0.0.1:7001/v2/users/me",
    "https://127.0.0.1:9100/v2/users/me",
    "http://127.0.0.1/v2/users/me",
    "http://localhost:9100/v2/users/me",
    "https://api.example.com:8443/x",
    "http://api.example.com/x",
    "https://127.0.0.1:7002/anything",
    "http://api.zoom.us/v2/users",
    "https://api.zoom.us:8443/v2/users",
    "https://api.zoom.us./v2/users",
    "https://api.zoom.us.evil.example/v2/users",
    "https://api-evil.zoom.us/v2/users",
    "https://api-xx.zoom.us/v2/users",
    "https://zoom.us/oauth/token",
    "https://evil.example/?next=https://api.zoom.us/v2",
    "https://api.zoom.us:443@evil.example/v2",
    "https://u:p@api.zoom.us/v2",
    "http://169.254.169.254/latest/meta-data/",
    "ftp://api.zoom.us/v2",
    "//evil.example/v2",
    "http:evil.example",
    # the right origins, the wrong paths
    "http://127.0.0.1:9100/oauth/token",
    "http://127.0.0.1:9100/v2x/users",
    "http://127.0.0.1:9100/v2/../oauth/token",
    "http://127.0.0.1:9100/v2/%2e%2e/oauth/token",
    "https://api.zoom.us/v1/users",
    "https://api.zoom.us/",
]


@pytest.mark.parametrize("url", HOSTILE)
def test_out_of_scope(scope: ApiScope, url: str) -> None:
    """Other origins, paths outside the base path and encoded steps are refused, not resolved."""
    with pytest.raises(UnsafeURL):
        scope.check(url)


def test_an_allowed_host_on_another_port_is_refused() -> None:
    """A bare host in ZOOM_API_HOSTS allows https on 443 of that host, not its other ports."""
    scope = ApiScope("http://127.0.0.1:9100/v2", ["127.0.0.1"])
    assert scope.check("https://127.0.0.1/v2/x")
    with pytest.raises(UnsafeURL, match=r"http://127\.0\.0\.1:7001 is not an allowed API origin"):
        scope.check("http://127.0.0.1:7001/v2/x")


# -- through the client: what is checked is what is sent --------------------------------------


def _client(zoom: ScriptedZoom) -> ZoomClient:
    s = make_settings(zoom_api_base_url=SANDBOX, zoom_api_hosts=EXTRA)
    return ZoomClient(s, connection(s), transport=zoom.transport(), clock=FakeClock())


@pytest.mark.parametrize("url", HOSTILE)
def test_raw_request_refuses_hostile_urls_naming_the_field(url: str) -> None:
    """rawRequest refuses each hostile URL with an error on field ``url`` and sends nothing."""
    zoom = ScriptedZoom()
    with _client(zoom) as client, pytest.raises(InvalidInput) as info:
        run_action(client, "rawRequest", {"method": "GET", "url": url})
    assert [e["field"] for e in info.value.errors] == ["url"]
    assert zoom.requests == []
    assert zoom.token_requests == 0


PIECES = [
    "/",
    "//",
    ".",
    "..",
    "%2e",
    "%2E",
    "%2f",
    "%2F",
    "%5c",
    "%25",
    "%",
    "\\",
    "?",
    "#",
    ";",
    "@",
    ":",
    "\t",
    "users",
    "me",
    "v2",
    "7001",
    "9100",
    "7002",
    "127.0.0.1",
    "api.zoom.us",
    "api.example.com",
    "http://",
    "https://",
    "oauth",
    "token",
]


def _in_scope(url: httpx.URL) -> bool:
    origin = (url.scheme, url.host, url.port)
    segments = url.path.split("/")
    if ".." in segments or "." in segments:
        return False
    if origin == ("http", "127.0.0.1", 9100):
        return url.path == "/v2" or url.path.startswith("/v2/")
    if origin[0] == "https" and origin[2] is None and origin[1].endswith("zoom.us"):
        return url.path.startswith("/v2")
    return origin in {("https", "api.example.com", None), ("http", "127.0.0.1", 7002)}


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(PIECES), min_size=1, max_size=10).map("".join))
def test_whatever_rawrequest_sends_stays_in_scope(url: str) -> None:
    """For any URL built from hostile pieces: refused naming ``url``, or sent in scope."""
    answered: list[httpx.URL] = []

    def answer(request: httpx.Request) -> httpx.Response:
        answered.append(request.url)
        return httpx.Response(200, json={})

    zoom = ScriptedZoom(answer)
    refused: list[InvalidInput] = []
    with _client(zoom) as client:
        try:
            run_action(client, "rawRequest", {"method": "GET", "url": url})
        except InvalidInput as exc:
            refused.append(exc)
    if refused:
        assert [e["field"] for e in refused[0].errors] == ["url"], refused[0].errors
        assert answered == []
        return
    assert len(answered) == 1
    assert _in_scope(answered[0]), (url, str(answered[0]))


def test_zoom_api_hosts_are_checked_when_the_client_is_made() -> None:
    """An entry of ZOOM_API_HOSTS that is not an origin stops the client, naming the setting."""
    s = make_settings(zoom_api_hosts=("https://api.example.com/v2",))
    with pytest.raises(ConfigurationError, match="ZOOM_API_HOSTS"):
        ZoomClient(s, connection(s))


def test_the_client_has_no_second_host_check() -> None:
    """One check: the looser ``host_allowed`` and ``allowed_hosts`` are gone."""
    s = make_settings()
    with ZoomClient(s, connection(s)) as client:
        leftovers: list[Any] = [getattr(client, n, None) for n in ("host_allowed", "allowed_hosts")]
    assert leftovers == [None, None]
