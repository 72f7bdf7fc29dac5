"""Taking a job in: every item validated before anything is stored, then stored and fanned out.

``validate`` checks each item against the action's input model (the catalog's, the same
``zoomq action NAME`` uses) and names each bad field by item index, a bounded list plus a
count. ``submit`` stores the job (``zoomq.runtime.jobs``) and commits it with its chunk
messages: Celery task messages written here, without Celery (``celery_message``), so the
receiver can call it without importing the worker. They wait in the job's list; a window
of them is on the ``bulk`` queue at a time, and each finished chunk sends the next, so
jobs submitted together take turns on the queue rather than one running before the rest.

Bulk messages go on kombu's lower priority lists of ``bulk`` (``high`` 3, ``normal`` 6,
``low`` 9): a worker consuming ``events`` too always takes a waiting event first, since
kombu's Redis transport reads every priority-0 list before any list of a lower priority.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import uuid
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any, Final

from pydantic import ValidationError

from zoomq.actions import CATALOG
from zoomq.actions.catalog import Action
from zoomq.errors import InvalidInput, InvalidItems
from zoomq.jobs.models import FieldError, JobMeta, JobRequest, JobView, Priority
from zoomq.runtime.celery_message import build_task_message
from zoomq.runtime.jobs import JobStore, QueuedMessage
from zoomq.runtime.names import BULK_QUEUE, JOB_CALLBACK_TASK, RUN_CHUNK_TASK
from zoomq.settings import JobsSettings

__all__ = [
    "BATCH_SIZE",
    "PRIORITY_STEPS",
    "SPOOL_MEMORY",
    "Fanout",
    "Validated",
    "cancel",
    "chunk_size_for",
    "request_digest",
    "retry_failed",
    "submit",
    "validate",
]

#: Job priority -> kombu priority step of its chunk messages (0, the events', is higher).
PRIORITY_STEPS: Final[Mapping[str, int]] = {"high": 3, "normal": 6, "low": 9}
#: Registrants per ``batch_registrants`` call (Zoom's limit).
BATCH_SIZE: Final = 30
#: kombu's separator between a queue's name and its priority step.
_PRIORITY_SEP = "\x06\x16"
#: Actions with a batch endpoint (``zoomq.jobs.batch``).
_BATCHED = frozenset({"addMeetingRegistrant", "addWebinarRegistrant"})


@dataclass
class Validated:
    """Items checked: their canonical JSON (to store, spooled: on disk past
    ``SPOOL_MEMORY``), and what was wrong with them.

    ``count`` invalid items, ``total`` invalid fields among them, the first ``errors``
    listed (``truncated`` when some were left off); ``items`` read 0 means none were given.
    """

    spool: IO[bytes] = field(default_factory=lambda: _spool(None))
    errors: list[FieldError] = field(default_factory=list)
    count: int = 0
    total: int = 0
    read: int = 0
    truncated: bool = False
    digest: Any = field(default_factory=hashlib.sha256)

    @property
    def items(self) -> Iterator[str]:
        """The valid items' canonical JSON, read back from the spool one at a time."""
        self.spool.seek(0)
        for line in self.spool:
            yield line[:-1].decode()

    def close(self) -> None:
        self.spool.close()


#: Valid items are kept in memory up to this size, then in a temporary file.
SPOOL_MEMORY: Final = 1 << 20


def _spool(directory: str | os.PathLike[str] | None) -> IO[bytes]:
    where = None if directory is None else os.fspath(directory)
    return tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY, dir=where)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _field(loc: Sequence[Any]) -> str:
    return ".".join(str(p) for p in loc) or "item"


