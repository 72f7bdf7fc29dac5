"""The webhook endpoint: over real HTTP (uvicorn) for the main paths, in-process for edges."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from pydantic import ValidationError

from receiver import create_app
from tests.receiver.conftest import (
    EVENTS,
    ROTATED,
    SECRET,
    TEAM_SECRET,
    AppClient,
    event_body,
    make_settings,
    queued,
    signed,
    zoom_headers,
)
from zoomq.errors import ConfigurationError
from zoomq.sandbox.webhooks import build_event, serialize
from zoomq.settings import ReceiverSettings


def decode(raw: bytes) -> dict[str, Any]:
    """A queued Celery message with its base64 body decoded into ``args``/``kwargs``/``embed``."""
    message: dict[str, Any] = json.loads(raw)
    args, kwargs, embed = json.loads(base64.b64decode(message["body"]))
    return {**message, "args": args, "kwargs": kwargs, "embed": embed}


# -- main paths, over HTTP -----------------------------------------------------------------


def test_signed_event_is_queued_once_as_a_celery_message(
    http: httpx.Client, redis_client: redis.Redis
) -> None:
    """A signed delivery answers 200 only with exactly one well-formed task message queued."""
    body = event_body("meeting.created")
    headers = zoom_headers(body)
    before = time.time()
    response = http.post("/webhooks/zoom", content=body, headers=headers)
    assert response.status_code == 200
    assert response.json() == {"status": "queued"}
    [raw] = queued(redis_client)
    message = decode(raw)
    digest = hashlib.sha256(body).hexdigest()
    assert message["headers"]["task"] == "zoomq.events.handle"
    assert message["headers"]["id"] == message["headers"]["root_id"] == f"evt-{digest}"
    assert message["properties"]["correlation_id"] == f"evt-{digest}"
    assert message["properties"]["delivery_info"] == {"exchange": "", "routing_key": EVENTS}
    assert message["args"] == [json.loads(body)]
    meta = message["kwargs"]["meta"]
    assert meta["connection"] == "default"
    assert meta["dedup_key"] == f"evt:meeting.created:{digest}"
    assert meta["request_id"] == headers["x-zm-request-id"]
    assert meta["correlation_id"] == headers["x-zm-request-id"]
    assert before <= meta["received_at"] <= time.time()
    assert message["embed"] == {"callbacks": None, "errbacks": None, "chain": None, "chord": None}


def test_redelivery_resigned_later_is_acknowledged_not_requeued(
    http: httpx.Client, redis_client: redis.Redis
) -> None:
    """Zoom's retry (same body, new timestamp and signature) gets 200 and adds nothing."""
    body = event_body("meeting.deleted")
    first = http.post("/webhooks/zoom", content=body, headers=signed(body, at=time.time() - 120))
    second = http.post("/webhooks/zoom", content=body, headers=signed(body))
    assert (first.status_code, second.status_code) == (200, 200)
    assert second.json() == {"status": "duplicate"}
    assert len(queued(redis_client)) == 1
    metrics = http.get("/metrics").text
    assert "zoomq_webhook_dedup_hits_total 1" in metrics


def test_url_validation_is_answered_and_never_queued(
    http: httpx.Client, redis_client: redis.Redis
) -> None:
    """endpoint.url_validation gets {plainToken, encryptedToken}; nothing reaches the queue."""
    body = serialize(build_event("endpoint.url_validation", data={"plainToken": "qgg8vlvZRS6"}))
    response = http.post("/webhooks/zoom", content=body, headers=zoom_headers(body))
    assert response.status_code == 200
    expected = hmac.new(SECRET.encode(), b"qgg8vlvZRS6", hashlib.sha256).hexdigest()
    assert response.json() == {"plainToken": "qgg8vlvZRS6", "encryptedToken": expected}
    assert queued(redis_client) == []


def test_url_validation_with_a_bad_signature_is_refused(
    http: httpx.Client, redis_client: redis.Redis
) -> None:
    """No signature, no encryptedToken: the endpoint is not a signing oracle."""
    body = serialize(build_event("endpoint.url_validation"))
    response = http.post("/webhooks/zoom", content=body, headers=signed(body, "not-the-secret"))
    assert response.status_code == 401
    assert "encryptedToken" not in response.text
    assert queued(redis_client) == []


