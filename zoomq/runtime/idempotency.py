"""Idempotency: one deterministic key per event, automation run and action step.

The key is the Celery task id and the name of a Redis guard, as Stripe's idempotency keys:

- ``dispatch`` guard, ``SET NX`` when an event hands a run to an automation, so a
  redelivered event does not enqueue it twice;
- ``step`` guard around each call with a side effect: a lease (``SET NX PX``) while it
  runs, a ``began`` mark that outlives the lease, then a ``done`` record written the
  moment Zoom has answered, so a redelivered task whose call already happened returns
  the recorded result instead of calling again.

What the guard cannot close: a worker killed (``kill -9``, OOM, lost node) at any point
between sending the request and writing ``done`` leaves no record, though Zoom may have
acted. That window is the whole HTTP call (request, Zoom's work, the reply in flight),
not only the instant after the reply. The next attempt finds the ``began`` mark and,
where Zoom offers a way (``zoomq.actions.recover``: registrants, found by email), looks
for what the earlier attempt made before sending again; so does the attempt after a
reply was lost (``TransportError``), while an error answer from Zoom is taken to have
changed nothing. Every other write may repeat once per interrupted attempt: Zoom
documents no idempotency key, and a created meeting carries no field a client could set
to find it again.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import redis

from zoomq.actions import CATALOG
from zoomq.errors import StepInProgress, TransportError, ZoomError
from zoomq.runtime.keys import Keys
from zoomq.settings import QueueSettings

__all__ = [
    "DoneRecord",
    "IdempotencyStore",
    "Looked",
    "changed_nothing",
    "event_key",
    "has_side_effects",
    "run_key",
    "run_once",
    "step_key",
    "summarize",
]

#: The key prefix under the default ``Keys`` (a store uses that of its ``keys``).
PREFIX = Keys().idempotency
#: Results larger than this are recorded as a summary only.
MAX_RESULT_BYTES = 16_384

# Done wins; else take the lease (or renew our own); else report how long it is held.
# Taking a free lease while an earlier attempt's ``began`` mark is still there means that
# attempt stopped without a verdict (killed, or failed in a way that may have reached Zoom).
_BEGIN = """
local done = redis.call('GET', KEYS[1])
if done then return {'done', done} end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then
  local earlier = redis.call('GET', KEYS[3])
  redis.call('SET', KEYS[3], ARGV[1], 'EX', ARGV[3])
  if earlier then return {'resume', earlier} end
  return {'run', ''}
