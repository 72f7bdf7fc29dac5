"""The one typed settings object, built at the edge (CLI, app factory) and passed down.

Nothing below the edge reads ``os.environ``: it takes a ``Settings``.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from zoomq.errors import ConfigurationError

__all__ = ["DEFAULT_CONNECTION", "Connection", "ConnectionType", "Plan", "Settings"]

#: The connection built from ``ZOOM_ACCOUNT_ID``, ``ZOOM_CLIENT_ID``, ``ZOOM_CLIENT_SECRET``.
DEFAULT_CONNECTION = "default"

# Values copied from sample configs; running with them can only fail later and more obscurely.
_PLACEHOLDERS = frozenset(
    {"changeme", "change-me", "secret", "xxx", "your_client_secret", "your-client-secret", "todo"}
)

_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class Plan(StrEnum):
    """Zoom plan, which fixes the account's rate-limit budgets (ZOOM_API.md §3)."""

    FREE = "free"
    PRO = "pro"
    BUSINESS = "business"


class ConnectionType(StrEnum):
    """How a connection gets its access tokens."""

    SERVER_TO_SERVER = "server_to_server"  # account_credentials grant
    OAUTH = "oauth"  # authorization_code grant with rotating refresh tokens


def _reject_placeholder(value: SecretStr | None, field: str) -> SecretStr | None:
    if value is not None and value.get_secret_value().strip().lower() in _PLACEHOLDERS:
        raise ValueError(f"{field} is a placeholder value; set the real secret")
    return value


class Connection(BaseModel):
    """One Zoom app/account zoomq talks to (several may sit side by side)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

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


class Settings(BaseSettings):
    """All of zoomq's configuration, from the environment (and an optional .env file)."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    zoom_account_id: str | None = None
    zoom_client_id: str | None = None
    zoom_client_secret: SecretStr | None = None
    zoom_plan: Plan = Plan.PRO
    zoom_api_base_url: str = "https://api.zoom.us/v2"
    zoom_oauth_token_url: str = "https://zoom.us/oauth/token"  # noqa: S105 - a URL
    zoom_oauth_authorize_url: str = "https://zoom.us/oauth/authorize"
    zoom_webhook_secret_token: SecretStr | None = None
    #: Extra hosts that ``rawRequest`` may call with absolute URLs (the sandbox adds its own).
    zoom_api_hosts: tuple[str, ...] = ()

    redis_url: str = "redis://127.0.0.1:6379/0"
    #: JSON file with a list of connections (see ``Connection``).
    zoomq_connections_file: Path | None = None
    zoomq_log_format: Literal["auto", "json", "console"] = "auto"
    #: Level of every process's logs (on stderr): DEBUG, INFO, WARNING, ERROR or CRITICAL.
    zoomq_log_level: str = "INFO"

    #: HTTP client: timeouts (s), pool size, and the longest wait it sleeps before
    #: raising ``RateLimited`` for the queue to handle.
    zoomq_http_timeout: float = 30.0
    zoomq_http_connect_timeout: float = 5.0
    zoomq_http_max_connections: int = 32
    zoomq_http_max_attempts: int = 4
    zoomq_http_max_wait: float = 10.0
    #: Refresh cached access tokens this many seconds before they expire.
    zoomq_token_refresh_margin: float = 300.0

    # The receiver.
    zoomq_events_queue: str = "events"
    #: Larger webhook bodies get 413 without being read whole.
    zoomq_webhook_max_body_bytes: int = 1_048_576
    #: Webhook bodies nesting objects and arrays deeper than this get 400.
    zoomq_webhook_max_depth: int = 64
    #: How far (s) a webhook's timestamp may be from now, either way.
    zoomq_webhook_tolerance: float = 300.0
    #: A webhook not safely in Redis within this many seconds gets 503 (Zoom retries).
    zoomq_enqueue_timeout: float = 1.0
    #: How long a delivered event's body is remembered, to acknowledge redeliveries.
    zoomq_webhook_dedup_ttl: int = 259_200
    zoomq_enqueue_batch_size: int = 256
    zoomq_enqueue_max_pending: int = 10_000

    # The worker. ``None`` means the default in ``tasks.config.QueueConfig``.
    #: The declarative rules file (TOML), checked at worker start.
    zoomq_rules_file: Path | None = None
    #: Comma-separated modules with ``@automation`` functions.
    zoomq_automation_modules: str | None = None
    zoomq_visibility_timeout: int | None = None
    zoomq_task_time_limit: int | None = None
    zoomq_task_soft_time_limit: int | None = None
    zoomq_retry_backoff_base: float | None = None
    zoomq_retry_backoff_cap: float | None = None
    zoomq_max_retries: int | None = None
    zoomq_rate_limit_jitter: float | None = None
    zoomq_max_rate_limit_retries: int | None = None
    zoomq_daily_limit_jitter: float | None = None
    zoomq_max_countdown: float | None = None
    zoomq_step_lease: float | None = None
    zoomq_idempotency_ttl: int | None = None
    zoomq_scheduler_interval: float | None = None

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
        return _reject_placeholder(v, info.field_name.upper())

    def connections(self) -> dict[str, Connection]:
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
                    "webhook_secrets": [self.zoom_webhook_secret_token]
                    if self.zoom_webhook_secret_token
                    else [],
                },
                "environment",
            )
        for raw in self.file_connections():
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

    def file_connections(self) -> list[dict[str, Any]]:
        """The raw entries of the connections file (a list, or ``{"connections": [...]}``)."""
        path = self.zoomq_connections_file
        if path is None:
            return []
        try:
            data = json.loads(Path(path).read_text())
        except FileNotFoundError:
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
