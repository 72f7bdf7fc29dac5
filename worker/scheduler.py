"""The parked-task scheduler: a thread in the worker's main process.

Every ``interval`` seconds it moves due entries out of the parking lot (atomically, see
``zoomq.runtime.parking``) and sends each message again. A message that cannot be sent stays in
the in-flight set and is put back by ``recover`` after ``stale_after`` seconds. The same
pass sweeps the task ledger (``zoomq.runtime.ledger``) and sends again what it proves lost.

``SyncScheduler``, a second thread, sends one ``zoomq.downloads.sync`` task per connection
every ``ZOOMQ_ARCHIVE_SYNC_INTERVAL`` seconds (see ``zoomq.archive.sync``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Self

import structlog

from zoomq.runtime.ledger import BrokerKeys, Ledger
from zoomq.runtime.message import TaskMessage
from zoomq.runtime.parking import ParkingLot

if TYPE_CHECKING:
    import redis

__all__ = ["ParkingScheduler", "SyncScheduler", "sync_window"]

log = structlog.get_logger("zoomq.worker")


class _Periodic:
    """A daemon thread that calls ``tick`` every ``period`` seconds until stopped; a tick
    that fails (Redis away) is logged and the next one tries again."""

    #: The thread's name and the prefix of its log events.
    name = "zoomq-periodic"
    event = "periodic"

    def __init__(self, period: float) -> None:
        self.period = period
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self) -> int:
        raise NotImplementedError

    def _loop(self) -> None:
        while True:
            try:
                self.tick()
            except Exception as exc:  # keep the thread alive, try again next period
                log.error(f"{self.event}.tick_failed", error=type(exc).__name__, detail=str(exc))  # noqa: TRY400
            if self._stop.wait(self.period):
                return

    def start(self) -> Self:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
        self._thread.start()
        log.info(f"{self.event}.scheduler_started", period=self.period)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()


class ParkingScheduler(_Periodic):
    """Send parked tasks again when they are due."""

    name, event = "zoomq-parking", "parking"

    def __init__(
        self,
        lot: ParkingLot,
        send: Callable[[TaskMessage], None],
        *,
        interval: float = 1.0,
        batch: int = 100,
        stale_after: float = 60.0,
        clock: Callable[[], float] = time.time,
        ledger: Ledger | None = None,
        broker: BrokerKeys | None = None,
        ledger_grace: float = 3600.0,
        ledger_batch: int = 1000,
    ) -> None:
        self.ledger = ledger
        self.broker = broker
        self.ledger_grace = ledger_grace
        self.ledger_batch = ledger_batch
        self.lot = lot
        self.send = send
        self.interval = interval
        self.batch = batch
        self.stale_after = stale_after
        self.clock = clock
        super().__init__(interval)

    def tick(self) -> int:
        """One pass: recover stale in-flight entries, send what is due; returns how many."""
        now = self.clock()
        recovered = self.lot.recover(self.stale_after, now)
        if recovered:
            log.warning("parking.recovered", count=recovered)
        sent = 0
        for entry in self.lot.claim_due(now, self.batch):
            message = entry.message
            try:
                self.send(message)
            except Exception as exc:  # stays in flight; recover() brings it back
                log.error(  # noqa: TRY400 - a traceback's text would bypass redaction
                    "parking.send_failed",
                    task=message.name,
                    task_id=message.task_id,
                    error=type(exc).__name__,
                    detail=str(exc),
                )
                continue
            self.lot.sent(entry)
            sent += 1
            log.info(
                "parking.sent",
                task=message.name,
                task_id=message.task_id,
                late=round(now - entry.due_at, 3),
            )
        return sent + self._resend_overdue()

    def _resend_overdue(self) -> int:
        """Send again what the ledger proves lost (see zoomq.runtime.ledger)."""
        if self.ledger is None or self.broker is None:
            return 0
        result = self.ledger.sweep(
            self.ledger_grace, self.broker, limit=self.ledger_batch, settle=self.interval
        )
        if result.checked:
            log.info(
                "ledger.swept",
                checked=result.checked,
                found=result.found,
                missing=result.missing,
                resent=len(result.resend),
                conclusive=result.conclusive,
            )
        for message in result.resend:
            log.warning("ledger.resent", task=message.name, task_id=message.task_id)
            self.send(message)
        return len(result.resend)


def sync_window(today: date, days: int) -> tuple[date, date]:
    """The last ``days`` days up to and including ``today`` (UTC), as a reconcile window."""
    return today - timedelta(days=max(days, 1) - 1), today


def _utc_today() -> date:
    return datetime.now(UTC).date()


class SyncScheduler(_Periodic):
    """Send one archive sync per connection every ``interval`` seconds, from one worker.

    The workers share a Redis key set with ``NX`` and an expiry of ``interval``: whoever sets
    it sends this round's syncs, the others find it set and wait for the next round. A
    worker that dies after setting it costs nothing: the key expires on its own. The syncs
    run as tasks (the ``downloads`` queue), never in this thread of the main process.
    """

    name, event = "zoomq-archive-sync", "archive.sync"

    def __init__(
        self,
        redis_client: redis.Redis,
        send: Callable[[str, date, date], None],
        connections: Callable[[], Iterable[str]],
        *,
        key: str,
        interval: float,
        days: int,
        today: Callable[[], date] = _utc_today,
        poll: float | None = None,
    ) -> None:
        self.redis = redis_client
        self.send = send
        self.connections = connections
        self.key = key
        self.interval = interval
        self.days = days
        self.today = today
        #: How often a worker checks whether this round is taken (at most a minute).
        self.poll = poll if poll is not None else min(interval, 60.0)
        super().__init__(self.poll)

    def tick(self) -> int:
        """Send this round's syncs if no worker has yet; returns how many were sent."""
        if not self.redis.set(self.key, str(time.time()), nx=True, px=int(self.interval * 1000)):
            return 0
        start, end = sync_window(self.today(), self.days)
        sent = 0
        for connection in sorted(self.connections()):
            self.send(connection, start, end)
            sent += 1
        log.info("archive.sync_scheduled", connections=sent, start=str(start), end=str(end))
        return sent
