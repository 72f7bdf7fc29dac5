"""``Archiver``: one recording file from Zoom into storage, once, and its meeting's manifest.

What the download task and the sync call. Around ``download.download`` it adds what makes
a file archived exactly once: the skip when storage already has it with Zoom's size, a
Redis lock per file (extended while bytes arrive, so it outlives the broker's visibility
timeout and a redelivered copy waits instead of downloading beside it), the token to
download with (the event's, else a fresh ``download_access_token``), the manifest, and the
optional move of the meeting's recordings to Zoom's trash.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

import redis
import structlog
from redis.exceptions import LockError, RedisError

from zoomq.actions import run_action
from zoomq.actions.base import encode_path_value
from zoomq.archive.download import download, download_hosts
from zoomq.archive.files import ArchiveFilter, RecordingFile, files_of, phone_files_of
from zoomq.archive.http11 import Http11
from zoomq.archive.storage import Storage, StoredFile
from zoomq.errors import (
    ArchiveError,
    DownloadUnauthorized,
    FileLocked,
    NotFound,
    RecordingGone,
)
from zoomq.runtime.keys import Keys

if TYPE_CHECKING:
    from redis.lock import Lock

    from zoomq.client.http import ZoomClient
    from zoomq.settings import Settings

__all__ = [
    "DOWNLOAD_HORIZON",
    "MANIFEST_WAIT",
    "STAT_NAMES",
    "ArchiveResult",
    "Archiver",
    "ClientFor",
    "archive_filter",
    "archive_stats",
]

log = structlog.get_logger("zoomq.archive")

#: The archive's counters, kept in Redis (``zoomq recordings stats``): files and bytes
#: stored (bytes downloaded, a resumed file counting only what it fetched), downloads that
#: failed, downloads that resumed from a partial file.
STAT_NAMES = ("files", "bytes", "failures", "resumptions")


def archive_stats(client: redis.Redis, keys: Keys) -> dict[str, int]:
    """The counters ``Archiver.count`` keeps, every one named (0 when never counted)."""
    raw = cast("dict[bytes, bytes]", client.hgetall(keys("archive", "stats")))
    found = {k.decode(): int(v) for k, v in raw.items()}
    return {name: found.get(name, 0) for name in STAT_NAMES}


#: A ``ZoomClient`` for a connection name.
ClientFor = Callable[[str], "ZoomClient"]

#: How long a manifest update waits for another worker's update of the same meeting.
MANIFEST_WAIT = 10.0
#: The longest one file's download may take (a 2 GiB file on a slow link): the download
#: task's time limit, and how long a duplicate waits for a lock its owner keeps renewing.
DOWNLOAD_HORIZON = 24 * 3600


def archive_filter(settings: Settings) -> ArchiveFilter:
    """The filter ``ZOOMQ_ARCHIVE_FILE_TYPES`` / ``ZOOMQ_ARCHIVE_RECORDING_TYPES`` describe."""
    section = settings.archive
    return ArchiveFilter(
        file_types=frozenset(section.file_types),
        recording_types=frozenset(section.recording_types),
    )


@dataclass
class ArchiveResult:
    """One file's outcome: what is stored, and whether this call downloaded any of it."""

    file: RecordingFile
    stored: StoredFile
    skipped: bool
    resumed_from: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "file_id": self.file.file_id,
            "meeting_uuid": self.file.meeting_uuid,
            "key": self.stored.key,
            "size": self.stored.size,
            "sha256": self.stored.sha256,
            "skipped": self.skipped,
            "resumed_from": self.resumed_from,
        }


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class _Heartbeat:
    """The download's progress callback: extends the file's lock while bytes arrive."""

    def __init__(self, lock: Lock, file_id: str, timeout: float, clock: Callable[[], float]):
        self.lock = lock
        self.file_id = file_id
        self.every = timeout / 3
        self.clock = clock
        self.last = clock()

    def __call__(self, _reached: int) -> None:
        now = self.clock()
        if now - self.last < self.every:
            return
        self.last = now
        try:
            self.lock.reacquire()
        except LockError:
            # Lapsed (a stall longer than the timeout) and maybe taken: stop, so two
            # workers never write the same file. What is stored so far is kept.
            raise FileLocked(self.file_id, retry_after=self.every) from None