def test_rotated_second_secret_is_accepted(http: httpx.Client, redis_client: redis.Redis) -> None:
    """While rotating, a secret listed on the default connection signs valid deliveries too."""
    body = event_body()
    assert (
        http.post("/webhooks/zoom", content=body, headers=signed(body, ROTATED)).status_code == 200
    )
    crc = serialize(build_event("endpoint.url_validation", data={"plainToken": "abc"}))
    answer = http.post("/webhooks/zoom", content=crc, headers=signed(crc, ROTATED)).json()
    # The answer is keyed with the secret that signed the challenge.
    assert answer["encryptedToken"] == hmac.new(ROTATED.encode(), b"abc", "sha256").hexdigest()
    assert len(queued(redis_client)) == 1


def test_connection_endpoint_uses_that_connections_secret(
    http: httpx.Client, redis_client: redis.Redis
) -> None:
    """/webhooks/zoom/{name} verifies with that connection's secrets, and says so in meta."""
    body = event_body("user.created")
    wrong = http.post("/webhooks/zoom/team", content=body, headers=signed(body, SECRET))
    assert wrong.status_code == 401
    assert wrong.json() == {"error": "bad_signature"}
    right = http.post("/webhooks/zoom/team", content=body, headers=signed(body, TEAM_SECRET))
    assert right.status_code == 200
    [raw] = queued(redis_client)
    message = decode(raw)
    assert message["kwargs"]["meta"]["connection"] == "team"
    assert message["headers"]["id"] == f"evt-team-{hashlib.sha256(body).hexdigest()}"


def test_same_body_on_two_connections_is_two_events(
    http: httpx.Client, redis_client: redis.Redis
) -> None:
    """Dedup is per connection: two apps on one account may send identical bodies."""
    body = event_body()
    assert http.post("/webhooks/zoom", content=body, headers=signed(body)).status_code == 200
    team = http.post("/webhooks/zoom/team", content=body, headers=signed(body, TEAM_SECRET))
    assert team.json() == {"status": "queued"}
    assert len(queued(redis_client)) == 2


def test_body_over_the_limit_by_content_length(
    http: httpx.Client, redis_client: redis.Redis
) -> None:
    """A 2 MiB body is refused with 413 from its Content-Length."""
    body = b'{"event":"x","pad":"' + b"a" * (2 << 20) + b'"}'
    response = http.post("/webhooks/zoom", content=body, headers=signed(body))
    assert response.status_code == 413
    assert queued(redis_client) == []


def test_chunked_body_over_the_limit(http: httpx.Client, redis_client: redis.Redis) -> None:
    """Without Content-Length the body is counted while it streams, and refused past 1 MiB."""
    sent: list[int] = []

    def chunks() -> Iterator[bytes]:
        for _ in range(64):  # 64 x 64 KiB = 4 MiB offered
            sent.append(1)
            yield b"a" * (64 << 10)

    body_sig = signed(b"irrelevant")
    try:
        response = http.post("/webhooks/zoom", content=chunks(), headers=body_sig)
    except httpx.HTTPError:
        pytest.fail("the server should answer 413, not drop the connection")
    assert response.status_code == 413
    assert queued(redis_client) == []


def test_unknown_connection_is_404(http: httpx.Client) -> None:
    """A connection that is not configured has no endpoint."""
    body = event_body()
    response = http.post("/webhooks/zoom/nobody", content=body, headers=signed(body))
    assert response.status_code == 404
    assert response.json() == {"error": "unknown connection"}


def test_connection_without_secret_is_403(http: httpx.Client) -> None:
    """A known connection with no webhook secret refuses with a non-retried 403."""
    body = event_body()
    response = http.post("/webhooks/zoom/bare", content=body, headers=signed(body))
    assert response.status_code == 403
    assert response.json() == {"error": "endpoint not configured"}


def test_health_and_readiness(http: httpx.Client) -> None:
    """/healthz is up; /readyz pings Redis."""
    assert http.get("/healthz").json() == {"status": "ok"}
    assert http.get("/readyz").json() == {"status": "ready"}


