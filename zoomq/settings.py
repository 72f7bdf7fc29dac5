"""The one typed settings object, built at the edge (CLI, app factory) and passed down.

Nothing below the edge reads ``os.environ``: it takes a ``Settings``. Its sections
(``settings.http``, ``settings.receiver``, ``settings.queue``, ``settings.archive``,
``settings.jobs``) are
plain models whose fields each name their flat environment variable once
(``ZOOMQ_VISIBILITY_TIMEOUT`` -> ``settings.queue.visibility_timeout``); ``env_vars()``
lists them all, with defaults.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal
from urllib.parse import SplitResult, urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from zoomq.errors import ConfigurationError
from zoomq.logs import scrub_text
from zoomq.webhooks.envelope import DEFAULT_MAX_DEPTH
from zoomq.webhooks.verify import DEFAULT_TOLERANCE

__all__ = [
    "DEFAULT_ARCHIVE_LAYOUT",
    "DEFAULT_CONNECTION",
    "DEFAULT_CONNECTIONS_FILE",
    "DEFAULT_KEY_PREFIX",
    "MIN_API_KEY_LENGTH",
    "SENTINEL_PORT",
    "ApiKey",
    "ArchiveSettings",
    "Connection",
    "ConnectionType",
    "HttpSettings",
    "JobsSettings",
    "Plan",
    "QueueSettings",
    "ReceiverSettings",
    "Settings",
    "env_name",
    "env_vars",
    "sentinel_items",
]

#: The connection built from ``ZOOM_ACCOUNT_ID``, ``ZOOM_CLIENT_ID``, ``ZOOM_CLIENT_SECRET``.
DEFAULT_CONNECTION = "default"

# Values copied from sample configs; running with them can only fail later and more obscurely.
_PLACEHOLDERS = frozenset(
    {"changeme", "change-me", "secret", "xxx", "your_client_secret", "your-client-secret", "todo"}
)

_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

#: What every Redis key zoomq writes starts with (``ZOOMQ_KEY_PREFIX``).
DEFAULT_KEY_PREFIX = "zoomq"

#: Read when it exists and ``ZOOMQ_CONNECTIONS_FILE`` is unset; ``connections add`` writes it.
DEFAULT_CONNECTIONS_FILE = Path("zoomq-connections.json")

_REDIS_SCHEMES = ("redis", "rediss", "unix", "sentinel")

#: A Sentinel's port when REDIS_URL gives none.
SENTINEL_PORT = 26379


def sentinel_items(url: str) -> list[tuple[SplitResult, int]]:
    """Each ``sentinel://`` item of ``url`` (joined by ``;``) with its port; ValueError
    naming what is wrong."""
    found: list[tuple[SplitResult, int]] = []
    for item in filter(None, (part.strip() for part in url.split(";"))):
        parts = urlsplit(item)
        if parts.scheme != "sentinel" or not parts.hostname:
            raise ValueError(f"every ';'-separated item must be sentinel://host:port, not {item!r}")
        try:
            port = parts.port or SENTINEL_PORT
        except ValueError:
            raise ValueError(f"bad port in {item!r}") from None
        found.append((parts, port))
    db = found[0][0].path.strip("/") if found else ""
    if db and not db.isdigit():
        raise ValueError(f"the database must be a number, not {db!r}")
    return found


#: Where an archived file goes under the destination (``ZOOMQ_ARCHIVE_LAYOUT``).
DEFAULT_ARCHIVE_LAYOUT = "{account}/{yyyy}-{mm}/{meeting_uuid}/{file_id}.{ext}"


class Plan(StrEnum):
    """Zoom plan, which fixes the account's rate-limit budgets (ZOOM_API.md §3)."""

    FREE = "free"
    PRO = "pro"
    BUSINESS = "business"


class ConnectionType(StrEnum):
    """How a connection gets its access tokens."""

    SERVER_TO_SERVER = "server_to_server"  # account_credentials grant
    OAUTH = "oauth"  # authorization_code grant with rotating refresh tokens


def _reject_placeholder(
    value: SecretStr | None, field: str, *, several: bool = False
) -> SecretStr | None:
    """Refuse a placeholder; with ``several``, any of the comma-separated values."""
    if value is None:
        return value
    raw = value.get_secret_value()
    values = raw.split(",") if several else [raw]
    if any(v.strip().lower() in _PLACEHOLDERS for v in values):
        raise ValueError(f"{field} is a placeholder value; set the real secret")
    return value


