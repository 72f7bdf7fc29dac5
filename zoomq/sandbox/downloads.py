"""Recording downloads, as Zoom serves them.

``GET /rec/download/{file_id}`` (and ``/v2/phone/recording/download/{id}``) takes
``Authorization: Bearer <access token or download token>`` and answers 302 to a
signed, expiring "CDN" URL ``/cdn/{file_id}?expires=..&signature=..`` that needs no
auth. A wrong or missing token gets Zoom's 200 HTML page, not a 4xx. The CDN
streams deterministic bytes (see ``content``) in 64 KiB chunks, whatever the size,
and honours ``Range: bytes=a-b`` / ``bytes=a-`` / ``bytes=-n`` with 206.

The CDN logs the offset each response starts at (``state.range_log[file_id]``: 0 for
a whole file), and every download request how it was authorised
(``state.download_log``). ``DownloadFaults`` (``state.download_faults``) imitates what
goes wrong on the way: a CDN response cut off after N bytes (the connection closes
mid-body, Content-Length unmet), and a download answered 302 to another host.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from zoomq.clock import Clock
from zoomq.sandbox.content import aiter_bytes, iter_bytes

if TYPE_CHECKING:
    from zoomq.sandbox.state import SandboxState

__all__ = [
    "DownloadFaults",
    "DownloadRecord",
    "UrlSigner",
    "download_routes",
    "parse_range",
]

ONLY_HOST_PAGE = (
    "<!DOCTYPE html><html><head><title>Zoom</title></head><body>"
    "<h1>Only the host can download this recording.</h1>"
    "<p>Sign in to download the recording.</p></body></html>"
)
MISSING_PAGE = (
    "<!DOCTYPE html><html><head><title>Zoom</title></head><body>"
    "<h1>This recording does not exist.</h1></body></html>"
)
ACCESS_DENIED = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    "<Error><Code>AccessDenied</Code><Message>Access denied</Message></Error>"
)


class UrlSigner:
    """HMAC-signed, expiring CDN URLs."""

    def __init__(self, secret: bytes, clock: Clock, ttl: float, base_url: str) -> None:
        self._secret = secret
        self._clock = clock
        self._ttl = ttl
        self._base = base_url

    def _signature(self, file_id: str, expires: str) -> str:
        message = f"{file_id}:{expires}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()[:40]

    def url(self, file_id: str) -> str:
        expires = str(int(self._clock.time() + self._ttl))
        signature = self._signature(file_id, expires)
        return f"{self._base}/cdn/{file_id}?expires={expires}&signature={signature}"

    def valid(self, file_id: str, expires: str | None, signature: str | None) -> bool:
        if not expires or not signature or not expires.isdigit():
            return False
        good = hmac.compare_digest(signature, self._signature(file_id, expires))
        return good and self._clock.time() <= int(expires)


UNSATISFIABLE = "unsatisfiable"


class DownloadRecord(NamedTuple):
    """One request to a download URL: which file, its query string, how it was authorised."""

    file_id: str
    path: str
    query: str
    #: ``"bearer"``, ``"query"`` (``?access_token=``), ``"none"``, or the header's scheme.
    auth: str


@dataclass
class _Cut:
    after: int
    count: int | None


class DownloadFaults:
    """Faults of the download path, per file id (``"*"``: every file).

    ``cut(file_id, after=N, count=1)``: the next CDN response for the file sends N bytes
    of its body, then the connection closes. ``redirect(file_id, url)``: the download
    URL answers 302 to ``url`` instead of the signed CDN URL. ``clear()`` ends all.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cuts: dict[str, _Cut] = {}
        self._redirects: dict[str, str] = {}

    def cut(self, file_id: str, *, after: int, count: int | None = 1) -> None:
        if after < 0:
            raise ValueError("after must be at least 0")
        if count is not None and count < 1:
            raise ValueError("count must be at least 1")
        with self._lock:
            self._cuts[file_id] = _Cut(after, count)

    def redirect(self, file_id: str, url: str) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError("url must be absolute http(s)")
        with self._lock:
            self._redirects[file_id] = url

    def clear(self) -> None:
        with self._lock:
            self._cuts.clear()
            self._redirects.clear()

    def take_cut(self, file_id: str) -> int | None:
        """Bytes after which this response is cut, if a cut applies (and count it)."""
        with self._lock:
            key = file_id if file_id in self._cuts else "*" if "*" in self._cuts else None
            if key is None:
                return None
            cut = self._cuts[key]
            if cut.count is not None:
                cut.count -= 1
                if cut.count <= 0:
                    del self._cuts[key]
            return cut.after

    def redirect_for(self, file_id: str) -> str | None:
        with self._lock:
            return self._redirects.get(file_id) or self._redirects.get("*")

    def to_dict(self) -> dict[str, Any]:
        with self._lock:
            return {
                "cuts": {k: {"after": c.after, "count": c.count} for k, c in self._cuts.items()},
                "redirects": dict(self._redirects),
            }


