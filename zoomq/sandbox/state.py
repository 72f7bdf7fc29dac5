"""The sandbox's whole state: seeded resources, tokens, budgets, faults, request log.

Tests hold the ``SandboxState`` (``SandboxServer.state`` or ``app.state.sandbox``)
and may read it, inject faults, add recordings or issue download tokens from their
own thread: request handlers run under ``state.lock``.
"""

from __future__ import annotations

import hashlib
import random
import threading
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple

from zoomq.sandbox.config import SandboxConfig
from zoomq.sandbox.downloads import DownloadFaults, DownloadRecord, UrlSigner
from zoomq.sandbox.faults import FaultInjector
from zoomq.sandbox.ids import IdFactory
from zoomq.sandbox.oauth import TokenStore
from zoomq.sandbox.objects import meeting_object
from zoomq.sandbox.pagination import PageTokens
from zoomq.sandbox.ratelimits import RateLimiter
from zoomq.sandbox.seed import SeededIds, build_recording, seed_store
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
        self.limiter = RateLimiter(config, self.clock)
        self.faults = FaultInjector(config.seed, config.hang_seconds)
        self.pages = PageTokens(secret, self.clock, config.page_token_ttl)
        self.signer = UrlSigner(secret, self.clock, config.cdn_url_ttl, self.base_url)
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
        self.ids = IdFactory(random.Random(config.seed))  # noqa: S311 - seeded fake data
        self.store: Store
        self.seeded: SeededIds
        self.store, self.seeded = seed_store(config, self.base_url, self.epoch, self.ids)

    # what the middleware and handlers call -------------------------------------------

    def next_tracking_id(self) -> bytes:
        self._tracking += 1
        return f"{self._tracking_prefix}{self._tracking:016x}".encode()

    def record(self, method: str, path: str, status: int) -> None:
        self.request_count += 1
        self.status_counts[status] += 1
        self.requests.append(RequestRecord(method, path, status, self.clock.time()))

    def emit(self, event: str, obj: dict[str, Any]) -> None:
        """Record a change of state and pass it to ``config.on_event``."""
        self.events.append((event, obj))
        hook = self.config.on_event
        if hook is not None:
            hook(event, obj)

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
    ) -> dict[str, Any]:
        """Record ``meeting`` (id, UUID-less id string, or the meeting object) once more.

        One file per size: MP4, M4A, TRANSCRIPT, CHAT, ... The first recording of a
        meeting takes the meeting's UUID, later ones a new instance UUID. Returns the
        recording object, as ``GET /meetings/{id}/recordings`` shows it.
        """
        key = meeting["id"] if isinstance(meeting, Mapping) else meeting
        with self.lock:
            found = self.store.meetings.get(int(key))
            if found is None:
                raise KeyError(f"no meeting {key}")
            uuid = found["uuid"] if found["uuid"] not in self.store.recordings else None
            return build_recording(
                self.ids,
                self.store,
                found,
                uuid=uuid or self.ids.meeting_uuid(),
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
    ) -> list[dict[str, Any]]:
        """``count`` new meetings of ``user`` (id or email), each recorded and completed now.

        Each emits ``recording.completed`` (to ``--webhook-url``, if any) as Zoom would;
        nothing remembers whether anyone received it, which is how outages are staged.
        Returns the recording objects.
        """
        sizes = list(file_sizes)
        done: list[dict[str, Any]] = []
        with self.lock:
            host = self.store.user(user)
            for n in range(count):
                meeting = meeting_object(
                    self.ids,
                    base_url=self.base_url,
                    host=host,
                    topic=f"{topic} {n + 1}",
                    meeting_type=2,
                    start_time=self.clock.time() - 3600,
                    duration=30,
                    timezone=host.get("timezone") or "UTC",
                    created_at=self.clock.time() - 7200,
                )
                self.store.add_meeting(meeting)
                done.append(self.add_recording(meeting, sizes))
        for recording in done:
            self.emit("recording.completed", recording)
        return done

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
        """Counts of everything, for ``GET /_sandbox/state``."""
        store = self.store
        with self.lock:
            return {
                "seed": self.config.seed,
                "plan": str(self.config.plan),
                "base_url": self.base_url,
                "requests": self.request_count,
                "requests_by_status": {str(k): v for k, v in sorted(self.status_counts.items())},
                "token_requests": dict(self.oauth.requests),
                "tokens_issued": dict(self.oauth.issued),
                "rate_limited": dict(self.limiter.rejected),
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
            }

    def reset(self, *, keep_tokens: bool = False) -> None:
        """Back to the seeded account: resources, counters, faults, log (and tokens)."""
        with self.lock:
            self._build()
            self.limiter.reset()
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