# -- edge cases, in-process ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "missing_signature"),
        ({"x-zm-signature": "v0=abc"}, "missing_timestamp"),
        ({"x-zm-signature": "v0=abc", "x-zm-request-timestamp": "yesterday"}, "bad_timestamp"),
        ({"x-zm-signature": "v0=abc", "x-zm-request-timestamp": "TS"}, "bad_signature"),
        ({"x-zm-signature": "v0=abc", "x-zm-request-timestamp": "OLD"}, "stale_timestamp"),
        ({"x-zm-signature": "v0=abc", "x-zm-request-timestamp": "FUTURE"}, "future_timestamp"),
    ],
)
def test_each_401_reason(
    client: AppClient, redis_client: redis.Redis, headers: dict[str, str], reason: str
) -> None:
    """Every verification failure is a 401 with its short reason, counted by reason."""
    now = int(time.time())
    stamps = {"TS": str(now), "OLD": str(now - 301), "FUTURE": str(now + 301)}
    headers = {k: stamps.get(v, v) for k, v in headers.items()}
    response = client.post("/webhooks/zoom", content=event_body(), headers=headers)
    assert response.status_code == 401
    assert response.json() == {"error": reason}
    assert queued(redis_client) == []
    metrics = client.get("/metrics").text
    assert f'zoomq_webhook_signature_failures_total{{reason="{reason}"}} 1' in metrics


def test_stale_but_correctly_signed_delivery_is_refused(
    client: AppClient, redis_client: redis.Redis
) -> None:
    """A valid signature made 10 minutes ago is a replay, not a delivery."""
    body = event_body()
    response = client.post(
        "/webhooks/zoom", content=body, headers=signed(body, at=time.time() - 600)
    )
    assert response.json() == {"error": "stale_timestamp"}
    assert queued(redis_client) == []


def test_tolerance_is_configurable(app_factory: Any, redis_client: redis.Redis) -> None:
    """With a one-hour tolerance the same 10-minute-old signature passes."""
    body = event_body()
    with AppClient(app_factory(signature_tolerance=3600)) as client:
        response = client.post(
            "/webhooks/zoom", content=body, headers=signed(body, at=time.time() - 600)
        )
    assert response.status_code == 200


def test_a_secret_rotation_turns_unknown_signatures_into_503s(
    app_factory: Any, redis_client: redis.Redis
) -> None:
    """While rotating, a signature no secret matches gets 503 (Zoom retries), nothing is
    queued; a missing or stale one is still 401, a known secret still 200."""
    body = event_body("meeting.updated")
    with AppClient(app_factory(secret_rotation=True)) as client:
        unknown = client.post("/webhooks/zoom", content=body, headers=signed(body, "not-yet"))
        assert (unknown.status_code, unknown.json()) == (503, {"error": "bad_signature"})
        assert queued(redis_client) == []
        stale = client.post(
            "/webhooks/zoom", content=body, headers=signed(body, at=time.time() - 600)
        )
        assert stale.status_code == 401
        bare = client.post("/webhooks/zoom", content=body, headers={"x-zm-signature": "v0=1"})
        assert bare.status_code == 401
        ok = client.post("/webhooks/zoom", content=body, headers=signed(body))
        assert ok.status_code == 200


def test_several_env_secrets_each_verify_and_the_first_signs(
    redis_url: str, tmp_path: Path
) -> None:
    """ZOOM_WEBHOOK_SECRET_TOKEN="new,old" (a rotation): both verify, `webhook send` signs
    with the first; blanks around the commas are ignored."""
    from zoomq.settings import Settings

    settings = Settings(
        _env_file=None, redis_url=redis_url, zoom_webhook_secret_token=" new-one , old-one ,"
    )
    assert [s.get_secret_value() for s in settings.webhook_secret_tokens()] == [
        "new-one",
        "old-one",
    ]
    conn = Settings(
        _env_file=None,
        redis_url=redis_url,
        zoom_webhook_secret_token="new-one,old-one",
        zoom_account_id="a",
        zoom_client_id="c",
        zoom_client_secret="a-real-client-secret",
    ).connection()
    assert [s.get_secret_value() for s in conn.webhook_secrets] == ["new-one", "old-one"]
    body = event_body("meeting.started")
    with AppClient(create_app(settings)) as client:
        for secret in ("new-one", "old-one"):
            response = client.post("/webhooks/zoom", content=body, headers=signed(body, secret))
            assert response.status_code == 200, secret
        wrong = client.post("/webhooks/zoom", content=body, headers=signed(body, "new-one,old-one"))
        assert wrong.status_code == 401


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"event": "meeting.created", "event_ts": 1,', "invalid_json"),
        (b"[1, 2]", "not_an_object"),
        (b'{"event_ts": 1, "payload": {}}', "missing_event"),
        (b'{"event": "meeting.created", "payload": {}}', "missing_event_ts"),
        (b'{"event": "meeting.created", "event_ts": 1}', "missing_payload"),
        (b'{"event": "meeting.created", "event_ts": "1", "payload": {}}', "bad_event_ts"),
        (
            b'{"event": "endpoint.url_validation", "event_ts": 1, "payload": {}}',
            "missing_plain_token",
        ),
    ],
)
def test_signed_but_malformed_is_400(
    client: AppClient, redis_client: redis.Redis, body: bytes, reason: str
) -> None:
    """A correctly signed body that is not a Zoom envelope is a 400 with the reason."""
    response = client.post("/webhooks/zoom", content=body, headers=signed(body))
    assert response.status_code == 400
    assert response.json() == {"error": reason}
    assert queued(redis_client) == []


