"""Running one chunk of a bulk job: its items at once on threads, each exactly once.

One Celery task per item costs ~2-3.5 ms of worker CPU (PERF_BASELINES.md); a chunk task
runs several of its items at a time on a thread pool the process keeps — as many as the
account's budget needs at the client's latency (``loops_needed``), at most
``ZOOMQ_BULK_CONCURRENCY`` — through one ``ZoomClient`` per connection whose limiter
(``SlotBank``) takes rate slots from the shared Redis bucket several at a time. Per item:

- ``run_step`` keyed ``job:<id>:<index>`` guards the side effect: a redelivered chunk
  replays the recorded result instead of calling Zoom again, and an item a dead worker
  left half-done is looked up first where Zoom allows (registrants, by email);
- the outcome follows the queue's table (``zoomq.errors.HANDLING`` and ``tasks.policy``'s
  ``decide``, with the item's attempts as its budgets): Zoom's refusal (a 4xx) fails the
  item with Zoom's code and message; a rate limit hands it back uncounted to run after the
  wait (a daily limit: parked until the reset), and the chunk stops taking new items; a
  transient error hands it back after a backoff until its retries are used up (dead);
- outcomes are written in small batches by the job store's transition script: the done
  record of ``run_step`` is already there, so a crash in between repeats nothing.

Cancellation is read from the store at most every ``CANCEL_POLL`` seconds between items:
a cancelled job's items not yet sent are cancelled, those in flight finish.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

import structlog

from zoomq.actions import CATALOG
from zoomq.errors import (
    APIError,
    DailyLimitExceeded,
    InvalidInput,
    QueueAction,
    RateLimited,
    StepInProgress,
    handling,
)
from zoomq.jobs.models import ItemError, ItemState, JobMeta
from zoomq.metrics import bulk_items
from zoomq.runtime.idempotency import IdempotencyStore
from zoomq.runtime.jobs import JobStore, Outcome, QueuedMessage
from zoomq.runtime.steps import run_step
from zoomq.settings import JobsSettings, QueueSettings

if TYPE_CHECKING:
    from zoomq.client.http import ZoomClient

__all__ = [
    "CANCEL_POLL",
    "Again",
    "ChunkExecutor",
    "ChunkReport",
    "Decide",
    "Later",
    "Sink",
    "item_error",
    "item_key",
    "loops_needed",
    "output_of",
    "registrant_cap",
]

log = structlog.get_logger(__name__)

#: Seconds between looks at a job's cancel flag while its chunk runs.
CANCEL_POLL: Final = 0.2
#: Outcomes written to the store per call (two or three calls for a chunk of 60).
_FLUSH = 30
#: In Zoom's 429s for its per-registrant daily limit: '... for Add meeting registrant API
#: requests for the registrant "{1}"' (ZOOM_API.md §3), and the batch endpoints' '...
#: permitted for ({email}) this particular registrant'.
_REGISTRANT_CAP = ("for the registrant", "particular registrant")


def registrant_cap(exc: BaseException) -> bool:
    """Whether ``exc`` is Zoom's limit of 3 registrations of one email per day."""
    text = str(exc).lower()
    return isinstance(exc, DailyLimitExceeded) and any(m in text for m in _REGISTRANT_CAP)


#: ``tasks.policy.decide``'s shape: (error, retries by reason, settings, now) -> decision.
Decide = Callable[[BaseException, Mapping[str, int], QueueSettings, float], Any]


def item_key(job_id: str, index: int) -> str:
    """The idempotency key of one item: its step record, whatever delivery runs it."""
    return f"job:{job_id}:{index}"


def item_error(exc: BaseException) -> ItemError:
    """What a job reports of an error: its class, Zoom's code and message, the status."""
    message = exc.message if isinstance(exc, APIError) else str(exc)
    code = getattr(exc, "code", None)
    status = getattr(exc, "status", None)
    return ItemError(
        type=type(exc).__name__,
        code=code if isinstance(code, int) else None,
        message=message,
        status=status if isinstance(status, int) else None,
    )


