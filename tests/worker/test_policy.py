"""The queue's retry decisions, one exception type at a time."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from redis import ConnectionError as RedisConnectionError

from tasks.policy import (
    CREDENTIAL_REFRESHES,
    LISTING_RESTARTS,
    GiveUp,
    Park,
    RetryLater,
    backoff,
    decide,
)
from zoomq.errors import (
    AuthError,
    BadRequest,
    ConfigurationError,
    Conflict,
    DailyLimitExceeded,
    DispatchIncomplete,
    FileLocked,
    InvalidInput,
    MalformedWebhook,
    NotFound,
    PageTokenExpired,
    PermissionDenied,
    QueueUnavailable,
    RateLimited,
    RefreshTokenRevoked,
    ServerError,
    StepInProgress,
    TemplateError,
    TransportError,
    Unauthorized,
    UnexpectedStatus,
    WebhookVerificationError,
)
from zoomq.settings import QueueSettings

NOW = 1_800_000_000.0
CONFIG = QueueSettings(
    visibility_timeout=3600,
    task_time_limit=1800,
    retry_backoff_base=2.0,
    retry_backoff_cap=600.0,
    max_retries=5,
    rate_limit_jitter=5.0,
    max_rate_limit_retries=20,
    daily_limit_jitter=60.0,
)


def top() -> float:
    return 1.0


def bottom() -> float:
    return 0.0


@pytest.mark.parametrize(
    "exc",
    [
        InvalidInput("bad"),
        TemplateError("missing"),
        ConfigurationError("no such automation"),
        BadRequest("bad", status=400, code=300),
        NotFound("no meeting", status=404, code=3001),
        PermissionDenied("scope", status=403),
        Conflict("exists", status=409, code=1005),
        RefreshTokenRevoked("re-install"),
        UnexpectedStatus("moved", status=301),
        WebhookVerificationError("bad_signature"),
        MalformedWebhook("missing_event"),
    ],
)
def test_never_retry_errors_give_up_at_once(exc: Exception) -> None:
    """Validation, not-found, permission and the like go straight to the dead letters."""
    assert decide(exc, {}, CONFIG, NOW, top) == GiveUp("never_retry")


def test_rate_limited_waits_its_retry_after_plus_jitter() -> None:
    """The wait is retry_after plus up to rate_limit_jitter seconds."""
    exc = RateLimited("slow down", retry_after=12.0)
    assert decide(exc, {"rate_limited": 3}, CONFIG, NOW, bottom) == RetryLater(12.0, "rate_limited")
    assert decide(exc, {"rate_limited": 3}, CONFIG, NOW, top) == RetryLater(17.0, "rate_limited")


def test_rate_limits_and_errors_have_separate_budgets() -> None:
    """Many rate-limit retries leave the error budget whole, and the other way round."""
    limited = RateLimited("slow down", retry_after=1.0)
    spent = {"transient": CONFIG.max_retries}
    assert isinstance(decide(limited, spent, CONFIG, NOW, top), RetryLater)
    exhausted = {"rate_limited": CONFIG.max_rate_limit_retries}
    assert decide(limited, exhausted, CONFIG, NOW, top) == GiveUp("retries_exhausted")
    assert isinstance(decide(ServerError("x", status=500), exhausted, CONFIG, NOW, top), RetryLater)


def test_a_wait_longer_than_the_countdown_cap_is_parked() -> None:
    """Never a countdown past visibility_timeout / 2: the message is parked instead."""
    exc = RateLimited("slow down", retry_after=5000.0)
    assert decide(exc, {}, CONFIG, NOW, bottom) == Park(NOW + 5000.0, "rate_limited")
    assert CONFIG.max_countdown == 1800.0


def test_daily_limits_park_until_reset_whatever_the_attempts() -> None:
    """DailyLimitExceeded parks until reset_at (plus jitter), even with retries used up."""
    reset = datetime(2027, 1, 16, tzinfo=UTC)
    exc = DailyLimitExceeded("daily", reset_at=reset, retry_after=10.0)
    assert decide(exc, {}, CONFIG, NOW, bottom) == Park(reset.timestamp(), "daily_limit")
    used_up = {"transient": 99, "rate_limited": 99}
    assert decide(exc, used_up, CONFIG, NOW, top) == Park(reset.timestamp() + 60.0, "daily_limit")


@pytest.mark.parametrize(
    "exc",
    [
        TransportError("connect refused"),
        ServerError("oops", status=500),
        AuthError("token endpoint 503"),
        QueueUnavailable("redis away"),
        DispatchIncomplete({"copy": "redis away"}),
        RedisConnectionError("redis away"),
        SoftTimeLimitExceeded(),
        OSError("reset by peer"),
    ],
)
def test_transient_errors_back_off_with_full_jitter_then_give_up(exc: Exception) -> None:
    """Exponential backoff, uniform in [0, min(cap, base * 2**n)]; then the dead letters."""
    assert decide(exc, {}, CONFIG, NOW, top) == RetryLater(2.0, "transient")
    assert decide(exc, {"transient": 3}, CONFIG, NOW, top) == RetryLater(16.0, "transient")
    assert decide(exc, {"transient": 3}, CONFIG, NOW, bottom) == RetryLater(0.0, "transient")
    spent = {"transient": CONFIG.max_retries}
    assert decide(exc, spent, CONFIG, NOW, top) == GiveUp("retries_exhausted")


def test_backoff_is_capped() -> None:
    """Late attempts wait at most retry_backoff_cap."""
    assert backoff(40, CONFIG, top) == CONFIG.retry_backoff_cap


def test_a_step_in_progress_elsewhere_is_retried_after_its_lease() -> None:
    """A busy step lease is waited out like a rate limit."""
    decision = decide(StepInProgress("k", 30.0), {}, CONFIG, NOW, bottom)
    assert decision == RetryLater(30.0, "step_in_progress")


def test_a_renewed_file_lock_is_waited_out_past_the_rate_limit_budget() -> None:
    """FileLocked's own wait count replaces the rate-limit budget: the owner is downloading."""
    locked = FileLocked("f1", 40.0, max_waits=2_000)
    many = {"file_locked": CONFIG.max_rate_limit_retries * 10}
    assert decide(locked, many, CONFIG, NOW, bottom) == RetryLater(40.0, "file_locked")
    assert decide(locked, {"file_locked": 2_000}, CONFIG, NOW, top) == GiveUp("retries_exhausted")
    # Without a count of its own it is a wait like any other.
    plain = FileLocked("f1", 40.0)
    spent = {"file_locked": CONFIG.max_rate_limit_retries}
    assert decide(plain, spent, CONFIG, NOW, top) == GiveUp("retries_exhausted")