def test_non_post_is_405(client: AppClient) -> None:
    """Only POST is routed to the webhook."""
    for method in ("GET", "PUT", "DELETE"):
        assert client.request(method, "/webhooks/zoom").status_code == 405
        assert client.request(method, "/webhooks/zoom/team").status_code == 405


def test_body_just_under_a_small_limit_passes(app_factory: Any, redis_client: redis.Redis) -> None:
    """The limit is configurable and inclusive."""
    body = event_body()
    with AppClient(app_factory(max_body_bytes=len(body))) as client:
        assert client.post("/webhooks/zoom", content=body, headers=signed(body)).status_code == 200
    with AppClient(app_factory(max_body_bytes=len(body) - 1)) as client:
        assert client.post("/webhooks/zoom", content=body, headers=signed(body)).status_code == 413


def test_non_utf8_json_is_queued_re_encoded(client: AppClient, redis_client: redis.Redis) -> None:
    """A UTF-16 body (valid JSON to Python) still becomes a UTF-8 Celery message."""
    body = json.dumps({"event": "meeting.created", "event_ts": 1, "payload": {"t": "Zoë"}}).encode(
        "utf-16"
    )
    assert client.post("/webhooks/zoom", content=body, headers=signed(body)).status_code == 200
    [raw] = queued(redis_client)
    assert decode(raw)["args"] == [
        {"event": "meeting.created", "event_ts": 1, "payload": {"t": "Zoë"}}
    ]


def test_argsrepr_hides_the_payload(client: AppClient, redis_client: redis.Redis) -> None:
    """What monitors show of the arguments names the event, not its download token."""
    body = event_body("recording.completed")
    assert client.post("/webhooks/zoom", content=body, headers=signed(body)).status_code == 200
    [raw] = queued(redis_client)
    headers = json.loads(raw)["headers"]
    token = json.loads(body)["download_token"]
    assert token not in headers["argsrepr"]
    assert token not in headers["kwargsrepr"]
    assert headers["argsrepr"].startswith("[<recording.completed event")


def test_no_secret_anywhere_means_403_on_the_default_endpoint(
    redis_url: str, tmp_path: Path
) -> None:
    """Without ZOOM_WEBHOOK_SECRET_TOKEN the default endpoint refuses, non-retryably."""
    settings = make_settings(redis_url, tmp_path, rotating=False, zoom_webhook_secret_token=None)
    with AppClient(create_app(settings)) as client:
        body = event_body()
        response = client.post("/webhooks/zoom", content=body, headers=signed(body))
    assert response.status_code == 403


def test_bad_connections_file_fails_at_startup(redis_url: str, tmp_path: Path) -> None:
    """A broken connections file stops create_app rather than the first webhook."""
    settings = make_settings(redis_url, tmp_path)
    Path(str(settings.zoomq_connections_file)).write_text("{nope")
    with pytest.raises(ConfigurationError):
        create_app(settings)


def test_config_from_settings_defaults(redis_url: str, tmp_path: Path) -> None:
    """Without receiver settings, the documented defaults apply; overrides are checked."""
    settings = make_settings(redis_url, tmp_path)
    config = settings.receiver
    assert settings.redis_url == redis_url
    assert (config.events_queue, config.max_body_bytes, config.enqueue_timeout) == (
        "events",
        1 << 20,
        1.0,
    )
    assert config.dedup_ttl == 3 * 86400
    with pytest.raises(ValidationError, match="nonsense"):
        ReceiverSettings.model_validate({**config.model_dump(), "nonsense": 1})
    with pytest.raises(ValidationError, match="enqueue_timeout"):
        ReceiverSettings(enqueue_timeout=0)


