"""Fault injection: make the next matching requests fail the way Zoom can fail.

In process::

    state.faults.inject("GET", "/v2/users/*", 503, count=2)      # two 503s, then normal
    state.faults.inject(None, "/v2/meetings/*", 429, count=1, retry_after="2")
    state.faults.inject("POST", "/oauth/token", "hang", count=1, hang_seconds=1.0)
    state.faults.inject(None, "/v2/*", 500, fraction=0.25)        # a quarter of the calls
    state.faults.clear()

Over HTTP (same fields, JSON)::

    POST   /_sandbox/faults        {"method": "GET", "path_pattern": "/v2/users*", "status": 503,
                                    "count": 2, "fraction": null, "retry_after": null,
                                    "body": null, "hang_seconds": null}     -> 201 the fault
    GET    /_sandbox/faults        -> 200 {"faults": [...]}
    DELETE /_sandbox/faults        -> 204, every fault removed
    DELETE /_sandbox/faults/{id}   -> 204, one fault removed

``path_pattern`` is a glob (``*`` also matches ``/``) tried against the full path
and against the path without the ``/v2`` prefix. ``count`` bounds how many calls
fail (None: until cleared); ``fraction`` makes each matching call fail with that
probability (a seeded draw, so runs repeat). ``status`` is an HTTP status (429
gets Zoom's per-second body unless ``body`` is given; ``retry_after`` becomes the
``Retry-After`` header) or ``"hang"``: the request is held for ``hang_seconds``
(default ``SandboxConfig.hang_seconds``), or until the client goes away, then
answered 504. The first matching fault, in injection order, wins. ``/_sandbox/*``
itself never fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import threading
from dataclasses import dataclass, field
from fnmatch import translate
from typing import Any, Literal

from starlette.types import Receive, Scope, Send

from zoomq.sandbox.ratelimits import PER_SECOND_MESSAGE
from zoomq.sandbox.responses import ZoomHTTPError, json_response

__all__ = ["Fault", "FaultInjector", "FaultStatus"]

FaultStatus = int | Literal["hang"]

_BODIES: dict[int, str] = {
    429: PER_SECOND_MESSAGE,
    500: "Internal Server Error.",
    502: "Bad Gateway.",
    503: "Service Unavailable.",
    504: "Gateway Timeout.",
}


@dataclass
class Fault:
    """One injected fault and how often it fired."""

    id: str
    method: str | None
    path_pattern: str
    status: FaultStatus
    count: int | None = None
    fraction: float | None = None
    retry_after: str | None = None
    body: dict[str, Any] | None = None
    hang_seconds: float | None = None
    hits: int = 0
    _regex: re.Pattern[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._regex = re.compile(translate(self.path_pattern))

    @property
    def exhausted(self) -> bool:
        return self.count is not None and self.hits >= self.count

    def matches(self, method: str, path: str, relative: str) -> bool:
        if self.method is not None and self.method != method:
            return False
        return bool(self._regex.match(path) or self._regex.match(relative))

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "method": self.method,
            "path_pattern": self.path_pattern,
            "status": self.status,
            "count": self.count,
            "fraction": self.fraction,
            "retry_after": self.retry_after,
            "body": self.body,
            "hang_seconds": self.hang_seconds,
            "hits": self.hits,
        }


class FaultInjector:
    """The list of active faults; ``match`` is O(1) while none is active."""

    def __init__(self, seed: int, hang_seconds: float, api_prefix: str = "/v2") -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._rng = random.Random(seed)  # noqa: S311 - repeatable draws, not security
        self._seed = seed
        self._next_id = 1
        self._prefix = api_prefix
        self.default_hang = hang_seconds
        #: How many requests were answered by a fault, in total.
        self.fired = 0

    @property
    def active(self) -> bool:
        return bool(self._faults)

    def inject(
        self,
        method: str | None,
        path_pattern: str,
        status: FaultStatus,
        count: int | None = None,
        fraction: float | None = None,
        retry_after: str | None = None,
        body: dict[str, Any] | None = None,
        hang_seconds: float | None = None,
    ) -> Fault:
        """Make matching calls fail; see the module docstring."""
        if status != "hang" and not (isinstance(status, int) and 100 <= status <= 599):
            raise ValueError(f"status must be an HTTP status or 'hang', not {status!r}")
        if count is not None and count < 1:
            raise ValueError("count must be at least 1")
        if fraction is not None and not 0.0 < fraction <= 1.0:
            raise ValueError("fraction must be in (0, 1]")
        with self._lock:
            fault = Fault(
                id=f"flt_{self._next_id}",
                method=method.upper() if method else None,
                path_pattern=path_pattern,
                status=status,
                count=count,
                fraction=fraction,
                retry_after=retry_after,
                body=body,
                hang_seconds=hang_seconds,
            )
            self._next_id += 1
            self._faults = [*self._faults, fault]
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults = []
            self._rng = random.Random(self._seed)  # noqa: S311 - as above

    def remove(self, fault_id: str) -> bool:
        with self._lock:
            kept = [f for f in self._faults if f.id != fault_id]
            removed = len(kept) != len(self._faults)
            self._faults = kept
        return removed

    def list(self) -> list[Fault]:
        return list(self._faults)

    def match(self, method: str, path: str) -> Fault | None:
        """The fault that answers this call, if any (and count it)."""
        faults = self._faults
        if not faults:
            return None
        relative = path.removeprefix(self._prefix) if path.startswith(self._prefix) else path
        with self._lock:
            for fault in faults:
                if fault.exhausted or not fault.matches(method, path, relative):
                    continue
                if fault.fraction is not None and self._rng.random() >= fault.fraction:
                    continue
                fault.hits += 1
                self.fired += 1
                if fault.exhausted:
                    self._faults = [f for f in self._faults if f is not fault]
                return fault
        return None

    async def respond(self, fault: Fault, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer the call as the fault says."""
        if fault.status == "hang":
            seconds = fault.hang_seconds if fault.hang_seconds is not None else self.default_hang
            await _hold(receive, seconds)
            error = ZoomHTTPError(504, 504, _BODIES[504])
            await error.response()(scope, receive, send)
            return
        status = int(fault.status)
        headers = [("Retry-After", fault.retry_after)] if fault.retry_after is not None else []
        if status == 429:
            headers.append(("X-RateLimit-Type", "QPS"))
        body = (
            fault.body
            if fault.body is not None
            else {
                "code": status,
                "message": _BODIES.get(status, "Error."),
            }
        )
        await json_response(body, status, headers)(scope, receive, send)


async def _hold(receive: Receive, seconds: float) -> None:
    """Wait ``seconds``, or less if the client disconnects first."""

    async def disconnected() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(disconnected(), timeout=seconds)
