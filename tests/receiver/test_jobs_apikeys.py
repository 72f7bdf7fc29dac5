"""Bearer API keys: the tenant by its key, every key compared, 401 / 403 / 503 as documented."""

from __future__ import annotations

import hmac

import pytest

from receiver import apikeys
from receiver.apikeys import ApiKeys, AuthFailure, Tenant, forbidden
from zoomq.settings import ApiKey

KEY_A = "a" * 40
KEY_B = "b-key-" + "x" * 40
KEY_C = "c-key-" + "y" * 40


def keys() -> ApiKeys:
    return ApiKeys(
        [
            ApiKey(name="tenant-a", key=KEY_A),
            ApiKey(name="tenant-b", key=KEY_B, connections=("acme",)),
            ApiKey(name="tenant-c", key=KEY_C),
        ]
    )


def test_each_key_names_its_tenant() -> None:
    """A configured key, with any case of the scheme, gives its tenant and connections."""
    found = keys().authenticate(f"Bearer {KEY_A}")
    assert found == Tenant("tenant-a", None)
    assert keys().authenticate(f"bearer  {KEY_B} ") == Tenant("tenant-b", frozenset({"acme"}))


@pytest.mark.parametrize(
    ("header", "error"),
    [
        (None, None),
        ("", None),
        (f"Basic {KEY_A}", None),
        ("Bearer", None),
        ("Bearer ", None),
        (f"Bearer {KEY_A[:-1]}", "invalid_token"),
        (f"Bearer {KEY_A}x", "invalid_token"),
        ("Bearer " + "z" * 5000, "invalid_token"),
    ],
)
def test_missing_or_wrong_key_is_401_with_a_challenge(
    header: str | None, error: str | None
) -> None:
    """No key: a bare Bearer challenge; a wrong one: error="invalid_token" (RFC 6750)."""
    found = keys().authenticate(header)
    assert isinstance(found, AuthFailure)
    assert found.status == 401
    challenge = found.headers["WWW-Authenticate"]
    assert challenge.startswith('Bearer realm="zoomq"')
    assert ("invalid_token" in challenge) == (error is not None)
    assert KEY_A not in found.message


def test_every_key_is_compared_whichever_matches(monkeypatch: pytest.MonkeyPatch) -> None:
    """No early exit: the first key, the last key and a wrong key cost the same comparisons,
    each of two fixed-length digests (so a key's length does not show either)."""
    calls: list[tuple[int, int]] = []
    compare = hmac.compare_digest

    def counting(a: bytes, b: bytes) -> bool:
        calls.append((len(a), len(b)))
        return compare(a, b)

    monkeypatch.setattr(apikeys.hmac, "compare_digest", counting)
    api = keys()
    for header in (f"Bearer {KEY_A}", f"Bearer {KEY_C}", "Bearer wrong", f"Bearer {KEY_B}"):
        calls.clear()
        api.authenticate(header)
        assert calls == [(32, 32)] * 3


def test_no_key_configured_is_disabled() -> None:
    """Without keys /v1 is never open: 503 jobs_disabled, whatever is sent."""
    found = ApiKeys([]).authenticate(f"Bearer {KEY_A}")
    assert isinstance(found, AuthFailure)
    assert (found.status, found.error) == (503, "jobs_disabled")


def test_a_connection_the_key_may_not_use_is_403() -> None:
    """The 403 names the key's name and the connection, never the key."""
    tenant = Tenant("tenant-b", frozenset({"acme"}))
    assert tenant.allows("acme")
    assert not tenant.allows("default")
    refusal = forbidden(tenant, "default")
    assert refusal.status == 403
    assert "tenant-b" in refusal.message
    assert "default" in refusal.message
