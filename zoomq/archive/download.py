"""One recording file from Zoom into storage: streamed, resumable, verified.

Zoom's ``download_url`` takes the token as ``Authorization: Bearer`` (never as an
``access_token`` query parameter, which ends up in proxy and server logs) and answers
302 to a signed CDN URL on another host. Every hop is one GET of ``Http11`` (verified
https, direct connections, see ``zoomq.archive.http11``), and redirects are followed
here, so each hop is checked before anything is sent to it: only to hosts
``allowed_hosts`` accepts (Zoom's), and the Authorization header only to the first URL's
origin. A wrong or expired token gets a 200 HTML page, not a 401: HTML is refused before
a byte is stored.

The body is read in ``chunk_size`` pieces, each into a buffer of its own (one read of
the socket fills it: no copy, no per-read overhead), into the ``Upload`` and hashed on the
way; a resumed download asks ``Range: bytes=<offset>-`` and starts the digest from
the bytes already stored. If the server ignores the Range (a 200), the first
``offset`` bytes of the body are read and dropped, not written again: the stored
partial stays valid and no ``abort`` is needed. A body that ends before
``file_size`` raises ``IncompleteDownload(reached=...)`` and keeps what was stored.
"""

from __future__ import annotations

import hashlib
import queue
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import cast
from urllib.parse import urljoin, urlsplit

from zoomq.archive.files import RecordingFile
from zoomq.archive.http11 import Http11, HttpError, Response
from zoomq.archive.storage import StoredFile, Upload
from zoomq.errors import (
    ArchiveError,
    DownloadRefused,
    DownloadUnauthorized,
    IncompleteDownload,
    RecordingGone,
)

__all__ = [
    "MAX_REDIRECTS",
    "SNIFF_BYTES",
    "ZOOM_DOMAIN",
    "download",
    "download_hosts",
    "looks_like_html",
]

#: Redirects followed before giving up (Zoom uses one).
MAX_REDIRECTS = 5

#: Zoom's hosts: this and its subdomains.
ZOOM_DOMAIN = "zoom.us"

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_HTML_START = re.compile(
    rb"^(?:\xef\xbb\xbf)?\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*(?:<!doctype\s+html|<html|<head|<body)",
    re.IGNORECASE | re.DOTALL,
)
#: Bytes of the body looked at before anything is stored.
SNIFF_BYTES = 512
#: Media: a body of one of these types is a page or an error, never the recording.
_MEDIA_EXTENSIONS = frozenset({"mp4", "m4a", "mp3", "wav", "mov", "webm"})
_NOT_MEDIA = ("text/", "application/json", "application/xml", "application/problem+json")


def download_hosts(extra: Iterable[str] = ()) -> Callable[[str], bool]:
    """``zoom.us``, ``*.zoom.us``, and ``extra`` (``host`` any port, ``host:port`` only that).

    The callable takes a URL's netloc host part with its port (``ssrweb.zoom.us``,
    ``127.0.0.1:9100``).
    """
    hosts = {h.strip().lower() for h in extra if h.strip()}

    def allowed(host: str) -> bool:
        host = host.lower()
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        if name == ZOOM_DOMAIN or name.endswith("." + ZOOM_DOMAIN):
            return True
        return host in hosts or name in hosts

    return allowed


def looks_like_html(content_type: str | None, head: bytes) -> bool:
    """A login or error page where media was expected: by its type, or its first bytes."""
    if content_type and content_type.split(";", 1)[0].strip().lower() in (
        "text/html",
        "application/xhtml+xml",
    ):
        return True
    return bool(_HTML_START.match(head[:512]))


def _host(url: str) -> str:
    parts = urlsplit(url)
    port = parts.port
    name = parts.hostname or ""
    return f"{name}:{port}" if port is not None else name


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, parts.hostname or "", parts.port or default


