"""``ZoomClient``: the one way zoomq sends a request to Zoom.

Per request: a slot from the distributed rate limiter, the bearer token (``ZoomAuth``'s
rule: a 401 drops it and the request goes once more with a fresh one), then the retry
loop — the only one in the client — driven by ``RetryPolicy`` and the ``client`` column
of ``zoomq.errors.HANDLING``.

Requests go straight to the ``httpx`` transport (its connection pool) rather than through
``httpx.Client.send``: a bulk worker sends thousands a second and the client's layers
(auth and redirect generators, the cookie jar — Zoom's API wants no cookies —, its
per-request log record) cost about a quarter of each request's CPU. With a proxy in the
environment (``HTTPS_PROXY``...) they go through ``httpx.Client``, which routes them.
"""

from __future__ import annotations

import functools
import urllib.request
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
import structlog

from zoomq.client.auth import TOKEN_TIMEOUT, ZoomAuth, bad_token, token_provider
from zoomq.client.errors_map import api_error, error_body
from zoomq.client.pagination import iter_pages
from zoomq.client.ratelimit import (
    NO_OBSERVER,
    PLAN_BUDGETS,
    USER_MEETING_DAILY_CAP,
    Budget,
    MemoryRateLimiter,
    RateCategory,
    RateLimiter,
    RateObserver,
    RedisRateLimiter,
    next_utc_midnight,
    parse_rate_limit,
)
from zoomq.client.retry import RetryPolicy
from zoomq.client.scope import ApiScope
from zoomq.client.tokens import MemoryTokenStore, RedisTokenStore, TokenStore
from zoomq.clock import Clock, SystemClock
from zoomq.errors import DailyLimitExceeded, RateLimited, TransportError, Unauthorized
from zoomq.settings import Connection, Settings

if TYPE_CHECKING:
    import redis

__all__ = ["ZoomClient"]

#: Seconds past its slot a request may still be sent in it; later, a new slot is taken
#: (at most ``_LATE_RETAKES`` times).
_LATE_SEND = 0.05
_LATE_RETAKES = 3
#: How fast ``ZoomClient.latency`` climbs towards a slower exchange (a faster one sets it).
_LATENCY_RISE = 0.02

log = structlog.get_logger(__name__)

USER_AGENT = "zoomq/0.1 (+https://github.com/zoomq/zoomq)"


