"""Worker signals: logging at process start, a fresh runtime per forked child, the
parked-task scheduler and the ``/metrics`` server in the main process, the ledger record
dropped as a task starts, task metrics, and a clean shutdown.

Signals are process-wide: ``connect`` is called only where a zoomq worker runs, and every
handler leaves apps without a zoomq runtime alone.
"""

from __future__ import annotations

import logging
import time
from datetime import date
from typing import Any
from uuid import uuid4

import structlog
from celery import Celery
from celery._state import get_current_app
from celery.signals import (
    setup_logging,
    task_postrun,
    task_prerun,
    task_retry,
    task_revoked,
    task_unknown,
    worker_init,
    worker_process_init,
    worker_ready,
    worker_shutdown,
)
from kombu.transport.redis import Channel

from tasks.runtime import Runtime, get_runtime
from tasks.sync import SYNC_TASK
from worker.logconfig import setup_worker_logging
from worker.metrics import MetricsServer, RedisCollector, clear_multiprocess_dir
from worker.scheduler import ParkingScheduler, SyncScheduler
from zoomq.errors import ConfigurationError
from zoomq.metrics import task_finished, task_retried
from zoomq.redis_client import redis_client
from zoomq.runtime.ledger import BrokerKeys
from zoomq.runtime.names import DOWNLOADS_QUEUE

__all__ = ["broker_keys", "connect", "connect_task_metrics", "outcome"]

log = structlog.get_logger("zoomq.worker")


def _app(sender: Any) -> Celery:
    app = getattr(sender, "app", None)
    return app if isinstance(app, Celery) else get_current_app()


def _runtime(app: Celery) -> Runtime | None:
    try:
        return get_runtime(app)
    except ConfigurationError:
        return None


def _setup_logging(loglevel: Any = None, **_: Any) -> None:
    # Handling this signal stops Celery from configuring logging itself.
    runtime = _runtime(get_current_app())
    if runtime is None:  # not zoomq's app: plain logging, as Celery would
        logging.basicConfig(level=loglevel or logging.WARNING)
        return
    settings = runtime.settings
    setup_worker_logging(settings.zoomq_log_format, loglevel or settings.zoomq_log_level)


def _process_init(**_: Any) -> None:
    runtime = _runtime(get_current_app())
    if runtime is not None:
        runtime.after_fork()


def _worker_init(sender: Any = None, **_: Any) -> None:
    """Before the pool starts: with metrics on, count tasks, and empty the multiprocess dir."""
    runtime = _runtime(_app(sender))
    if runtime is None or runtime.config.metrics_port == 0:
        return
    folder = runtime.settings.prometheus_multiproc_dir
    if folder is not None:
        clear_multiprocess_dir(folder)
    elif "prefork" in str(getattr(sender, "pool_cls", "")).lower():
        log.error(
            "metrics.no_multiproc_dir",
            hint="set PROMETHEUS_MULTIPROC_DIR: the pool's processes count in their own memory",
        )
    connect_task_metrics()


def _serve_metrics(app: Celery, runtime: Runtime) -> None:
    config = runtime.config
    if config.metrics_port == 0 or runtime.metrics_server is not None:
        return
    consumer = getattr(getattr(app, "amqp", None), "queues", None)
    queues = set(consumer.consume_from) if consumer and consumer.consume_from else set()
    names = queues or {q.name for q in app.conf.task_queues or ()}
    # Its own client with short timeouts: a blackholed Redis must give `zoomq_redis_up 0`
    # within Prometheus's scrape timeout (10 s), not after the tasks' 30 s socket timeout.
    scrape_redis = redis_client(
        runtime.settings, socket_connect_timeout=_SCRAPE_TIMEOUT, socket_timeout=_SCRAPE_TIMEOUT
    )
    collector = RedisCollector(scrape_redis, runtime.keys, broker_keys(app), names)
    server = MetricsServer(
        config.metrics_port,
        config.metrics_host,
        collector,
        runtime.settings.prometheus_multiproc_dir,
    )
    runtime.metrics_server = server.start()


def _ready(sender: Any = None, **_: Any) -> None:
    from worker.app import send_message

    app = _app(sender)
    runtime = _runtime(app)
    if runtime is None:
        return
    _serve_metrics(app, runtime)
    if runtime.scheduler is None:
        runtime.scheduler = ParkingScheduler(
            runtime.parking,
            lambda message: send_message(app, message),
            interval=runtime.config.scheduler_interval,
            ledger=runtime.ledger,
            broker=broker_keys(app),
            ledger_grace=runtime.config.visibility_timeout,
        ).start()
    if runtime.sync_scheduler is None:
        runtime.sync_scheduler = _sync_scheduler(app, runtime)
        if runtime.sync_scheduler is not None:
            runtime.sync_scheduler.start()
    log.info("worker.ready", automations=len(runtime.automations))


def _sync_scheduler(app: Celery, runtime: Runtime) -> SyncScheduler | None:
    """The archive's scheduled sync of this worker; None when it is off.

    Off when ``ZOOMQ_ARCHIVE_SYNC_INTERVAL`` is 0, the archive is disabled, or this worker
    does not consume the ``downloads`` queue (a worker only for events and actions has no
    business scheduling downloads).
    """
    archive = runtime.settings.archive
    if not archive.enabled or archive.sync_interval <= 0:
        return None
    consumer = getattr(getattr(app, "amqp", None), "queues", None)
    queues = set(consumer.consume_from) if consumer and consumer.consume_from else set()
    if queues and DOWNLOADS_QUEUE not in queues:
        return None

    def send(connection: str, start: date, end: date) -> None:
        args = [connection, start.isoformat(), end.isoformat()]
        app.send_task(SYNC_TASK, args=args, task_id=f"sync-{connection}-{end}-{uuid4().hex[:8]}")

    return SyncScheduler(
        runtime.redis,
        send,
        lambda: runtime.connections().keys(),
        key=runtime.keys("archive", "sync", "round"),
        interval=archive.sync_interval,
        days=archive.sync_days,
    )


