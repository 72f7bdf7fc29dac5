"""Registrants in batches: up to 30 per ``batch_registrants`` call, each item's result exact.

Zoom registers up to 30 people in one Heavy call (``POST /meetings/{id}/batch_registrants``,
``POST /webinars/{id}/batch_registrants``) for a scheduled meeting (type 2) or webinar
(type 5) that requires registration and whose host is licensed. A bulk
addMeetingRegistrant / addWebinarRegistrant job (``batch`` true, the default) looks each
meeting or webinar up once per job (getMeeting / getWebinar, then the host with getUser;
the answer is kept in the job) and sends its items in batches; otherwise, and for items
with fields the batch endpoint does not take (address, questions, occurrences...), one
request per item as usual.

Per item, exactly as single adds:

- each item's step (``job:<id>:<index>``) is begun before the call and finished with its
  own registrant, matched in Zoom's answer by email; a redelivered chunk replays what was
  recorded, and items an interrupted attempt left in doubt are looked for among the
  meeting's registrants (one listing for the batch) before they are sent again;
- a batch Zoom refuses as a whole (a 4xx) is split and its items sent one by one, so an
  item Zoom rejects fails alone with Zoom's code and message; an item missing from Zoom's
  answer is sent alone too (its own error says why, e.g. the 3-per-day limit of one
  email, which fails that item);
- a rate limit hands the batch's items back (the Heavy daily cap: parked until Zoom's
  reset, each item noting why it waits).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from zoomq.actions import CATALOG, parse_input, run_action
from zoomq.actions.base import build_request
from zoomq.client.errors_map import json_body
from zoomq.client.ratelimit import RateCategory
from zoomq.errors import (
    APIError,
    DailyLimitExceeded,
    QueueAction,
    TransportError,
    ZoomError,
    handling,
)
from zoomq.jobs.execute import Later, item_key, output_of, registrant_cap
from zoomq.jobs.models import ItemState, JobMeta
from zoomq.runtime.idempotency import summarize
from zoomq.runtime.jobs import Outcome

if TYPE_CHECKING:
    from zoomq.jobs.execute import ChunkExecutor, Sink

__all__ = ["BATCH_FIELDS", "BATCH_SIZE", "TARGETS", "Target", "applies", "eligibility", "run"]

#: Registrants per call (Zoom's limit).
BATCH_SIZE: Final = 30
#: The only input fields a batch registrant takes (besides the meeting or webinar).
BATCH_FIELDS: Final = frozenset({"email", "first_name", "last_name"})


@dataclass(frozen=True)
class Target:
    """What a registrant action is batched against: a meeting, or a webinar."""

    kind: str  # path segment: meetings | webinars
    field: str  # the input's field naming it
    lookup: str  # the catalog action that reads it
    lookup_field: str
    type: int  # the only type the batch endpoint takes
    listing: str  # the catalog action that lists its registrants


TARGETS: Final[Mapping[str, Target]] = {
    "addMeetingRegistrant": Target(
        "meetings", "meeting_id", "getMeeting", "meetingId", 2, "listMeetingRegistrants"
    ),
    "addWebinarRegistrant": Target(
        "webinars", "webinar_id", "getWebinar", "webinarId", 5, "listWebinarRegistrants"
    ),
}
_STATUSES = ("approved", "pending")


def applies(meta: JobMeta) -> bool:
    """Whether the job's items may go in batches (a registrant action, ``batch`` on)."""
    return meta.batch and meta.action in TARGETS


def eligibility(executor: ChunkExecutor, job_id: str, meta: JobMeta, target_id: str) -> str:
    """``"yes"``, or why the batch endpoint cannot take this meeting or webinar.

    Looked up once per job and kept in the job's hash (another chunk may look it up at the
    same time; both find the same). A lookup Zoom refuses is an answer (``no: ...``); a
    rate limit or a network error is raised, for the items to run later.
    """
    field = f"batch:{target_id}"
    cached = executor.store.fields(job_id, field)[0]
    if cached is not None:
        return cached
    target = TARGETS[meta.action]
    client = executor.client(meta.connection)
    try:
        found = run_action(client, target.lookup, {target.lookup_field: target_id})["data"]
        answer = _check(found, target)
        if answer == "yes":
            host = found.get("host_id")
            user = run_action(client, "getUser", {"userId": str(host)})["data"]
            if user.get("type") != 2:  # 1 Basic, 2 Licensed
                answer = "no: the host is not a licensed user"
    except APIError as exc:
        if handling(exc).queue is not QueueAction.GIVE_UP:
            raise
        answer = f"no: {target.lookup} answered {exc.status} code {exc.code}"
    executor.store.set_fields(job_id, **{field: answer})
    return answer


