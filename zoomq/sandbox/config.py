"""How one sandbox is set up: seed, data volumes, plan, OAuth apps, time and hooks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from zoomq.clock import Clock, SystemClock
from zoomq.errors import ConfigurationError
from zoomq.settings import Plan

__all__ = [
    "DEFAULT_APP",
    "DEFAULT_SCOPES",
    "MAX_ACCOUNTS",
    "AccountEventHook",
    "EventHook",
    "OAuthApp",
    "SandboxConfig",
]

#: The most accounts one sandbox hosts (each is seeded in memory at start-up).
MAX_ACCOUNTS = 200

#: Classic admin scopes, enough for every endpoint the sandbox serves.
DEFAULT_SCOPES = (
    "user:read:admin user:write:admin meeting:read:admin meeting:write:admin "
    "webinar:read:admin webinar:write:admin recording:read:admin "
    "chat_channel:read:admin chat_message:read:admin phone:read:admin "
    "phone_recording:read:admin"
)

#: Called with (event name, the event's ``payload.object``) after each change of state,
#: synchronously on the server's event loop: enqueue the event, do not send it from here.
EventHook = Callable[[str, dict[str, Any]], None]
#: Like ``EventHook``, with the id of the account whose state changed as third argument.
AccountEventHook = Callable[[str, dict[str, Any], str], None]


@dataclass(frozen=True)
class OAuthApp:
    """A Zoom app the sandbox knows: serves both the S2S and the authorization-code grants.

    ``redirect_uris`` empty means any redirect URI is accepted by ``/oauth/authorize``.
    """

    client_id: str
    client_secret: str
    account_id: str
    redirect_uris: tuple[str, ...] = ()
    scopes: str = DEFAULT_SCOPES


#: Sandbox credentials are not secrets: they are printed by ``zoomq sandbox``.
DEFAULT_APP = OAuthApp(
    client_id="sandbox-client",
    client_secret="sandbox-secret",  # noqa: S106 - a fixed, published sandbox credential
    account_id="sandbox-account",
)


@dataclass(frozen=True)
class SandboxConfig:
    """Everything a sandbox needs; every field has a default that suits a test."""

    seed: int = 1
    #: Active users, the owner included (one pending and one inactive user are added).
    users: int = 12
    #: Scheduled meetings of the owner (other users get ``meetings_per_user``).
    meetings: int = 40
    meetings_per_user: int = 2
    #: Approved registrants of the seeded registration meeting / webinar (a few pending
    #: and denied ones come on top).
    registrants: int = 35
    webinar_registrants: int = 35
    #: Participants of the seeded past webinar.
    webinar_participants: int = 45
    #: Cloud recordings of the owner, spread over the last 60 days (one today).
    recordings: int = 12
    #: Call recordings per phone user (the owner and two others), over the last 25 days.
    phone_recordings: int = 40
    chat_channels: int = 15
    #: Messages in each channel and between the owner and the seeded contact.
    chat_messages: int = 60

    #: Accounts served side by side, each with its own app, seeded data, plan and rate
    #: counters. Account 1 is ``apps[0]``'s; account k > 1 gets ``<client_id>-k``,
    #: ``<client_secret>-k`` and ``<account_id>-k`` of that app and seed ``account_seed``.
    accounts: int = 1
    plan: Plan = Plan.PRO
    #: Plans of accounts 1, 2, ...; accounts beyond the tuple take ``plan``.
    plans: tuple[Plan | str, ...] = ()
    #: False switches every limit off: account budgets, the per-user meeting cap, createUser.
    rate_limits: bool = True
    #: Multiplies every budget (per-second, per-minute, daily); small values make tests fast.
    rate_scale: float = 1.0
    #: Meeting create/update requests per host user per UTC day; None switches the cap off.
    user_meeting_daily_cap: int | None = 100
    #: Additions of one email to one meeting/webinar per UTC day, per endpoint (single
    #: add, batch); the next is Zoom's 429. None switches the cap off.
    registrant_daily_cap: int | None = 3
    #: Registrants one meeting/webinar takes (Zoom: 4,999 per meeting) before 3043;
    #: None: no cap, so benchmarks can register more.
    registrant_capacity: int | None = None

    apps: tuple[OAuthApp, ...] = (DEFAULT_APP,)
    token_ttl: int = 3600
    auth_code_ttl: int = 300
    download_token_ttl: int = 86400
    #: Lifetime of the signed "CDN" URL /rec/download redirects to.
    cdn_url_ttl: int = 600
    page_token_ttl: float = 900.0
    #: How long a "hang" fault holds the request (unless the fault says otherwise).
    hang_seconds: float = 30.0
    #: Seconds added before each ``/v2`` answer, uniform at random between the two (what
    #: the network and Zoom's servers add); None: answer at once.
    latency: tuple[float, float] | None = None
    #: The most recent requests kept in ``state.requests`` (the counters count all).
    request_log_size: int = 10_000

    #: Base URL written into join/start/download URLs; the server sets it to its own URL.
    public_url: str | None = None
    #: "Now" for the seeded data (start times, recordings); None: the clock at start-up.
    epoch: float | None = None
    clock: Clock = field(default_factory=SystemClock)

    #: Gets every account's events (without saying whose: see ``on_account_event``).
    on_event: EventHook | None = None
    #: Called beside ``on_event``, with the account id: what a many-account hook needs.
    on_account_event: AccountEventHook | None = None
    #: Reserved for the webhook sender, which reads them from the config.
    webhook_url: str | None = None
    webhook_secret: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "plan", _plan(self.plan))
        object.__setattr__(self, "plans", tuple(_plan(p) for p in self.plans))
        if not 1 <= self.accounts <= MAX_ACCOUNTS:
            raise ConfigurationError(f"sandbox: accounts must be 1..{MAX_ACCOUNTS}")
        if len(self.plans) > self.accounts:
            raise ConfigurationError("sandbox: more plans than accounts")
        counts = {
            "users": self.users,
            "meetings": self.meetings,
            "meetings_per_user": self.meetings_per_user,
            "registrants": self.registrants,
            "webinar_registrants": self.webinar_registrants,
            "webinar_participants": self.webinar_participants,
            "recordings": self.recordings,
            "phone_recordings": self.phone_recordings,
            "chat_channels": self.chat_channels,
            "chat_messages": self.chat_messages,
        }
        for name, value in counts.items():
            if value < 0:
                raise ConfigurationError(f"sandbox: {name} must not be negative")
        if self.users < 3:
            raise ConfigurationError("sandbox: users must be at least 3 (owner, contact, member)")
        if self.meetings < 4:
            raise ConfigurationError("sandbox: meetings must be at least 4 (the seeded kinds)")
        if self.rate_scale <= 0:
            raise ConfigurationError("sandbox: rate_scale must be positive")
        if self.latency is not None and not 0 <= self.latency[0] <= self.latency[1] <= 60:
            raise ConfigurationError("sandbox: latency must be (low, high), 0 <= low <= high <= 60")
        if not self.apps:
            raise ConfigurationError("sandbox: at least one OAuth app is needed")
        apps = self.all_apps
        if len({a.client_id for a in apps}) != len(apps):
            raise ConfigurationError("sandbox: client_id values must be unique")
        for cap in ("user_meeting_daily_cap", "registrant_daily_cap", "registrant_capacity"):
            value = getattr(self, cap)
            if value is not None and value < 1:
                raise ConfigurationError(f"sandbox: {cap} must be >= 1 or None")

    @property
    def owner_app(self) -> OAuthApp:
        """The first app: its account is the sandbox's first account."""
        return self.apps[0]

    def account_plan(self, number: int) -> Plan:
        """The plan of account ``number`` (1-based)."""
        plans = self.plans
        return Plan(plans[number - 1]) if number <= len(plans) else self.plan

    def account_app(self, number: int) -> OAuthApp:
        """The app of account ``number``: ``apps[0]`` for 1, derived from it for the others."""
        owner = self.owner_app
        if number == 1:
            return owner
        return OAuthApp(
            client_id=f"{owner.client_id}-{number}",
            client_secret=f"{owner.client_secret}-{number}",
            account_id=f"{owner.account_id}-{number}",
            scopes=owner.scopes,
        )

    def account_seed(self, number: int) -> int:
        """The seed of account ``number``: ``seed`` for 1, a different one for each other."""
        return self.seed if number == 1 else self.seed + 100_003 * (number - 1)

    @property
    def all_apps(self) -> tuple[OAuthApp, ...]:
        """``apps`` and the derived apps of accounts 2..N."""
        return self.apps + tuple(self.account_app(n) for n in range(2, self.accounts + 1))


def _plan(value: Plan | str) -> Plan:
    try:
        return Plan(value)
    except ValueError:
        raise ConfigurationError(f"sandbox: unknown plan {value!r}") from None
