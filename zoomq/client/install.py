"""One-time OAuth install grants: an operator starts an install, the receiver redeems it once.

``zoomq connections install NAME`` stores an ``InstallGrant`` under the SHA-256 of a random
token and prints a link carrying the token. The receiver's ``/oauth/zoom/install`` takes the
grant out of Redis (``GETDEL``: one use) and only then makes Zoom's ``state``, bound to the
grant. Redis keeps the digest, not the token, so reading Redis yields no usable link.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

from zoomq.client.auth import AuthCodeTokens
from zoomq.client.tokens import TokenStore

if TYPE_CHECKING:
    import redis

__all__ = [
    "CALLBACK_PATH",
    "INSTALL_PATH",
    "INSTALL_TTL",
    "MAX_TOKEN_LENGTH",
    "InstallGrant",
    "grant_key",
    "install_link",
    "installed",
    "issue_grant",
    "receiver_base_url",
    "state_key",
]

#: The receiver's routes of the install.
INSTALL_PATH = "/oauth/zoom/install"
CALLBACK_PATH = "/oauth/zoom/callback"
#: Seconds an install link stays valid unless the operator asks otherwise.
INSTALL_TTL = 600
#: Tokens are 43 characters; anything much longer is not one of ours (and is not hashed).
MAX_TOKEN_LENGTH = 128
_TOKEN_BYTES = 32


@dataclass(frozen=True, slots=True)
class InstallGrant:
    """What an operator allowed: install ``connection``, replacing its tokens if ``replace``."""

    connection: str
    replace: bool = False

    def dumps(self) -> str:
        return json.dumps({"connection": self.connection, "replace": self.replace})

    @classmethod
    def loads(cls, raw: str | bytes) -> InstallGrant:
        """Raises ``ValueError`` for anything but a grant ``dumps`` wrote."""
        data: Any = json.loads(raw)
        if not isinstance(data, dict) or not isinstance(data.get("connection"), str):
            raise ValueError("not an install grant")  # noqa: TRY004 - bad data, not a bad call
        return cls(connection=data["connection"], replace=data.get("replace") is True)


def grant_key(prefix: str, token: str) -> str:
    """The Redis key of the grant behind ``token``."""
    digest = hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()
    return f"{prefix}:oauth_install:{digest}"


def state_key(prefix: str, state: str) -> str:
    """The Redis key of a Zoom ``state`` made from a redeemed grant."""
    return f"{prefix}:oauth_state:{state}"


def issue_grant(client: redis.Redis, prefix: str, grant: InstallGrant, ttl: int) -> str:
    """Store ``grant`` for ``ttl`` seconds; returns the one-time token that redeems it."""
    token = secrets.token_urlsafe(_TOKEN_BYTES)
    client.set(grant_key(prefix, token), grant.dumps(), ex=ttl, nx=True)
    return token


def install_link(base_url: str, token: str) -> str:
    """The link the operator opens: the receiver's install route with the token."""
    return f"{base_url.rstrip('/')}{INSTALL_PATH}?{urlencode({'token': token})}"


def receiver_base_url(redirect_uri: str) -> str | None:
    """The receiver's public base URL, if ``redirect_uri`` is its callback route."""
    parts = urlsplit(redirect_uri)
    path = parts.path.rstrip("/")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    if not path.endswith(CALLBACK_PATH):
        return None
    return f"{parts.scheme}://{parts.netloc}{path.removesuffix(CALLBACK_PATH)}"


def installed(store: TokenStore, connection: str) -> bool:
    """Whether ``connection`` has tokens in ``store`` (expired or not: a refresh token is kept)."""
    return store.get(f"{AuthCodeTokens.kind}:{connection}") is not None
