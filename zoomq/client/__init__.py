"""The Zoom API client: auth, retries, rate limits, pagination."""

from zoomq.client.auth import AuthCodeTokens, ServerToServerTokens, ZoomAuth
from zoomq.client.http import ZoomClient
from zoomq.client.ratelimit import (
    PLAN_BUDGETS,
    Budget,
    MemoryRateLimiter,
    RateCategory,
    RedisRateLimiter,
    parse_rate_limit,
)
from zoomq.client.retry import Backoff, RetryPolicy
from zoomq.client.tokens import MemoryTokenStore, RedisTokenStore, Token

__all__ = [
    "PLAN_BUDGETS",
    "AuthCodeTokens",
    "Backoff",
    "Budget",
    "MemoryRateLimiter",
    "MemoryTokenStore",
    "RateCategory",
    "RedisRateLimiter",
    "RedisTokenStore",
    "RetryPolicy",
    "ServerToServerTokens",
    "Token",
    "ZoomAuth",
    "ZoomClient",
    "parse_rate_limit",
]
