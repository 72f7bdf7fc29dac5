"""Zoom's signature and url_validation answer, checked against independent computations."""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import shutil
import subprocess

import pytest

from tests.webhooks.conftest import SECRET, FakeClock
from zoomq.sandbox.webhooks import EVENT_NAMES, build_event, build_headers, serialize
from zoomq.webhooks import sign, url_validation_response

# Known answer, computed once with Node's crypto (as in zoom/webhook-sample index.js):
#   crypto.createHmac('sha256', 'zoom-secret').update('v0:1700000000:{"event":"x"}')
#       .digest('hex')
KNOWN_SIGNATURE = "v0=94cf27e159993973cfc0231f58b28ec88bf0dccf753a33db21f15b9f856d87d0"


def test_sign_matches_a_known_answer_from_node() -> None:
    """A signature computed outside Python is reproduced exactly."""
    assert sign("zoom-secret", "1700000000", b'{"event":"x"}') == KNOWN_SIGNATURE


def test_sign_is_hmac_sha256_of_v0_timestamp_body() -> None:
    """sign() equals an HMAC computed here by hand over b"v0:<ts>:<body>"."""
    body = '{"event":"meeting.created","payload":{"topic":"Zoë 東京"}}'.encode()
    expected = hmac.new(b"zoom-secret", b"v0:1700000000:" + body, hashlib.sha256).hexdigest()
    assert sign("zoom-secret", "1700000000", body) == f"v0={expected}"
    assert sign("zoom-secret", 1700000000, body) == f"v0={expected}"


def test_url_validation_response_is_hex_hmac_of_plain_token() -> None:
    """encryptedToken is hex HMAC-SHA256(secret, plainToken); plainToken is echoed."""
    expected = hmac.new(b"zoom-secret", b"qgg8vlvZRS6UYooatFL8Aw", hashlib.sha256).hexdigest()
    assert url_validation_response("zoom-secret", "qgg8vlvZRS6UYooatFL8Aw") == {
        "plainToken": "qgg8vlvZRS6UYooatFL8Aw",
        "encryptedToken": expected,
    }


def _js_stringify_parse(body: bytes) -> bytes:
    """JSON.stringify(JSON.parse(body)) as far as Python can emulate it."""
    return json.dumps(json.loads(body), separators=(",", ":"), ensure_ascii=False).encode()


def _zoom_sample_signature(secret: str, timestamp: str, body: bytes) -> str:
    """What Zoom's Node sample computes: v0:${ts}:${JSON.stringify(req.body)}."""
    message = f"v0:{timestamp}:".encode() + _js_stringify_parse(body)
    return "v0=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


UNICODE_AND_BIG = {"topic": "Zoë 東京 — «review»", "id": 85746065432}


def _every_event() -> list[dict[str, object]]:
    rng = random.Random(7)
    clock = FakeClock()
    events = []
    for name in EVENT_NAMES:
        events.append(build_event(name, clock=clock, rng=rng))
        data = {"plainToken": "Zoë東京"} if name == "endpoint.url_validation" else UNICODE_AND_BIG
        events.append(build_event(name, data=data, clock=clock, rng=rng))
    return events


@pytest.mark.parametrize("event", _every_event(), ids=lambda e: str(e["event"]))
def test_sender_bytes_are_a_fixed_point_of_the_sample_verifier(event: dict[str, object]) -> None:
    """For every event, the sample's re-serialised body equals the sent one, so both agree."""
    body = serialize(event)
    assert _js_stringify_parse(body) == body
    headers = build_headers(SECRET, body, FakeClock())
    ts = headers["x-zm-request-timestamp"]
    assert headers["x-zm-signature"] == _zoom_sample_signature(SECRET, ts, body)


_NODE_SCRIPT = r"""
const crypto = require('crypto');
let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => { input += chunk; });
process.stdin.on('end', () => {
  const out = JSON.parse(input).map(({ secret, ts, body }) => {
    const roundTrip = JSON.stringify(JSON.parse(body));
    const message = `v0:${ts}:${roundTrip}`;
    const sig = crypto.createHmac('sha256', secret).update(message).digest('hex');
    return { roundTrip, signature: `v0=${sig}` };
  });
  process.stdout.write(JSON.stringify(out));
});
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_real_node_sample_verifier_accepts_every_event() -> None:
    """Node itself, doing what Zoom's sample does, reproduces each body and signature."""
    cases = []
    events = _every_event()
    events.append({"event": "x", "event_ts": 1, "payload": {"b": 1, "10": 2, "2": 3, "a": 1.5}})
    for event in events:
        body = serialize(event)
        headers = build_headers(SECRET, body, FakeClock())
        cases.append((body, headers))
    stdin = json.dumps(
        [
            {"secret": SECRET, "ts": h["x-zm-request-timestamp"], "body": b.decode()}
            for b, h in cases
        ]
    )
    node = shutil.which("node")
    assert node is not None
    done = subprocess.run(
        [node, "-e", _NODE_SCRIPT],
        input=stdin.encode(),
        capture_output=True,
        check=True,
        timeout=30,
    )
    results = json.loads(done.stdout)
    for (body, headers), result in zip(cases, results, strict=True):
        assert result["roundTrip"].encode() == body
        assert result["signature"] == headers["x-zm-signature"]