#: The slowest budget a connection may set: one request per 1,000 s (the limiter counts
#: intervals in microseconds, in integers Redis can hold).
_MIN_RATE = 0.001


class Connection(BaseModel):
    """One Zoom app/account zoomq talks to (several may sit side by side)."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    type: ConnectionType = ConnectionType.SERVER_TO_SERVER
    account_id: str | None = None
    client_id: str
    client_secret: SecretStr
    plan: Plan = Plan.PRO
    #: Override of the per-second budget per category, e.g. ``{"light": 10}``.
    rate_limits: dict[str, float] = Field(default_factory=dict)
    #: Every secret that may sign this app's webhooks (several while rotating).
    webhook_secrets: tuple[SecretStr, ...] = ()
    redirect_uri: str | None = None
    scopes: str | None = None
    api_base_url: str | None = None
    oauth_token_url: str | None = None
    oauth_authorize_url: str | None = None

    @field_validator("client_secret")
    @classmethod
    def _secret_not_placeholder(cls, v: SecretStr) -> SecretStr:
        checked = _reject_placeholder(v, "client_secret")
        assert checked is not None
        return checked

    @field_validator("rate_limits")
    @classmethod
    def _budgets_are_rates(cls, v: dict[str, float]) -> dict[str, float]:
        for category, rate in v.items():
            if not math.isfinite(rate) or rate < 0 or 0 < rate < _MIN_RATE:
                raise ValueError(
                    f"rate_limits[{category!r}] must be a finite number of requests per "
                    f"second, at least {_MIN_RATE} (or 0: the plan's)"
                )
        return v

    @field_validator("account_id")
    @classmethod
    def _account_id_not_blank(cls, v: str | None) -> str | None:
        if v is not None and not v.strip():
            raise ValueError("account_id must not be blank")
        return v

    def model_post_init(self, __context: Any) -> None:
        if self.type is ConnectionType.SERVER_TO_SERVER and not self.account_id:
            raise ValueError(f"connection {self.name!r}: server_to_server needs account_id")

    @property
    def rate_key(self) -> str:
        """What rate budgets are counted against: Zoom counts per account."""
        return self.account_id or f"app:{self.name}"


def _env(name: str, default: Any, **constraints: Any) -> Any:
    """A section field read from the flat variable ``name`` (declared here, once)."""
    return Field(default, json_schema_extra={"env": name}, **constraints)


def _env_of(field: FieldInfo) -> str:
    extra = field.json_schema_extra
    assert isinstance(extra, dict), "every section field is declared with _env()"
    return str(extra["env"])


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)


class HttpSettings(_Section):
    """The Zoom API client: timeouts (s), pool size, its own brief retries."""

    timeout: float = _env("ZOOMQ_HTTP_TIMEOUT", 30.0, gt=0)
    connect_timeout: float = _env("ZOOMQ_HTTP_CONNECT_TIMEOUT", 5.0, gt=0)
    max_connections: int = _env("ZOOMQ_HTTP_MAX_CONNECTIONS", 32, gt=0)
    max_attempts: int = _env("ZOOMQ_HTTP_MAX_ATTEMPTS", 4, gt=0)
    #: The longest wait the client sleeps before raising ``RateLimited`` for the queue.
    max_wait: float = _env("ZOOMQ_HTTP_MAX_WAIT", 10.0, ge=0)
    #: Refresh cached access tokens this many seconds before they expire.
    token_refresh_margin: float = _env("ZOOMQ_TOKEN_REFRESH_MARGIN", 300.0, ge=0)


class ReceiverSettings(_Section):
    """What the receiver needs beyond the connections."""

    #: The Celery queue (= Redis list) webhook events go to.
    events_queue: str = _env("ZOOMQ_EVENTS_QUEUE", "events", min_length=1)
    #: Larger bodies are refused with 413 before they are read whole.
    max_body_bytes: int = _env("ZOOMQ_WEBHOOK_MAX_BODY_BYTES", 1 << 20, gt=0)
    #: Bodies nesting objects and arrays deeper than this are refused with 400, before
    #: dedup: the worker's decoder would fail on them and the event would be lost.
    max_depth: int = _env("ZOOMQ_WEBHOOK_MAX_DEPTH", DEFAULT_MAX_DEPTH, gt=0)
    #: Seconds an ``x-zm-request-timestamp`` may be off, either way.
    signature_tolerance: float = _env("ZOOMQ_WEBHOOK_TOLERANCE", DEFAULT_TOLERANCE, gt=0)
    #: Seconds a request waits for Redis to confirm its event before answering 503.
    #: Zoom gives 3 s and retries only >= 500, so a prompt 503 is the safe failure.
    enqueue_timeout: float = _env("ZOOMQ_ENQUEUE_TIMEOUT", 1.0, gt=0)
    #: Seconds a delivered event is remembered; Zoom's last retry comes ~85 min after the
    #: first attempt, so 3 days is generous while costing ~250 bytes of Redis per event
    #: (measured: about 65 MB per sustained event/s; shorten it to save memory).
    dedup_ttl: int = _env("ZOOMQ_WEBHOOK_DEDUP_TTL", 3 * 86400, gt=0)
    #: Most events written to Redis in one round, and most waiting for a round.
    batch_size: int = _env("ZOOMQ_ENQUEUE_BATCH_SIZE", 256, gt=0)
    max_pending: int = _env("ZOOMQ_ENQUEUE_MAX_PENDING", 10_000, gt=0)
    #: ``/readyz`` answers 503 if Redis does not answer PING within this many seconds.
    readiness_timeout: float = _env("ZOOMQ_READINESS_TIMEOUT", 0.5, gt=0)
    #: Seconds an OAuth install ``state`` stays valid.
    oauth_state_ttl: int = _env("ZOOMQ_OAUTH_STATE_TTL", 600, gt=0)
    #: Once started, hide everything allocated so far from the cycle collector
    #: (``gc.freeze``): full collections then scan only what requests allocate. Measured
    #: here at full load, p99 ~45 ms -> ~17 ms. Also raises the young-generation threshold
    #: (``GC_YOUNG_THRESHOLD`` in ``receiver.runtime``). Process-wide, so unless set
    #: explicitly only the server turns it on (``receiver.app.server_config``), not tests
    #: or embedders.
    gc_freeze: bool = _env("ZOOMQ_GC_FREEZE", False)
    #: After each write round, ``WAIT`` for this many replicas (0: do not wait): with
    #: Sentinel, an acknowledged webhook then survives a failover.
    wait_replicas: int = _env("ZOOMQ_REDIS_WAIT_REPLICAS", 0, ge=0)
    #: While the webhook secret is being rotated: a signature made with no known secret
    #: answers 503, which Zoom retries (+5, +20, +60 min), instead of 401, which it does
    #: not; missing and stale signatures stay 401. Off outside a rotation.
    secret_rotation: bool = _env("ZOOMQ_WEBHOOK_SECRET_ROTATION", False)


class QueueSettings(_Section):
    """Retry budgets, backoff, parking and idempotency of the queue layer (the worker)."""

    #: Redis hands an unacknowledged message out again after this long (s).
    visibility_timeout: int = _env("ZOOMQ_VISIBILITY_TIMEOUT", 3600, gt=0)
    #: Hard and soft time limits of one task run (s); below the visibility timeout. A soft
    #: limit not below the hard one becomes 95 % of it.
    task_time_limit: int = _env("ZOOMQ_TASK_TIME_LIMIT", 1800, gt=0)
    task_soft_time_limit: int = _env("ZOOMQ_TASK_SOFT_TIME_LIMIT", 1740, ge=0)
    #: Transient errors (TransportError, ServerError, ...): full-jitter exponential backoff.
    retry_backoff_base: float = _env("ZOOMQ_RETRY_BACKOFF_BASE", 2.0, ge=0)
    retry_backoff_cap: float = _env("ZOOMQ_RETRY_BACKOFF_CAP", 600.0, ge=0)
    max_retries: int = _env("ZOOMQ_MAX_RETRIES", 8, ge=0)
    #: RateLimited: wait its retry_after plus up to this much jitter (s); own budget.
    rate_limit_jitter: float = _env("ZOOMQ_RATE_LIMIT_JITTER", 5.0, ge=0)
    max_rate_limit_retries: int = _env("ZOOMQ_MAX_RATE_LIMIT_RETRIES", 50, ge=0)
    #: DailyLimitExceeded: park until reset_at plus up to this much jitter (s).
    daily_limit_jitter: float = _env("ZOOMQ_DAILY_LIMIT_JITTER", 60.0, ge=0)
    #: The longest Celery countdown; longer waits are parked. 0: half the visibility timeout.
    max_countdown: float = _env("ZOOMQ_MAX_COUNTDOWN", 0.0, ge=0)
    #: Lease of one idempotent step while it runs (s), and how long done records live.
    step_lease: float = _env("ZOOMQ_STEP_LEASE", 300.0, gt=0)
    idempotency_ttl: int = _env("ZOOMQ_IDEMPOTENCY_TTL", 7 * 86_400, gt=0)
    #: How often the worker's scheduler looks for due parked tasks (s).
    scheduler_interval: float = _env("ZOOMQ_SCHEDULER_INTERVAL", 1.0, gt=0)
    #: The declarative rules file (TOML), checked at worker start.
    rules_file: Path | None = _env("ZOOMQ_RULES_FILE", None)
    #: Modules with ``@automation`` functions (comma-separated in the environment).
    automation_modules: tuple[str, ...] = _env("ZOOMQ_AUTOMATION_MODULES", ())
    #: The worker's Prometheus ``/metrics`` port (0: off) and address.
    metrics_port: int = _env("ZOOMQ_WORKER_METRICS_PORT", 0, ge=0, le=65535)
    #: All interfaces, as exporters do: Prometheus scrapes it from elsewhere (port 0 keeps
    #: it closed; nothing on it is secret).
    metrics_host: str = _env("ZOOMQ_WORKER_METRICS_HOST", "0.0.0.0", min_length=1)  # noqa: S104

    @field_validator("automation_modules", mode="before")
    @classmethod
    def _split(cls, v: Any) -> Any:
        """``"a.b, c"`` in the environment; a list or tuple from code."""
        if v is None:
            return ()
        items = v.split(",") if isinstance(v, str) else v
        return tuple(i.strip() for i in items if isinstance(i, str) and i.strip())

    @model_validator(mode="after")
    def _limits(self) -> QueueSettings:
        if self.task_time_limit >= self.visibility_timeout:
            raise ValueError(
                f"ZOOMQ_TASK_TIME_LIMIT ({self.task_time_limit}) must be below "
                f"ZOOMQ_VISIBILITY_TIMEOUT ({self.visibility_timeout}): a task still running "
                "when its message becomes visible again would run twice"
            )
        # Derived values, set once here so every reader sees the same number.
        if self.max_countdown <= 0:
            object.__setattr__(self, "max_countdown", self.visibility_timeout / 2)
        if self.task_soft_time_limit >= self.task_time_limit:
            object.__setattr__(self, "task_soft_time_limit", int(self.task_time_limit * 0.95))
        return self


def _comma_list(v: Any) -> tuple[str, ...]:
    """``"a, b"`` in the environment; a list or tuple from code."""
    if v is None:
        return ()
    items = v.split(",") if isinstance(v, str) else v
    return tuple(i.strip() for i in items if isinstance(i, str) and i.strip())


class ArchiveSettings(_Section):
    """The recording archive: where files go, which ones, and how they are fetched."""

    #: The built-in automation that archives every completed recording file.
    enabled: bool = _env("ZOOMQ_ARCHIVE_ENABLED", True)
    #: A local directory, or ``s3://bucket/prefix``.
    dest: str = _env("ZOOMQ_ARCHIVE_DEST", ".zoomq/archive", min_length=1)
    #: Key of a file under ``dest``: ``{account}``, ``{yyyy}``, ``{mm}``, ``{dd}``,
    #: ``{meeting_id}``, ``{meeting_uuid}``, ``{file_id}``, ``{file_type}``, ``{ext}``, ...
    layout: str = _env("ZOOMQ_ARCHIVE_LAYOUT", DEFAULT_ARCHIVE_LAYOUT, min_length=1)
    #: Zoom ``file_type`` values to archive (MP4, M4A, TRANSCRIPT, ...); empty: all.
    file_types: tuple[str, ...] = _env("ZOOMQ_ARCHIVE_FILE_TYPES", ())
    #: Zoom ``recording_type`` values to archive; empty: all.
    recording_types: tuple[str, ...] = _env("ZOOMQ_ARCHIVE_RECORDING_TYPES", ())
    #: Move a meeting's recordings to Zoom's trash once all of them are archived and verified.
    delete_after: bool = _env("ZOOMQ_ARCHIVE_DELETE_AFTER", False)
    #: The scheduled reconciliation covers the last this many days ...
    sync_days: int = _env("ZOOMQ_ARCHIVE_SYNC_DAYS", 7, gt=0)
    #: ... every this many seconds (0: never).
    sync_interval: float = _env("ZOOMQ_ARCHIVE_SYNC_INTERVAL", 3600.0, ge=0)
    #: Bytes read from the CDN and written to storage at a time.
    chunk_bytes: int = _env("ZOOMQ_ARCHIVE_CHUNK_BYTES", 1 << 20, gt=0)
    #: Hosts besides ``zoom.us`` and ``*.zoom.us`` a download may be redirected to.
    download_hosts: tuple[str, ...] = _env("ZOOMQ_ARCHIVE_DOWNLOAD_HOSTS", ())
    #: Seconds a file's download lock lives without progress (renewed while bytes
    #: arrive): how soon a worker that died lets another resume the file.
    lock_timeout: float = _env("ZOOMQ_ARCHIVE_LOCK_TIMEOUT", 60.0, gt=0)
    #: S3-compatible endpoint (MinIO, moto, ...); unset: AWS.
    s3_endpoint_url: str | None = _env("ZOOMQ_ARCHIVE_S3_ENDPOINT_URL", None)
    s3_region: str | None = _env("ZOOMQ_ARCHIVE_S3_REGION", None)
    #: Size of a multipart upload's parts (S3's minimum is 5 MiB).
    s3_part_bytes: int = _env("ZOOMQ_ARCHIVE_S3_PART_BYTES", 8 << 20, ge=5 << 20)

    @field_validator("dest")
    @classmethod
    def _known_destination(cls, v: str) -> str:
        scheme = v.partition("://")[0] if "://" in v else ""
        if scheme not in ("", "file", "s3"):
            raise ValueError(f"a directory or s3://bucket/prefix, not {scheme}://")
        return v

    @field_validator("s3_endpoint_url", "s3_region", mode="before")
    @classmethod
    def _blank_is_unset(cls, v: Any) -> Any:
        """``ZOOMQ_ARCHIVE_S3_ENDPOINT_URL=`` (as a compose file writes it) means AWS."""
        return None if isinstance(v, str) and not v.strip() else v

    @field_validator("file_types", "recording_types", "download_hosts", mode="before")
    @classmethod
    def _split(cls, v: Any) -> Any:
        return _comma_list(v)

    @field_validator("file_types", mode="after")
    @classmethod
    def _upper(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(t.upper() for t in v)

    @field_validator("download_hosts", mode="after")
    @classmethod
    def _lower(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(h.lower() for h in v)


#: The shortest API key accepted: a shorter one is guessable, or a placeholder.
MIN_API_KEY_LENGTH = 32


class ApiKey(BaseModel):
    """One caller of the bulk jobs API: a tenant's name, its secret, the connections it may use."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    key: SecretStr
    #: None: every connection.
    connections: tuple[str, ...] | None = None

    @field_validator("key")
    @classmethod
    def _real_key(cls, v: SecretStr) -> SecretStr:
        checked = _reject_placeholder(v, "key")
        assert checked is not None
        if len(v.get_secret_value()) < MIN_API_KEY_LENGTH:
            raise ValueError(f"key must be at least {MIN_API_KEY_LENGTH} characters")
        return checked


