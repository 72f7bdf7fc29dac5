"""Archive into an S3 bucket (or any S3-compatible store) with resumable multipart uploads.

Layout in the bucket, for a file whose key is ``K`` under ``s3://bucket/prefix``:

- ``prefix/K.part`` — the *staging* object: an in-progress multipart upload while the
  download runs, completed into an object only to be read back on a resume (below);
- ``prefix/K`` — the archived file, written once, by ``commit``, with its SHA-256 in the
  object's metadata (``x-amz-meta-sha256``). Nothing exists under ``K`` before that.

The digest has to cover the whole file, and a resumed download only streams the bytes
after ``offset``. Parts of an in-progress multipart upload cannot be read back, and a
hashlib state cannot be saved, so a resume (``begin`` finding an upload for ``K.part``
via ``list_multipart_uploads`` and ``list_parts``) completes those parts into the staging
object, starts a new upload for it whose first parts are server-side copies of that
object (``UploadPartCopy``: nothing is uploaded again), and ``resume_hash`` re-reads the
staging object with one streamed GET to rebuild the digest exactly. A resume therefore
costs a read of the stored bytes from the bucket — never a re-upload, never a second
download from Zoom — and the SHA-256 in the metadata and the manifest is that of the
bytes in the object. The object's metadata can only be set when an object is created,
and the digest is known only at the end, so ``commit`` assembles ``K`` from the staging
object with server-side part copies (any size up to S3's 5 TiB), checks its size with
``head_object``, then deletes the staging object.

Memory: an Upload holds at most one part (``part_size``) in a buffer that is sent as it
is, never copied. One upload per key at a time: the caller holds the file's lock.
"""

from __future__ import annotations

import hashlib
import io
import json
import posixpath
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import IO, TYPE_CHECKING, Any, NoReturn, cast

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from zoomq.archive.files import RecordingFile
from zoomq.archive.storage import MANIFEST_NAME, StoredFile, check_layout, render_key
from zoomq.errors import ConfigurationError, IncompleteDownload, StorageError
from zoomq.settings import DEFAULT_ARCHIVE_LAYOUT

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef

__all__ = ["MIN_PART_BYTES", "S3Storage", "S3Upload"]

#: S3 refuses a part smaller than this, except the last one.
MIN_PART_BYTES = 5 << 20
#: Bytes per server-side part copy (S3 allows up to 5 GiB per part).
_COPY_BYTES = 1 << 30
#: Bytes per read when re-hashing the staging object.
_READ_BYTES = 1 << 20
_STAGING_SUFFIX = ".part"


