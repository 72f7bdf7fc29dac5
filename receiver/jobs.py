"""The ``/v1`` bulk jobs API: submit a job, follow it, read its results, cancel, retry.

Every route wants a Bearer API key (``receiver.apikeys``); a tenant only ever sees its own
jobs (another's answers 404, as one that does not exist). The handlers enqueue through
the core's ``submit`` by task name: the receiver never imports tasks.

``POST /v1/jobs`` takes ``application/json`` (``JobRequest``, at most ``MAX_JSON_BYTES``)
or ``application/x-ndjson`` (one item per line, the other fields as query parameters),
read as it streams: each line at most ``MAX_LINE_BYTES``, at most
``ZOOMQ_JOB_MAX_ITEMS`` lines, checked as it arrives and kept in a spool file (on disk past
``SPOOL_MEMORY`` bytes), so no upload is held whole in memory. Nothing is queued unless
every item is valid. In order, the checks and their statuses:

- 401 no or wrong key, 503 ``jobs_disabled`` without keys; 415 another content type;
- 413 a body over ``MAX_JSON_BYTES``, a line over ``MAX_LINE_BYTES``, more items than
  ``ZOOMQ_JOB_MAX_ITEMS``; 400 a body that is not JSON, an NDJSON line that is not a JSON
  object (the line is named);
- 422 ``invalid_request`` naming a request field (``action``: unknown, with the closest
  one; ``connection``: not configured, a 422 and not a 404, since the URL exists;
  ``callback_url``: not an allowed host; a query parameter not known); 403 a connection
  the key may not use;
- 422 ``invalid_request`` naming ``items``: none given, or not a list;
- 422 ``invalid_items``: ``count`` invalid items (an item that is not an object is one),
  ``errors_total`` invalid fields among them, the first ``ZOOMQ_JOB_MAX_ERRORS`` listed
  as ``{index, field, reason}``, ``truncated`` when some were left off;
- 413 an NDJSON upload over ``MAX_UPLOAD_BYTES``; 507 ``insufficient_storage`` when the
  spool cannot be written (a full disk): nothing is stored;
- 409 the idempotency key was used with another body; the same key with the same body
  answers what the first request got (202, the same job: Stripe's rule), with
  ``Idempotent-Replayed: true``;
- 202 ``{job_id, items, status_url}`` and ``Location``; 503 Redis did not answer.

``status_url`` (and ``Location``) is a path, ``/v1/jobs/{id}``: the receiver does not
know the name it is reached by behind a proxy, and a Host header is the caller's to set.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import IO, Any

import orjson
import structlog
from pydantic import BaseModel, ValidationError
from redis.exceptions import RedisError
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from receiver.apikeys import ApiKeys, AuthFailure, Tenant, forbidden
from receiver.body import BodyTooLarge, read_body
from receiver.openapi import (
    MAX_CURSOR,
    MAX_ITEMS_PAGE,
    MAX_JOBS_PAGE,
    OPENAPI_PATH,
    openapi_document,
    submit_query_fields,
)
from receiver.runtime import ReceiverRuntime
from zoomq.errors import (
    ConfigurationError,
    InvalidInput,
    InvalidItems,
    JobConflict,
    QueueUnavailable,
)
from zoomq.jobs.api import (
    API_PREFIX,
    NDJSON,
    Accepted,
    ErrorBody,
    ItemsPage,
    JobBody,
    JobList,
    ParamError,
    RequestErrors,
)
from zoomq.jobs.callback import CallbackHosts
from zoomq.jobs.models import FieldError, ItemErrorReport, ItemState, JobRequest, JobView
from zoomq.jobs.submit import Fanout, cancel, retry_failed, submit
from zoomq.runtime.jobs import JobStore
from zoomq.settings import DEFAULT_CONNECTION

__all__ = [
    "MAX_JSON_BYTES",
    "MAX_LINE_BYTES",
    "MAX_UPLOAD_BYTES",
    "SPOOL_MEMORY",
    "JobsAPI",
    "http_error",
    "jobs_routes",
]

log = structlog.get_logger(__name__)

#: Largest JSON body; more items go as NDJSON, which has no such limit.
MAX_JSON_BYTES = 16 << 20
#: Longest NDJSON line (one item).
MAX_LINE_BYTES = 64 << 10
#: An NDJSON upload is spooled in memory up to this size, then on disk.
SPOOL_MEMORY = 1 << 20
#: Most bytes of items one NDJSON upload may hold (100,000 items of 2 KiB).
MAX_UPLOAD_BYTES = 200 << 20


class _Refusal(Exception):
    """An answer other than success, raised from deep in a handler."""

    def __init__(self, status: int, body: BaseModel, headers: dict[str, str] | None = None):
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}


def _refuse(status: int, error: str, message: str) -> _Refusal:
    return _Refusal(status, ErrorBody(error=error, message=message))


def _invalid(message: str, *errors: tuple[str, str]) -> _Refusal:
    found = [ParamError(field=f, reason=r) for f, r in errors]
    return _Refusal(422, RequestErrors(message=message, errors=found))


def _json(status: int, body: BaseModel, headers: dict[str, str] | None = None) -> Response:
    return Response(
        body.model_dump_json(),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


def _auth_failure(failure: AuthFailure) -> _Refusal:
    return _Refusal(
        failure.status,
        ErrorBody(error=failure.error, message=failure.message),
        dict(failure.headers),
    )


def _validation_errors(exc: ValidationError, message: str) -> _Refusal:
    errors = []
    for error in exc.errors()[:50]:
        field = ".".join(str(p) for p in error["loc"]) or "body"
        errors.append((field, error["msg"].removeprefix("Value error, ")))
    return _invalid(message, *errors)


class _SpooledItems:
    """NDJSON items as they arrive: each line checked, counted and written to a spool file."""

    def __init__(
        self,
        max_items: int,
        directory: str | os.PathLike[str] | None = None,
        max_bytes: int = MAX_UPLOAD_BYTES,
    ) -> None:
        self.max_items = max_items
        self.max_bytes = max_bytes
        self.count = 0
        self.size = 0
        self.file: IO[bytes] = tempfile.SpooledTemporaryFile(  # noqa: SIM115 - closed by close()
            max_size=SPOOL_MEMORY, dir=None if directory is None else os.fspath(directory)
        )

    def close(self) -> None:
        self.file.close()

    def add_line(self, line: bytes, number: int) -> None:
        """Spool the item on ``line`` (line ``number``); blank lines are skipped."""
        if len(line) > MAX_LINE_BYTES:
            raise _refuse(413, "line_too_large", f"line {number}: over {MAX_LINE_BYTES} bytes")
        if not line.strip():
            return
        try:
            item = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise _refuse(400, "bad_ndjson", f"line {number}: not JSON ({exc})") from None
        if not isinstance(item, dict):
            raise _refuse(400, "bad_ndjson", f"line {number}: expected a JSON object")
        self.count += 1
        if self.count > self.max_items:
            raise _refuse(
                413, "too_many_items", f"more than {self.max_items} items (ZOOMQ_JOB_MAX_ITEMS)"
            )
        data = line.strip() + b"\n"
        self.size += len(data)
        if self.size > self.max_bytes:
            raise _refuse(
                413, "too_large", f"line {number}: the upload is over {self.max_bytes} bytes"
            )
        try:
            self.file.write(data)
        except OSError as exc:
            raise _no_space(exc) from None

    def __iter__(self) -> Iterator[dict[str, Any]]:
        self.file.seek(0)
        for line in self.file:
            yield orjson.loads(line)


class JobsAPI:
    """The handlers over one receiver runtime."""

    def __init__(
        self,
        runtime: ReceiverRuntime,
        *,
        spool_dir: str | os.PathLike[str] | None = None,
        max_upload_bytes: int = MAX_UPLOAD_BYTES,
    ) -> None:
        self.runtime = runtime
        #: Where uploads are spooled past ``SPOOL_MEMORY`` (None: the system's temp dir).
        self.spool_dir = spool_dir
        self.max_upload_bytes = max_upload_bytes
        self.config = runtime.settings.jobs
        self.keys = ApiKeys(self.config.api_keys)
        for key in self.config.api_keys:  # a typo would only show at its first request
            unknown = sorted(set(key.connections or ()) - set(runtime.connections))
            if unknown:
                known = ", ".join(sorted(runtime.connections)) or "none"
                raise ConfigurationError(
                    f"ZOOMQ_API_KEYS: key {key.name!r} is limited to connection(s) "
                    f"{', '.join(unknown)}, which are not configured (known: {known})"
                )
        self.fanout = Fanout(self.config)
        try:
            self.callback_hosts = CallbackHosts.parse(self.config.callback_hosts)
        except ValueError as exc:
            raise ConfigurationError(f"ZOOMQ_JOB_CALLBACK_HOSTS: {exc}") from exc
        self._store: JobStore | None = None

    # -- plumbing --------------------------------------------------------------------

    def store(self) -> JobStore:
        """The job store on the runtime's synchronous Redis client (used in threads)."""
        client = self.runtime.sync_redis
        if client is None:
            raise _refuse(503, "not_started", "the receiver is not started")
        if self._store is None or self._store.redis is not client:
            self._store = JobStore(
                client,
                keys=self.runtime.keys,
                clock=self.runtime.clock.time,
                retention=self.config.retention,
            )
        return self._store

    def _tenant(self, request: Request) -> Tenant:
        found = self.keys.authenticate(request.headers.get("authorization"))
        if isinstance(found, AuthFailure):
            raise _auth_failure(found)
        return found

    def _body(self, view: JobView) -> JobBody:
        return JobBody(**view.model_dump(), status_url=_job_url(view.job_id))

    def route(
        self, handler: Callable[[Request, Tenant], Awaitable[Response]]
    ) -> Callable[[Request], Awaitable[Response]]:
        """Authenticate, run ``handler``, and turn every refusal into its JSON answer."""

        async def endpoint(request: Request) -> Response:
            try:
                tenant = self._tenant(request)
                return await handler(request, tenant)
            except _Refusal as refusal:
                return _json(refusal.status, refusal.body, refusal.headers)
            except (RedisError, QueueUnavailable) as exc:
                log.warning("jobs_store_unavailable", error=type(exc).__name__)
                return _json(
                    503, ErrorBody(error="store_unavailable", message="Redis did not answer")
                )
            except ClientDisconnect:
                return _json(400, ErrorBody(error="disconnected", message="client went away"))

        return endpoint

    async def _view(self, job_id: str, tenant: Tenant) -> JobView:
        view = await run_in_threadpool(self.store().get, job_id, tenant.name)
        if view is None:
            raise _not_found(job_id)
        return view

    # -- routes ----------------------------------------------------------------------

    async def get_job(self, request: Request, tenant: Tenant) -> Response:
        view = await self._view(request.path_params["job_id"], tenant)
        return _json(200, self._body(view))

    async def list_jobs(self, request: Request, tenant: Tenant) -> Response:
        _only_params(request, {"cursor", "limit"})
        cursor = _int_param(request, "cursor", 0, 0, MAX_CURSOR)
        limit = _int_param(request, "limit", 20, 1, MAX_JOBS_PAGE)
        views, next_cursor = await run_in_threadpool(
            self.store().list_jobs, tenant.name, limit, cursor
        )
        body = JobList(jobs=[self._body(v) for v in views], next_cursor=next_cursor)
        return _json(200, body)

    async def items(self, request: Request, tenant: Tenant) -> Response:
        job_id = request.path_params["job_id"]
        _only_params(request, {"state", "cursor", "limit"})
        raw_state = request.query_params.get("state")
        state: ItemState | None = None
        if raw_state is not None:
            try:
                state = ItemState(raw_state)
            except ValueError:
                known = ", ".join(s.value for s in ItemState)
                raise _invalid("bad state", ("state", f"one of {known}")) from None
        cursor = _int_param(request, "cursor", 0, 0, MAX_CURSOR)
        limit = _int_param(request, "limit", 100, 1, MAX_ITEMS_PAGE)
        await self._view(job_id, tenant)
        found, next_cursor = await run_in_threadpool(
            self.store().items, job_id, state, cursor, limit
        )
        return _json(200, ItemsPage(items=found, next_cursor=next_cursor))

    async def results(self, request: Request, tenant: Tenant) -> Response:
        job_id = request.path_params["job_id"]
        await self._view(job_id, tenant)
        store = self.store()

        def lines() -> Iterator[bytes]:
            batch: list[bytes] = []
            for item in store.iter_results(job_id):
                batch.append(item.model_dump_json().encode() + b"\n")
                if len(batch) >= 256:
                    yield b"".join(batch)
                    batch = []
            if batch:
                yield b"".join(batch)

        async def stream() -> AsyncIterator[bytes]:
            try:
                async for chunk in iterate_in_threadpool(lines()):
                    yield chunk
            except RedisError as exc:  # the status is sent: the stream ends short
                log.warning("jobs_results_cut", job_id=job_id, error=type(exc).__name__)

        return StreamingResponse(stream(), media_type=NDJSON)

    async def cancel(self, request: Request, tenant: Tenant) -> Response:
        job_id = request.path_params["job_id"]
        view = await run_in_threadpool(cancel, self.store(), self.fanout, job_id, tenant.name)
        if view is None:
            raise _not_found(job_id)
        return _json(200, self._body(view))

    async def retry_failed(self, request: Request, tenant: Tenant) -> Response:
        job_id = request.path_params["job_id"]
        view = await run_in_threadpool(retry_failed, self.store(), self.fanout, job_id, tenant.name)
        if view is None:
            raise _not_found(job_id)
        return _json(200, self._body(view))

    async def submit(self, request: Request, tenant: Tenant) -> Response:
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        raw_items: list[Any] | None = None
        if media == "application/json":
            job, raw_items = await self._json_request(request)
            spool = None
        elif media == NDJSON:
            job = self._ndjson_request(request)
            try:
                spool = _SpooledItems(self.config.max_items, self.spool_dir, self.max_upload_bytes)
            except OSError as exc:
                raise _no_space(exc) from None
        else:
            raise _refuse(
                415,
                "unsupported_media_type",
                f"Content-Type must be application/json or {NDJSON}, not {media or 'none'!r}",
            )
        try:
            self._check_request(job, tenant)
            if spool is not None:
                await _read_ndjson(request, spool)
            view, created = await run_in_threadpool(self._create, tenant, job, spool, raw_items)
        finally:
            if spool is not None:
                spool.close()
        log.info(
            "job_submitted" if created else "job_resubmitted",
            job_id=view.job_id,
            tenant=tenant.name,
            action=view.action,
            items=view.items,
        )
        url = _job_url(view.job_id)
        body = Accepted(job_id=view.job_id, items=view.items, status_url=url)
        headers = {"Location": url}
        if not created:
            headers["Idempotent-Replayed"] = "true"
        return _json(202, body, headers)

    async def _json_request(self, request: Request) -> tuple[JobRequest, list[Any]]:
        """The request's own fields, and its items as given: each item is checked (and a
        non-object named by its index) with the others, not as part of the request."""
        if request.query_params:
            raise _invalid(
                "query parameters are for NDJSON uploads",
                *((n, "give it in the JSON body") for n in sorted(request.query_params)),
            )
        try:
            raw = await read_body(
                request.receive, request.headers.get("content-length"), MAX_JSON_BYTES
            )
        except BodyTooLarge:
            raise _refuse(
                413,
                "too_large",
                f"a JSON body is at most {MAX_JSON_BYTES} bytes; send more items as {NDJSON}",
            ) from None
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise _refuse(400, "bad_json", f"the body is not JSON: {exc}") from None
        if not isinstance(data, dict):
            raise _refuse(400, "bad_json", "the body must be a JSON object")
        items = data.pop("items", [])
        if not isinstance(items, list):
            raise _invalid("invalid request", ("items", "must be a list of the action's inputs"))
        if len(items) > self.config.max_items:
            raise _refuse(
                413,
                "too_many_items",
                f"{len(items)} items, more than {self.config.max_items} (ZOOMQ_JOB_MAX_ITEMS)",
            )
        try:
            return JobRequest.model_validate(data), items
        except ValidationError as exc:
            raise _validation_errors(exc, "invalid request") from None

    def _ndjson_request(self, request: Request) -> JobRequest:
        params = request.query_params
        _only_params(request, set(submit_query_fields()))
        try:
            return JobRequest.model_validate({**dict(params), "items": []})
        except ValidationError as exc:
            raise _validation_errors(exc, "invalid query parameters") from None

    def _check_request(self, job: JobRequest, tenant: Tenant) -> None:
        """The connection exists and the key may use it; the callback URL is allowed."""
        connections = self.runtime.connections
        name = job.connection
        if name is None:
            if DEFAULT_CONNECTION in connections:
                name = DEFAULT_CONNECTION
            elif len(connections) == 1:
                name = next(iter(connections))
            else:
                raise _invalid(
                    "no default connection",
                    ("connection", "name one: this receiver has no default connection"),
                )
        elif name not in connections:
            # Only the names this key may use: the others are not this tenant's to learn.
            known = ", ".join(sorted(c for c in connections if tenant.allows(c))) or "none"
            raise _invalid(
                "unknown connection", ("connection", f"{name!r} is not configured (known: {known})")
            )
        if not tenant.allows(name):
            raise _auth_failure(forbidden(tenant, name))
        if job.callback_url is not None:
            try:
                self.callback_hosts.check(job.callback_url)
            except InvalidInput as exc:
                reason = exc.errors[0]["message"] if exc.errors else str(exc)
                raise _invalid("callback_url refused", ("callback_url", reason)) from None

    def _create(
        self,
        tenant: Tenant,
        job: JobRequest,
        spool: _SpooledItems | None,
        raw_items: list[Any] | None = None,
    ) -> tuple[JobView, bool]:
        """The core's ``submit``: every item validated, then stored and fanned out."""
        items = iter(spool) if spool is not None else raw_items
        try:
            return submit(
                self.store(), self.fanout, tenant.name, job, items, spool_dir=self.spool_dir
            )
        except InvalidItems as exc:
            errors = [FieldError.model_validate(e) for e in exc.errors]
            total = exc.total if exc.total is not None else len(errors)
            shown = "the first listed" if exc.truncated else "each listed"
            report = ItemErrorReport(
                message=f"{exc.count} invalid item(s), {total} invalid field(s); {shown}",
                count=exc.count,
                errors_total=total,
                truncated=exc.truncated,
                errors=errors,
            )
            raise _Refusal(422, report) from None
        except OSError as exc:
            raise _no_space(exc) from None
        except JobConflict as exc:
            raise _refuse(409, "idempotency_conflict", str(exc)) from None
        except InvalidInput as exc:
            raise _invalid(
                "invalid request",
                *((str(e.get("field")), str(e.get("message"))) for e in exc.errors),
            ) from None

    async def openapi(self, request: Request) -> Response:
        del request
        return JSONResponse(openapi_document())


