"""The sandbox's whole state: its accounts, tokens, faults, request log.

Each account (``accounts.Account``) has its own seeded resources and budgets; the
attributes ``store``, ``seeded``, ``ids``, ``limiter`` and ``pages`` are account 1's.

Tests hold the ``SandboxState`` (``SandboxServer.state`` or ``app.state.sandbox``)
and may read it, inject faults, add recordings or issue download tokens from their
own thread: request handlers run under ``state.lock``.
"""

from __future__ import annotations

import hashlib
import threading
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple

from zoomq.sandbox.accounts import Account
from zoomq.sandbox.config import OAuthApp, SandboxConfig
from zoomq.sandbox.downloads import DownloadFaults, DownloadRecord, UrlSigner
from zoomq.sandbox.faults import FaultInjector
from zoomq.sandbox.files import FileInfo
from zoomq.sandbox.ids import IdFactory
from zoomq.sandbox.oauth import TokenStore
from zoomq.sandbox.objects import meeting_object
from zoomq.sandbox.pagination import PageTokens
from zoomq.sandbox.ratelimits import RateLimiter
from zoomq.sandbox.seed import SeededIds, build_recording
from zoomq.sandbox.store import Store

__all__ = ["RequestRecord", "SandboxState"]

_MIB = 1024 * 1024
DEFAULT_TEST_BASE_URL = "http://testserver"  # what Starlette's TestClient calls itself


class RequestRecord(NamedTuple):
    """One request the sandbox answered."""

    method: str
    path: str
    status: int
    time: float