def validate(
    action: str | Action,
    items: Iterable[Any],
    *,
    max_errors: int = 50,
    max_items: int = 100_000,
    spool_dir: str | os.PathLike[str] | None = None,
) -> Validated:
    """Check every item against ``action``'s input model; errors as (index, field, reason).

    At most ``max_errors`` are listed, every one counted. Items beyond ``max_items`` are
    not read: the refusal names the limit (index ``max_items``, field ``items``). Valid
    items go to a spool (in ``spool_dir``), so a large upload is never held whole; the
    caller closes it (``Validated.close``). ``OSError`` if the spool cannot be written.
    """
    spec = CATALOG[action] if isinstance(action, str) else action
    model = spec.input
    found = Validated(spool=_spool(spool_dir))
    digest = found.digest

    def refuse(index: int, where: str, reason: str) -> None:
        found.total += 1
        if len(found.errors) < max_errors:
            found.errors.append(FieldError(index=index, field=where, reason=reason))
        else:
            found.truncated = True

    for index, item in enumerate(items):
        found.read = index + 1
        if index >= max_items:
            found.count += 1
            refuse(index, "items", f"a job holds at most {max_items} items")
            break
        if not isinstance(item, Mapping):
            found.count += 1
            refuse(index, "item", "must be a JSON object (the action's input)")
            continue
        try:
            model.model_validate(dict(item))
        except ValidationError as exc:
            found.count += 1
            for error in exc.errors():
                refuse(index, _field(error["loc"]), str(error["msg"]))
            continue
        if found.count:  # refused anyway: nothing more to keep
            continue
        text = _canonical(item)
        found.spool.write(text.encode() + b"\n")
        digest.update(text.encode())
        digest.update(b"\n")
    return found


def request_digest(meta: JobMeta, items_digest: Any) -> str:
    """What makes two submissions the same job: everything but the idempotency key."""
    head = meta.model_dump(exclude={"idempotency_key"})
    digest = items_digest.copy()
    digest.update(_canonical(head).encode())
    return str(digest.hexdigest())


#: A batched registrant job's chunks hold this many times the setting's items: 30 items
#: are one call there, and a chunk of two calls would spend more on being a task than on
#: Zoom (measured at the sandbox with ``ZOOMQ_BULK_WINDOW`` 2: 60 items 859 people/s,
#: 240 items 1,179 people/s against a ceiling of 1,200).
_BATCHED_CHUNK_FACTOR: Final = 4


def chunk_size_for(meta: JobMeta, settings: JobsSettings) -> int:
    """Items per chunk: the setting; for a batched registrant job, whole batches, and
    ``_BATCHED_CHUNK_FACTOR`` times as many (an ineligible meeting's items then go one by
    one in these larger chunks)."""
    size = settings.chunk_size
    if meta.batch and meta.action in _BATCHED:
        size = max(BATCH_SIZE, size - size % BATCH_SIZE) * _BATCHED_CHUNK_FACTOR
    return size


class Fanout:
    """Builds a job's chunk messages: ``zoomq.jobs.run_chunk(job_id, indexes)`` on ``bulk``."""

    def __init__(self, settings: JobsSettings, *, queue: str = BULK_QUEUE) -> None:
        self.settings = settings
        self.queue = queue

    def list_for(self, priority: Priority) -> str:
        """The Redis list kombu reads for ``queue`` at this job priority."""
        return f"{self.queue}{_PRIORITY_SEP}{PRIORITY_STEPS[priority]}"

    def chunks(
        self, job_id: str, indexes: Sequence[int], meta: JobMeta, *, round_id: str = "0"
    ) -> list[QueuedMessage]:
        """One message per chunk of ``indexes``; task ids ``job:<id>:<round>:<n>``."""
        size = chunk_size_for(meta, self.settings)
        step = PRIORITY_STEPS[meta.priority]
        target = self.list_for(meta.priority)
        found: list[QueuedMessage] = []
        for n, start in enumerate(range(0, len(indexes), size)):
            part = list(indexes[start : start + size])
            task_id = f"job:{job_id}:{round_id}:{n}"
            message = build_task_message(
                RUN_CHUNK_TASK,
                [job_id, part],
                {},
                task_id,
                self.queue,
                argsrepr=f"({job_id!r}, <{len(part)} items from {part[0]}>)",
                ignore_result=True,
                priority=step,
            )
            found.append(QueuedMessage(target, message, task_id))
        return found

    def callback(self, job_id: str) -> QueuedMessage:
        """The completion callback's message (pushed once, by the step that finishes)."""
        task_id = f"job:{job_id}:callback:{uuid.uuid4().hex[:12]}"
        message = build_task_message(
            JOB_CALLBACK_TASK, [job_id], {}, task_id, self.queue, ignore_result=True
        )
        return QueuedMessage(self.queue, message, task_id)