def _check(found: Any, target: Target) -> str:
    if not isinstance(found, Mapping):
        return "no: not an object"
    if found.get("type") != target.type:
        return f"no: type {found.get('type')}, the batch endpoint takes type {target.type}"
    settings = found.get("settings")
    # approval_type 2: no registration required.
    if not isinstance(settings, Mapping) or settings.get("approval_type") not in (0, 1):
        return "no: registration is not required"
    return "yes"


def _target_of(meta: JobMeta, data: Mapping[str, Any]) -> tuple[str, Any] | None:
    """The meeting or webinar of a batchable item, and its parsed input (None: not batchable)."""
    model = parse_input(CATALOG[meta.action], data)
    target = TARGETS[meta.action]
    if not model.model_fields_set <= BATCH_FIELDS | {target.field}:
        return None
    return str(build_request(model).path_params[target.lookup_field]), model


def run(
    executor: ChunkExecutor,
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
    """A chunk of a registrant job: eligible items in batches, the rest one by one;
    ``drained`` (``ChunkExecutor.run``) once every batch is on its way."""
    singles, batches = _plan(executor, job_id, meta, inputs, attempts, sink)
    stop = threading.Event()
    alone: dict[int, dict[str, Any]] = {}
    pending: set[Future[list[int]]] = set()
    for target_id, items in batches:
        while len(pending) >= executor.jobs.concurrency:
            done, pending = wait(pending, timeout=0.05, return_when=FIRST_COMPLETED)
            for future in done:
                alone.update({i: inputs[i] for i in future.result()})
        pending.add(
            executor.pool.submit(
                _batch, executor, job_id, meta, target_id, items, attempts, sink, watch, stop, owner
            )
        )
    if pending:
        # The first of the last batches answered: the next chunk may start while the rest
        # are in flight (sooner, and a chunk's few batches would send all a job's chunks
        # at once) — unless items already fell back to single adds or were handed back:
        # then the single adds' end (or the chunk's) sends it, as for any chunk.
        done, pending = wait(pending, return_when=FIRST_COMPLETED)
        for future in done:
            alone.update({i: inputs[i] for i in future.result()})
        if not (stop.is_set() or alone or singles or sink.handed_back):
            executor.drained(drained, job_id)
            drained = None
    for future in wait(pending).done:
        alone.update({i: inputs[i] for i in future.result()})
    singles.update(alone)
    if singles:
        executor.singles(
            job_id,
            meta,
            dict(sorted(singles.items())),
            attempts,
            sink,
            watch,
            owner=owner,
            drained=drained,
        )


def _plan(
    executor: ChunkExecutor,
    job_id: str,
    meta: JobMeta,
    inputs: Mapping[int, dict[str, Any]],
    attempts: Mapping[int, int],
    sink: Sink,
) -> tuple[dict[int, dict[str, Any]], list[tuple[str, list[tuple[int, Any]]]]]:
    """The chunk's items to add one by one, and its batches of eligible targets."""
    singles: dict[int, dict[str, Any]] = {}
    groups: dict[str, list[tuple[int, Any]]] = {}
    for index, data in inputs.items():
        found = _target_of(meta, data)
        if found is None:
            singles[index] = data
        else:
            groups.setdefault(found[0], []).append((index, found[1]))
    batches: list[tuple[str, list[tuple[int, Any]]]] = []
    for target_id, items in groups.items():
        try:
            answer = eligibility(executor, job_id, meta, target_id)
        except Exception as exc:
            for index, _ in items:
                _defer(executor, sink, index, exc, attempts.get(index, 1))
            continue
        if answer != "yes":
            singles.update({index: inputs[index] for index, _ in items})
            continue
        batches += [
            (target_id, items[k : k + BATCH_SIZE]) for k in range(0, len(items), BATCH_SIZE)
        ]
    return singles, batches


def _defer(
    executor: ChunkExecutor, sink: Sink, index: int, exc: BaseException, attempt: int
) -> None:
    found = executor.classify(index, exc, attempt)
    if isinstance(found, Outcome):
        sink.outcome(found)
    else:
        sink.later(found)


def _registrant(target_id: str, registrant: Mapping[str, Any]) -> dict[str, Any]:
    """One batch registrant, shaped like a single add's reply."""
    found: dict[str, Any] = {
        "id": int(target_id) if target_id.isdigit() else target_id,
        "registrant_id": registrant.get("registrant_id") or registrant.get("id"),
        "join_url": registrant.get("join_url"),
        "email": registrant.get("email"),
    }
    if "participant_pin_code" in registrant:
        found["participant_pin_code"] = registrant["participant_pin_code"]
    return found


def _email(value: Any) -> str:
    return value.strip().casefold() if isinstance(value, str) else ""


class _Batch:
    """One batch call for some items of one meeting or webinar, and each item's outcome."""

    def __init__(
        self,
        executor: ChunkExecutor,
        job_id: str,
        meta: JobMeta,
        target_id: str,
        attempts: Mapping[int, int],
        sink: Sink,
        owner: str,
    ) -> None:
        self.executor = executor
        self.job_id = job_id
        self.meta = meta
        self.target_id = target_id
        self.target = TARGETS[meta.action]
        self.attempts = attempts
        self.sink = sink
        self.owner = owner
        self.steps = executor.steps

    def key(self, index: int) -> str:
        return item_key(self.job_id, index)

    def run(
        self, items: list[tuple[int, Any]], watch: Callable[[], bool], stop: threading.Event
    ) -> list[int]:
        """Send ``items``; returns the indexes to send one by one instead."""
        todo, doubt = self.begin(items, watch, stop)
        if doubt:
            todo += self.recover(doubt)
        return self.send(todo, stop) if todo else []

    def begin(
        self, items: list[tuple[int, Any]], watch: Callable[[], bool], stop: threading.Event
    ) -> tuple[list[tuple[int, Any]], list[tuple[int, Any]]]:
        """Each item's step begun: those to send, and those an earlier attempt left in doubt."""
        todo: list[tuple[int, Any]] = []
        doubt: list[tuple[int, Any]] = []
        lease = self.executor.queue.step_lease
        for index, model in items:
            if stop.is_set():
                self.sink.later(Later(index, reason="rate_limited"))
            elif watch():
                self.sink.outcome(Outcome(index, ItemState.CANCELLED))
            elif self.steps is None:
                todo.append((index, model))
            else:
                begun = self.steps.begin(self.key(index), self.owner, lease)
                if begun.state == "done":
                    assert begun.record is not None
                    result = begun.record.result
                    output = output_of(result if isinstance(result, dict) else {})
                    self.sink.outcome(Outcome(index, ItemState.SUCCEEDED, output=output))
                elif begun.state == "busy":
                    self.sink.later(Later(index, wait=begun.retry_after, reason="step_in_progress"))
                else:
                    (doubt if begun.state == "resume" else todo).append((index, model))
        return todo, doubt

    def release(self, items: list[tuple[int, Any]], *, changed_nothing: bool) -> None:
        if self.steps is not None:
            for index, _ in items:
                self.steps.release(self.key(index), self.owner, changed_nothing=changed_nothing)

    def record(self, index: int, registrant: Mapping[str, Any], *, recovered: bool = False) -> None:
        result: dict[str, Any] = {"data": _registrant(self.target_id, registrant)}
        if self.steps is not None:
            self.steps.finish(self.key(index), summarize(self.meta.action, result), result)
        if recovered:
            result["recovered"] = True
        self.sink.outcome(Outcome(index, ItemState.SUCCEEDED, output=output_of(result)))

    def defer(
        self, items: list[tuple[int, Any]], exc: BaseException, stop: threading.Event
    ) -> None:
        for index, _ in items:
            found = self.executor.classify(index, exc, self.attempts.get(index, 1))
            if isinstance(found, Outcome):
                self.sink.outcome(found)
                continue
            if not found.counted:
                stop.set()  # a rate limit: the other batches wait too
            self.sink.later(found)

    def recover(self, doubt: list[tuple[int, Any]]) -> list[tuple[int, Any]]:
        """Items in doubt found among the registrants are done; the others are sent."""
        client = self.executor.client(self.meta.connection)
        try:
            known = _listed(client, self.target, self.target_id)
        except Exception as exc:
            self.release(doubt, changed_nothing=False)
            self.defer(doubt, exc, threading.Event())
            return []
        todo = []
        for index, model in doubt:
            registrant = known.get(_email(model.email))
            if registrant is None:
                todo.append((index, model))
            else:
                self.record(index, registrant, recovered=True)
        return todo

    def send(self, todo: list[tuple[int, Any]], stop: threading.Event) -> list[int]:
        body = {"registrants": [_body(model) for _, model in todo]}
        client = self.executor.client(self.meta.connection)
        try:
            response = client.request(
                "POST",
                f"/{self.target.kind}/{self.target_id}/batch_registrants",
                json=body,
                category=RateCategory.HEAVY,
            )
        except APIError as exc:
            self.release(todo, changed_nothing=True)
            if handling(exc).queue is QueueAction.GIVE_UP:
                return [index for index, _ in todo]  # refused as a whole: one by one
            self.defer(todo, exc, stop)
            return []
        except DailyLimitExceeded as exc:
            self.release(todo, changed_nothing=True)
            if registrant_cap(exc):  # one email over its daily cap refuses the batch
                return [index for index, _ in todo]
            self.defer(todo, exc, stop)
            return []
        except ZoomError as exc:
            # No answer (TransportError): Zoom may have registered them; look first next time.
            self.release(todo, changed_nothing=not isinstance(exc, TransportError))
            self.defer(todo, exc, stop)
            return []
        except BaseException:
            self.release(todo, changed_nothing=False)
            raise
        answered = json_body(response)
        listed = answered.get("registrants") if isinstance(answered, Mapping) else None
        by_email = {_email(r.get("email")): r for r in listed or [] if isinstance(r, Mapping)}
        missing: list[int] = []
        for index, model in todo:
            registrant = by_email.get(_email(model.email))
            if registrant is None:
                self.release([(index, model)], changed_nothing=True)
                missing.append(index)
            else:
                self.record(index, registrant)
        return missing


def _body(model: Any) -> dict[str, Any]:
    found = {"email": model.email, "first_name": model.first_name}
    if model.last_name is not None:
        found["last_name"] = model.last_name
    return found


def _batch(
    executor: ChunkExecutor,
    job_id: str,
    meta: JobMeta,
    target_id: str,
    items: list[tuple[int, Any]],
    attempts: Mapping[int, int],
    sink: Sink,
    watch: Callable[[], bool],
    stop: threading.Event,
    owner: str,
) -> list[int]:
    return _Batch(executor, job_id, meta, target_id, attempts, sink, owner).run(items, watch, stop)


def _listed(client: Any, target: Target, target_id: str) -> dict[str, Mapping[str, Any]]:
    """The meeting's approved and pending registrants by email (for items in doubt)."""
    lister = CATALOG[target.listing]
    assert lister.items_key is not None
    found: dict[str, Mapping[str, Any]] = {}
    for status in _STATUSES:
        parts = build_request(
            parse_input(lister, {target.lookup_field: target_id, "status": status})
        )
        for page in client.iter_pages(
            lister.path.format(**parts.path_params),
            params=parts.query,
            page_size=lister.page_size,
            category=lister.category,
        ):
            for registrant in page.get(lister.items_key) or []:
                if isinstance(registrant, Mapping):
                    found.setdefault(_email(registrant.get("email")), registrant)
    return found