def test_dedup_marker_has_the_configured_ttl(app_factory: Any, redis_client: redis.Redis) -> None:
    """The seen-marker expires after dedup_ttl seconds."""
    body = event_body()
    with AppClient(app_factory(dedup_ttl=120)) as client:
        assert client.post("/webhooks/zoom", content=body, headers=signed(body)).status_code == 200
    [key] = redis_client.keys("zoomq:seen:*")
    assert 0 < redis_client.ttl(key) <= 120


# -- bodies the worker could not decode, and trailing slashes --------------------------------


def nested(depth: int) -> bytes:
    """A Zoom envelope whose objects and arrays nest ``depth`` deep (the envelope is 1)."""
    inner = b"[" * (depth - 2) + b"]" * (depth - 2)
    return b'{"event":"meeting.created","event_ts":1,"payload":{"deep":' + inner + b"}}"


def test_a_thousand_deep_body_is_refused_before_redis(
    http: httpx.Client, redis_client: redis.Redis
) -> None:
    """1,000-deep JSON is refused with 400 and writes nothing, so Zoom's redelivery is no
    "duplicate" of an event the worker would have dropped."""
    body = nested(1000)
    for _ in range(2):  # the redelivery gets the same answer
        response = http.post("/webhooks/zoom", content=body, headers=signed(body))
        assert response.status_code == 400
        assert response.json() == {"error": "too_deep"}
    assert redis_client.dbsize() == 0


@pytest.mark.parametrize("depth", [65, 1025, 5000, 200_000])
def test_deeper_bodies_are_400_not_500(
    client: AppClient, redis_client: redis.Redis, depth: int
) -> None:
    """Past orjson's limit (1,024) and past the recursion limit, still a 400."""
    body = nested(depth)
    response = client.post("/webhooks/zoom", content=body, headers=signed(body))
    assert (response.status_code, response.json()) == (400, {"error": "too_deep"})
    assert redis_client.dbsize() == 0


def test_the_depth_limit_is_inclusive_and_configurable(
    app_factory: Any, redis_client: redis.Redis
) -> None:
    """64 levels pass by default; ZOOMQ_WEBHOOK_MAX_DEPTH moves the limit."""
    body = nested(64)
    with AppClient(app_factory()) as client:
        assert client.post("/webhooks/zoom", content=body, headers=signed(body)).status_code == 200
    with AppClient(app_factory(max_depth=10)) as client:
        small = nested(11)
        response = client.post("/webhooks/zoom", content=small, headers=signed(small))
        assert response.json() == {"error": "too_deep"}
        wide = json.dumps(
            {"event": "e.x", "event_ts": 1, "payload": {"list": [{"a": [1]}] * 50}}
        ).encode()  # many brackets, shallow: walked, and passes
        assert client.post("/webhooks/zoom", content=wide, headers=signed(wide)).status_code == 200
    assert len(queued(redis_client)) == 2


def test_url_validation_with_a_lone_surrogate_token_is_400(
    client: AppClient, redis_client: redis.Redis
) -> None:
    """A plainToken of "\\ud800" is JSON but cannot be signed as UTF-8: 400, not 500."""
    body = b'{"event":"endpoint.url_validation","event_ts":1,"payload":{"plainToken":"\\ud800"}}'
    response = client.post("/webhooks/zoom", content=body, headers=signed(body))
    assert (response.status_code, response.json()) == (400, {"error": "bad_plain_token"})
    assert redis_client.dbsize() == 0


@pytest.mark.parametrize("path", ["/webhooks/zoom/", "/webhooks/zoom/team/"])
def test_a_trailing_slash_is_the_same_endpoint(
    http: httpx.Client, redis_client: redis.Redis, path: str
) -> None:
    """Zoom does not follow redirects: the slashed URL is served, not answered 307."""
    body = event_body("meeting.updated")
    secret = TEAM_SECRET if "team" in path else SECRET
    response = http.post(path, content=body, headers=signed(body, secret))
    assert (response.status_code, response.json()) == (200, {"status": "queued"})
    [raw] = queued(redis_client)
    assert decode(raw)["kwargs"]["meta"]["connection"] == ("team" if "team" in path else "default")
