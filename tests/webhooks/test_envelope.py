"""parse_envelope and dedup_key: what the receiver does after the signature passed."""

from __future__ import annotations

import json
import random

import pytest

from tests.webhooks.conftest import SECRET, FakeClock
from zoomq.errors import ZoomError
from zoomq.sandbox.webhooks import build_event, build_headers, serialize
from zoomq.webhooks import (
    ENVELOPE_REASONS,
    MalformedWebhook,
    WebhookVerifier,
    dedup_key,
    is_url_validation,
    parse_envelope,
    plain_token,
)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "invalid_json"),
        (b"{", "invalid_json"),
        (b"\xff\xfe{}", "invalid_json"),
        (b'{"event":"x","event_ts":NaN,"payload":{}}', "invalid_json"),
        (b"[]", "not_an_object"),
        (b'"meeting.created"', "not_an_object"),
        (b"null", "not_an_object"),
        (b'{"event_ts":1,"payload":{}}', "missing_event"),
        (b'{"event":1,"event_ts":1,"payload":{}}', "bad_event"),
        (b'{"event":"","event_ts":1,"payload":{}}', "bad_event"),
        (b'{"event":"x","payload":{}}', "missing_event_ts"),
        (b'{"event":"x","event_ts":"1","payload":{}}', "bad_event_ts"),
        (b'{"event":"x","event_ts":1.5,"payload":{}}', "bad_event_ts"),
        (b'{"event":"x","event_ts":true,"payload":{}}', "bad_event_ts"),
        (b'{"event":"x","event_ts":null,"payload":{}}', "bad_event_ts"),
        (b'{"event":"x","event_ts":1}', "missing_payload"),
        (b'{"event":"x","event_ts":1,"payload":[]}', "bad_payload"),
        (b'{"event":"x","event_ts":1,"payload":"{}"}', "bad_payload"),
    ],
)
def test_each_malformed_body_raises_with_its_reason(body: bytes, reason: str) -> None:
    """Every way a body can fail to be an envelope has its own reason."""
    with pytest.raises(MalformedWebhook) as caught:
        parse_envelope(body)
    assert caught.value.reason == reason
    assert reason in ENVELOPE_REASONS
    assert isinstance(caught.value, ZoomError)


def test_recording_completed_is_parsed_with_its_download_token() -> None:
    """The top-level download_token (beside event and payload) is picked up."""
    event = build_event("recording.completed", clock=FakeClock(), rng=random.Random(1))
    parsed = parse_envelope(serialize(event))
    assert parsed.event == "recording.completed"
    assert parsed.event_ts == 1_760_000_000_000
    assert parsed.download_token == event["download_token"]
    assert parsed.account_id == event["payload"]["account_id"]
    assert parsed.object == event["payload"]["object"]
    assert parsed.raw == event


def test_other_events_have_no_download_token() -> None:
    """Only recording events carry a download token."""
    parsed = parse_envelope(serialize(build_event("meeting.created")))
    assert parsed.download_token is None
    assert not is_url_validation(parsed)


def test_url_validation_is_recognised_and_its_token_read() -> None:
    """endpoint.url_validation is flagged and its plainToken extracted."""
    parsed = parse_envelope(
        b'{"event":"endpoint.url_validation","event_ts":1,"payload":{"plainToken":"abc"}}'
    )
    assert is_url_validation(parsed)
    assert plain_token(parsed) == "abc"
    bad = parse_envelope(b'{"event":"endpoint.url_validation","event_ts":1,"payload":{}}')
    with pytest.raises(MalformedWebhook) as caught:
        plain_token(bad)
    assert caught.value.reason == "missing_plain_token"


def test_dedup_key_is_equal_for_a_resigned_retry() -> None:
    """A retry carries a new timestamp and signature but the same body, hence the same key."""
    clock = FakeClock()
    event = build_event("recording.completed", clock=clock)
    body = serialize(event)
    first = build_headers(SECRET, body, clock)
    clock.advance(300)  # Zoom's first retry, five minutes later, serialised and signed again
    retry_body = serialize(event)
    retry = build_headers(SECRET, retry_body, clock)
    assert first["x-zm-signature"] != retry["x-zm-signature"]
    WebhookVerifier([SECRET], clock=clock).verify(retry_body, retry)
    key = dedup_key(parse_envelope(body), body)
    assert key == dedup_key(parse_envelope(retry_body), retry_body)
    assert key.startswith("evt:recording.completed:")


def test_dedup_key_differs_between_events() -> None:
    """Two events of the same kind, even a millisecond apart, have different keys."""
    clock = FakeClock()
    rng = random.Random(3)
    one = serialize(build_event("meeting.created", data={"id": 1}, clock=clock, rng=rng))
    clock.advance(0.001)
    two = serialize(build_event("meeting.created", data={"id": 1}, clock=clock, rng=rng))
    assert dedup_key(parse_envelope(one), one) != dedup_key(parse_envelope(two), two)


@pytest.mark.parametrize(
    "body",
    [
        # beyond 64 bits: orjson would read a float, the json module an exact int
        b'{"event":"x","event_ts":1,"payload":{"n":123456789012345678901234567890}}',
        b'{"event":"x","event_ts":18446744073709551616,"payload":{}}',
        b'{"event":"x","event_ts":1,"payload":{"n":-9223372036854775809}}',
        # refused by orjson, read by the json module
        b'{"event":"x","event_ts":1,"payload":{"s":"\\ud800"}}',
        b'\xef\xbb\xbf{"event":"x","event_ts":1,"payload":{}}',
        '{"event":"x","event_ts":1,"payload":{"t":"Zoë"}}'.encode("utf-16"),
        b'{"event":"x","event_ts":1,"payload":{"f":1e400}}',
        # the common case
        '{"event":"x","event_ts":1,"payload":{"t":"Zoë","a":[1,2.5,null,true]}}'.encode(),
    ],
)
def test_envelope_reads_exactly_what_the_json_module_reads(body: bytes) -> None:
    """The fast parser never changes a value: what it would read differently, json reads."""
    parsed = parse_envelope(body)
    expected = json.loads(body)
    assert parsed.raw == expected
    assert repr(parsed.raw) == repr(expected)  # ints stay ints, types and order included
