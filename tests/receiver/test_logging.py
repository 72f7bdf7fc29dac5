"""What the receiver logs when it refuses a delivery, captured with structlog's capture_logs.

Only failures are logged (a line per success would cost more than the request); each line
names the reason, the delivery's request id as its correlation id, and the connection, and
never the signature or the payload.
"""

from __future__ import annotations

import structlog
from structlog.testing import capture_logs

from tests.receiver.conftest import SECRET, TEAM_SECRET, AppClient, event_body, signed

#: The receiver binds correlation_id and connection as context variables for the line.
CONTEXT = [structlog.contextvars.merge_contextvars]


def test_a_bad_signature_is_logged_with_its_reason_and_request_id(client: AppClient) -> None:
    """A 401 logs ``webhook_unauthorized`` at info: reason, request id, connection; no secret."""
    body = event_body("meeting.created")
    headers = signed(body, "not-the-secret", extra={"x-zm-request-id": "req-401"})
    with capture_logs(processors=CONTEXT) as logs:
        response = client.post("/webhooks/zoom", content=body, headers=headers)
    assert response.status_code == 401
    assert [entry["event"] for entry in logs] == ["webhook_unauthorized"]
    (line,) = logs
    assert line["log_level"] == "info"
    assert line["reason"] == "bad_signature"
    assert line["request_id"] == line["correlation_id"] == "req-401"
    assert line["connection"] == "default"
    assert headers["x-zm-signature"] not in repr(logs)
    assert body.decode() not in repr(logs)


def test_a_signed_non_envelope_is_logged_as_malformed(client: AppClient) -> None:
    """A signed body that is not a Zoom envelope logs ``webhook_malformed`` with its reason."""
    body = b'{"no_event": true}'
    with capture_logs(processors=CONTEXT) as logs:
        response = client.post(
            "/webhooks/zoom/team", content=body, headers=signed(body, TEAM_SECRET)
        )
    assert response.status_code == 400
    (line,) = logs
    assert line["event"] == "webhook_malformed"
    assert line["log_level"] == "warning"
    assert line["reason"] == response.json()["error"]
    assert line["connection"] == "team"
    assert line["correlation_id"] == "-"  # Zoom sent no request id
    assert line["request_id"] is None


def test_an_accepted_delivery_logs_nothing(client: AppClient) -> None:
    """The hot path is silent: a queued event and its duplicate log no line."""
    body = event_body("meeting.created")
    with capture_logs(processors=CONTEXT) as logs:
        first = client.post("/webhooks/zoom", content=body, headers=signed(body, SECRET))
        again = client.post("/webhooks/zoom", content=body, headers=signed(body, SECRET))
    assert (first.json(), again.json()) == ({"status": "queued"}, {"status": "duplicate"})
    assert logs == []
