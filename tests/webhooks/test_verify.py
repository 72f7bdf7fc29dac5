"""WebhookVerifier: signatures, secrets in rotation, timestamps both ways, header case."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from tests.webhooks.conftest import SECRET, FakeClock
from zoomq.errors import ConfigurationError, ZoomError
from zoomq.sandbox.webhooks import build_headers
from zoomq.webhooks import VERIFICATION_REASONS, WebhookVerificationError, WebhookVerifier, sign

BODY = b'{"event":"meeting.created","event_ts":1760000000000,"payload":{"topic":"Zo\xc3\xab"}}'
NOW = 1_760_000_000


def headers_for(body: bytes, ts: int | str = NOW, secret: str = SECRET) -> dict[str, str]:
    return {"x-zm-request-timestamp": str(ts), "x-zm-signature": sign(secret, ts, body)}


def reason_of(verifier: WebhookVerifier, body: bytes, headers: dict[str, str]) -> str:
    with pytest.raises(WebhookVerificationError) as caught:
        verifier.verify(body, headers)
    assert caught.value.reason in VERIFICATION_REASONS
    return caught.value.reason


@pytest.fixture
def verifier() -> WebhookVerifier:
    return WebhookVerifier([SECRET], clock=FakeClock(NOW))


def test_good_signature_passes(verifier: WebhookVerifier) -> None:
    """A body signed with the secret at the current time verifies."""
    verifier.verify(BODY, headers_for(BODY))


def test_sender_headers_verify(verifier: WebhookVerifier) -> None:
    """What the sender puts on the wire is what the verifier accepts."""
    verifier.verify(BODY, build_headers(SECRET, BODY, FakeClock(NOW)))


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({"x-zm-request-timestamp": str(NOW)}, "missing_signature"),
        ({"x-zm-request-timestamp": str(NOW), "x-zm-signature": ""}, "missing_signature"),
        ({"x-zm-signature": "v0=00"}, "missing_timestamp"),
        ({"x-zm-signature": "v0=00", "x-zm-request-timestamp": " "}, "missing_timestamp"),
        ({"x-zm-signature": "v0=00", "x-zm-request-timestamp": "soon"}, "bad_timestamp"),
        ({"x-zm-signature": "v0=00", "x-zm-request-timestamp": "-5"}, "bad_timestamp"),
        ({"x-zm-signature": "v0=00", "x-zm-request-timestamp": "1.7e9"}, "bad_timestamp"),
        ({"x-zm-signature": "v0=00", "x-zm-request-timestamp": "١٧٦٠"}, "bad_timestamp"),
        ({"x-zm-signature": "v0=00", "x-zm-request-timestamp": "9" * 13}, "bad_timestamp"),
        ({"x-zm-signature": "v0=00", "x-zm-request-timestamp": str(NOW)}, "bad_signature"),
    ],
)
def test_each_malformed_header_set_has_its_reason(
    verifier: WebhookVerifier, headers: dict[str, str], reason: str
) -> None:
    """Missing or unusable headers are refused with a reason naming the fault."""
    assert reason_of(verifier, BODY, headers) == reason


def test_wrong_secret_is_bad_signature(verifier: WebhookVerifier) -> None:
    """A signature made with another secret is refused."""
    assert reason_of(verifier, BODY, headers_for(BODY, secret="other")) == "bad_signature"


def test_signature_without_version_prefix_is_refused(verifier: WebhookVerifier) -> None:
    """The bare hex digest, without ``v0=``, is not Zoom's header value."""
    headers = headers_for(BODY)
    headers["x-zm-signature"] = headers["x-zm-signature"].removeprefix("v0=")
    assert reason_of(verifier, BODY, headers) == "bad_signature"


def test_non_ascii_signature_is_bad_signature_not_a_crash(verifier: WebhookVerifier) -> None:
    """Garbage in the header is a refusal, never a TypeError from compare_digest."""
    headers = {"x-zm-request-timestamp": str(NOW), "x-zm-signature": "v0=é\udcff"}
    assert reason_of(verifier, BODY, headers) == "bad_signature"