async def _read_ndjson(request: Request, spool: _SpooledItems) -> None:
    """Spool the upload line by line as it streams; nothing longer than a line is held."""
    number = 0
    buffer = b""
    async for chunk in request.stream():
        buffer += chunk
        start = 0
        while True:
            end = buffer.find(b"\n", start)
            if end < 0:
                break
            number += 1
            spool.add_line(buffer[start:end], number)
            start = end + 1
        buffer = buffer[start:]
        if len(buffer) > MAX_LINE_BYTES:
            raise _refuse(413, "line_too_large", f"line {number + 1}: over {MAX_LINE_BYTES} bytes")
    if buffer:
        spool.add_line(buffer, number + 1)


def _job_url(job_id: str) -> str:
    return f"{API_PREFIX}/jobs/{job_id}"


def _no_space(exc: OSError) -> _Refusal:
    """507: the spool could not be written (a full disk): nothing was stored."""
    log.warning("jobs_spool_failed", error=exc.strerror or type(exc).__name__)
    reason = exc.strerror or type(exc).__name__
    return _refuse(
        507,
        "insufficient_storage",
        f"the receiver could not spool the upload ({reason}); nothing was stored",
    )


def _not_found(job_id: str) -> _Refusal:
    return _refuse(404, "not_found", f"no job {job_id!r}")