class Archiver:
    """Archives recording files of any connection into one ``Storage``."""

    def __init__(
        self,
        settings: Settings,
        redis_client: redis.Redis,
        clients: ClientFor,
        storage: Storage,
        *,
        http: Http11 | None = None,
        file_filter: ArchiveFilter | None = None,
        lock_timeout: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.redis = redis_client
        self.clients = clients
        self.storage = storage
        self.filter = file_filter or archive_filter(settings)
        self.keys = Keys(settings.zoomq_key_prefix)
        self.lock_timeout = lock_timeout or settings.archive.lock_timeout
        self.clock = clock
        self._own_http = http is None
        # The Zoom API client's timeouts; download() follows redirects itself.
        self.http = http or Http11(
            timeout=settings.http.timeout, connect_timeout=settings.http.connect_timeout
        )
        self.allowed_hosts = download_hosts(settings.archive.download_hosts)

    def close(self) -> None:
        if self._own_http:
            self.http.close()

    # -- which files ---------------------------------------------------------------
    def account_of(self, connection: str) -> str:
        return self.clients(connection).connection.rate_key

    def accepted(
        self, recording: Mapping[str, Any], *, connection: str, phone: bool = False
    ) -> list[RecordingFile]:
        """The files of a recording object that the filter accepts (completed, wanted types)."""
        account = self.account_of(connection)
        found = (phone_files_of if phone else files_of)(
            recording, connection=connection, account=account
        )
        return [f for f in found if self.filter.accepts(f)]

    def is_stored(self, f: RecordingFile) -> StoredFile | None:
        """Storage's copy of ``f`` if it is complete: Zoom's size (phone recordings have
        none: any complete copy), visible."""
        found = self.storage.stored(self.storage.key_for(f))
        if found is None or (f.file_size and found.size != f.file_size):
            return None
        return found

    def archive_recording(
        self,
        recording: Mapping[str, Any],
        *,
        connection: str,
        download_token: str | None,
        enqueue: Callable[[RecordingFile], None] | None = None,
        phone: bool = False,
    ) -> list[RecordingFile]:
        """The accepted files storage lacks; each handed to ``enqueue``, else archived here."""
        missing = [
            f
            for f in self.accepted(recording, connection=connection, phone=phone)
            if self.is_stored(f) is None
        ]
        for f in missing:
            if enqueue is not None:
                enqueue(f)
            else:
                self.archive_file(f, download_token=download_token)
        return missing

    # -- one file ------------------------------------------------------------------
    def archive_file(self, f: RecordingFile, *, download_token: str | None) -> ArchiveResult:
        """Store ``f`` once: skip it if stored with Zoom's size, else download (resuming)."""
        bound = log.bind(file_id=f.file_id, meeting_uuid=f.meeting_uuid, file_type=f.file_type)
        found = self.is_stored(f)
        if found is not None:
            return self._skipped(f, found, bound)
        lock = self.redis.lock(
            self.keys("archive", "lock", f.file_id), timeout=self.lock_timeout, blocking=False
        )
        if not lock.acquire():
            # A renewed lock is seen again within a third of its timeout at the earliest.
            waits = math.ceil(DOWNLOAD_HORIZON / (self.lock_timeout / 3))
            raise FileLocked(f.file_id, retry_after=self._lock_wait(lock), max_waits=waits)
        try:
            found = self.is_stored(f)  # finished by another worker just before we locked
            if found is not None:
                return self._skipped(f, found, bound)
            beat = _Heartbeat(lock, f.file_id, self.lock_timeout, self.clock)
            try:
                stored, resumed_from = self._download(f, download_token, beat, bound)
            except ArchiveError:
                self.count(failures=1)
                raise
            self._record(f, stored, bound)
            self.count(
                files=1, bytes=stored.size - resumed_from, resumptions=1 if resumed_from else 0
            )
        finally:
            try:
                lock.release()
            except LockError:
                bound.warning("archive.lock_lost")
        bound.info("archive.stored", size=stored.size, resumed_from=resumed_from, key=stored.key)
        if self.settings.archive.delete_after:
            self.trash_if_complete(f)
        return ArchiveResult(f, stored, skipped=False, resumed_from=resumed_from)

    def count(self, **increments: int) -> None:
        """Add to the archive's counters (``stats``); a counter that cannot be written
        costs a log line, never the archived file."""
        try:
            pipe = self.redis.pipeline(transaction=False)
            for name, value in increments.items():
                if value:
                    pipe.hincrby(self.keys("archive", "stats"), name, value)
            pipe.execute()
        except RedisError as exc:
            log.warning("archive.stats_failed", error=type(exc).__name__)

    def _skipped(self, f: RecordingFile, found: StoredFile, bound: Any) -> ArchiveResult:
        """Already stored: make sure the manifest lists it, and (a trash that failed on the
        attempt that stored it is tried again here) the meeting's clean-up."""
        self._record(f, found, bound)
        bound.info("archive.skipped", size=found.size)
        if self.settings.archive.delete_after:
            self.trash_if_complete(f)
        return ArchiveResult(f, found, skipped=True, resumed_from=f.file_size)

    def _lock_wait(self, lock: Lock) -> float:
        ttl_ms = self.redis.pttl(lock.name)
        return max(ttl_ms / 1000, 0.5) if isinstance(ttl_ms, int) and ttl_ms > 0 else 1.0

    def _download(
        self,
        f: RecordingFile,
        download_token: str | None,
        beat: _Heartbeat,
        bound: Any,
    ) -> tuple[StoredFile, int]:
        """Download with the event's token; refused, once more with a fresh one."""
        token, fresh = download_token, False
        if token is None or f.kind == "phone":
            token, fresh = self.fresh_token(f), True
        for _ in range(2):
            upload = self.storage.begin(self.storage.key_for(f))
            resumed_from = upload.offset
            if resumed_from:
                bound.info("archive.resuming", offset=resumed_from)
            try:
                stored = download(
                    self.http,
                    f,
                    upload,
                    token=token,
                    allowed_hosts=self.allowed_hosts,
                    chunk_size=self.settings.archive.chunk_bytes,
                    progress=beat,
                )
            except DownloadUnauthorized:
                if fresh:
                    raise
                bound.info("archive.token_refresh", why="download refused the event's token")
                token, fresh = self.fresh_token(f), True
                continue
            return stored, resumed_from
        raise AssertionError("unreachable: the second attempt returns or raises")

    def fresh_token(self, f: RecordingFile) -> str:
        """A token the download URL accepts: a new ``download_access_token`` (cloud), the
        connection's OAuth token (phone). Through ``ZoomClient``: rate limited, retried."""
        client = self.clients(f.connection)
        if f.kind == "phone":
            return client.tokens.access_token()
        body = self._meeting_recordings(client, f, include_token=True)
        token = body.get("download_access_token")
        if not isinstance(token, str) or not token:
            raise DownloadUnauthorized(
                f"getMeetingRecordings gave no download_access_token for meeting {f.meeting_id}"
            )
        return token

    def _meeting_recordings(
        self, client: ZoomClient, f: RecordingFile, *, include_token: bool = False
    ) -> dict[str, Any]:
        data: dict[str, Any] = {"meetingId": f.meeting_uuid or f.meeting_id}
        if include_token:
            data["include_fields"] = "download_access_token"
        try:
            body = run_action(client, "getMeetingRecordings", data)["data"]
        except NotFound as exc:
            raise RecordingGone(
                f"Zoom no longer has the recordings of meeting {f.meeting_id} "
                f"({f.meeting_uuid}): {exc.message}"
            ) from exc
        return body if isinstance(body, dict) else {}

    # -- the manifest --------------------------------------------------------------
    def _record(self, f: RecordingFile, stored: StoredFile, bound: Any) -> None:
        """Add (or confirm) ``f`` in its meeting's manifest, under the meeting's lock."""
        entry = {
            "file_id": f.file_id,
            "key": stored.key,
            "file_type": f.file_type,
            "file_extension": f.file_extension,
            "recording_type": f.recording_type,
            "size": stored.size,
            "sha256": stored.sha256,
            "zoom": dict(f.metadata),
        }
        mkey = self.storage.manifest_key_for(f)
        with self._meeting_lock(f):
            manifest = self.storage.read_manifest(mkey) or {
                "account": f.account,
                "connection": f.connection,
                "kind": f.kind,
                "meeting_id": f.meeting_id,
                "meeting_uuid": f.meeting_uuid,
                "topic": f.topic,
                "start_time": f.start_time,
                "files": {},
            }
            files = manifest.setdefault("files", {})
            known = files.get(f.file_id)
            if known and known.get("sha256") == stored.sha256 and known.get("size") == stored.size:
                return
            files[f.file_id] = {**entry, "archived_at": _now_iso()}
            manifest["updated_at"] = _now_iso()
            self.storage.write_manifest(mkey, manifest)
        bound.info("archive.manifest_updated", files=len(files))

    @contextmanager
    def _meeting_lock(self, f: RecordingFile) -> Iterator[None]:
        """One manifest writer per meeting: its update is a read-modify-write."""
        name = self.keys("archive", "manifest", f.account, f.meeting_uuid or f.meeting_id)
        lock = self.redis.lock(name, timeout=MANIFEST_WAIT, blocking_timeout=MANIFEST_WAIT)
        if not lock.acquire():
            raise FileLocked(f.file_id, retry_after=1.0)
        try:
            yield
        finally:
            with suppress(LockError):
                lock.release()

    # -- delete after archive --------------------------------------------------------
    def trash_if_complete(self, f: RecordingFile) -> bool:
        """Move ``f``'s meeting's recordings to Zoom's trash once every file of the meeting is
        stored and verified (a file the filter leaves out keeps it: it is never archived);
        never ``action=delete``. True when trashed now."""
        if f.kind != "cloud":
            return False
        mkey = self.storage.manifest_key_for(f)
        if (self.storage.read_manifest(mkey) or {}).get("trashed_at"):
            return False
        client = self.clients(f.connection)
        try:
            body = self._meeting_recordings(client, f)
        except RecordingGone:
            return False  # already gone: trashed earlier, or deleted in Zoom
        manifest = self.storage.read_manifest(mkey) or {}
        if not self._all_archived(f, body, manifest):
            return False
        uuid = encode_path_value(f.meeting_uuid or f.meeting_id, uuid=True)
        try:
            client.request("DELETE", f"/meetings/{uuid}/recordings", params={"action": "trash"})
        except NotFound:
            return False
        with self._meeting_lock(f):
            manifest = self.storage.read_manifest(mkey) or manifest
            manifest["trashed_at"] = _now_iso()
            self.storage.write_manifest(mkey, manifest)
        log.info("archive.trashed", meeting_uuid=f.meeting_uuid)
        return True

    def _all_archived(
        self, f: RecordingFile, body: Mapping[str, Any], manifest: Mapping[str, Any]
    ) -> bool:
        """Every file of the meeting, whatever the filter says and whatever its status, is
        stored with the manifest's digest: one filtered out, still processing, or not yet
        given a URL keeps the meeting in Zoom."""
        wanted = files_of(body, connection=f.connection, account=f.account)
        raw_files = body.get("recording_files")
        if not wanted or not isinstance(raw_files, list) or len(raw_files) != len(wanted):
            log.info("archive.trash_waits", meeting_uuid=f.meeting_uuid, why="files not final")
            return False
        listed = manifest.get("files") or {}
        for g in wanted:
            stored = self.is_stored(g) if g.status == "completed" else None
            entry = listed.get(g.file_id) or {}
            if stored is None or entry.get("sha256") != stored.sha256:
                log.info("archive.trash_waits", meeting_uuid=f.meeting_uuid, file_id=g.file_id)
                return False
        return True
