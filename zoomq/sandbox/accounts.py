"""One Zoom account of a sandbox: its app, seeded data, plan, rate counters and page tokens.

A sandbox serves ``SandboxConfig.accounts`` of them side by side; an access token is
bound to its app's account, so one account never sees another's users, meetings or
budgets. Handlers reach their account through ``Call.account``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import random
from collections import Counter
from collections.abc import Callable
from typing import Any

from zoomq.clock import Clock
from zoomq.sandbox.config import OAuthApp, SandboxConfig
from zoomq.sandbox.ids import IdFactory
from zoomq.sandbox.pagination import PageTokens
from zoomq.sandbox.ratelimits import RateLimiter
from zoomq.sandbox.seed import ACCOUNT_DOMAIN, SeededIds, seed_store
from zoomq.sandbox.store import Store
from zoomq.settings import Plan

__all__ = ["Account", "Emit"]

#: How an account reports a change of its state: (account, event name, payload object).
Emit = Callable[["Account", str, dict[str, Any]], None]


class Account:
    """Everything one account of the sandbox has of its own."""

    def __init__(
        self,
        config: SandboxConfig,
        number: int,
        *,
        clock: Clock,
        base_url: str,
        emit: Emit,
        issue_download_token: Callable[[float | None], str],
    ) -> None:
        self.number = number
        self.app: OAuthApp = config.account_app(number)
        self.account_id = self.app.account_id
        self.plan: Plan = config.account_plan(number)
        #: The sandbox's config as this account sees it: its seed, plan and app.
        self.config = dataclasses.replace(
            config,
            seed=config.account_seed(number),
            plan=self.plan,
            apps=(self.app,),
            accounts=1,
            plans=(),
        )
        self.clock = clock
        self.base_url = base_url
        self.email_domain = "example.com" if number == 1 else ACCOUNT_DOMAIN.format(number=number)
        self.limiter = RateLimiter(self.config, clock)
        secret = hashlib.sha256(f"zoomq-sandbox:{self.config.seed}".encode()).digest()
        self.pages = PageTokens(secret, clock, config.page_token_ttl)
        self._emit = emit
        self._issue_download_token = issue_download_token
        #: API requests answered for this account's tokens, and their statuses.
        self.requests = 0
        self.status_counts: Counter[int] = Counter()
        #: Events this account emitted (``SandboxState.events`` keeps the latest few).
        self.events = 0
        self.ids: IdFactory
        self.store: Store
        self.seeded: SeededIds

    def build(self, epoch: float, taken: set[int]) -> None:
        """(Re)seed the account; ``taken`` holds the numeric ids of the other accounts."""
        self.ids = IdFactory(random.Random(self.config.seed), taken)  # noqa: S311 - fake data
        self.store, self.seeded = seed_store(
            self.config, self.base_url, epoch, self.ids, email_domain=self.email_domain
        )

    def reset_counters(self) -> None:
        self.limiter.reset()
        self.requests = 0
        self.status_counts.clear()
        self.events = 0

    # what handlers call ------------------------------------------------------------

    def emit(self, event: str, obj: dict[str, Any]) -> None:
        """Record a change of this account's state (see ``SandboxState.emit``)."""
        self.events += 1
        self._emit(self, event, obj)

    def issue_download_token(self, ttl: float | None = None) -> str:
        return self._issue_download_token(ttl)

    def counted(self, status: int) -> None:
        self.requests += 1
        self.status_counts[status] += 1

    # what tests read ---------------------------------------------------------------

    def credentials(self) -> dict[str, str]:
        """The Server-to-Server credentials (fixed sandbox values, not secrets)."""
        return {
            "account_id": self.account_id,
            "client_id": self.app.client_id,
            "client_secret": self.app.client_secret,
        }

    def summary(self) -> dict[str, Any]:
        """Counters, resources and seeded ids, for ``GET /_sandbox/accounts/{account}``."""
        store = self.store
        return {
            "number": self.number,
            **self.credentials(),
            "plan": str(self.plan),
            "seed": self.config.seed,
            "requests": self.requests,
            "requests_by_status": {str(k): v for k, v in sorted(self.status_counts.items())},
            "rate_limited": dict(self.limiter.rejected),
            "events": self.events,
            "users": len(store.users),
            "meetings": len(store.meetings),
            "meeting_registrants": sum(len(r) for r in store.meeting_registrants.values()),
            "webinars": len(store.webinars),
            "webinar_registrants": sum(len(r) for r in store.webinar_registrants.values()),
            "recordings": len(store.recordings),
            "seeded": dataclasses.asdict(self.seeded),
        }