end
if redis.call('GET', KEYS[2]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
  return {'run', ''}
end
return {'busy', tostring(redis.call('PTTL', KEYS[2]))}
"""
# ARGV[2] == '1': the attempt surely changed nothing in Zoom, so forget that it began.
_RELEASE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
if ARGV[2] == '1' and redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
return 1
"""
# A claim left "pending" by a dispatcher that died before sending is taken over.
_CLAIM = """
local state = redis.call('GET', KEYS[1])
if state == false or state == 'pending' then
  redis.call('SET', KEYS[1], 'pending', 'EX', ARGV[1])
  return 1
end
return 0
"""


def event_key(event: Mapping[str, Any], meta: Mapping[str, Any] | None = None) -> str:
    """The event's key: the receiver's ``dedup_key``, else a hash of the canonical JSON.

    The receiver hashes the raw body; the fallback (for events enqueued by hand) hashes
    the parsed event, which is as stable for identical events.
    """
    given = (meta or {}).get("dedup_key")
    if isinstance(given, str) and given:
        # Two Zoom apps may deliver byte-identical bodies: they are different events.
        connection = (meta or {}).get("connection")
        if isinstance(connection, str) and connection not in ("", "default"):
            return f"{connection}:{given}"
        return given
    canonical = json.dumps(event, sort_keys=True, separators=(",", ":"), default=str)
    name = event.get("event") if isinstance(event.get("event"), str) else "unknown"
    return f"evt:{name}:{hashlib.sha256(canonical.encode()).hexdigest()}"


def run_key(event_key: str, automation: str) -> str:
    """One automation's run for one event: also the run task's Celery task id."""
    return f"{event_key}:{automation}"


def step_key(run: str, index: int, action: str) -> str:
    """The ``index``-th action a run performs (runs must call actions in a stable order)."""
    return f"{run}:{index}:{action}"


def has_side_effects(action: str, data: Mapping[str, Any]) -> bool:
    """Whether running the action twice could change Zoom twice (GETs can repeat freely)."""
    if action == "rawRequest":
        method = data.get("method", "GET")
        return not (isinstance(method, str) and method.strip().upper() in {"GET", "HEAD"})
    found = CATALOG.get(action)
    return found is None or found.method.upper() not in {"GET", "HEAD"}


@dataclass(frozen=True)
class DoneRecord:
    """A step that happened: when, a summary, and its result when small enough."""

    key: str
    at: float
    summary: dict[str, Any]
    result: Any = None
    truncated: bool = False

    def to_json(self) -> str:
        return json.dumps(
            {
                "at": self.at,
                "summary": self.summary,
                "result": self.result,
                "truncated": self.truncated,
            },
            separators=(",", ":"),
            default=str,
        )

    @classmethod
    def from_json(cls, key: str, raw: str | bytes) -> DoneRecord:
        data = json.loads(raw)
        return cls(
            key=key,
            at=float(data.get("at", 0.0)),
            summary=dict(data.get("summary") or {}),
            result=data.get("result"),
            truncated=bool(data.get("truncated", False)),
        )


@dataclass(frozen=True)
class Begin:
    """What ``IdempotencyStore.begin`` found.

    ``run``: first attempt; ``resume``: run it, but an earlier attempt began and never
    finished (``earlier`` is its owner), so Zoom may already have acted; ``done``: the
    record; ``busy``: another attempt holds the lease.
    """

    state: Literal["run", "resume", "done", "busy"]
    record: DoneRecord | None = None
    retry_after: float = 0.0
    earlier: str | None = None


class IdempotencyStore:
    """The dispatch and step guards in Redis."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        keys: Keys = Keys(),  # noqa: B008 - frozen, so one shared default is safe
        ttl: int = QueueSettings().idempotency_ttl,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.redis = client
        self.prefix = keys.idempotency
        self.ttl = ttl
        self.clock = clock
        self._begin = client.register_script(_BEGIN)
        self._release = client.register_script(_RELEASE)
        self._claim = client.register_script(_CLAIM)

    def _k(self, kind: str, key: str) -> str:
        return f"{self.prefix}:{kind}:{key}"

    # -- dispatch guard ------------------------------------------------------------
    def claim_dispatch(self, key: str) -> bool:
        """True when this caller should enqueue ``key``: first claim, or an unfinished one."""
        return bool(self._claim(keys=[self._k("dispatch", key)], args=[self.ttl]))

    def mark_dispatched(self, key: str) -> None:
        """The run is enqueued: later claims of ``key`` are refused."""
        self.redis.set(self._k("dispatch", key), "sent", ex=self.ttl)

    def dispatch_state(self, key: str) -> str | None:
        raw = self.redis.get(self._k("dispatch", key))
        return raw.decode() if isinstance(raw, bytes) else raw

    # -- step guard ----------------------------------------------------------------
    def begin(self, key: str, owner: str, lease: float) -> Begin:
        """Take the step's lease, or report it done (with its record) or busy."""
        state, value = self._begin(
            keys=[self._k("done", key), self._k("lease", key), self._k("began", key)],
            args=[owner, max(1, int(lease * 1000)), self.ttl],
        )
        state = state.decode() if isinstance(state, bytes) else str(state)
        if state == "done":
            return Begin("done", DoneRecord.from_json(key, value))
        if state == "busy":
            pttl = int(value) if value else 0
            return Begin("busy", retry_after=max(pttl, 1000) / 1000)
        if state == "resume":
            earlier = value.decode() if isinstance(value, bytes) else str(value)
            return Begin("resume", earlier=earlier)
        return Begin("run")

    def finish(self, key: str, summary: Mapping[str, Any], result: Any = None) -> DoneRecord:
        """Record the step done (with its result if small) and drop the lease, atomically."""
        encoded = json.dumps(result, separators=(",", ":"), default=str)
        truncated = len(encoded) > MAX_RESULT_BYTES
        record = DoneRecord(
            key=key,
            at=self.clock(),
            summary=dict(summary),
            result=None if truncated else result,
            truncated=truncated,
        )
        pipe = self.redis.pipeline(transaction=True)
        pipe.set(self._k("done", key), record.to_json(), ex=self.ttl)
        pipe.delete(self._k("lease", key), self._k("began", key), self._k("looked", key))
        pipe.execute()
        return record

    def release(self, key: str, owner: str, *, changed_nothing: bool = True) -> None:
        """Give the lease back after a failed attempt, if it is still ours.

        ``changed_nothing=False`` (the call may have reached Zoom) keeps the ``began``
        mark, so the next attempt resumes and looks before writing again.
        """
        self._release(
            keys=[self._k("lease", key), self._k("began", key)],
            args=[owner, "1" if changed_nothing else "0"],
        )

    def looked(self, key: str) -> Looked:
        """What the resumed attempts of ``key`` have already searched Zoom for."""
        return Looked(self, key)

    def done(self, key: str) -> DoneRecord | None:
        raw = self.redis.get(self._k("done", key))
        return None if raw is None else DoneRecord.from_json(key, raw)


@dataclass(frozen=True)
class Looked:
    """The places a look-up searched since the step was last sent, kept across retries.

    A look-up that stops halfway (rate-limited on its second listing) resumes where it
    stopped, so retries make progress instead of repeating the first listing forever.
    """

    store: IdempotencyStore
    key: str

    def __contains__(self, place: object) -> bool:
        return bool(self.store.redis.sismember(self.store._k("looked", self.key), str(place)))

    def add(self, place: str) -> None:
        name = self.store._k("looked", self.key)
        pipe = self.store.redis.pipeline(transaction=True)
        pipe.sadd(name, place)
        pipe.expire(name, self.store.ttl)
        pipe.execute()

    def clear(self) -> None:
        self.store.redis.delete(self.store._k("looked", self.key))


def summarize(action: str, result: Any) -> dict[str, Any]:
    """A few identifying fields of an action's result, for the done record and logs."""
    summary: dict[str, Any] = {"action": action}
    data = result.get("data") if isinstance(result, Mapping) else None
    if isinstance(data, Mapping):
        for name in ("id", "uuid", "registrant_id", "status", "topic", "email"):
            value = data.get(name)
            if isinstance(value, str | int | float | bool):
                summary[name] = value
    return summary


def changed_nothing(exc: BaseException) -> bool:
    """Whether a failed call is taken to have left Zoom unchanged.

    Any answer from Zoom (a 4xx, a 429, even a 5xx) is taken at its word, as are errors
    raised before sending; looking Zoom up after every 5xx would add listing load during
    an outage to spare one repeated POST. A reply that never came (``TransportError``) or
    an interruption (time limit, shutdown) may have reached Zoom.
    """
    if isinstance(exc, TransportError):
        return False
    return isinstance(exc, ZoomError)


def run_once(
    store: IdempotencyStore,
    key: str,
    owner: str,
    lease: float,
    action: str,
    call: Callable[[], dict[str, Any]],
    recover: Callable[[Looked], dict[str, Any] | None] | None = None,
) -> tuple[dict[str, Any], bool]:
    """Run ``call`` unless ``key`` is done; returns ``(result, replayed)``.

    The done record is written straight after ``call`` returns (Zoom has answered),
    before anything else. Busy elsewhere raises ``StepInProgress``. When an earlier
    attempt began and never finished, ``recover`` (if given) looks in Zoom for what it
    made (skipping what ``Looked`` says earlier retries searched); a found result is
    recorded and returned with ``recovered: True`` instead of calling again. A first
    attempt never pays for that look-up.
    """
    begun = store.begin(key, owner, lease)
    if begun.state == "done":
        assert begun.record is not None
        record = begun.record
        result = record.result if isinstance(record.result, dict) else {"data": None}
        return {**result, "replayed": True, "summary": record.summary}, True
    if begun.state == "busy":
        raise StepInProgress(key, begun.retry_after)
    # An earlier attempt's doubt stays until a look-up has cleared it or the call answers.
    in_doubt = begun.state == "resume"
    try:
        if in_doubt and recover is not None:
            looked = store.looked(key)
            found = recover(looked)
            if found is not None:
                store.finish(key, summarize(action, found), found)
                return {**found, "recovered": True}, True
            looked.clear()  # the call below may change Zoom: what was searched is stale
            in_doubt = False
        result = call()
    except BaseException as exc:
        store.release(key, owner, changed_nothing=not in_doubt and changed_nothing(exc))
        raise
    store.finish(key, summarize(action, result), result)
    return result, False