def submit(
    store: JobStore,
    enqueue: Fanout,
    tenant: str,
    request: JobRequest,
    items: Iterable[Any] | None = None,
    *,
    connections: Collection[str] | None = None,
    spool_dir: str | os.PathLike[str] | None = None,
) -> tuple[JobView, bool]:
    """Validate, store and fan out a job; returns its view and whether it is new.

    ``items`` (an iterable, e.g. NDJSON lines parsed one by one) replaces
    ``request.items``. ``connections`` are those the tenant may use (None: any). Valid
    items are spooled in ``spool_dir`` (default: the system's) while the rest are checked.
    Raises ``InvalidItems`` (nothing stored), ``InvalidInput`` naming ``items`` (none),
    ``connection`` or ``callback_url``, ``JobConflict``, or ``OSError`` (the spool).
    """
    settings = enqueue.settings
    if connections is not None and request.connection not in connections:
        name = request.connection or "the default connection"
        raise InvalidInput(
            f"connection {name!r} is not one this key may use",
            [{"field": "connection", "message": "not allowed for this API key"}],
        )
    if request.callback_url is not None and not settings.callback_hosts:
        raise InvalidInput(
            "callbacks are not enabled (ZOOMQ_JOB_CALLBACK_HOSTS)",
            [{"field": "callback_url", "message": "no callback host is allowed"}],
        )
    checked = validate(
        request.action,
        request.items if items is None else items,
        max_errors=settings.max_errors,
        max_items=settings.max_items,
        spool_dir=spool_dir,
    )
    try:
        if not checked.read:
            raise InvalidInput(
                "a job needs at least one item",
                [{"field": "items", "message": "must not be empty"}],
            )
        if checked.count:
            raise InvalidItems(
                [e.model_dump() for e in checked.errors],
                count=checked.count,
                total=checked.total,
                truncated=checked.truncated,
            )
        meta = JobMeta.of(request)
        digest = request_digest(meta, checked.digest)
        committed = store.create(
            tenant,
            digest,
            meta,
            checked.items,
            chunks=lambda job_id, n: enqueue.chunks(job_id, range(n), meta),
            window=settings.window,
        )
    finally:
        checked.close()
    view = store.get(committed.job_id)
    assert view is not None, "a committed job is readable"
    return view, committed.created


def retry_failed(
    store: JobStore, enqueue: Fanout, job_id: str, tenant: str | None = None
) -> JobView | None:
    """Failed and dead items queued again and sent in new chunks; None for an unknown job."""
    view = store.get(job_id, tenant)
    meta = store.meta(job_id)
    if view is None or meta is None:
        return None
    indexes = store.retry_failed(job_id)
    if indexes:
        chunks = enqueue.chunks(job_id, indexes, meta, round_id=f"r{uuid.uuid4().hex[:8]}")
        store.add_chunks(job_id, chunks, enqueue.settings.window)
    return store.get(job_id, tenant)


def cancel(
    store: JobStore, enqueue: Fanout, job_id: str, tenant: str | None = None
) -> JobView | None:
    """Cancel a job (queued items at once, running ones finish); None for an unknown job."""
    if store.get(job_id, tenant) is None:
        return None
    meta = store.meta(job_id)
    callback = enqueue.callback(job_id) if meta is not None and meta.callback_url else None
    return store.cancel(job_id, callback)