def _shutdown(sender: Any = None, **_: Any) -> None:
    runtime = _runtime(_app(sender))
    if runtime is None:
        return
    if isinstance(runtime.scheduler, ParkingScheduler):
        runtime.scheduler.stop()
        runtime.scheduler = None
    if isinstance(runtime.sync_scheduler, SyncScheduler):
        runtime.sync_scheduler.stop()
        runtime.sync_scheduler = None
    if isinstance(runtime.metrics_server, MetricsServer):
        runtime.metrics_server.stop()
        runtime.metrics_server = None
    runtime.close()


def connect() -> None:
    """Connect the handlers once per process (``dispatch_uid`` makes it idempotent)."""
    setup_logging.connect(_setup_logging, weak=False, dispatch_uid="zoomq.setup_logging")
    worker_init.connect(_worker_init, weak=False, dispatch_uid="zoomq.worker_init")
    worker_process_init.connect(_process_init, weak=False, dispatch_uid="zoomq.process_init")
    worker_ready.connect(_ready, weak=False, dispatch_uid="zoomq.worker_ready")
    worker_shutdown.connect(_shutdown, weak=False, dispatch_uid="zoomq.worker_shutdown")
    task_prerun.connect(_started, weak=False, dispatch_uid="zoomq.task_started")
    task_revoked.connect(_discarded, weak=False, dispatch_uid="zoomq.task_revoked")
    task_unknown.connect(_discarded, weak=False, dispatch_uid="zoomq.task_unknown")


def connect_task_metrics() -> None:
    """Count every task run (``zoomq.metrics``); only when the worker serves metrics."""
    task_prerun.connect(_metric_started, weak=False, dispatch_uid="zoomq.metrics.prerun")
    task_postrun.connect(_metric_finished, weak=False, dispatch_uid="zoomq.metrics.postrun")
    task_retry.connect(_metric_retried, weak=False, dispatch_uid="zoomq.metrics.retry")


#: When each running task started (``perf_counter``), by task id.
_STARTS: dict[str, float] = {}


def _metric_started(task_id: str | None = None, **_: Any) -> None:
    if task_id is not None:
        _STARTS[task_id] = time.perf_counter()


#: A successful run's ``status`` (``ZoomqTask``'s summaries) -> its outcome; else ``done``.
#: Seconds a scrape waits for Redis before reporting it down.
_SCRAPE_TIMEOUT = 2.0

_STATUS_OUTCOMES = {"parked": "parked", "dead_lettered": "dead"}


def outcome(state: str | None, retval: Any) -> str:
    """The ``outcome`` label of a finished run: its Celery state and what the task returned."""
    if state == "SUCCESS":
        status = retval.get("status") if type(retval) is dict else None
        return _STATUS_OUTCOMES.get(status, "done") if type(status) is str else "done"
    return "retried" if state == "RETRY" else "failed"


def _metric_finished(
    task_id: str | None = None,
    task: Any = None,
    retval: Any = None,
    state: str | None = None,
    **_: Any,
) -> None:
    started = _STARTS.pop(task_id, None) if task_id is not None else None
    seconds = None if started is None else time.perf_counter() - started
    task_finished(str(getattr(task, "name", "other")), outcome(state, retval), seconds)


def _metric_retried(sender: Any = None, reason: Any = None, **_: Any) -> None:
    error = type(reason).__name__ if isinstance(reason, BaseException) else "other"
    task_retried(str(getattr(sender, "name", "other")), error)


def broker_keys(app: Celery) -> BrokerKeys:
    """The Redis keys kombu keeps ``app``'s messages under: every queue's priority lists, unacked.

    As kombu's Redis ``Channel`` names them (``_q_for_pri``), with the app's transport options.
    """
    options = app.conf.broker_transport_options or {}
    prefix = str(options.get("global_keyprefix", Channel.global_keyprefix))
    sep = str(options.get("sep", Channel.sep))
    steps = sorted({int(p) for p in options.get("priority_steps", Channel.priority_steps)})
    names = [q.name for q in app.conf.task_queues or ()] or [app.conf.task_default_queue]
    unacked = prefix + str(options.get("unacked_key", Channel.unacked_key))
    keys = BrokerKeys(lists=(), unacked=unacked, prefix=prefix, sep=sep, steps=tuple(steps))
    return keys.with_queues(names)


def _started(task_id: str | None = None, task: Any = None, **_: Any) -> None:
    """The task starts: its message is kombu's to restore from here on; drop the ledger record.

    A retry sends a new message with the same id, recorded again as it is sent (after this);
    a parked task is the parking lot's until it is sent again (recorded then).
    """
    if task_id is None:
        return
    runtime = _runtime(_app(task))
    if runtime is None:
        return
    try:
        runtime.ledger.started(task_id)
    except Exception as exc:  # the sweep finds it nowhere and sends it again: idempotent
        log.warning("ledger.start_failed", task_id=task_id, error=type(exc).__name__)


def _discarded(sender: Any = None, id: str | None = None, request: Any = None, **_: Any) -> None:
    """A message acknowledged without its task starting (revoked, unknown task): drop it too.

    Otherwise the sweep would find it nowhere and send it again, a visibility timeout apart,
    for ever.
    """
    task_id = id or getattr(request, "id", None)
    _started(task_id=task_id if isinstance(task_id, str) else None, task=sender)