class _CutResponse:
    """Headers promising the whole range, ``after`` bytes of it, then a closed connection."""

    def __init__(
        self, status: int, headers: dict[str, str], file_id: str, start: int, stop: int
    ) -> None:
        self.status = status
        self.headers = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        self.file_id, self.start, self.stop = file_id, start, stop

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status, "headers": self.headers})
        for chunk in iter_bytes(self.file_id, self.start, self.stop):
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        # Returning before the body is complete makes the server drop the connection,
        # as a CDN cut-off does: the client sees fewer bytes than Content-Length.


def parse_range(header: str | None, size: int) -> tuple[int, int] | str | None:
    """``(start, end_inclusive)``; None to serve it all; ``UNSATISFIABLE`` for a 416.

    Several ranges, or a malformed header, are ignored: RFC 9110 lets a server send
    the whole file instead.
    """
    if not header or not header.startswith("bytes=") or "," in header:
        return None
    first, sep, last = header[6:].strip().partition("-")
    if not sep:
        return None
    try:
        if first == "":  # a suffix: the last N bytes
            suffix = int(last)
            start, end = (max(size - suffix, 0), size - 1) if suffix > 0 else (size, size)
        else:
            start = int(first)
            end = min(int(last), size - 1) if last else size - 1
    except ValueError:
        return None
    if start >= size or end < start:
        return UNSATISFIABLE
    return start, end


def _log(state: SandboxState, request: Request) -> tuple[str, str]:
    """Log the request in ``state.download_log``; its bearer token and ``access_token``."""
    header = request.headers.get("authorization") or ""
    scheme, _, value = header.partition(" ")
    token = value.strip() if scheme.lower() == "bearer" else ""
    query_token = request.query_params.get("access_token", "")  # legacy form
    auth = "bearer" if token else "query" if query_token else scheme.lower() or "none"
    file_id = request.path_params["file_id"]
    state.download_log.append(DownloadRecord(file_id, request.url.path, request.url.query, auth))
    return token, query_token


def download_routes(state: SandboxState) -> list[Route]:
    async def download(request: Request) -> Response:
        token, query_token = _log(state, request)
        file_id = request.path_params["file_id"]
        token = token or query_token
        if not token or not state.oauth.can_download(token):
            return HTMLResponse(ONLY_HOST_PAGE, 200)
        if state.file(file_id, token) is None:
            return HTMLResponse(MISSING_PAGE, 404)
        elsewhere = state.download_faults.redirect_for(file_id)
        return RedirectResponse(elsewhere or state.signer.url(file_id), 302)

    async def cdn(request: Request) -> Response:
        _log(state, request)
        file_id = request.path_params["file_id"]
        query = request.query_params
        if not state.signer.valid(file_id, query.get("expires"), query.get("signature")):
            return Response(ACCESS_DENIED, 403, media_type="application/xml")
        info = state.file(file_id)
        if info is None:
            return Response(ACCESS_DENIED, 403, media_type="application/xml")
        size = info.size
        headers = {
            "Accept-Ranges": "bytes",
            "Content-Disposition": f'attachment; filename="{info.filename}"',
        }
        wanted = parse_range(request.headers.get("range"), size)
        if wanted == UNSATISFIABLE:
            headers["Content-Range"] = f"bytes */{size}"
            return Response(b"", 416, headers=headers)
        status = 200
        start, end = 0, size - 1
        if isinstance(wanted, tuple):
            status = 206
            start, end = wanted
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        headers["Content-Length"] = str(end - start + 1 if size else 0)
        if request.method == "HEAD":
            return Response(b"", status, headers=headers, media_type=info.content_type)
        with state.lock:
            state.range_log.setdefault(file_id, []).append(start)
        after = state.download_faults.take_cut(file_id)
        if after is not None and after < end + 1 - start:
            headers["Content-Type"] = info.content_type
            return _CutResponse(status, headers, file_id, start, start + after)  # type: ignore[return-value]
        return StreamingResponse(
            aiter_bytes(file_id, start, end + 1),
            status,
            headers=headers,
            media_type=info.content_type,
        )

    return [
        Route("/rec/download/{file_id}", download, methods=["GET"]),
        Route("/v2/phone/recording/download/{file_id}", download, methods=["GET"]),
        Route("/cdn/{file_id}", cdn, methods=["GET", "HEAD"]),
    ]
