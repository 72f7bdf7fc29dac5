"""One HTTP/1.1 GET on ``http.client``, for recording downloads: status, headers, and a
body read straight into buffers the caller gets to keep.

Why not httpx here: its body path (h11 events, httpcore generators, buffer copies) costs
~0.75 s of CPU per GiB received; ``HTTPResponse.readinto`` costs ~0.2
(``bench/bench_archive.py``). The download is one GET per hop with no redirects followed
(``download`` follows them, checking each host first), so nothing else of httpx is
needed. Each GET has a connection of its own, closed after it: no pool, no keep-alive.

https is verified: ``ssl.create_default_context()`` (system CA store, certificate and
hostname checked; the hostname sent and checked is the URL's). Proxies are not used:
downloads connect directly to Zoom's hosts (``HTTPS_PROXY`` and the like are ignored).
Timeouts: ``connect_timeout`` for the TCP connect and the TLS handshake, ``timeout`` for
each read and write after it. Every network failure, before or after the headers, is an
``HttpError``.
"""

from __future__ import annotations

import http.client
import ssl
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from email.message import Message
from urllib.parse import urlsplit

from zoomq.client.http import USER_AGENT

__all__ = ["Http11", "HttpError", "Response"]


class HttpError(Exception):
    """The connection failed, timed out or broke, or the server spoke no HTTP/1.1."""


class _Connect:
    """Connects within ``connect_timeout``, then gives each read ``timeout``."""

    _read_timeout: float

    def _timed(self, sock: object) -> None:
        settimeout = getattr(sock, "settimeout", None)
        if settimeout is not None:
            settimeout(self._read_timeout)


class _HTTPConnection(http.client.HTTPConnection, _Connect):
    def __init__(self, host: str, port: int | None, *, connect: float, read: float) -> None:
        super().__init__(host, port, timeout=connect)
        self._read_timeout = read

    def connect(self) -> None:
        super().connect()
        self._timed(self.sock)


class _HTTPSConnection(http.client.HTTPSConnection, _Connect):
    def __init__(
        self, host: str, port: int | None, *, connect: float, read: float, context: ssl.SSLContext
    ) -> None:
        super().__init__(host, port, timeout=connect, context=context)
        self._read_timeout = read

    def connect(self) -> None:
        super().connect()  # TCP, then the handshake (server_hostname=host), both timed
        self._timed(self.sock)


class Response:
    """A response whose body has not been read: ``status_code``, ``headers`` (looked up
    case-insensitively), ``readinto``."""

    def __init__(self, raw: http.client.HTTPResponse) -> None:
        self._raw = raw
        self.status_code: int = raw.status
        self.headers: Message = raw.headers
        #: Body bytes still to come by Content-Length; None: to the end of the connection.
        self._left: int | None = raw.length
        self._failure: HttpError | None = None

    def readinto(self, buffer: bytearray, tick: Callable[[], None] | None = None) -> int:
        """Fill ``buffer`` from the body; 0 at its end. Fewer bytes only at the end, or
        when the connection failed after some arrived: those are returned, and the
        failure (an ``HttpError``) is raised by the next call, so no byte that arrived is
        lost. A body shorter than its Content-Length is such a failure.

        ``tick`` is called after each read that leaves the buffer short of full: on a slow
        link a buffer takes long to fill, and the file's lock must be renewed meanwhile."""
        if self._failure is not None:
            raise self._failure
        view = memoryview(buffer)
        filled = 0
        while filled < len(view):
            try:
                got = self._read1(view[filled:])
            except (OSError, http.client.HTTPException) as exc:
                failure = HttpError(type(exc).__name__)
                failure.__cause__ = exc
                if not filled:
                    raise failure from exc
                self._failure = failure
                break
            if not got:
                break
            filled += got
            if tick is not None and filled < len(view):
                tick()
        return filled

    def _read1(self, view: memoryview) -> int:
        """One read of the socket (or of what is buffered past the headers) into ``view``."""
        raw = self._raw
        if raw.chunked:
            # http.client undoes the chunking; a failure inside this call loses its bytes.
            return raw.readinto(view)
        if raw.fp is None or self._left == 0:
            return 0
        if self._left is not None:
            view = view[: self._left]
        got = raw.fp.readinto1(view)  # after the headers: the buffered rest comes first
        if self._left is not None:
            if not got:
                raise http.client.IncompleteRead(b"", self._left)
            self._left -= got
        return got


class Http11:
    """Makes GETs; holds only the timeouts and the TLS context (no connections)."""

    def __init__(
        self,
        *,
        timeout: float,
        connect_timeout: float,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.ssl_context = ssl_context or ssl.create_default_context()

    def connection(self, url: str) -> http.client.HTTPConnection:
        """A new, unconnected connection to ``url``'s host (https: verified)."""
        parts = urlsplit(url)
        host = parts.hostname or ""
        if parts.scheme == "https":
            return _HTTPSConnection(
                host,
                parts.port,
                connect=self.connect_timeout,
                read=self.timeout,
                context=self.ssl_context,
            )
        if parts.scheme == "http":
            return _HTTPConnection(
                host, parts.port, connect=self.connect_timeout, read=self.timeout
            )
        raise ValueError(f"not an http(s) URL: {parts.scheme}")

    @contextmanager
    def get(self, url: str, headers: Mapping[str, str]) -> Iterator[Response]:
        """``GET url`` with ``headers`` (and Host, User-Agent); the connection closes after."""
        parts = urlsplit(url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        conn = self.connection(url)
        try:
            try:
                conn.putrequest("GET", target, skip_accept_encoding=True)
                conn.putheader("User-Agent", USER_AGENT)
                for name, value in headers.items():
                    conn.putheader(name, value)
                conn.endheaders()
                raw = conn.getresponse()
            except (OSError, http.client.HTTPException) as exc:
                raise HttpError(type(exc).__name__) from exc
            yield Response(raw)
        finally:
            conn.close()

    def close(self) -> None:
        """Nothing is held open between GETs; here for the owner's symmetry."""
