"""zoomq: the shared core of the receiver, the tasks and the worker.

The client and the action catalog load on first use, so the receiver, which needs
neither, starts without them.
"""

from typing import TYPE_CHECKING, Any

from zoomq.errors import (
    APIError,
    AuthError,
    BadRequest,
    ConfigurationError,
    Conflict,
    DailyLimitExceeded,
    InvalidInput,
    NotFound,
    PageTokenExpired,
    PermissionDenied,
    RateLimited,
    RefreshTokenRevoked,
    ServerError,
    TransportError,
    Unauthorized,
    ZoomError,
)
from zoomq.settings import Connection, ConnectionType, Plan, Settings

if TYPE_CHECKING:
    from zoomq.actions import CATALOG, run_action
    from zoomq.client import RateCategory, RetryPolicy, ZoomClient

__version__ = "0.1.0"

_LAZY = {
    "CATALOG": "zoomq.actions",
    "run_action": "zoomq.actions",
    "RateCategory": "zoomq.client",
    "RetryPolicy": "zoomq.client",
    "ZoomClient": "zoomq.client",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'zoomq' has no attribute {name!r}")


__all__ = [
    "CATALOG",
    "APIError",
    "AuthError",
    "BadRequest",
    "ConfigurationError",
    "Conflict",
    "Connection",
    "ConnectionType",
    "DailyLimitExceeded",
    "InvalidInput",
    "NotFound",
    "PageTokenExpired",
    "PermissionDenied",
    "Plan",
    "RateCategory",
    "RateLimited",
    "RefreshTokenRevoked",
    "RetryPolicy",
    "ServerError",
    "Settings",
    "TransportError",
    "Unauthorized",
    "ZoomClient",
    "ZoomError",
    "__version__",
    "run_action",
]
