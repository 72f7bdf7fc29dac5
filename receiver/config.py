"""The receiver's webhook endpoints, derived once from ``Settings``.

The receiver's knobs are ``settings.receiver`` (``zoomq.settings.ReceiverSettings``).
"""

from __future__ import annotations

from dataclasses import dataclass

from zoomq.clock import Clock
from zoomq.settings import DEFAULT_CONNECTION, Connection, ReceiverSettings, Settings
from zoomq.webhooks import WebhookVerifier

__all__ = ["WebhookEndpoint", "build_endpoints"]


@dataclass(frozen=True, slots=True)
class WebhookEndpoint:
    """One ``/webhooks/zoom[/{connection}]`` endpoint: its connection and secrets.

    ``verifier`` is None when no secret is configured: such an endpoint refuses everything.
    """

    connection: str
    secrets: tuple[str, ...]
    verifier: WebhookVerifier | None


def _secrets_of(conn: Connection | None) -> list[str]:
    if conn is None:
        return []
    return [s.get_secret_value() for s in conn.webhook_secrets]


def build_endpoints(
    settings: Settings,
    config: ReceiverSettings,
    clock: Clock,
    connections: dict[str, Connection] | None = None,
) -> dict[str, WebhookEndpoint]:
    """An endpoint per connection; the default one also takes ``ZOOM_WEBHOOK_SECRET_TOKEN``."""
    conns = settings.connections() if connections is None else connections
    secrets: dict[str, list[str]] = {name: _secrets_of(conn) for name, conn in conns.items()}
    env_tokens = [t.get_secret_value() for t in settings.webhook_secret_tokens()]
    default = env_tokens + secrets.get(DEFAULT_CONNECTION, [])
    secrets[DEFAULT_CONNECTION] = default
    endpoints = {}
    for name, found in secrets.items():
        unique = tuple(dict.fromkeys(s for s in found if s))  # drop repeats, keep order
        verifier = (
            WebhookVerifier(unique, tolerance=config.signature_tolerance, clock=clock)
            if unique
            else None
        )
        endpoints[name] = WebhookEndpoint(connection=name, secrets=unique, verifier=verifier)
    return endpoints