def _check(url: str, allowed_hosts: Callable[[str], bool], what: str) -> None:
    """``DownloadRefused`` unless ``url`` is http(s) on an allowed host (nothing sent yet)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - parsed here: a bad port is a refusal, not a ValueError later
    except ValueError:
        raise DownloadRefused(f"{what} is not a usable URL") from None
    if not url.isascii():  # Zoom's are; a raw non-ASCII host or path would not encode
        raise DownloadRefused(f"{what} is not a usable URL (not ASCII)")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DownloadRefused(f"{what} is not an http(s) URL")
    name = parts.hostname.lower()
    if parts.scheme != "https" and (name == ZOOM_DOMAIN or name.endswith("." + ZOOM_DOMAIN)):
        raise DownloadRefused(f"{what} is plain http: Zoom's hosts get the token over https only")
    if not allowed_hosts(_host(url)):
        raise DownloadRefused(
            f"{what} points at {_host(url)}, not a Zoom host (another host is allowed only "
            "when ZOOMQ_ARCHIVE_DOWNLOAD_HOSTS lists it)"
        )


def download(
    client: Http11,
    f: RecordingFile,
    upload: Upload,
    *,
    token: str,
    allowed_hosts: Callable[[str], bool],
    chunk_size: int = 1 << 20,
    progress: Callable[[int], None] | None = None,
) -> StoredFile:
    """Stream ``f`` into ``upload`` from ``upload.offset`` and commit it; see the module doc.

    Raises ``DownloadUnauthorized`` (401/403, or HTML), ``DownloadRefused`` (a host not
    Zoom's, too many redirects), ``RecordingGone`` (404), ``IncompleteDownload`` (cut
    short; the bytes stay stored), ``StorageError`` from the upload, ``ArchiveError``
    for any other answer.
    """
    url = f.download_url
    if any(c in token for c in "\r\n\0"):  # never echoed: it is the credential
        raise DownloadUnauthorized(f"file {f.file_id}: the download token is not a header value")
    _check(url, allowed_hosts, f"the download URL of file {f.file_id}")
    first = _origin(url)
    offset = upload.offset
    for _hop in range(MAX_REDIRECTS + 1):
        headers = {"Accept-Encoding": "identity"}  # byte ranges of the file, not of a gzip
        if _origin(url) == first:
            headers["Authorization"] = f"Bearer {token}"
        if offset:
            headers["Range"] = f"bytes={offset}-"
        try:
            with client.get(url, headers) as response:
                if response.status_code in _REDIRECTS:
                    location = response.headers.get("location")
                    if not location:
                        raise ArchiveError(f"file {f.file_id}: a redirect without a Location")
                    try:
                        url = urljoin(url, location)
                    except ValueError:
                        raise DownloadRefused(
                            f"file {f.file_id}: a redirect to a URL that does not parse"
                        ) from None
                    _check(url, allowed_hosts, f"a redirect of file {f.file_id}")
                    continue
                return _receive(response, f, upload, chunk_size, progress)
        except HttpError as exc:  # before the headers: nothing new stored
            raise IncompleteDownload(
                f"file {f.file_id}: {_host(url)} could not be reached ({type(exc).__name__})",
                reached=upload.offset,
                expected=f.file_size,
            ) from exc
    raise DownloadRefused(f"file {f.file_id}: more than {MAX_REDIRECTS} redirects")


def _total_size(response: Response, offset: int) -> int | None:
    """The whole file's size as the response states it, if it does."""
    if response.status_code == 206:
        total = response.headers.get("content-range", "").rpartition("/")[2]
        return int(total) if total.isascii() and total.isdigit() else None
    length = response.headers.get("content-length", "")
    return int(length) if length.isascii() and length.isdigit() else None


def _refuse(response: Response, f: RecordingFile, upload: Upload) -> StoredFile | None:
    """Raise for an answer that is not the file; a stored file for a 416 at its very end."""
    status, offset = response.status_code, upload.offset
    if status in (401, 403):
        raise DownloadUnauthorized(f"file {f.file_id}: the download was refused ({status})")
    if status == 404:
        raise RecordingGone(f"file {f.file_id}: Zoom no longer has it (404)")
    if status == 416 and offset and f.file_size and offset == f.file_size:
        # Every byte is stored already (a crash between the last write and the commit).
        return upload.commit(expected_size=f.file_size, sha256=upload.resume_hash().hexdigest())
    if status == 416:
        upload.abort()  # the partial is longer than the file: it cannot be this file
        raise IncompleteDownload(f"file {f.file_id}: stored part unusable (416)", reached=0)
    if status not in (200, 206):
        raise ArchiveError(f"file {f.file_id}: the download answered {status}")
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        # Asked for identity: an encoded body's sizes and ranges are not the file's.
        raise ArchiveError(f"file {f.file_id}: the download came {encoding}-encoded")
    content_type = response.headers.get("content-type")
    if looks_like_html(content_type, b"") or not _fits(f, content_type):
        raise DownloadUnauthorized(
            f"file {f.file_id}: the download answered {content_type or 'no type'}, not the file"
        )
    total = _total_size(response, offset)
    if f.file_size and total is not None and total != f.file_size:
        # A login page or an error document served as a download: not this file.
        raise DownloadUnauthorized(
            f"file {f.file_id}: the download is {total} bytes, the file {f.file_size}"
        )
    if status == 206:
        start = response.headers.get("content-range", "").removeprefix("bytes ").split("-")[0]
        if start != str(offset):
            raise ArchiveError(f"file {f.file_id}: asked for bytes {offset}-, got {start}-")
    return None