class SandboxState:
    """Everything one sandbox knows; see the attributes for what tests may inspect."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.clock = config.clock
        self.lock = threading.RLock()
        self.base_url = (config.public_url or DEFAULT_TEST_BASE_URL).rstrip("/")
        self.api_base_url = self.base_url + "/v2"
        secret = hashlib.sha256(f"zoomq-sandbox:{config.seed}".encode()).digest()
        self.oauth = TokenStore(config, self.clock, api_url=self.base_url)
        self.faults = FaultInjector(config.seed, config.hang_seconds)
        self.signer = UrlSigner(secret, self.clock, config.cdn_url_ttl, self.base_url)
        #: The accounts, account 1 first (``account(n)`` finds one by number or id).
        self.accounts: tuple[Account, ...] = tuple(
            Account(
                config,
                number,
                clock=self.clock,
                base_url=self.base_url,
                emit=self._emit,
                issue_download_token=self.oauth.issue_download_token,
            )
            for number in range(1, config.accounts + 1)
        )
        self._by_key: dict[str, Account] = {}
        for account in self.accounts:
            self._by_key[str(account.number)] = account
            self._by_key[account.account_id] = account
        #: Each app's account: its own, or account 1 for an extra app of ``config.apps``
        #: whose account id is none of the sandbox's (they all shared one account before).
        self._by_client = {
            app.client_id: self._by_key.get(app.account_id, self.accounts[0])
            for app in config.all_apps
        }
        #: The most recent requests (``config.request_log_size``); counters cover all.
        self.requests: deque[RequestRecord] = deque(maxlen=config.request_log_size)
        self.request_count = 0
        self.status_counts: Counter[int] = Counter()
        #: Recent (event name, payload object) pairs, as passed to ``config.on_event``.
        self.events: deque[tuple[str, dict[str, Any]]] = deque(maxlen=1000)
        #: Per file id, the offset each CDN response started at (0: the whole file).
        self.range_log: dict[str, list[int]] = {}
        #: Recent requests to download URLs, with their query and how they were authorised.
        self.download_log: deque[DownloadRecord] = deque(maxlen=config.request_log_size)
        #: Cut-offs and foreign redirects of downloads (``downloads.DownloadFaults``).
        self.download_faults = DownloadFaults()
        self._tracking = 0
        self._tracking_prefix = f"v=2.0;clid=us05;rid=WEB_{config.seed:08x}"
        self._build()

    def _build(self) -> None:
        config = self.config
        self.epoch = config.epoch if config.epoch is not None else self.clock.time()
        taken: set[int] = set()  # numeric ids are unique across the accounts
        for account in self.accounts:
            account.build(self.epoch, taken)

    # accounts ----------------------------------------------------------------------

    def account(self, key: int | str) -> Account:
        """An account by number (``1``, ``"2"``) or account id; KeyError if none."""
        return self._by_key[str(key)]

    def account_of(self, app: OAuthApp) -> Account:
        """The account an app's tokens act on."""
        return self._by_client.get(app.client_id, self.accounts[0])

    @property
    def default_account(self) -> Account:
        return self.accounts[0]

    # account 1, as a one-account sandbox always had it -------------------------------

    @property
    def store(self) -> Store:
        return self.accounts[0].store

    @property
    def seeded(self) -> SeededIds:
        return self.accounts[0].seeded

    @property
    def ids(self) -> IdFactory:
        return self.accounts[0].ids

    @property
    def limiter(self) -> RateLimiter:
        return self.accounts[0].limiter

    @property
    def pages(self) -> PageTokens:
        return self.accounts[0].pages

    # what the middleware and handlers call -------------------------------------------

    def next_tracking_id(self) -> bytes:
        self._tracking += 1
        return f"{self._tracking_prefix}{self._tracking:016x}".encode()

    def record(self, method: str, path: str, status: int) -> None:
        self.request_count += 1
        self.status_counts[status] += 1
        self.requests.append(RequestRecord(method, path, status, self.clock.time()))

    def emit(self, event: str, obj: dict[str, Any]) -> None:
        """Record a change of account 1's state (see ``Account.emit``)."""
        self.accounts[0].emit(event, obj)

    def _emit(self, account: Account, event: str, obj: dict[str, Any]) -> None:
        """Record a change and pass it to ``config.on_event`` / ``on_account_event``.

        Runs on the server's event loop under the lock: the hooks must only enqueue
        (``SandboxEmitter`` does, into a bounded queue).
        """
        self.events.append((event, obj))
        hook = self.config.on_event
        if hook is not None:
            hook(event, obj)
        account_hook = self.config.on_account_event
        if account_hook is not None:
            account_hook(event, obj, account.account_id)

    # what tests call ---------------------------------------------------------------

    def issue_download_token(self, ttl: float | None = None) -> str:
        """A recording download token, like ``recording.completed``'s (24 h by default)."""
        return self.oauth.issue_download_token(ttl)

    def add_recording(
        self,
        meeting: int | str | Mapping[str, Any],
        file_sizes: Iterable[int] = (8 * _MIB, _MIB),
        *,
        start_time: float | None = None,
        minutes: int = 30,
        account: int | str = 1,
    ) -> dict[str, Any]:
        """Record ``meeting`` (id, UUID-less id string, or the meeting object) once more.

        One file per size: MP4, M4A, TRANSCRIPT, CHAT, ... The first recording of a
        meeting takes the meeting's UUID, later ones a new instance UUID. Returns the
        recording object, as ``GET /meetings/{id}/recordings`` shows it.
        """
        key = meeting["id"] if isinstance(meeting, Mapping) else meeting
        owner = self.account(account)
        with self.lock:
            found = owner.store.meetings.get(int(key))
            if found is None:
                raise KeyError(f"no meeting {key}")
            uuid = found["uuid"] if found["uuid"] not in owner.store.recordings else None
            return build_recording(
                owner.ids,
                owner.store,
                found,
                uuid=uuid or owner.ids.meeting_uuid(),
                start=self.clock.time() - minutes * 60 if start_time is None else start_time,
                minutes=minutes,
                sizes=list(file_sizes),
            )

    def complete_recordings(
        self,
        user: str,
        count: int,
        file_sizes: Iterable[int] = (8 * _MIB, _MIB),
        *,
        topic: str = "Sandbox recording",
        account: int | str = 1,
    ) -> list[dict[str, Any]]:
        """``count`` new meetings of ``user`` (id or email), each recorded and completed now.

        Each emits ``recording.completed`` (to ``--webhook-url``, if any) as Zoom would;
        nothing remembers whether anyone received it, which is how outages are staged.
        Returns the recording objects.
        """
        sizes = list(file_sizes)
        done: list[dict[str, Any]] = []
        owner = self.account(account)
        with self.lock:
            host = owner.store.user(user)
            for n in range(count):
                meeting = meeting_object(
                    owner.ids,
                    base_url=self.base_url,
                    host=host,
                    topic=f"{topic} {n + 1}",
                    meeting_type=2,
                    start_time=self.clock.time() - 3600,
                    duration=30,
                    timezone=host.get("timezone") or "UTC",
                    created_at=self.clock.time() - 7200,
                )
                owner.store.add_meeting(meeting)
                done.append(self.add_recording(meeting, sizes, account=owner.number))
        for recording in done:
            owner.emit("recording.completed", recording)
        return done

    def file(self, file_id: str, token: str | None = None) -> FileInfo | None:
        """A recording file: of the token's account for an access token, else of any."""
        access = self.oauth.find(token) if token else None
        if access is not None:
            return self.account_of(access.app).store.files.get(file_id)
        for account in self.accounts:
            info = account.store.files.get(file_id)
            if info is not None:
                return info
        return None

    def count(
        self, method: str | None = None, path: str | Callable[[str], bool] | None = None
    ) -> int:
        """How many logged requests match ``method`` and ``path`` (a string or a predicate)."""
        total = 0
        for record in list(self.requests):
            if method is not None and record.method != method:
                continue
            if isinstance(path, str) and record.path != path:
                continue
            if callable(path) and not path(record.path):
                continue
            total += 1
        return total

    def summary(self) -> dict[str, Any]:
        """Counts of everything, for ``GET /_sandbox/state``.

        Requests, tokens, faults and ``rate_limited`` are the whole sandbox's; plan,
        resources and ``seeded`` are account 1's (``accounts`` lists each account).
        """
        store = self.store
        rejected: Counter[str] = Counter()
        with self.lock:
            for account in self.accounts:
                rejected.update(account.limiter.rejected)
            return {
                "seed": self.config.seed,
                "plan": str(self.config.plan),
                "base_url": self.base_url,
                "requests": self.request_count,
                "requests_by_status": {str(k): v for k, v in sorted(self.status_counts.items())},
                "token_requests": dict(self.oauth.requests),
                "tokens_issued": dict(self.oauth.issued),
                "rate_limited": dict(rejected),
                "faults_fired": self.faults.fired,
                "faults": [f.to_dict() for f in self.faults.list()],
                "download_faults": self.download_faults.to_dict(),
                "range_log": {k: list(v) for k, v in self.range_log.items()},
                "download_log": [r._asdict() for r in self.download_log],
                "events": len(self.events),
                "users": len(store.users),
                "meetings": len(store.meetings),
                "meeting_registrants": sum(len(r) for r in store.meeting_registrants.values()),
                "webinars": len(store.webinars),
                "webinar_registrants": sum(len(r) for r in store.webinar_registrants.values()),
                "recordings": len(store.recordings),
                "files": len(store.files),
                "phone_recordings": len(store.phone_recordings),
                "channels": len(store.channels),
                "seeded": self.seeded.__dict__,
                "accounts": [
                    {"number": a.number, **a.credentials(), "plan": str(a.plan)}
                    for a in self.accounts
                ],
            }

    def reset(self, *, keep_tokens: bool = False) -> None:
        """Back to the seeded account: resources, counters, faults, log (and tokens)."""
        with self.lock:
            self._build()
            for account in self.accounts:
                account.reset_counters()
            self.faults.clear()
            self.download_faults.clear()
            self.range_log.clear()
            self.download_log.clear()
            self.requests.clear()
            self.request_count = 0
            self.status_counts.clear()
            self.events.clear()
            if not keep_tokens:
                self.oauth.clear()