@dataclass(frozen=True)
class Again:
    """Items handed back: to run after ``countdown`` s, or parked until ``park_until``."""

    indexes: list[int]
    countdown: float = 0.0
    park_until: float | None = None
    reason: str = ""


@dataclass
class ChunkReport:
    """What one delivery of a chunk did."""

    job_id: str
    counts: Counter[str] = field(default_factory=Counter)
    again: Again | None = None
    cancelled: bool = False
    #: The job is gone (expired or never committed): nothing to do.
    missing: bool = False
    #: This delivery finished the job (its callback, if any, is on its way).
    finished_job: bool = False


@dataclass(frozen=True)
class Later:
    """One item handed back, and why; ``counted``: its attempt counts against its budget."""

    index: int
    wait: float = 0.0
    park_until: float | None = None
    counted: bool = False
    reason: str = ""
    #: Noted on the item while it waits (a daily limit until Zoom's reset).
    error: ItemError | None = None


class _SameForAll(Mapping[str, int]):
    """Retries by reason, all equal to the item's earlier attempts (one budget per reason)."""

    def __init__(self, n: int) -> None:
        self._n = n

    def __getitem__(self, key: str) -> int:
        return self._n

    def get(self, key: str, default: Any = None) -> int:
        return self._n

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


class _CancelWatch:
    """The job's cancel flag, read from Redis at most every ``CANCEL_POLL`` seconds."""

    def __init__(self, store: JobStore, job_id: str) -> None:
        self._store = store
        self._job_id = job_id
        self._checked = 0.0
        self._cancelled = False
        self._lock = threading.Lock()

    def __call__(self) -> bool:
        if self._cancelled:
            return True
        now = time.monotonic()
        with self._lock:
            if now - self._checked >= CANCEL_POLL:
                self._checked = now
                self._cancelled = self._store.cancelled(self._job_id)
        return self._cancelled


