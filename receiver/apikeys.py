"""Bearer API keys of ``/v1``: who is calling (the key's name is the tenant), and what for.

Keys come from ``settings.jobs.api_keys`` (``ZOOMQ_API_KEYS``). A presented key is hashed
(SHA-256) and compared with the digest of *every* configured key with
``hmac.compare_digest``, without stopping at a match: the time taken depends neither on
which key matched, nor on how much of a wrong key was right, nor on its length.

- no ``Authorization: Bearer`` header, or a key that matches none: 401 with
  ``WWW-Authenticate: Bearer`` (RFC 6750: ``error="invalid_token"`` for a wrong key);
- a key limited to some connections, used for another: 403;
- no key configured at all: 503 ``jobs_disabled`` (``/v1`` is never open without keys).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass

from zoomq.settings import ApiKey

__all__ = [
    "BEARER_REALM",
    "ApiKeys",
    "AuthFailure",
    "Tenant",
    "forbidden",
]

BEARER_REALM = "zoomq"

#: Longest Authorization header read; a longer one is a wrong key (and is not hashed).
_MAX_HEADER = 1024


@dataclass(frozen=True, slots=True)
class Tenant:
    """The caller a key identifies: its name, and the connections it may use (None: all)."""

    name: str
    connections: frozenset[str] | None

    def allows(self, connection: str) -> bool:
        """May this tenant use ``connection`` (a name, the default one resolved)?"""
        return self.connections is None or connection in self.connections


@dataclass(frozen=True, slots=True)
class AuthFailure:
    """Why a request is refused: its status, error code, message and response headers."""

    status: int
    error: str
    message: str
    headers: dict[str, str]


_MISSING = AuthFailure(
    401,
    "unauthorized",
    "send an API key as `Authorization: Bearer <key>`",
    {"WWW-Authenticate": f'Bearer realm="{BEARER_REALM}"'},
)
_WRONG = AuthFailure(
    401,
    "unauthorized",
    "the API key is not valid",
    {"WWW-Authenticate": f'Bearer realm="{BEARER_REALM}", error="invalid_token"'},
)
_DISABLED = AuthFailure(
    503,
    "jobs_disabled",
    "bulk jobs are disabled: no API key is configured (ZOOMQ_API_KEYS)",
    {},
)


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()


class ApiKeys:
    """The configured keys, digested once; ``authenticate`` maps a header to a ``Tenant``."""

    def __init__(self, keys: Sequence[ApiKey]) -> None:
        self._keys = [
            (
                _digest(k.key.get_secret_value()),
                Tenant(k.name, None if k.connections is None else frozenset(k.connections)),
            )
            for k in keys
        ]

    @property
    def enabled(self) -> bool:
        return bool(self._keys)

    def authenticate(self, authorization: str | None) -> Tenant | AuthFailure:
        """The tenant whose key ``authorization`` (the header's value) carries, or why not."""
        if not self._keys:
            return _DISABLED
        if not authorization:
            return _MISSING
        scheme, _, presented = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not presented.strip():
            return _MISSING
        # Hash even an over-long key's prefix, so the refusal costs what a check does.
        digest = _digest(presented.strip()[:_MAX_HEADER])
        found: Tenant | None = None
        for expected, tenant in self._keys:  # every key, no early exit
            if hmac.compare_digest(digest, expected) and found is None:
                found = tenant
        if found is None or len(authorization) > _MAX_HEADER:
            return _WRONG
        return found


def forbidden(tenant: Tenant, connection: str) -> AuthFailure:
    """403 for a connection the tenant's key is not allowed (the key's name, never the key)."""
    return AuthFailure(
        403, "forbidden", f"API key {tenant.name!r} may not use connection {connection!r}", {}
    )