def _int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _invalid(f"bad {name}", (name, "expected an integer")) from None
    if not low <= value <= high:
        raise _invalid(f"bad {name}", (name, f"expected from {low} to {high}"))
    return value


def _only_params(request: Request, known: set[str]) -> None:
    """Only ``known`` query parameters, each at most once."""
    params = request.query_params
    unknown = sorted(set(params) - known)
    if unknown:
        raise _invalid("unknown query parameters", *((n, "not a parameter") for n in unknown))
    repeated = sorted(n for n in set(params) if len(params.getlist(n)) > 1)
    if repeated:
        raise _invalid("repeated query parameters", *((n, "given twice") for n in repeated))


async def http_error(request: Request, exc: Exception) -> Response:
    """Starlette's 404/405 (no route, or not this method): JSON ``{error, message}`` under
    ``/v1``, as every other ``/v1`` refusal; plain text elsewhere, as before."""
    assert isinstance(exc, HTTPException)
    path = request.url.path
    if path != API_PREFIX and not path.startswith(f"{API_PREFIX}/"):
        if exc.status_code in (204, 304):
            return Response(status_code=exc.status_code, headers=exc.headers)
        return PlainTextResponse(exc.detail, status_code=exc.status_code, headers=exc.headers)
    errors = {404: "not_found", 405: "method_not_allowed"}
    error = errors.get(exc.status_code, "http_error")
    if exc.status_code == 404:
        message = f"no such route: {path} (see {OPENAPI_PATH})"
    elif exc.status_code == 405:
        allowed = (exc.headers or {}).get("Allow", "")
        message = f"{request.method} is not allowed on {path} (allowed: {allowed})"
    else:
        message = str(exc.detail)
    return _json(exc.status_code, ErrorBody(error=error, message=message), dict(exc.headers or {}))


