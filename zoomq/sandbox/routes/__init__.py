"""The ``/v2`` endpoints, one module per Zoom API domain."""

from __future__ import annotations

from zoomq.sandbox.api import Operation
from zoomq.sandbox.routes import (
    chat,
    meetings,
    phone,
    recordings,
    registration,
    users,
    webinars,
)

__all__ = ["OPERATIONS"]

#: Every endpoint the sandbox serves; specific paths before general ones.
OPERATIONS: tuple[Operation, ...] = (
    *recordings.OPERATIONS,
    *users.OPERATIONS,
    *registration.OPERATIONS,
    *meetings.OPERATIONS,
    *webinars.OPERATIONS,
    *chat.OPERATIONS,
    *phone.OPERATIONS,
)
