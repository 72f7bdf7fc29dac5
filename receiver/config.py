"""The receiver's knobs and its webhook endpoints, both derived once from ``Settings``."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from zoomq.clock import Clock
from zoomq.runtime.names import EVENT_TASK
from zoomq.settings import DEFAULT_CONNECTION, Connection, Settings
from zoomq.webhooks import DEFAULT_TOLERANCE, WebhookVerifier
from zoomq.webhooks.envelope import DEFAULT_MAX_DEPTH

__all__ = ["ReceiverConfig", "WebhookEndpoint", "build_endpoints"]


# ReceiverConfig field -> the Settings attribute that overrides it, once Settings has it.
_SETTINGS_FIELDS = {
    "events_queue": "zoomq_events_queue",
    "max_body_bytes": "zoomq_webhook_max_body_bytes",
    "max_depth": "zoomq_webhook_max_depth",
    "signature_tolerance": "zoomq_webhook_tolerance",
    "enqueue_timeout": "zoomq_enqueue_timeout",
    "dedup_ttl": "zoomq_webhook_dedup_ttl",
    "batch_size": "zoomq_enqueue_batch_size",
    "max_pending": "zoomq_enqueue_max_pending",
}


@dataclass(frozen=True, slots=True)
class ReceiverConfig:
    """What the receiver needs beyond the connections; ``from_settings`` fills it."""

    redis_url: str = "redis://127.0.0.1:6379/0"
    #: The Celery queue (= Redis list) webhook events go to, and the task that handles them.
    events_queue: str = "events"
    event_task: str = EVENT_TASK
    #: Larger bodies are refused with 413 before they are read whole.
    max_body_bytes: int = 1 << 20
    #: Bodies nesting objects and arrays deeper than this are refused with 400, before
    #: dedup: the worker's decoder would fail on them and the event would be lost.
    max_depth: int = DEFAULT_MAX_DEPTH
    #: Seconds an ``x-zm-request-timestamp`` may be off, either way.
    signature_tolerance: float = DEFAULT_TOLERANCE
    #: Seconds a request waits for Redis to confirm its event before answering 503.
    #: Zoom gives 3 s and retries only >= 500, so a prompt 503 is the safe failure.
    enqueue_timeout: float = 1.0
    #: Seconds a delivered event is remembered; Zoom's last retry comes ~85 min after the
    #: first attempt, so 3 days is generous while costing ~100 bytes of Redis per event.
    dedup_ttl: int = 3 * 86400
    #: Most events written to Redis in one round, and most waiting for a round.
    batch_size: int = 256
    max_pending: int = 10_000
    #: ``/readyz`` answers 503 if Redis does not answer PING within this many seconds.
    readiness_timeout: float = 0.5
    #: Seconds an OAuth install ``state`` stays valid.
    oauth_state_ttl: int = 600
    #: Prefix of every Redis key the receiver writes (dedup markers, OAuth states).
    key_prefix: str = "zoomq"
    #: Once started, hide everything allocated so far from the cycle collector
    #: (``gc.freeze``): full collections then scan only what requests allocate. Measured
    #: here at full load, p99 ~45 ms -> ~17 ms. Also raises the young-generation threshold
    #: (``GC_YOUNG_THRESHOLD`` in ``receiver.runtime``). Process-wide, so only the server
    #: turns it on (the CLI and the uvicorn factory), not tests or embedders.
    gc_freeze: bool = False

    def __post_init__(self) -> None:
        positive = (
            self.max_body_bytes,
            self.max_depth,
            self.signature_tolerance,
            self.enqueue_timeout,
            self.dedup_ttl,
            self.batch_size,
            self.max_pending,
            self.readiness_timeout,
            self.oauth_state_ttl,
        )
        if min(positive) <= 0:
            raise ValueError("ReceiverConfig sizes, timeouts and TTLs must be positive")

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> ReceiverConfig:
        """Defaults, then whichever of them ``Settings`` defines, then ``overrides``."""
        values: dict[str, Any] = {"redis_url": settings.redis_url}
        for name, attribute in _SETTINGS_FIELDS.items():
            value = getattr(settings, attribute, None)
            if value is not None:
                values[name] = value
        known = {f.name for f in fields(cls)}
        unknown = set(overrides) - known
        if unknown:
            raise TypeError(f"unknown ReceiverConfig fields: {', '.join(sorted(unknown))}")
        return cls(**{**values, **overrides})


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
    config: ReceiverConfig,
    clock: Clock,
    connections: dict[str, Connection] | None = None,
) -> dict[str, WebhookEndpoint]:
    """An endpoint per connection; the default one also takes ``ZOOM_WEBHOOK_SECRET_TOKEN``."""
    conns = settings.connections() if connections is None else connections
    secrets: dict[str, list[str]] = {name: _secrets_of(conn) for name, conn in conns.items()}
    token = settings.zoom_webhook_secret_token
    default = ([token.get_secret_value()] if token else []) + secrets.get(DEFAULT_CONNECTION, [])
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