def test_any_secret_in_rotation_passes() -> None:
    """During rotation both the old and the new secret verify; a third does not."""
    verifier = WebhookVerifier(["old-secret", "new-secret"], clock=FakeClock(NOW))
    verifier.verify(BODY, headers_for(BODY, secret="old-secret"))
    verifier.verify(BODY, headers_for(BODY, secret="new-secret"))
    assert reason_of(verifier, BODY, headers_for(BODY, secret="other")) == "bad_signature"


@pytest.mark.parametrize(
    ("offset", "reason"),
    [
        (0, None),
        (-300, None),
        (300, None),
        (-301, "stale_timestamp"),
        (301, "future_timestamp"),
        (-86_400, "stale_timestamp"),
    ],
)
def test_tolerance_applies_both_ways(offset: int, reason: str | None) -> None:
    """A timestamp up to the tolerance away (past or future) passes; one second more fails."""
    verifier = WebhookVerifier([SECRET], clock=FakeClock(NOW), tolerance=300)
    headers = headers_for(BODY, ts=NOW + offset)
    if reason is None:
        verifier.verify(BODY, headers)
    else:
        assert reason_of(verifier, BODY, headers) == reason


def test_tolerance_is_configurable() -> None:
    """A wider tolerance admits what the default refuses."""
    clock = FakeClock(NOW + 3600)
    assert reason_of(WebhookVerifier([SECRET], clock=clock), BODY, headers_for(BODY)) == (
        "stale_timestamp"
    )
    WebhookVerifier([SECRET], clock=clock, tolerance=5400).verify(BODY, headers_for(BODY))


def test_the_clock_is_read_at_each_call() -> None:
    """The same request verifies now and is stale once the clock has moved on."""
    clock = FakeClock(NOW)
    verifier = WebhookVerifier([SECRET], clock=clock)
    headers = headers_for(BODY)
    verifier.verify(BODY, headers)
    clock.advance(301)
    assert reason_of(verifier, BODY, headers) == "stale_timestamp"


@pytest.mark.parametrize("case", [str.lower, str.upper, str.title, lambda k: k[:5].upper() + k[5:]])
def test_headers_are_case_insensitive(verifier: WebhookVerifier, case: object) -> None:
    """Header names match whatever their case in a plain dict."""
    assert callable(case)
    headers = {case(k): v for k, v in headers_for(BODY).items()}
    verifier.verify(BODY, headers)


def test_tampered_single_byte_fails(verifier: WebhookVerifier) -> None:
    """Flipping any one byte of the body breaks the signature."""
    headers = headers_for(BODY)
    for index in range(len(BODY)):
        tampered = bytearray(BODY)
        tampered[index] ^= 0x01
        assert reason_of(verifier, bytes(tampered), headers) == "bad_signature"


def test_whitespace_reserialised_body_fails(verifier: WebhookVerifier) -> None:
    """The signature covers the raw bytes: a pretty-printed copy of the JSON does not verify."""
    headers = headers_for(BODY)
    assert reason_of(verifier, BODY.replace(b",", b", "), headers) == "bad_signature"


@given(body_a=st.binary(max_size=512), body_b=st.binary(max_size=512))
def test_a_signature_over_one_body_never_verifies_another(body_a: bytes, body_b: bytes) -> None:
    """Property: a signature made over body A is refused for every body B != A."""
    assume(body_a != body_b)
    verifier = WebhookVerifier([SECRET], clock=FakeClock(NOW))
    headers = headers_for(body_a)
    verifier.verify(body_a, headers)
    with pytest.raises(WebhookVerificationError) as caught:
        verifier.verify(body_b, headers)
    assert caught.value.reason == "bad_signature"


@pytest.mark.parametrize("secrets", [[], [""], ["ok", ""]])
def test_empty_secrets_are_a_configuration_error(secrets: list[str]) -> None:
    """A verifier with no usable secret cannot be built."""
    with pytest.raises(ConfigurationError):
        WebhookVerifier(secrets)


def test_a_single_string_is_not_taken_for_a_list_of_secrets() -> None:
    """Passing "secret" instead of ["secret"] fails loudly instead of trusting each letter."""
    with pytest.raises(ConfigurationError):
        WebhookVerifier("secret")


def test_errors_are_zoom_errors_with_a_reason() -> None:
    """The verification error is in zoomq's tree and serialises its reason."""
    error = WebhookVerificationError("stale_timestamp")
    assert isinstance(error, ZoomError)
    assert error.to_dict()["reason"] == "stale_timestamp"