def _pieces(
    response: Response, size: int, tick: Callable[[], None] | None = None
) -> Iterator[memoryview]:
    """The body in pieces of ``size`` bytes (the last may be shorter), each read into a
    buffer of its own: a piece waiting to be hashed or written is never overwritten, and
    at most the few the ``_Sink`` holds are alive at once."""
    while True:
        buffer = bytearray(size)
        received = response.readinto(buffer, tick)
        if not received:
            return
        yield memoryview(buffer)[:received]


def _body(
    response: Response,
    f: RecordingFile,
    *,
    sniff: bool,
    skip: int,
    size: int,
    tick: Callable[[], None] | None = None,
) -> Iterator[memoryview]:
    """The body's pieces: the first ``SNIFF_BYTES`` looked at before any is handed on
    (``sniff``: not a web page), and the first ``skip`` bytes dropped (a Range ignored)."""
    pieces = _pieces(response, size, tick)
    held: list[memoryview] = []
    if sniff:
        head = bytearray()
        for piece in pieces:
            held.append(piece)
            head += piece[: SNIFF_BYTES - len(head)]
            if len(head) >= SNIFF_BYTES:
                break
        _sniffed(f, bytes(head))  # a body shorter than SNIFF_BYTES is looked at whole
    for group in (held, pieces):
        for piece in group:
            data = piece
            if skip:
                dropped = min(skip, len(data))
                skip -= dropped
                data = data[dropped:]
            if data:
                yield data


def _sniffed(f: RecordingFile, head: bytes) -> bytes:
    """``head``, unless it is a web page where ``f`` was expected."""
    if looks_like_html(None, head):
        raise DownloadUnauthorized(
            f"file {f.file_id}: the download answered a web page, not the file"
        )
    return head


def _fits(f: RecordingFile, content_type: str | None) -> bool:
    """Whether a body of ``content_type`` can be ``f`` (media is never text or JSON)."""
    kind = (content_type or "").split(";", 1)[0].strip().lower()
    return not (f.file_extension in _MEDIA_EXTENSIONS and kind.startswith(_NOT_MEDIA))


def _receive(
    response: Response,
    f: RecordingFile,
    upload: Upload,
    chunk_size: int,
    progress: Callable[[int], None] | None,
) -> StoredFile:
    done = _refuse(response, f, upload)
    if done is not None:
        return done
    offset = upload.offset
    expected = f.file_size or _total_size(response, offset) or 0
    if expected and offset > expected:
        upload.abort()  # more stored than the file has: it cannot be this file
        raise IncompleteDownload(
            f"file {f.file_id}: {offset} bytes stored of a {expected}-byte file; starting over",
            reached=0,
            expected=expected,
        )
    # A server that ignored the Range sends the file from 0: drop what is stored already.
    skip = offset if response.status_code == 200 else 0
    digest = upload.resume_hash() if offset else hashlib.sha256()
    sink = _Sink(upload, digest, f, expected=expected, chunk_size=chunk_size, progress=progress)
    # Nothing is stored before the first SNIFF_BYTES have been looked at: a page that
    # splits its "<!DOCTYPE" across network chunks is still a page.
    sniff = response.status_code == 200 or not offset
    try:
        try:
            body = _body(response, f, sniff=sniff, skip=skip, size=chunk_size, tick=sink.tick)
            for data in body:
                sink.add(data)
        except HttpError as exc:
            sink.close()  # what arrived is written: a resume loses nothing that came over
            raise IncompleteDownload(
                f"file {f.file_id}: the connection broke at {upload.offset} of {expected} "
                f"bytes ({type(exc).__name__})",
                reached=upload.offset,
                expected=expected,
            ) from exc
        except BaseException:
            sink.cancel()  # refused, or the lock is lost: queued bytes are not written
            if sink.too_long:
                upload.abort()  # a body longer than the file: none of it can be trusted
            raise
    finally:
        sink.close()  # every chunk written (or the first storage error raised) before this
    if not expected or sink.written < expected:
        raise IncompleteDownload(
            f"file {f.file_id}: the body ended at {sink.written} of {expected} bytes",
            reached=upload.offset,
            expected=expected,
        )
    return upload.commit(expected_size=expected, sha256=digest.hexdigest())


