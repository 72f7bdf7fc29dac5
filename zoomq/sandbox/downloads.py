"""Recording downloads, as Zoom serves them.

``GET /rec/download/{file_id}`` (and ``/v2/phone/recording/download/{id}``) takes
``Authorization: Bearer <access token or download token>`` and answers 302 to a
signed, expiring "CDN" URL ``/cdn/{file_id}?expires=..&signature=..`` that needs no
auth. A wrong or missing token gets Zoom's 200 HTML page, not a 4xx. The CDN
streams deterministic bytes (see ``content``) in 64 KiB chunks, whatever the size,
and honours ``Range: bytes=a-b`` / ``bytes=a-`` / ``bytes=-n`` with 206.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from zoomq.clock import Clock
from zoomq.sandbox.content import aiter_bytes

if TYPE_CHECKING:
    from zoomq.sandbox.state import SandboxState

__all__ = ["UrlSigner", "download_routes", "parse_range"]

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


def download_routes(state: SandboxState) -> list[Route]:
    async def download(request: Request) -> Response:
        header = request.headers.get("authorization") or ""
        scheme, _, value = header.partition(" ")
        token = value.strip() if scheme.lower() == "bearer" else ""
        token = token or request.query_params.get("access_token", "")  # legacy form
        if not token or not state.oauth.can_download(token):
            return HTMLResponse(ONLY_HOST_PAGE, 200)
        file_id = request.path_params["file_id"]
        if file_id not in state.store.files:
            return HTMLResponse(MISSING_PAGE, 404)
        return RedirectResponse(state.signer.url(file_id), 302)

    async def cdn(request: Request) -> Response:
        file_id = request.path_params["file_id"]
        query = request.query_params
        if not state.signer.valid(file_id, query.get("expires"), query.get("signature")):
            return Response(ACCESS_DENIED, 403, media_type="application/xml")
        info = state.store.files.get(file_id)
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
