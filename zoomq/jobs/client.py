"""``zoomq.jobs.Client``: submit bulk jobs to a receiver's ``/v1`` API, follow and read them.

::

    with Client("https://zoomq.example.com", api_key) as jobs:
        accepted = jobs.submit("addMeetingRegistrant", rows, connection="emea")
        done = jobs.wait(accepted.job_id, timeout=3600)
        for item in jobs.iter_results(accepted.job_id):
            ...

Items given as a list or tuple of at most ``JSON_ITEMS`` go as one JSON body; anything
else (more items, a generator, a file read line by line) is streamed as NDJSON, never held
whole. Refusals raise the project's tree (``zoomq.errors``): invalid items
``InvalidItems`` (``errors``: index, field, reason; ``count``), other 422 and 413
``InvalidInput`` (``errors``: field, reason; its text names the first), 400 ``BadRequest``, 401
``Unauthorized``, 403 ``PermissionDenied``, 404 ``NotFound``, 409 ``Conflict`` (an
idempotency key reused with another body), 5xx ``ServerError``, a 3xx
``UnexpectedStatus`` (never followed: it would take the key along), no answer
``TransportError``. ``wait`` past its timeout raises the built-in ``TimeoutError``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any, Literal

import httpx
import orjson
from pydantic import SecretStr, ValidationError

from zoomq.clock import Clock, SystemClock
from zoomq.errors import (
    APIError,
    BadRequest,
    Conflict,
    InvalidInput,
    InvalidItems,
    NotFound,
    PermissionDenied,
    ServerError,
    TransportError,
    Unauthorized,
    UnexpectedStatus,
)
from zoomq.jobs.api import NDJSON, Accepted, ItemsPage, JobBody, JobList, Submitted
from zoomq.jobs.models import ItemResult, ItemState, JobStatus, JobView

__all__ = ["JSON_ITEMS", "TERMINAL", "Client", "finished"]

#: Most items sent as one JSON body; more, or an iterable, go as NDJSON.
JSON_ITEMS = 1000
#: A job in one of these states changes no more (until ``retry_failed``).
TERMINAL = frozenset({JobStatus.COMPLETED, JobStatus.CANCELLED})


def finished(job: JobView) -> bool:
    """Completed or cancelled, with every item at its end: a cancelled job's running
    items finish first (``finished_at`` is set then)."""
    return job.status in TERMINAL and job.finished_at is not None


_ERRORS: Mapping[int, type[APIError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: PermissionDenied,
    404: NotFound,
    409: Conflict,
}

Priority = Literal["low", "normal", "high"]


def _ndjson(items: Iterable[Mapping[str, Any]]) -> Iterator[bytes]:
    batch: list[bytes] = []
    for item in items:
        batch.append(orjson.dumps(item) + b"\n")
        if len(batch) >= 256:
            yield b"".join(batch)
            batch = []
    if batch:
        yield b"".join(batch)


class Client:
    """A ``/v1`` client over one httpx connection pool; close it (or use ``with``)."""

    def __init__(
        self,
        base_url: str,
        api_key: str | SecretStr,
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        clock: Clock | None = None,
    ) -> None:
        key = api_key.get_secret_value() if isinstance(api_key, SecretStr) else api_key
        if not key:
            raise InvalidInput("api_key is empty", [{"field": "api_key", "message": "empty"}])
        # The receiver's base URL; one given with the API's own ``/v1`` means the same.
        self.base_url = base_url.rstrip("/").removesuffix("/v1").rstrip("/")
        self._clock = clock or SystemClock()
        self._http = httpx.Client(
            base_url=self.base_url + "/v1",
            headers={"Authorization": f"Bearer {key}", "User-Agent": "zoomq-jobs-client"},
            timeout=timeout,
            transport=transport,
            follow_redirects=False,
        )

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def __repr__(self) -> str:  # never the key
        return f"Client({self.base_url!r})"

    # -- requests --------------------------------------------------------------------

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise TransportError(f"{method} {self.base_url}/v1{path}: {exc}") from exc
        _raise_for(response, method)
        return response

    def _model(self, model: type[Any], response: httpx.Response) -> Any:
        try:
            return model.model_validate_json(response.content)
        except ValidationError as exc:
            raise TransportError(
                f"{response.request.method} {response.request.url.path}: unexpected body: {exc}"
            ) from exc

    def submit(
        self,
        action: str,
        items: Iterable[Mapping[str, Any]],
        *,
        connection: str | None = None,
        idempotency_key: str | None = None,
        callback_url: str | None = None,
        priority: Priority = "normal",
        batch: bool = True,
    ) -> Submitted:
        """Submit a job; every item is checked before any is queued (else ``InvalidItems``).

        ``batch=False`` makes registrant jobs add people one by one instead of through
        Zoom's batch endpoints.
        """
        fields: dict[str, Any] = {
            "action": action,
            "connection": connection,
            "idempotency_key": idempotency_key,
            "callback_url": callback_url,
            "priority": priority,
            "batch": None if batch else "false",
        }
        given = {k: v for k, v in fields.items() if v is not None}
        if isinstance(items, Sequence) and len(items) <= JSON_ITEMS:
            body = {**given, "items": list(items)}
            if not batch:
                body["batch"] = False
            response = self._send("POST", "/jobs", json=body)
        else:
            response = self._send(
                "POST",
                "/jobs",
                params=given,
                content=_ndjson(items),
                headers={"Content-Type": NDJSON},
            )
        accepted: Accepted = self._model(Accepted, response)
        replayed = response.headers.get("idempotent-replayed", "").lower() == "true"
        return Submitted(**accepted.model_dump(), replayed=replayed)

    def get(self, job_id: str) -> JobBody:
        """The job's counts per state, progress, rate and ETA."""
        job: JobBody = self._model(JobBody, self._send("GET", f"/jobs/{job_id}"))
        return job

    def list_jobs(self, *, cursor: int | None = None, limit: int | None = None) -> JobList:
        """A page of this key's jobs, newest first."""
        params = {k: v for k, v in {"cursor": cursor, "limit": limit}.items() if v is not None}
        page: JobList = self._model(JobList, self._send("GET", "/jobs", params=params))
        return page

    def items(
        self,
        job_id: str,
        *,
        state: ItemState | str | None = None,
        cursor: int | None = None,
        limit: int | None = None,
    ) -> ItemsPage:
        """A page of the job's items (``state="failed"``: only those)."""
        raw = {"state": None if state is None else str(state), "cursor": cursor, "limit": limit}
        params = {k: v for k, v in raw.items() if v is not None}
        path = f"/jobs/{job_id}/items"
        page: ItemsPage = self._model(ItemsPage, self._send("GET", path, params=params))
        return page

    def iter_results(self, job_id: str) -> Iterator[ItemResult]:
        """Every item's result in index order, read from the NDJSON stream as it arrives."""
        url = f"/jobs/{job_id}/results"
        try:
            with self._http.stream("GET", url) as response:
                if response.status_code != 200:
                    response.read()
                    _raise_for(response, "GET")
                for line in response.iter_lines():
                    if line.strip():
                        yield ItemResult.model_validate_json(line)
        except httpx.HTTPError as exc:
            raise TransportError(f"GET {self.base_url}/v1{url}: {exc}") from exc

    def cancel(self, job_id: str) -> JobBody:
        """Cancel: queued items are cancelled now, running ones finish."""
        job: JobBody = self._model(JobBody, self._send("POST", f"/jobs/{job_id}/cancel"))
        return job

    def retry_failed(self, job_id: str) -> JobBody:
        """Queue the failed and dead items again; the job as it is then."""
        path = f"/jobs/{job_id}/retry-failed"
        job: JobBody = self._model(JobBody, self._send("POST", path))
        return job

    def wait(
        self,
        job_id: str,
        *,
        timeout: float | None = None,
        poll: float = 0.5,
        max_poll: float = 5.0,
    ) -> JobBody:
        """Poll until the job is ``finished``: every ``poll`` s, growing by half up to
        ``max_poll``. Past ``timeout`` seconds, ``TimeoutError``."""
        clock = self._clock
        deadline = None if timeout is None else clock.monotonic() + timeout
        delay = poll
        while True:
            job = self.get(job_id)
            if finished(job):
                return job
            if deadline is not None:
                left = deadline - clock.monotonic()
                if left <= 0:
                    raise TimeoutError(_still(job, timeout))
                delay = min(delay, left)
            clock.sleep(delay)
            delay = min(delay * 1.5, max_poll)