class _Sink:
    """Gathers received bytes into ``chunk_size`` pieces, hashes them on one thread and
    writes them on another, so the next piece is received meanwhile: hashing and writing
    release the GIL, and each costs more than receiving (SHA-256 ~0.6 s of CPU per GiB,
    writing ~0.5, receiving ~0.2: ``bench/bench_archive.py``), so neither may wait for the
    other. At most ``depth`` pieces wait at each step, so
    memory stays bounded (one each: behind a slow bucket every step is full, and the S3
    worker must stay under 100 MB); the upload's first error is raised in the receiving
    thread, and so is progress (a lock it extends is that thread's), counted in bytes
    storage took."""

    def __init__(
        self,
        upload: Upload,
        digest: hashlib._Hash,
        f: RecordingFile,
        *,
        expected: int,
        chunk_size: int,
        progress: Callable[[int], None] | None,
        depth: int = 1,
    ) -> None:
        self._upload = upload
        self._digest = digest
        self._file_id = f.file_id
        self._expected = expected
        self._chunk_size = chunk_size
        self._progress = progress
        self._pending: list[memoryview] = []
        self._pending_size = 0
        #: Bytes handed to the upload. Not ``upload.offset``: that counts what is stored
        #: for good, and an S3 upload holds up to one part before it sends it.
        self.written = upload.offset
        self._done = self._reported = upload.offset  # written by the thread / reported
        #: Received pieces, ``chunk_size`` together, to be hashed; then to be written.
        self._received: queue.Queue[list[memoryview] | None] = queue.Queue(maxsize=depth)
        self._hashed: queue.Queue[list[memoryview] | None] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._cancelled = False
        self._closed = False
        #: The body ran past the file's ``file_size``.
        self.too_long = False
        self._threads = [
            threading.Thread(target=self._hash, name="zoomq-archive-hash", daemon=True),
            threading.Thread(target=self._write, name="zoomq-archive-write", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def add(self, data: memoryview) -> None:
        if data:
            self._pending.append(data)
            self._pending_size += len(data)
        if self._pending_size >= self._chunk_size:
            self._flush()
        else:
            self._report()  # as bytes arrive: a lock the callback extends stays held

    def cancel(self) -> None:
        """Stop: what is pending or queued is dropped, not written."""
        self._pending.clear()
        self._pending_size = 0
        self._cancelled = True
        self.close()

    def close(self) -> None:
        """Write what is pending, wait for every piece; raise the upload's error, if any."""
        if not self._closed:
            self._closed = True
            try:
                self._flush()
            finally:
                self._received.put(None)
                for thread in self._threads:
                    thread.join()
        self._raise()
        self._report()

    def _flush(self) -> None:
        if not self._pending:
            return
        if self._expected and self.written + self._pending_size > self._expected:
            self.too_long = True
            raise ArchiveError(f"file {self._file_id}: longer than its file_size {self._expected}")
        self._raise()
        self._received.put(self._pending)
        self.written += self._pending_size
        self._pending = []
        self._pending_size = 0
        self._report()

    def tick(self) -> None:
        """Bytes are arriving, a piece is not full yet: the progress callback's heartbeat."""
        self._report()

    def _report(self) -> None:
        done = self._done
        if self._progress is not None:
            self._progress(done - self._reported)  # 0 too: the callback's heartbeat
        self._reported = done

    def _stopped(self) -> bool:
        return self._error is not None or self._cancelled

    def _hash(self) -> None:
        try:
            while (pieces := self._received.get()) is not None:
                if self._stopped():
                    continue  # drain: the receiver sees the error at its next flush or close
                for piece in pieces:  # as received, not joined: a copy saved
                    self._digest.update(piece)
                self._hashed.put(pieces)
        finally:
            self._hashed.put(None)

    def _write(self) -> None:
        while (pieces := self._hashed.get()) is not None:
            if self._stopped():
                continue
            try:
                for piece in pieces:
                    # Every Upload takes any bytes-like chunk (it writes a memoryview of it).
                    self._upload.write(cast(bytes, piece))
                    self._done += len(piece)
            except BaseException as exc:  # re-raised in the receiving thread
                self._error = exc

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error