class S3Storage:
    """A bucket and key prefix, written through boto3 (credentials from its usual sources)."""

    def __init__(
        self,
        dest: str,
        *,
        layout: str = DEFAULT_ARCHIVE_LAYOUT,
        endpoint_url: str | None = None,
        region: str | None = None,
        part_size: int = 8 << 20,
        client: S3Client | None = None,
    ) -> None:
        if not dest.startswith("s3://"):
            raise ConfigurationError(f"{dest!r} is not an s3://bucket/prefix destination")
        bucket, _, prefix = dest.removeprefix("s3://").partition("/")
        if not bucket:
            raise ConfigurationError(f"{dest!r} names no bucket")
        if part_size < MIN_PART_BYTES:
            raise ConfigurationError(
                f"ZOOMQ_ARCHIVE_S3_PART_BYTES={part_size} is below S3's minimum part size "
                f"of {MIN_PART_BYTES} bytes"
            )
        check_layout(layout)
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.layout = layout
        self.part_size = part_size
        self.endpoint_url = endpoint_url
        self.client: S3Client = client or boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            # A few quick retries; the queue owns the long waits (errors.HANDLING).
            config=Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=10),
        )
        self._bucket_checked = False

    # -- Storage protocol -------------------------------------------------------------

    def key_for(self, f: RecordingFile) -> str:
        return render_key(self.layout, f)

    def manifest_key_for(self, f: RecordingFile) -> str:
        return posixpath.join(posixpath.dirname(self.key_for(f)), MANIFEST_NAME)

    def describe(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"

    def stored(self, key: str) -> StoredFile | None:
        """The object under ``key`` if ``commit`` wrote it (it carries a sha256)."""
        head = self.head(self.object_key(key))
        if head is None:
            return None
        sha256 = head.get("Metadata", {}).get("sha256")
        if not sha256:
            return None  # not written by commit: not a verified archive file
        return StoredFile(key=key, size=int(head["ContentLength"]), sha256=sha256)

    def begin(self, key: str) -> S3Upload:
        return S3Upload(self, key)

    def read_manifest(self, meeting_key: str) -> dict[str, Any] | None:
        obj = self.object_key(meeting_key)
        if self.head(obj) is None:
            return None
        with self.errors(obj):
            body = self.client.get_object(Bucket=self.bucket, Key=obj)["Body"].read()
        try:
            manifest = json.loads(body)
        except ValueError as exc:
            where = self.where(obj)
            raise StorageError(f"{where} is not JSON: {exc}", where=where) from exc
        if not isinstance(manifest, dict):
            raise StorageError(f"{self.where(obj)} is not a JSON object", where=self.where(obj))
        return manifest

    def write_manifest(self, meeting_key: str, manifest: Mapping[str, Any]) -> None:
        """One PUT: readers see the old manifest or the new one, never half of one."""
        obj = self.object_key(meeting_key)
        body = json.dumps(manifest, indent=2, sort_keys=True).encode()
        self.check_bucket()
        with self.errors(obj):
            self.client.put_object(
                Bucket=self.bucket, Key=obj, Body=body, ContentType="application/json"
            )

    def manifest_keys(self) -> Iterator[str]:
        """Every manifest's key under the prefix, in key order (``recordings status``)."""
        base = f"{self.prefix}/" if self.prefix else ""
        with self.errors():
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=base
            )
            for page in pages:
                for item in page.get("Contents", []):
                    obj = item.get("Key", "")
                    if posixpath.basename(obj) == MANIFEST_NAME:
                        yield obj.removeprefix(base)

    # -- plumbing shared with S3Upload ------------------------------------------------

    def object_key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def where(self, obj: str | None = None) -> str:
        return f"s3://{self.bucket}/{obj}" if obj else f"s3://{self.bucket}"

    @contextmanager
    def errors(self, obj: str | None = None) -> Iterator[None]:
        """boto3's exceptions as ``StorageError`` naming the bucket and key."""
        try:
            yield
        except ClientError as exc:
            self._raise(exc, obj)
        except BotoCoreError as exc:  # endpoint down, no credentials, read timeout, ...
            where = self.where(obj)
            endpoint = f" at {self.endpoint_url}" if self.endpoint_url else ""
            raise StorageError(f"{where}: S3{endpoint} unusable: {exc}", where=where) from exc

    def _raise(self, exc: ClientError, obj: str | None) -> NoReturn:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code == "NoSuchBucket" or (obj is None and status == 404):
            reason = f"bucket {self.bucket!r} does not exist"
        elif code in ("AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch") or (
            status == 403
        ):
            reason = f"access denied to bucket {self.bucket!r} ({code or status})"
        else:
            reason = f"{code or status}: {error.get('Message', exc)}"
        where = self.where(obj)
        raise StorageError(f"{where}: {reason}", where=where) from exc

    def check_bucket(self) -> None:
        """Once: ``head_object`` cannot tell a missing key from a missing bucket."""
        if self._bucket_checked:
            return
        with self.errors():
            self.client.head_bucket(Bucket=self.bucket)
        self._bucket_checked = True

    def head(self, obj: str) -> dict[str, Any] | None:
        """``head_object``, or None when there is no such object."""
        self.check_bucket()
        with self.errors(obj):
            try:
                return dict(self.client.head_object(Bucket=self.bucket, Key=obj))
            except ClientError as exc:
                if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404:
                    return None
                raise