class ChunkExecutor:
    """Runs chunks of bulk jobs; one per worker process, shared by its task slots.

    ``client(connection)`` gives the process's ``ZoomClient`` for a connection (shared by
    the threads); ``decide`` is the queue's retry decision; ``callback(job_id)`` the
    completion callback's message for a job that has a callback URL.
    """

    def __init__(
        self,
        store: JobStore,
        steps: IdempotencyStore | None,
        client: Callable[[str | None], ZoomClient],
        *,
        queue: QueueSettings,
        jobs: JobsSettings,
        decide: Decide,
        callback: Callable[[str], QueuedMessage] | None = None,
        rand: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.steps = steps
        self.client = client
        self.queue = queue
        self.jobs = jobs
        self.decide = decide
        self.callback = callback
        self.rand = rand
        self.clock = clock
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    @property
    def pool(self) -> ThreadPoolExecutor:
        """Threads for items, made on first use (after a fork) and kept between chunks."""
        if self._pool is None:
            with self._pool_lock:
                if self._pool is None:
                    # Threads are made as loops ask for them: the bound is for a worker of
                    # many task slots against a slow API (each chunk up to ``concurrency``).
                    self._pool = ThreadPoolExecutor(
                        max_workers=self.jobs.concurrency * 16, thread_name_prefix="zoomq-bulk"
                    )
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    # -- a chunk ---------------------------------------------------------------------
    def run(
        self,
        job_id: str,
        indexes: Sequence[int],
        *,
        owner: str,
        drained: Callable[[], object] | None = None,
    ) -> ChunkReport:
        """Run the items of ``indexes`` not yet done; ``owner`` names this attempt's leases.

        ``drained`` is called once every item has been taken and none handed back so far,
        while the last ones are still in flight: the job's next chunk can start filling
        the account's budget as this one winds down, rather than after it. (One of those
        last ones may still be handed back: the next chunk has then gone a little early,
        at most once per turn.)"""
        report = ChunkReport(job_id)
        meta = self.store.meta(job_id)
        callback = self.callback(job_id) if self.callback and meta and meta.callback_url else None
        started = self.store.start(job_id, indexes, callback) if meta is not None else None
        if meta is None or started is None or started.missing:
            report.missing = True
            return report
        if started.cancelled:
            report.cancelled = True
            report.finished_job = started.finished
            return report
        inputs = self.store.inputs(job_id, list(started.items))
        sink = Sink(self, job_id, meta, report)
        watch = _CancelWatch(self.store, job_id)
        from zoomq.jobs import batch  # batch builds on this module: imported when used

        if batch.applies(meta):
            batch.run(
                self, job_id, meta, inputs, started.items, sink, watch, owner=owner, drained=drained
            )
        else:
            self.singles(
                job_id, meta, inputs, started.items, sink, watch, owner=owner, drained=drained
            )
        sink.close()
        return report

    def singles(
        self,
        job_id: str,
        meta: JobMeta,
        inputs: Mapping[int, dict[str, Any]],
        attempts: Mapping[int, int],
        sink: Sink,
        watch: Callable[[], bool],
        *,
        owner: str,
        drained: Callable[[], object] | None = None,
    ) -> None:
        # Loops take the items in turn, the calling thread one of them: no hand-off per
        # item (a future and a wake-up each cost more than a slot does). As many loops as
        # the account's budget needs at the client's latency (``loops_needed``), up to
        # ``concurrency``: every loop more than that only waits for slots, and threads
        # waking each other cost CPU (one process, 8 loops instead of 1: +65 % per item).
        cap = min(self.jobs.concurrency, len(inputs))
        rate = self._rate(meta)
        stop = threading.Event()  # a rate limit: take no more items

        def run(index: int, data: dict[str, Any]) -> None:
            if stop.is_set():
                sink.later(Later(index, reason="rate_limited"))
                return
            attempt = attempts.get(index, 1)
            result = self.item(job_id, meta, index, data, attempt, owner, watch, stop)
            if isinstance(result, Later):
                sink.later(result)
            else:
                sink.outcome(result)

        def drain() -> None:
            # Not when items were handed back (a backoff, a lease held elsewhere): their
            # chunk runs again on this turn, and the next one waits for it as before.
            if not stop.is_set() and not sink.handed_back:
                self.drained(drained, job_id)

        loops = _Loops(
            list(inputs.items()),
            run,
            want=lambda: loops_needed(rate, self._latency(meta), cap),
            submit=self.pool.submit,
            drained=drain,
        )
        loops.run()

    @staticmethod
    def drained(drained: Callable[[], object] | None, job_id: str) -> None:
        """Call ``run``'s ``drained``; a failure only delays the next chunk to the end."""
        if drained is None:
            return
        try:
            drained()
        except Exception:  # Redis away: the chunk's end sends the next one instead
            log.warning("bulk.early_advance_failed", job_id=job_id, exc_info=True)

    def _rate(self, meta: JobMeta) -> float | None:
        """Requests per second the job's account allows for its action; None: unknown."""
        try:
            client = self.client(meta.connection)
            return client.budget(CATALOG[meta.action].category).per_second
        except Exception:  # an unknown connection: each item reports it
            return None

    def _latency(self, meta: JobMeta) -> float | None:
        try:
            return self.client(meta.connection).latency
        except Exception:
            return None

    def item(
        self,
        job_id: str,
        meta: JobMeta,
        index: int,
        data: Mapping[str, Any],
        attempt: int,
        owner: str,
        watch: Callable[[], bool],
        stop: threading.Event,
    ) -> Outcome | Later:
        """One item through ``run_step``; its outcome, or why it runs later."""
        if stop.is_set():
            return Later(index, reason="rate_limited")
        if watch():
            return Outcome(index, ItemState.CANCELLED)
        try:
            result, _ = run_step(
                lambda: self.client(meta.connection),
                meta.action,
                data,
                store=self.steps,
                key=item_key(job_id, index),
                owner=owner,
                lease=self.queue.step_lease,
            )
        except Exception as exc:
            outcome = self.classify(index, exc, attempt)
            # A rate limit stops the chunk taking new items (the account's budget is spent);
            # a lease held elsewhere is this item's alone (a killed worker's, until it
            # expires): the other items go on.
            if isinstance(outcome, Later) and not outcome.counted and not _held(exc):
                stop.set()
            return outcome
        return Outcome(index, ItemState.SUCCEEDED, output=output_of(result))

    def classify(self, index: int, exc: BaseException, attempt: int) -> Outcome | Later:
        """The queue's table applied to one item that raised ``exc`` on its ``attempt``-th run."""
        if isinstance(exc, RateLimited | StepInProgress):
            return self._wait(index, exc)
        decision = self.decide(exc, _SameForAll(attempt - 1), self.queue, self.clock())
        countdown = getattr(decision, "countdown", None)
        due_at = getattr(decision, "due_at", None)
        reason = str(getattr(decision, "reason", "give_up"))
        if countdown is not None or due_at is not None:
            return Later(
                index,
                wait=float(countdown or 0.0),
                park_until=None if due_at is None else float(due_at),
                counted=True,
                reason=reason,
                error=item_error(exc),
            )
        refused = (
            isinstance(exc, APIError | InvalidInput) and handling(exc).queue is QueueAction.GIVE_UP
        )
        return Outcome(
            index, ItemState.FAILED if refused else ItemState.DEAD, error=item_error(exc)
        )

    def _wait(self, index: int, exc: RateLimited | StepInProgress) -> Outcome | Later:
        """A rate limit or a lease held elsewhere: later, uncounted (a daily one: parked)."""
        if isinstance(exc, StepInProgress):
            return Later(index, wait=exc.retry_after, reason="step_in_progress")
        if registrant_cap(exc):
            # Zoom's 3 registrations of one email per day: this item's own limit, which
            # waiting for tomorrow would not make right (the same person, added again).
            return Outcome(index, ItemState.FAILED, error=item_error(exc))
        if isinstance(exc, DailyLimitExceeded):
            due = exc.reset_at.timestamp() + self.rand() * self.queue.daily_limit_jitter
            return Later(index, park_until=due, reason="daily_limit", error=item_error(exc))
        jitter = self.rand() * self.queue.rate_limit_jitter
        return Later(index, wait=exc.retry_after + jitter, reason="rate_limited")


class _Loops:
    """Loops over one chunk's items: the calling thread and helpers on the pool, started
    while ``want()`` asks for more than are running; ``drained`` once the last item is
    taken. A helper's exception is raised by ``run``."""

    def __init__(
        self,
        todo: list[tuple[int, dict[str, Any]]],
        run: Callable[[int, dict[str, Any]], None],
        *,
        want: Callable[[], int],
        submit: Callable[[Callable[[], None]], Future[None]],
        drained: Callable[[], None],
    ) -> None:
        self._todo = iter(todo)
        self._run = run
        self._want = want
        self._submit = submit
        self._drained: Callable[[], None] | None = drained
        self._lock = threading.Lock()
        self._helpers: list[Future[None]] = []

    def run(self) -> None:
        with self._lock:
            self._helpers += [self._submit(self._loop) for _ in range(self._want() - 1)]
        self._loop()
        while True:
            with self._lock:
                # Nothing is left to take: a helper still queued for a pool thread (other
                # chunks hold them all) would find nothing either, so it is not waited for.
                waiting = [h for h in self._helpers if not h.cancel() and not h.done()]
            if not waiting:
                break
            for helper in waiting:
                helper.result()
        for helper in self._helpers:
            if not helper.cancelled():
                helper.result()

    def _loop(self) -> None:
        while True:
            drained = None
            with self._lock:
                found = next(self._todo, None)
                if found is None:  # the first loop to find none tells, once
                    drained, self._drained = self._drained, None
            if found is None:
                if drained is not None:
                    drained()
                return
            self._run(*found)
            self._grow()

    def _grow(self) -> None:
        """One more loop if the latency now asks for more than are running."""
        want = self._want()
        with self._lock:
            if len(self._helpers) + 1 < want:
                self._helpers.append(self._submit(self._loop))


def loops_needed(rate: float | None, latency: float | None, cap: int) -> int:
    """Items a chunk keeps in flight: what ``rate`` requests/s keep busy at twice
    ``latency`` s each (Little's law; ``latency`` is the lower envelope of exchange times,
    and real ones spread above it: 100-300 ms at random has an envelope near 120 ms and a
    mean of 200), one more, at least 2, at most ``cap``. An unknown latency (no answer
    yet) starts at 2, and the chunk grows as answers come back; an unknown rate (no such
    connection) uses ``cap``."""
    if rate is None:
        return cap
    if latency is None:
        return min(2, cap)
    wanted = 2 * rate * latency
    if not math.isfinite(wanted):  # a budget without bound (the limiter lets all through)
        return cap
    return max(min(2, cap), min(cap, math.ceil(wanted) + 1))


def _held(exc: BaseException) -> bool:
    """The item's step lease is held by another attempt (alive, or killed mid-call)."""
    return isinstance(exc, StepInProgress)


def output_of(result: Mapping[str, Any]) -> dict[str, Any]:
    """An item's output: the action's ``data`` (and whether a look-up recovered it)."""
    found: dict[str, Any] = {"data": result.get("data")}
    if result.get("recovered"):
        found["recovered"] = True
    return found


class Sink:
    """Collects a chunk's outcomes and writes them to the store a few at a time."""

    def __init__(
        self, executor: ChunkExecutor, job_id: str, meta: JobMeta, report: ChunkReport
    ) -> None:
        self.executor = executor
        self.job_id = job_id
        self.report = report
        self._callback = (
            executor.callback(job_id) if executor.callback and meta.callback_url else None
        )
        self._outcomes: list[Outcome] = []
        self._later: list[Later] = []
        self._lock = threading.Lock()

    def take(self, done: set[Future[Outcome | Later]]) -> None:
        for future in done:
            found = future.result()
            if isinstance(found, Later):
                self.later(found)
            else:
                self.outcome(found)

    def outcome(self, outcome: Outcome) -> None:
        with self._lock:
            self._outcomes.append(outcome)
            self.report.counts[outcome.state.value] += 1
            full = len(self._outcomes) >= _FLUSH
        if full:
            self.flush()

    def later(self, later: Later) -> None:
        with self._lock:
            self._later.append(later)

    @property
    def handed_back(self) -> bool:
        """Whether any item of the chunk is to run again later."""
        return bool(self._later)

    def flush(self) -> None:
        with self._lock:
            outcomes, self._outcomes = self._outcomes, []
        if not outcomes:
            return
        if self.executor.store.finish(self.job_id, outcomes, self._callback):
            self.report.finished_job = True
        for state, count in Counter(o.state.value for o in outcomes).items():
            bulk_items(state, count)  # zoomq_bulk_items_total, once they are stored

    def close(self) -> None:
        """Write what is left; hand the deferred items back in the store and the report."""
        self.flush()
        later = self._later
        if not later:
            return
        store = self.executor.store
        counted = [x.index for x in later if x.counted]
        store.requeue(self.job_id, counted, counted=True)
        store.requeue(self.job_id, [x.index for x in later if not x.counted], counted=False)
        notes = {x.index: x.error for x in later if x.error is not None}
        if notes:
            store.note(self.job_id, notes)
        parks = [x.park_until for x in later if x.park_until is not None]
        reasons = Counter(x.reason for x in later)
        first = next((x.error for x in later if x.error is not None), None)
        log.info(
            "bulk.items_again",
            job_id=self.job_id,
            items=len(later),
            reasons=dict(reasons),
            error=None if first is None else first.model_dump(),
        )
        self.report.counts["handed_back"] += len(later)
        self.report.again = Again(
            indexes=sorted(x.index for x in later),
            countdown=max(x.wait for x in later),
            park_until=max(parks) if parks else None,
            reason=reasons.most_common(1)[0][0],
        )