def test_bugs_are_not_retried() -> None:
    """An unexpected exception (a bug in an automation) gives the same answer every time."""
    assert decide(KeyError("x"), {}, CONFIG, NOW, top) == GiveUp("unexpected_error")


def test_an_expired_page_token_restarts_the_listing_a_few_times() -> None:
    """PageTokenExpired is run again from the first page, soon, then dead-lettered."""
    exc = PageTokenExpired("The next page token is invalid or expired.", status=400, code=300)
    assert decide(exc, {}, CONFIG, NOW, top) == RetryLater(2.0, "listing_restart")
    assert decide(exc, {"listing_restart": 1}, CONFIG, NOW, top) == RetryLater(
        4.0, "listing_restart"
    )
    # Its own budget: transient retries used up elsewhere do not stop a restart.
    assert isinstance(decide(exc, {"transient": CONFIG.max_retries}, CONFIG, NOW, top), RetryLater)
    spent = {"listing_restart": LISTING_RESTARTS}
    assert decide(exc, spent, CONFIG, NOW, top) == GiveUp("retries_exhausted")


def test_unauthorized_gets_one_attempt_on_fresh_credentials_then_gives_up() -> None:
    """After the client's drop-and-refetch, one more attempt; refused again, dead letters."""
    exc = Unauthorized("Invalid access token.", status=401, code=124)
    assert CREDENTIAL_REFRESHES == 1
    assert decide(exc, {}, CONFIG, NOW, top) == RetryLater(2.0, "credentials_refresh")
    spent = {"credentials_refresh": 1}
    assert decide(exc, spent, CONFIG, NOW, top) == GiveUp("retries_exhausted")