class S3Upload:
    """One file going into the bucket: parts of ``part_size``, at most one in memory."""

    def __init__(self, storage: S3Storage, key: str) -> None:
        self._s = storage
        self._c = storage.client
        self.key = key
        self._final = storage.object_key(key)
        self._staging = self._final + _STAGING_SUFFIX
        self._parts: list[CompletedPartTypeDef] = []
        self._buffer = bytearray()
        self._done = False
        storage.check_bucket()
        #: Bytes stored in the bucket already (the staging object): what resume_hash reads.
        self._resumed = self._recover()
        self.upload_id = self._create(self._staging, metadata={})
        self._copy_into(self._staging, self.upload_id, self._resumed, self._parts)
        self.offset = self._resumed

    # -- Upload protocol --------------------------------------------------------------

    def write(self, chunk: bytes) -> None:
        view = memoryview(chunk)
        while view:
            take = min(self._s.part_size - len(self._buffer), len(view))
            self._buffer += view[:take]
            view = view[take:]
            if len(self._buffer) == self._s.part_size:
                self._flush()

    def resume_hash(self) -> hashlib._Hash:
        """A sha256 of the ``offset`` bytes stored, re-read from the staging object."""
        if self.offset != self._resumed or self._buffer:
            raise RuntimeError("resume_hash() is for before the first write")
        digest = hashlib.sha256()
        if not self._resumed:
            return digest
        where = self._s.where(self._staging)
        with self._s.errors(self._staging):
            body = self._c.get_object(
                Bucket=self._s.bucket, Key=self._staging, Range=f"bytes=0-{self._resumed - 1}"
            )["Body"]
            read = 0
            for block in body.iter_chunks(_READ_BYTES):
                digest.update(block)
                read += len(block)
        if read != self._resumed:
            raise StorageError(
                f"{where}: read back {read} of the {self._resumed} bytes stored", where=where
            )
        return digest

    def commit(self, *, expected_size: int, sha256: str) -> StoredFile:
        """Complete the upload, then write the file under its key with its sha256."""
        total = self.offset + len(self._buffer)
        if total != expected_size:
            raise IncompleteDownload(
                f"{self._s.where(self._final)}: {total} bytes written, {expected_size} expected",
                reached=self.offset,
                expected=expected_size,
            )
        if self._buffer or not self._parts:
            self._flush()  # the last part may be short (or empty, for an empty file)
        self._complete(self._staging, self.upload_id, self._parts)
        self._done = True
        self._check_size(self._staging, expected_size)
        if expected_size:
            final_id = self._create(self._final, metadata={"sha256": sha256})
            final_parts: list[CompletedPartTypeDef] = []
            self._copy_into(self._final, final_id, expected_size, final_parts)
            self._complete(self._final, final_id, final_parts)
        else:  # an upload needs one part, and there is no byte to copy
            with self._s.errors(self._final):
                self._c.put_object(
                    Bucket=self._s.bucket, Key=self._final, Body=b"", Metadata={"sha256": sha256}
                )
        self._check_size(self._final, expected_size)
        with self._s.errors(self._staging):
            self._c.delete_object(Bucket=self._s.bucket, Key=self._staging)
        return StoredFile(key=self.key, size=expected_size, sha256=sha256)

    def abort(self) -> None:
        """Drop the upload in progress and the staging object: the next begin starts at 0."""
        with self._s.errors(self._staging):
            if not self._done:
                self._c.abort_multipart_upload(
                    Bucket=self._s.bucket, Key=self._staging, UploadId=self.upload_id
                )
            self._c.delete_object(Bucket=self._s.bucket, Key=self._staging)
        self._done = True
        self._buffer.clear()
        self._parts.clear()
        self.offset = self._resumed = 0

    # -- steps ------------------------------------------------------------------------

    def _flush(self) -> None:
        number = len(self._parts) + 1
        # The buffer cannot be cleared while the reader's view of it is open.
        with _BufferReader(self._buffer) as body, self._s.errors(self._staging):
            answer = self._c.upload_part(
                Bucket=self._s.bucket,
                Key=self._staging,
                UploadId=self.upload_id,
                PartNumber=number,
                Body=cast(IO[bytes], body),  # RawIOBase: a binary stream
            )
        self._parts.append({"PartNumber": number, "ETag": answer["ETag"]})
        self.offset += len(self._buffer)
        self._buffer.clear()

    def _recover(self) -> int:
        """Bytes a previous attempt stored for this key, as one staging object (or 0).

        An upload in progress holding more than the staging object is completed into it
        (its parts are a prefix of the file: only full parts are sent before ``commit``);
        every other upload in progress for the key is aborted.
        """
        best: tuple[int, str, list[CompletedPartTypeDef]] | None = None
        for upload_id in self._uploads():
            parts, size = self._prefix_parts(upload_id)
            if best is None or size > best[0]:
                if best is not None:
                    self._abort(best[1])
                best = (size, upload_id, parts)
            else:
                self._abort(upload_id)
        head = self._s.head(self._staging)
        staged = int(head["ContentLength"]) if head else 0
        if best is not None:
            size, upload_id, parts = best
            if size > staged:
                self._complete(self._staging, upload_id, parts)
                staged = size
            else:
                self._abort(upload_id)
        return staged

    def _uploads(self) -> list[str]:
        """Uploads in progress for the staging object; a dead commit's one for the key goes."""
        ids: list[str] = []
        with self._s.errors(self._staging):
            pages = self._c.get_paginator("list_multipart_uploads").paginate(
                Bucket=self._s.bucket, Prefix=self._final
            )
            found = [u for page in pages for u in page.get("Uploads", [])]
        for u in found:
            if u.get("Key") == self._staging:
                ids.append(u["UploadId"])
            elif u.get("Key") == self._final:  # commit died while assembling: start over
                with self._s.errors(self._final):
                    self._c.abort_multipart_upload(
                        Bucket=self._s.bucket, Key=self._final, UploadId=u["UploadId"]
                    )
        return ids

    def _prefix_parts(self, upload_id: str) -> tuple[list[CompletedPartTypeDef], int]:
        """The parts 1, 2, ... n with no gap, and their byte count."""
        found: dict[int, tuple[str, int]] = {}
        with self._s.errors(self._staging):
            pages = self._c.get_paginator("list_parts").paginate(
                Bucket=self._s.bucket, Key=self._staging, UploadId=upload_id
            )
            for page in pages:
                for p in page.get("Parts", []):
                    found[p["PartNumber"]] = (p["ETag"], p["Size"])
        parts: list[CompletedPartTypeDef] = []
        size = 0
        while len(parts) + 1 in found:
            etag, part_size = found[len(parts) + 1]
            parts.append({"PartNumber": len(parts) + 1, "ETag": etag})
            size += part_size
        return parts, size

    def _create(self, obj: str, *, metadata: dict[str, str]) -> str:
        with self._s.errors(obj):
            return self._c.create_multipart_upload(
                Bucket=self._s.bucket, Key=obj, Metadata=metadata
            )["UploadId"]

    def _copy_into(
        self, obj: str, upload_id: str, size: int, parts: list[CompletedPartTypeDef]
    ) -> None:
        """Append the staging object's first ``size`` bytes to ``obj``'s upload, server-side.

        Ranges of 1 GiB, the last one merged into its neighbour when under S3's 5 MiB
        minimum, so that more parts may follow it.
        """
        start = 0
        while start < size:
            end = min(start + _COPY_BYTES, size)
            if 0 < size - end < MIN_PART_BYTES:
                end = size
            number = len(parts) + 1
            with self._s.errors(obj):
                answer = self._c.upload_part_copy(
                    Bucket=self._s.bucket,
                    Key=obj,
                    UploadId=upload_id,
                    PartNumber=number,
                    CopySource={"Bucket": self._s.bucket, "Key": self._staging},
                    CopySourceRange=f"bytes={start}-{end - 1}",
                )
            parts.append({"PartNumber": number, "ETag": answer["CopyPartResult"]["ETag"]})
            start = end

    def _complete(self, obj: str, upload_id: str, parts: list[CompletedPartTypeDef]) -> None:
        with self._s.errors(obj):
            self._c.complete_multipart_upload(
                Bucket=self._s.bucket,
                Key=obj,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
            )

    def _abort(self, upload_id: str) -> None:
        with self._s.errors(self._staging):
            self._c.abort_multipart_upload(
                Bucket=self._s.bucket, Key=self._staging, UploadId=upload_id
            )

    def _check_size(self, obj: str, expected: int) -> None:
        head = self._s.head(obj)
        size = int(head["ContentLength"]) if head else None
        if size != expected:
            where = self._s.where(obj)
            raise StorageError(f"{where}: {size} bytes stored, {expected} expected", where=where)


class _BufferReader(io.RawIOBase):
    """A seekable reader over the part buffer: boto3 streams it without a copy."""

    def __init__(self, buffer: bytearray) -> None:
        self._view = memoryview(buffer)
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: len(self._view)}[whence]
        self._pos = max(0, min(base + offset, len(self._view)))
        return self._pos

    def readinto(self, b: Any) -> int:
        n = min(len(b), len(self._view) - self._pos)
        b[:n] = self._view[self._pos : self._pos + n]
        self._pos += n
        return n

    def read(self, size: int = -1) -> bytes:
        end = (
            len(self._view) if size is None or size < 0 else min(len(self._view), self._pos + size)
        )
        data = bytes(self._view[self._pos : end])
        self._pos = end
        return data

    def close(self) -> None:
        self._view.release()
        super().close()
