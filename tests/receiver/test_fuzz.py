"""Generated requests: never a 5xx, nothing queued unsigned, signed events queued exactly once."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette

from tests.receiver.conftest import ROTATED, SECRET, TEAM_SECRET, AppClient, queued
from zoomq.webhooks import sign

# path -> the secrets that endpoint accepts (None: no such endpoint or no secret at all)
ENDPOINTS: dict[str, tuple[str, ...]] = {
    "/webhooks/zoom": (SECRET, ROTATED),
    "/webhooks/zoom/team": (TEAM_SECRET,),
    "/webhooks/zoom/bare": (),
    "/webhooks/zoom/nobody": (),
}

header_text = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=80)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
envelopes = st.fixed_dictionaries(
    {
        "event": st.sampled_from(
            ["meeting.created", "user.updated", "endpoint.url_validation", ""]
        ),
        "event_ts": st.integers(min_value=0, max_value=2**53) | st.text(max_size=3),
        "payload": st.dictionaries(st.text(max_size=10), json_values, max_size=4) | json_values,
    },
    optional={"download_token": st.text(max_size=20), "extra": json_values},
)
valid_envelopes = st.fixed_dictionaries(
    {
        "event": st.sampled_from(["meeting.created", "recording.completed", "user.updated"]),
        "event_ts": st.integers(min_value=0, max_value=2**53),
        "payload": st.dictionaries(st.text(max_size=10), json_values, max_size=4),
    },
    optional={"download_token": st.text(max_size=20)},
)
# Strings with lone surrogates: JSON escapes them ("\\ud800"); UTF-8 cannot hold them.
odd_text = st.lists(
    st.sampled_from(["\ud800", "\udfff", "\udc00", "\U0001f600", "a", "\x00", "\u2028"]),
    max_size=4,
).map("".join)
HUGE_NUMBERS = ("1e400", "-1e400", "1e-400", "18446744073709551616", "9" * 400, "9" * 5000)
huge_numbers = st.sampled_from([*HUGE_NUMBERS, "-0", "1.5e308"])


@st.composite
def deep_bodies(draw: st.DrawFn) -> bytes:
    """Objects and arrays nested 1 to 3,000 deep, inside an envelope or bare."""
    depth = draw(st.integers(min_value=1, max_value=3000) | st.integers(60, 70))
    opener, closer = draw(st.sampled_from([(b"[", b"]"), (b'{"a":', b"}"), (b'[{"b":', b"}]")]))
    inner = opener * depth + b"1" + closer * depth
    if draw(st.booleans()):
        return inner
    return b'{"event":"meeting.created","event_ts":1,"payload":{"x":' + inner + b"}}"


@st.composite
def odd_bodies(draw: st.DrawFn) -> bytes:
    """Envelopes with lone surrogates, huge numbers or invalid UTF-8 where Zoom puts text."""
    envelope = {
        "event": draw(st.sampled_from(["meeting.created", "endpoint.url_validation"]) | odd_text),
        "event_ts": "<TS>",
        "payload": {"plainToken": draw(odd_text | st.text(max_size=5)), draw(odd_text): "<N>"},
    }
    timestamp, number = draw(st.sampled_from(["1", *HUGE_NUMBERS])), draw(huge_numbers)

    def text(ensure_ascii: bool) -> str:
        document = json.dumps(envelope, ensure_ascii=ensure_ascii)
        return document.replace('"<TS>"', timestamp).replace('"<N>"', number)

    how = draw(st.sampled_from(["escaped", "raw_surrogates", "bad_utf8", "utf16"]))
    if how == "escaped":  # lone surrogates as JSON escapes: valid JSON to Python
        return text(True).encode()
    if how == "raw_surrogates":  # the same as (invalid) UTF-8 bytes
        return text(False).encode("utf-8", "surrogatepass")
    if how == "bad_utf8":
        return text(True).encode().replace(b'"plainToken"', b'"\xff\xfe\xed\xa0\x80"')
    return text(False).encode("utf-16", "surrogatepass")


top_levels = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=10), json_values)
bodies = st.one_of(
    st.binary(max_size=300),
    envelopes.map(lambda e: json.dumps(e).encode()),
    valid_envelopes.map(lambda e: json.dumps(e).encode()),
    valid_envelopes.map(lambda e: json.dumps(e, ensure_ascii=False).encode("utf-8")),
    deep_bodies(),
    odd_bodies(),
    top_levels.map(lambda v: json.dumps(v).encode()),
)


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, bytes, dict[str, str], str | None]:
    """(path, body, headers, the secret that really signed it or None)."""
    path = draw(st.sampled_from(list(ENDPOINTS)))
    body = draw(bodies)
    now = int(time.time())
    timestamp = draw(
        st.sampled_from([str(now), str(now), str(now - 10), str(now - 1000), str(now + 1000)])
        | header_text
    )
    # Mostly the endpoint's own secrets, so that a good share of requests is valid.
    own = list(ENDPOINTS[path]) * 3
    secret = draw(st.sampled_from([*own, SECRET, TEAM_SECRET, "someone-else"]))
    how = draw(st.sampled_from(["signed", "signed", "signed", "garbage", "missing", "tampered"]))
    headers: dict[str, str] = {}
    signer: str | None = None
    if draw(st.booleans()) or how == "signed":
        headers["x-zm-request-timestamp"] = timestamp
    if how == "signed":
        headers["x-zm-signature"] = sign(secret, timestamp, body)
        signer = secret
    elif how == "garbage":
        headers["x-zm-signature"] = draw(header_text)
    elif how == "tampered":
        headers["x-zm-signature"] = sign(secret, timestamp, body + b" ")
    if draw(st.booleans()):
        headers["x-zm-request-id"] = draw(header_text)
    fresh = timestamp.isdigit() and abs(int(timestamp) - now) < 300
    valid = signer is not None and signer in ENDPOINTS[path] and fresh
    return path, body, headers, signer if valid else None


def test_generated_requests(
    app_factory: Callable[..., Starlette], redis_client: redis.Redis
) -> None:
    """Thousands of random deliveries: no 5xx, and the queue grows only by distinct signed
    events, once each."""
    seen: set[tuple[str, bytes]] = set()
    statuses: dict[int, int] = {}

    with AppClient(app_factory()) as client:

        @settings(
            max_examples=1500,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(requests())
        def check(request: tuple[str, bytes, dict[str, str], str | None]) -> None:
            path, body, headers, valid_signer = request
            before = redis_client.llen("events")
            response = client.post(path, content=body, headers=headers)
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            assert response.status_code < 500, response.text
            grew = redis_client.llen("events") - before
            if valid_signer is None:
                assert response.status_code in (401, 403, 404)
                assert grew == 0
                return
            assert response.status_code in (200, 400)
            connection = path.rpartition("/")[2]
            key = (connection, body)
            if response.status_code == 200 and "status" in response.json():
                assert grew == (0 if key in seen else 1)
                seen.add(key)
            else:
                assert grew == 0

        check()

    assert statuses.get(200, 0) > 100  # the generator does reach the enqueue path
    assert statuses.get(401, 0) > 50
    assert len(queued(redis_client)) == len(seen)