def _still(job: JobView, timeout: float | None) -> str:
    """Why ``wait`` gave up, in words that fit the job's status."""
    if job.status == JobStatus.CANCELLED:
        running = job.counts.get(ItemState.RUNNING, 0)
        return (
            f"job {job.job_id} is cancelled, but {running} running item(s) had not finished "
            f"after {timeout}s"
        )
    return f"job {job.job_id} still {job.status} after {timeout}s ({job.progress:.0%} done)"


def _raise_for(response: httpx.Response, method: str) -> None:
    """The tree's error for a refusal; nothing for a 2xx."""
    status = response.status_code
    if 200 <= status < 300:
        return
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    error = str(body.get("error") or response.reason_phrase or "error")
    message = str(body.get("message") or error)
    if status == 422 and error == "invalid_items":
        listed = [e for e in body.get("errors") or [] if isinstance(e, dict)]
        raise InvalidItems(listed, count=int(body.get("count") or len(listed)))
    if status in (413, 422):
        errors = [
            {
                "field": _where(e),
                "reason": str(e.get("reason") or e.get("message") or ""),
            }
            for e in body.get("errors") or []
            if isinstance(e, dict)
        ]
        text = f"{status} {error}: {message}"
        if errors:  # the first field and why, so str(exc) alone says what to fix
            text += f" ({errors[0]['field'] or 'request'}: {errors[0]['reason']})"
        raise InvalidInput(text, errors)
    url = str(response.request.url)
    if 300 <= status < 400:
        raise UnexpectedStatus(message, status=status, method=method, url=url, service=_SERVICE)
    if status >= 500:
        raise ServerError(message, status=status, method=method, url=url, service=_SERVICE)
    cls = _ERRORS.get(status, APIError)
    raise cls(f"{error}: {message}", status=status, method=method, url=url, service=_SERVICE)


#: What the client's ``APIError`` say answered: not Zoom.
_SERVICE = "zoomq /v1 API"


def _where(error: Mapping[str, Any]) -> str:
    """``items[3].email`` for an item's field, ``callback_url`` for the request's."""
    field = str(error.get("field") or "")
    index = error.get("index")
    if index is None:
        return field
    return f"items[{index}].{field}" if field else f"items[{index}]"