def jobs_routes(
    runtime: ReceiverRuntime,
    *,
    spool_dir: str | os.PathLike[str] | None = None,
    max_upload_bytes: int = MAX_UPLOAD_BYTES,
) -> list[Route]:
    """The ``/v1`` routes (and ``/v1/openapi.json``, which needs no key); uploads spooled
    in ``spool_dir`` (None: the system's temporary directory)."""
    api = JobsAPI(runtime, spool_dir=spool_dir, max_upload_bytes=max_upload_bytes)
    jobs = f"{API_PREFIX}/jobs"
    job = f"{jobs}/{{job_id}}"
    submit_job, list_jobs = api.route(api.submit), api.route(api.list_jobs)

    async def jobs_endpoint(request: Request) -> Response:
        # One route for both methods, so a 405 there lists both in ``Allow``.
        return await (submit_job if request.method == "POST" else list_jobs)(request)

    return [
        Route(OPENAPI_PATH, api.openapi, methods=["GET"], name="v1_openapi"),
        Route(jobs, jobs_endpoint, methods=["GET", "POST"], name="v1_jobs"),
        Route(job, api.route(api.get_job), methods=["GET"], name="v1_job"),
        Route(f"{job}/items", api.route(api.items), methods=["GET"], name="v1_items"),
        Route(f"{job}/results", api.route(api.results), methods=["GET"], name="v1_results"),
        Route(f"{job}/cancel", api.route(api.cancel), methods=["POST"], name="v1_cancel"),
        Route(
            f"{job}/retry-failed",
            api.route(api.retry_failed),
            methods=["POST"],
            name="v1_retry_failed",
        ),
    ]