def _json_list(v: Any, variable: str) -> Any:
    """A JSON list in the environment; a list or tuple from code."""
    if isinstance(v, str):
        try:
            return json.loads(v) if v.strip() else []
        except ValueError as exc:
            raise ValueError(f"{variable} must be a JSON list: {exc}") from None
    return v


class JobsSettings(_Section):
    """Bulk jobs: who may submit them, how they run, how long their state is kept."""

    #: Bearer keys of the ``/v1`` API, one per tenant (JSON list of ``ApiKey``); none:
    #: the API is closed.
    api_keys: tuple[ApiKey, ...] = _env("ZOOMQ_API_KEYS", ())
    #: Seconds a job's state stays in Redis after it finished (or after it was created,
    #: for a job that never finishes).
    retention: int = _env("ZOOMQ_JOB_RETENTION", 7 * 86_400, gt=0)
    #: Items of one job per chunk task.
    chunk_size: int = _env("ZOOMQ_BULK_CHUNK_SIZE", 60, gt=0, le=1000)
    #: Most items in flight at once inside one chunk task (threads): a chunk runs what its
    #: account's budget needs at the client's latency, up to this.
    concurrency: int = _env("ZOOMQ_BULK_CONCURRENCY", 16, gt=0, le=256)
    #: Chunk messages of one job on the ``bulk`` queue at once; the rest wait in the job
    #: and each finished chunk sends the next, so jobs submitted together take turns.
    window: int = _env("ZOOMQ_BULK_WINDOW", 2, gt=0)
    #: Most items one job may hold.
    max_items: int = _env("ZOOMQ_JOB_MAX_ITEMS", 100_000, gt=0)
    #: Most invalid items listed in a refusal (the count covers all of them).
    max_errors: int = _env("ZOOMQ_JOB_MAX_ERRORS", 50, gt=0)
    #: ``host[:port]`` a completion callback may be sent to; none: callbacks are refused.
    callback_hosts: tuple[str, ...] = _env("ZOOMQ_JOB_CALLBACK_HOSTS", ())
    #: Signs callbacks (Standard Webhooks: ``whsec_`` + base64); needed with callback hosts.
    callback_secret: SecretStr | None = _env("ZOOMQ_JOB_CALLBACK_SECRET", None)

    @field_validator("api_keys", mode="before")
    @classmethod
    def _keys_json(cls, v: Any) -> Any:
        return () if v is None else _json_list(v, "ZOOMQ_API_KEYS")

    @field_validator("api_keys", mode="after")
    @classmethod
    def _distinct(cls, v: tuple[ApiKey, ...]) -> tuple[ApiKey, ...]:
        names = [k.name for k in v]
        secrets = [k.key.get_secret_value() for k in v]
        if len(set(names)) != len(names):
            raise ValueError("two API keys have the same name")
        if len(set(secrets)) != len(secrets):
            raise ValueError("two API keys have the same key")
        return v

    @field_validator("callback_hosts", mode="before")
    @classmethod
    def _split(cls, v: Any) -> Any:
        return _comma_list(v)

    @field_validator("callback_hosts", mode="after")
    @classmethod
    def _lower(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(h.lower() for h in v)

    @field_validator("callback_secret")
    @classmethod
    def _standard_webhooks_secret(cls, v: SecretStr | None) -> SecretStr | None:
        if v is None:
            return None
        _reject_placeholder(v, "ZOOMQ_JOB_CALLBACK_SECRET")
        text = v.get_secret_value()
        body = text.removeprefix("whsec_")
        try:
            decoded = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            decoded = b""
        if not text.startswith("whsec_") or len(decoded) < 24:
            raise ValueError("must be whsec_ followed by at least 24 base64-encoded bytes")
        return v

    @model_validator(mode="after")
    def _secret_with_hosts(self) -> JobsSettings:
        if self.callback_hosts and self.callback_secret is None:
            raise ValueError(
                "ZOOMQ_JOB_CALLBACK_HOSTS is set but ZOOMQ_JOB_CALLBACK_SECRET is not: "
                "callbacks are signed"
            )
        return self


#: Settings field -> its section model.
_SECTIONS: dict[str, type[_Section]] = {
    "http": HttpSettings,
    "receiver": ReceiverSettings,
    "queue": QueueSettings,
    "archive": ArchiveSettings,
    "jobs": JobsSettings,
}


def _section_values(env: EnvSettingsSource) -> dict[str, Any]:
    """``{"queue": {"visibility_timeout": "60"}, ...}`` from the flat variables set."""
    found: dict[str, Any] = {}
    for section, model in _SECTIONS.items():
        values = {}
        for name, field in model.model_fields.items():
            raw = env.env_vars.get(_env_of(field).lower())
            if raw is not None:
                values[name] = raw
        if values:
            found[section] = values
    return found


class _FlatEnv(EnvSettingsSource):
    """The process environment, sections read from their flat variables."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        if field_name in _SECTIONS:  # never a variable named HTTP, RECEIVER, QUEUE, JOBS ...
            return None, field_name, False
        return super().get_field_value(field, field_name)

    def __call__(self) -> dict[str, Any]:
        return {**super().__call__(), **_section_values(self)}


class _FlatDotEnv(DotEnvSettingsSource):
    """The ``.env`` file, sections read from their flat variables."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        if field_name in _SECTIONS:
            return None, field_name, False
        return super().get_field_value(field, field_name)

    def __call__(self) -> dict[str, Any]:
        return {**super().__call__(), **_section_values(self)}


class Settings(BaseSettings):
    """All of zoomq's configuration, from the environment (and an optional .env file)."""

    # Inputs are secrets as often as not (a password in REDIS_URL, a client secret): a
    # validation error names the setting and the reason, never the value.
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        hide_input_in_errors=True,
    )

    zoom_account_id: str | None = None
    zoom_client_id: str | None = None
    zoom_client_secret: SecretStr | None = None
    zoom_plan: Plan = Plan.PRO
    zoom_api_base_url: str = "https://api.zoom.us/v2"
    zoom_oauth_token_url: str = "https://zoom.us/oauth/token"  # noqa: S105 - a URL
    zoom_oauth_authorize_url: str = "https://zoom.us/oauth/authorize"
    #: The app's Webhook Secret Token; during a rotation several, comma-separated (Zoom's
    #: tokens have no commas): a signature made with any of them is accepted, the first signs.
    zoom_webhook_secret_token: SecretStr | None = None
    #: Extra hosts that ``rawRequest`` may call with absolute URLs (the sandbox adds its own).
    zoom_api_hosts: tuple[str, ...] = ()

    redis_url: str = "redis://127.0.0.1:6379/0"
    #: The master's name when ``REDIS_URL`` names Sentinels (``zoomq.redis_client``).
    zoomq_redis_sentinel_master: str | None = None
    #: Where prefork workers' children keep their metrics (prometheus_client reads it too).
    prometheus_multiproc_dir: Path | None = None
    #: Every Redis key zoomq writes starts with ``<prefix>:`` (``zoomq.runtime.keys``).
    zoomq_key_prefix: str = Field(DEFAULT_KEY_PREFIX, pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    #: JSON file with a list of connections (see ``Connection``); the default one is read
    #: only if it exists, any other must exist.
    zoomq_connections_file: Path = DEFAULT_CONNECTIONS_FILE
    zoomq_log_format: Literal["auto", "json", "console"] = "auto"
    #: Level of every process's logs (on stderr): DEBUG, INFO, WARNING, ERROR or CRITICAL.
    zoomq_log_level: str = "INFO"

    http: HttpSettings = Field(default_factory=HttpSettings)
    receiver: ReceiverSettings = Field(default_factory=ReceiverSettings)
    queue: QueueSettings = Field(default_factory=QueueSettings)
    archive: ArchiveSettings = Field(default_factory=ArchiveSettings)
    jobs: JobsSettings = Field(default_factory=JobsSettings)

    def __init__(self, **values: Any) -> None:
        # Unknown lines in the environment and .env are ignored, but a keyword that names
        # no field is a mistake in code (an old flat name such as ``zoomq_max_retries``
        # would otherwise fall back to the default without a word).
        unknown = sorted(k for k in values if not k.startswith("_") and k not in _FIELDS)
        if unknown:
            raise TypeError(f"Settings() got unknown fields: {', '.join(unknown)}")
        super().__init__(**values)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The same sources in the same order; only the sections' variables are read flat.
        assert isinstance(dotenv_settings, DotEnvSettingsSource)
        dotenv = _FlatDotEnv(
            settings_cls,
            env_file=dotenv_settings.env_file,
            env_file_encoding=dotenv_settings.env_file_encoding,
        )
        return init_settings, _FlatEnv(settings_cls), dotenv, file_secret_settings

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, v: str) -> str:
        parts = urlsplit(v)
        if parts.scheme not in _REDIS_SCHEMES:
            # The URL may carry Redis's password: the message shows it redacted.
            raise ValueError(
                f"must be a redis://, rediss://, unix:// or sentinel:// URL, not {scrub_text(v)!r}"
            )
        try:
            password = parts.password
        except ValueError:
            password = None
        if password is not None and password.strip().lower() in _PLACEHOLDERS:
            raise ValueError("its password is a placeholder value; set Redis's real password")
        if parts.scheme == "sentinel":
            sentinel_items(v)
        return v

    @model_validator(mode="after")
    def _sentinel_master(self) -> Settings:
        if self.redis_url.startswith("sentinel://") and not self.zoomq_redis_sentinel_master:
            raise ValueError(
                "REDIS_URL names Sentinels: set ZOOMQ_REDIS_SENTINEL_MASTER to the master's name"
            )
        return self

    @field_validator("zoomq_log_level")
    @classmethod
    def _known_level(cls, v: str) -> str:
        level = v.strip().upper()
        level = "WARNING" if level == "WARN" else level
        if level not in _LOG_LEVELS:
            raise ValueError(f"must be one of {', '.join(_LOG_LEVELS)}, not {v!r}")
        return level

    @field_validator("zoom_client_secret", "zoom_webhook_secret_token")
    @classmethod
    def _no_placeholders(cls, v: SecretStr | None, info: Any) -> SecretStr | None:
        several = info.field_name == "zoom_webhook_secret_token"
        return _reject_placeholder(v, info.field_name.upper(), several=several)

    def webhook_secret_tokens(self) -> list[SecretStr]:
        """``ZOOM_WEBHOOK_SECRET_TOKEN``'s values, in order (empty when unset)."""
        if self.zoom_webhook_secret_token is None:
            return []
        raw = self.zoom_webhook_secret_token.get_secret_value().split(",")
        return [SecretStr(v.strip()) for v in raw if v.strip()]

    def connections(self, *, file_required: bool | None = None) -> dict[str, Connection]:
        """Every configured connection by name: the env-defined default plus the file's."""
        found: dict[str, Connection] = {}
        if self.zoom_client_id and self.zoom_client_secret:
            found[DEFAULT_CONNECTION] = self._build(
                {
                    "name": DEFAULT_CONNECTION,
                    "type": ConnectionType.SERVER_TO_SERVER
                    if self.zoom_account_id
                    else ConnectionType.OAUTH,
                    "account_id": self.zoom_account_id,
                    "client_id": self.zoom_client_id,
                    "client_secret": self.zoom_client_secret,
                    "plan": self.zoom_plan,
                    "webhook_secrets": self.webhook_secret_tokens(),
                },
                "environment",
            )
        for raw in self.file_connections(required=file_required):
            conn = self._build(raw, str(self.zoomq_connections_file))
            if conn.name in found:
                raise ConfigurationError(f"connection {conn.name!r} is defined twice")
            found[conn.name] = conn
        return found

    def connection(self, name: str | None = None) -> Connection:
        """One connection by name (the default one when ``name`` is None)."""
        conns = self.connections()
        key = name or DEFAULT_CONNECTION
        if key not in conns:
            if name is None and len(conns) == 1:
                return next(iter(conns.values()))
            known = ", ".join(sorted(conns)) or "none configured"
            raise ConfigurationError(
                f"unknown connection {key!r} (known: {known}); configure one with "
                "ZOOM_ACCOUNT_ID, ZOOM_CLIENT_ID and ZOOM_CLIENT_SECRET, with "
                "`zoomq connections add`, or run `zoomq dev` for the sandbox"
            )
        return conns[key]

    def api_base_url(self, conn: Connection) -> str:
        return (conn.api_base_url or self.zoom_api_base_url).rstrip("/")

    def token_url(self, conn: Connection) -> str:
        return conn.oauth_token_url or self.zoom_oauth_token_url

    def authorize_url(self, conn: Connection) -> str:
        return conn.oauth_authorize_url or self.zoom_oauth_authorize_url

    def file_connections(self, *, required: bool | None = None) -> list[dict[str, Any]]:
        """The raw entries of the connections file (a list, or ``{"connections": [...]}``).

        A missing file is an error when ``required`` (by default: unless it is the default
        file, which is read only if present; any other path was set to be read).
        """
        path = self.zoomq_connections_file
        if required is None:
            required = path != DEFAULT_CONNECTIONS_FILE
        try:
            data = json.loads(Path(path).read_text())
        except FileNotFoundError:
            if required:
                raise ConfigurationError(f"ZOOMQ_CONNECTIONS_FILE: {path} does not exist") from None
            return []
        except (OSError, ValueError) as exc:
            raise ConfigurationError(f"cannot read connections file {path}: {exc}") from exc
        items = data.get("connections", []) if isinstance(data, dict) else data
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise ConfigurationError(f"{path}: expected a list of connection objects")
        return items

    @staticmethod
    def _build(raw: dict[str, Any], where: str) -> Connection:
        try:
            return Connection.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            loc = ".".join(str(p) for p in first["loc"]) or "connection"
            raise ConfigurationError(f"{where}: {loc}: {first['msg']}") from exc


def env_vars() -> dict[str, tuple[tuple[str, ...], Any]]:
    """Every environment variable ``Settings`` reads -> (its path in Settings, its default)."""
    found: dict[str, tuple[tuple[str, ...], Any]] = {}
    for name, field in Settings.model_fields.items():
        section = _SECTIONS.get(name)
        if section is None:
            found[name.upper()] = ((name,), field.get_default(call_default_factory=True))
            continue
        for sub, subfield in section.model_fields.items():
            found[_env_of(subfield)] = ((name, sub), subfield.get_default())
    return found


def env_name(loc: tuple[int | str, ...]) -> str:
    """The variable behind a validation error's location (``("queue", "max_retries")``)."""
    if len(loc) >= 2 and loc[0] in _SECTIONS:
        field = _SECTIONS[str(loc[0])].model_fields.get(str(loc[1]))
        if field is not None:
            return _env_of(field)
    if len(loc) == 1 and loc[0] in _SECTIONS:
        return ""  # a rule across fields: its message names their variables
    return ".".join(str(p) for p in loc).upper()


_FIELDS = frozenset(Settings.model_fields)