class ZoomClient:
    """A Zoom API client for one connection; safe to share between threads."""

    def __init__(
        self,
        settings: Settings,
        connection: Connection,
        *,
        redis_client: redis.Redis | None = None,
        transport: httpx.BaseTransport | None = None,
        clock: Clock | None = None,
        policy: RetryPolicy | None = None,
        limiter: RateLimiter | None = None,
        token_store: TokenStore | None = None,
        observer: RateObserver = NO_OBSERVER,
    ) -> None:
        self.settings = settings
        #: Told of limiter waits and 429s (the worker passes its metrics).
        self.observer = observer
        self.connection = connection
        self.clock = clock or SystemClock()
        self.policy = policy or RetryPolicy(
            max_attempts=settings.http.max_attempts, max_wait=settings.http.max_wait
        )
        if limiter is None:
            limiter = (
                RedisRateLimiter(redis_client, settings.zoomq_key_prefix)
                if redis_client
                else MemoryRateLimiter(self.clock)
            )
        if token_store is None:
            token_store = (
                RedisTokenStore(redis_client, settings.zoomq_key_prefix)
                if redis_client
                else MemoryTokenStore()
            )
        self.limiter = limiter
        self.base_url = settings.api_base_url(connection)
        timeout = httpx.Timeout(settings.http.timeout, connect=settings.http.connect_timeout)
        limits = httpx.Limits(
            max_connections=settings.http.max_connections,
            max_keepalive_connections=settings.http.max_connections,
        )
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        self._token_http = httpx.Client(
            transport=transport, timeout=TOKEN_TIMEOUT, headers=headers, follow_redirects=False
        )
        self.tokens = token_provider(
            settings, connection, token_store, self._token_http, self.clock
        )
        # A proxy from the environment applies only to a client that makes its own
        # transports (httpx ignores the environment when given one): then it sends.
        self._direct = transport is not None or not urllib.request.getproxies()
        #: The connection pool API requests go through (``self.http``'s own when proxied).
        self.transport = transport or httpx.HTTPTransport(limits=limits)
        self.http = httpx.Client(
            base_url=self.base_url + "/",
            transport=self.transport if self._direct else None,
            timeout=timeout,
            limits=limits,
            headers=headers,
            auth=ZoomAuth(self.tokens),
            # A redirect is an error (UnexpectedStatus): following one would carry the
            # bearer token to wherever Location points.
            follow_redirects=False,
        )
        # What ``httpx.Client`` would add to each request: its default headers (encodings,
        # keep-alive, ours) and the timeouts.
        self._headers = list(self.http.headers.multi_items())
        self._extensions = {"timeout": timeout.as_dict()}
        self._base = self.base_url.rstrip("/")
        #: Where a caller-given URL (rawRequest) may take the token.
        self.scope = ApiScope(self.base_url, settings.zoom_api_hosts)
        #: Seconds an HTTP exchange takes when nothing in this process holds it up: the
        #: lower envelope of recent ones (a faster one sets it, slower ones raise it
        #: slowly, so waits for the GIL under load do not count). None before the first.
        #: A bulk chunk keeps as many requests in flight as its budget needs at it.
        self.latency: float | None = None

    # -- lifecycle ---------------------------------------------------------------
    def close(self) -> None:
        self.http.close()
        self._token_http.close()

    def __enter__(self) -> ZoomClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- budgets -----------------------------------------------------------------
    def budget(self, category: RateCategory) -> Budget:
        conn = self.connection
        plan = PLAN_BUDGETS[conn.plan.value][category]
        override = conn.rate_limits.get(category.value)
        return Budget(override, plan.daily) if override else plan

    def _count_daily(self, category: RateCategory, user_quota: str | None) -> None:
        budget = self.budget(category)
        if not budget.daily and not user_quota:
            return  # no daily cap to count against (Zoom's paid plans for most categories)
        now = self.clock.time()
        key = self.connection.rate_key
        reset = next_utc_midnight(now)
        if budget.daily and not self.limiter.count_daily(
            f"{key}:{category.value}", budget.daily, now
        ):
            raise DailyLimitExceeded(
                f"daily {category.value} budget of {budget.daily} used up for {key}",
                reset_at=reset,
                retry_after=reset.timestamp() - now,
                category=category.value,
            )
        if user_quota and not self.limiter.count_daily(
            f"{key}:user:{user_quota}", USER_MEETING_DAILY_CAP, now
        ):
            raise DailyLimitExceeded(
                f"user {user_quota} used up {USER_MEETING_DAILY_CAP} meeting creates/updates today",
                reset_at=reset,
                retry_after=reset.timestamp() - now,
                category="user_meeting",
            )

    def _take_slot(self, category: RateCategory) -> None:
        """Wait for a slot of the shared budget. A thread that wakes well after its slot
        (a loaded host) takes a new one rather than send late: late sends of several
        processes bunch into one of Zoom's seconds, which then refuses the surplus."""
        budget = self.budget(category)
        key = f"{self.connection.rate_key}:{category.value}"
        for _ in range(_LATE_RETAKES + 1):
            wait = self.limiter.reserve(key, budget, self.policy.max_wait)
            if wait < 0:
                raise RateLimited(
                    f"{category.value} budget busy for {-wait:.1f}s",
                    retry_after=-wait,
                    category=category.value,
                )
            if wait > 0:
                self.observer.waited(category.value, wait)
            due = self.clock.monotonic() + wait
            self.clock.sleep(wait)
            if self.clock.monotonic() - due <= _LATE_SEND:
                return
        # Late every time: the host is starved; sending now beats never sending.

    # -- requests ----------------------------------------------------------------
    def _url(self, path_or_url: str) -> str:
        if "://" in path_or_url and httpx.URL(path_or_url).is_absolute_url:
            return path_or_url
        # One leading slash: httpx joins it under the base path, and ``users:me`` without
        # it would parse as a URL of scheme ``users``.
        return "/" + path_or_url.lstrip("/")

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        category: RateCategory = RateCategory.LIGHT,
        user_quota: str | None = None,
        raise_for_status: bool = True,
    ) -> httpx.Response:
        """Send one logical request, with brief retries; raise the tree's errors."""
        method = method.upper()
        url = self._url(path_or_url)
        policy = self.policy
        attempt = 0
        while True:
            self._take_slot(category)
            if attempt == 0:
                # Counted once a slot is ours: a request handed back to the queue as
                # RateLimited never reached Zoom and must not use up a daily cap.
                self._count_daily(category, user_quota)
            try:
                response = self._send(method, url, params, json, content, headers)
            except httpx.TransportError as exc:
                failed = TransportError(
                    f"{method} {_host_port(str(self.base_url))}: {type(exc).__name__}"
                    " (the API base URL is ZOOM_API_BASE_URL or the connection's"
                    " api_base_url)"
                )
                reached = not isinstance(
                    exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout
                )
                if not policy.should_retry(failed, method, attempt, reached_zoom=reached):
                    raise failed from exc
                self.clock.sleep(policy.backoff.delay(attempt))
                attempt += 1
                continue
            status = response.status_code
            if status == 429:
                self._rate_limited(response, method, attempt, category)
                attempt += 1
                continue
            # Only 2xx is success: a 3xx is not followed (the token stays with the API)
            # and would otherwise pass for an empty answer.
            if not 200 <= status < 300:
                error = api_error(response)
                if policy.should_retry(error, method, attempt):
                    info = parse_rate_limit(response.headers, None, self.clock.time())
                    wait = policy.wait_for(attempt, info.retry_after)
                    self.clock.sleep(min(wait, policy.max_wait))
                    attempt += 1
                    continue
                if isinstance(error, Unauthorized):
                    self._drop_rejected_token(response)
                if raise_for_status:
                    raise error
            return response

    def _send(
        self,
        method: str,
        url: str,
        params: Mapping[str, str] | None,
        json: Any,
        content: bytes | None,
        headers: Mapping[str, str] | None,
    ) -> httpx.Response:
        """One HTTP exchange with the bearer token, read whole; once more after a 401."""
        if not self._direct:
            sent = self.clock.monotonic()
            proxied = self.http.request(
                method, url, params=params, json=json, content=content, headers=headers
            )
            self._took(self.clock.monotonic() - sent, proxied.status_code)
            return proxied
        target = _parsed(url if url[0] != "/" else self._base + url)
        token = self.tokens.access_token()
        sent = self.clock.monotonic()
        response = self._exchange(method, target, params, json, content, headers, token)
        self._took(self.clock.monotonic() - sent, response.status_code)
        if response.status_code == 401 and bad_token(response):
            # ZoomAuth's rule: the token was refused, so it is dropped and fetched anew.
            self.tokens.invalidate(token)
            token = self.tokens.access_token()
            response = self._exchange(method, target, params, json, content, headers, token)
        return response

    def _exchange(
        self,
        method: str,
        target: httpx.URL,
        params: Mapping[str, str] | None,
        json: Any,
        content: bytes | None,
        headers: Mapping[str, str] | None,
        token: str,
    ) -> httpx.Response:
        sent = self._headers
        if headers:  # the caller's replace the defaults, as httpx.Client merges them
            given = {name.lower() for name in headers}
            sent = [(k, v) for k, v in sent if k.lower() not in given]
            sent += [(k, v) for k, v in headers.items() if k.lower() != "authorization"]
        sent = [*sent, ("Authorization", f"Bearer {token}")]
        request = httpx.Request(
            method,
            target,
            params=params,
            json=json,
            content=content,
            headers=sent,
            extensions=self._extensions,
        )
        response = self.transport.handle_request(request)
        response.request = request
        try:
            response.read()
        finally:
            response.close()
        return response

    def _took(self, seconds: float, status: int = 200) -> None:
        """Count an answer's time, but not a 429's or a 5xx's (a limit or a failure comes
        back sooner or later than an answer would); a 4xx is Zoom's answer to the item,
        as slow as any. Unlocked: threads racing here lose a sample at worst."""
        if status == 429 or status >= 500:
            return
        last = self.latency
        if last is None or seconds < last:
            self.latency = seconds
        else:
            self.latency = last + _LATENCY_RISE * (seconds - last)

    def _drop_rejected_token(self, response: httpx.Response) -> None:
        """Forget the token Zoom refused even after ``ZoomAuth`` fetched a fresh one.

        The queue's one ``refresh`` attempt (``zoomq.errors.HANDLING``) then runs on
        credentials fetched anew, on whichever worker takes it.
        """
        scheme, _, token = response.request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and token:
            self.tokens.invalidate(token)

    def _rate_limited(
        self, response: httpx.Response, method: str, attempt: int, category: RateCategory
    ) -> None:
        """Sleep a short per-second 429 off, or raise for the queue to wait."""
        now = self.clock.time()
        body = error_body(response)
        info = parse_rate_limit(response.headers, str(body.get("message", "")), now)
        self.observer.rate_limited(info.category or category.value, daily=info.daily)
        common: dict[str, Any] = {
            "category": info.category or category.value,
            "status": 429,
            "code": body.get("code") if isinstance(body.get("code"), int) else None,
            "tracking_id": response.headers.get("x-zm-trackingid"),
        }
        message = str(body.get("message") or "rate limited")
        error: RateLimited
        if info.daily:
            wait = info.retry_after if info.retry_after is not None else 3600.0
            error = DailyLimitExceeded(
                message,
                reset_at=datetime.fromtimestamp(now + wait, UTC),
                retry_after=wait,
                **common,
            )
        else:
            wait = self.policy.wait_for(attempt, info.retry_after)
            error = RateLimited(message, retry_after=max(wait, 1.0), **common)
        if wait > self.policy.max_wait or not self.policy.should_retry(error, method, attempt):
            raise error
        log.debug("zoom.rate_limited", wait=round(wait, 3), attempt=attempt)
        self.clock.sleep(wait)

    #: Each page of a listing: ``zoomq.client.pagination.iter_pages`` with this client.
    iter_pages = iter_pages


@functools.lru_cache(maxsize=1024)
def _parsed(url: str) -> httpx.URL:
    """``url`` parsed once: a bulk job sends the same few paths thousands of times, and
    parsing one costs about as much as the rest of building its request."""
    return httpx.URL(url)


def _host_port(url: str) -> str:
    """``host:port`` of ``url``, the port spelled out even when it is the scheme's default."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.hostname}:{port}"
