"""S3Storage against a real S3-compatible server (moto's, over loopback HTTP)."""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.archive.s3server import CREDENTIALS, REGION, S3Server, moto_server
from zoomq.archive.download import download
from zoomq.archive.files import RecordingFile
from zoomq.archive.http11 import Http11
from zoomq.archive.s3 import S3Storage, S3Upload
from zoomq.archive.storage import open_storage
from zoomq.errors import ConfigurationError, IncompleteDownload, StorageError
from zoomq.redis_server import free_port
from zoomq.sandbox import SandboxServer
from zoomq.sandbox.content import expected_sha256

MiB = 1 << 20
PART = 5 * MiB
#: 3.5 parts: three full parts and a short last one.
DATA = random.Random(9).randbytes(PART * 3 + PART // 2)
KEY = "acct/2026-12/b64-dXVpZC8rPQ/file-1.mp4"


def storage_of(s3: S3Server, prefix: str = "archive") -> S3Storage:
    storage = open_storage(f"s3://{s3.bucket}/{prefix}", s3_options=s3.options(part_size=PART))
    assert isinstance(storage, S3Storage)
    return storage


def count_calls(storage: S3Storage, operation: str) -> list[dict[str, Any]]:
    """The parameters of every ``operation`` call the storage's boto3 client makes."""
    calls: list[dict[str, Any]] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        calls.append({k: v for k, v in params.items() if k != "Body"})

    storage.client.meta.events.register(f"before-parameter-build.s3.{operation}", record)
    return calls


def chunks(data: bytes, size: int = 777_777) -> Iterator[bytes]:
    """Chunks that do not line up with the parts."""
    for start in range(0, len(data), size):
        yield data[start : start + size]


def written(upload: S3Upload, data: bytes) -> S3Upload:
    for chunk in chunks(data):
        upload.write(chunk)
    return upload


def object_bytes(s3: S3Server, key: str) -> bytes:
    return s3.client().get_object(Bucket=s3.bucket, Key=key)["Body"].read()


def keys_in(s3: S3Server) -> list[str]:
    listing = s3.client().list_objects_v2(Bucket=s3.bucket)
    return [o["Key"] for o in listing.get("Contents", [])]


def test_a_multipart_upload_stores_the_bytes_and_their_sha256(s3: S3Server) -> None:
    """3.5 parts go up as four parts; the object is the bytes, its metadata their digest."""
    storage = storage_of(s3)
    uploads = count_calls(storage, "UploadPart")
    upload = written(storage.begin(KEY), DATA)
    assert upload.offset == 3 * PART  # three full parts sent, the short one still buffered

    digest = hashlib.sha256(DATA).hexdigest()
    stored = upload.commit(expected_size=len(DATA), sha256=digest)

    assert (stored.key, stored.size, stored.sha256) == (KEY, len(DATA), digest)
    assert [c["PartNumber"] for c in uploads] == [1, 2, 3, 4]
    assert hashlib.sha256(object_bytes(s3, f"archive/{KEY}")).hexdigest() == digest
    head = s3.client().head_object(Bucket=s3.bucket, Key=f"archive/{KEY}")
    assert head["Metadata"] == {"sha256": digest}
    assert storage.stored(KEY) == stored
    assert keys_in(s3) == [f"archive/{KEY}"]  # the staging object is gone


def test_nothing_is_visible_under_the_key_before_commit(s3: S3Server) -> None:
    """Parts uploaded but not committed: no object at the key, and stored() says so."""
    storage = storage_of(s3)
    upload = written(storage.begin(KEY), DATA[: 2 * PART])
    assert upload.offset == 2 * PART

    assert storage.stored(KEY) is None
    assert f"archive/{KEY}" not in keys_in(s3)
    # A resume (which completes the parts into the staging object) shows nothing either.
    storage.begin(KEY)
    assert storage.stored(KEY) is None
    assert f"archive/{KEY}" not in keys_in(s3)


def test_an_interrupted_upload_resumes_without_uploading_its_parts_again(s3: S3Server) -> None:
    """Abandoned after two parts: the next begin starts at two parts and sends only the rest."""
    first = written(storage_of(s3).begin(KEY), DATA[: 2 * PART + 1234])
    assert first.offset == 2 * PART  # the 1234 buffered bytes die with the process
    del first

    storage = storage_of(s3)
    uploads = count_calls(storage, "UploadPart")
    upload = storage.begin(KEY)
    assert upload.offset == 2 * PART
    digest = upload.resume_hash()
    assert digest.hexdigest() == hashlib.sha256(DATA[: 2 * PART]).hexdigest()

    rest = DATA[upload.offset :]
    written(upload, rest)
    digest.update(rest)
    stored = upload.commit(expected_size=len(DATA), sha256=digest.hexdigest())

    assert len(uploads) == 2  # parts 3 and 4 only: 1 and 2 were copied inside the bucket
    body = object_bytes(s3, f"archive/{KEY}")
    assert body == DATA
    assert stored.sha256 == hashlib.sha256(DATA).hexdigest()
    assert storage.stored(KEY) == stored
    assert keys_in(s3) == [f"archive/{KEY}"]


def test_a_second_interruption_resumes_from_the_furthest_point(s3: S3Server) -> None:
    """Two parts, a resume, one more part, a crash: the third begin starts at three parts."""
    written(storage_of(s3).begin(KEY), DATA[: 2 * PART])
    second = storage_of(s3).begin(KEY)
    written(second, DATA[second.offset : 3 * PART])
    assert second.offset == 3 * PART

    storage = storage_of(s3)
    uploads = count_calls(storage, "UploadPart")
    third = storage.begin(KEY)
    assert third.offset == 3 * PART
    digest = third.resume_hash()
    written(third, DATA[third.offset :])
    digest.update(DATA[third.offset :])
    third.commit(expected_size=len(DATA), sha256=digest.hexdigest())

    assert len(uploads) == 1
    assert object_bytes(s3, f"archive/{KEY}") == DATA
    assert digest.hexdigest() == hashlib.sha256(DATA).hexdigest()


def test_a_commit_that_died_while_assembling_leaves_no_upload_behind(s3: S3Server) -> None:
    """An upload in progress for the key itself (a dead commit's) is aborted by the next begin."""
    written(storage_of(s3).begin(KEY), DATA[: 2 * PART])
    s3.client().create_multipart_upload(Bucket=s3.bucket, Key=f"archive/{KEY}")

    assert storage_of(s3).begin(KEY).offset == 2 * PART
    uploads = s3.client().list_multipart_uploads(Bucket=s3.bucket).get("Uploads", [])
    assert [u["Key"] for u in uploads] == [f"archive/{KEY}.part"]


def test_a_short_stream_is_incomplete_and_keeps_its_parts(s3: S3Server) -> None:
    """commit with bytes missing: IncompleteDownload with the bytes kept, nothing visible."""
    storage = storage_of(s3)
    upload = written(storage.begin(KEY), DATA[: 2 * PART + 10])
    with pytest.raises(IncompleteDownload) as caught:
        upload.commit(expected_size=len(DATA), sha256="0" * 64)
    assert caught.value.reached == 2 * PART
    assert storage.stored(KEY) is None
    assert storage.begin(KEY).offset == 2 * PART


def test_abort_drops_what_was_written(s3: S3Server) -> None:
    """After abort the next begin starts from zero and no staging object is left."""
    storage = storage_of(s3)
    upload = written(storage.begin(KEY), DATA[: 2 * PART])
    upload.abort()
    assert keys_in(s3) == []
    again = storage.begin(KEY)
    assert again.offset == 0
    assert again.resume_hash().hexdigest() == hashlib.sha256(b"").hexdigest()


def test_an_empty_file_is_stored(s3: S3Server) -> None:
    """Zero bytes: one empty part, an empty object with the empty digest."""
    storage = storage_of(s3)
    empty = hashlib.sha256(b"").hexdigest()
    stored = storage.begin(KEY).commit(expected_size=0, sha256=empty)
    assert stored.size == 0
    assert object_bytes(s3, f"archive/{KEY}") == b""
    assert storage.stored(KEY) == stored


def test_an_object_without_a_digest_is_not_stored(s3: S3Server) -> None:
    """An object zoomq did not commit (no sha256 metadata) does not count as archived."""
    s3.client().put_object(Bucket=s3.bucket, Key=f"archive/{KEY}", Body=b"not ours")
    assert storage_of(s3).stored(KEY) is None


def test_manifests_are_json_objects_beside_the_files(s3: S3Server) -> None:
    """The manifest's key is in the files' directory; it round-trips as JSON."""
    storage = storage_of(s3)
    f = RecordingFile(
        account="acct",
        connection="default",
        meeting_id="123",
        meeting_uuid="uuid/+=",
        topic="t",
        start_time="2026-12-01T08:00:00Z",
        file_id="file-1",
        file_type="MP4",
        file_extension="mp4",
        recording_type="shared_screen_with_speaker_view",
        file_size=1,
        download_url="https://zoom.us/rec/download/x",
        status="completed",
    )
    assert storage.key_for(f) == KEY
    manifest_key = storage.manifest_key_for(f)
    assert manifest_key == "acct/2026-12/b64-dXVpZC8rPQ/manifest.json"
    assert storage.read_manifest(manifest_key) is None

    storage.write_manifest(manifest_key, {"files": {"file-1": {"size": 1}}})
    assert storage.read_manifest(manifest_key) == {"files": {"file-1": {"size": 1}}}
    raw = object_bytes(s3, f"archive/{manifest_key}")
    assert json.loads(raw) == {"files": {"file-1": {"size": 1}}}


def test_manifest_keys_lists_every_manifest_under_the_prefix_only(s3: S3Server) -> None:
    """`recordings status` on S3: every manifest under the prefix, relative to it, paged."""
    storage = storage_of(s3, prefix="listed")
    wanted = [f"acct/2026-{m:02d}/meeting-{n}/manifest.json" for m in (1, 2) for n in range(3)]
    for key in wanted:
        storage.write_manifest(key, {"files": {}})
    # A file beside them, a look-alike name, and a manifest under another prefix: none listed.
    client = s3.client()
    client.put_object(Bucket=s3.bucket, Key="listed/acct/2026-01/meeting-0/f.mp4", Body=b"x")
    client.put_object(Bucket=s3.bucket, Key="listed/acct/old-manifest.json", Body=b"{}")
    client.put_object(Bucket=s3.bucket, Key="listedx/acct/manifest.json", Body=b"{}")
    client.put_object(Bucket=s3.bucket, Key="other/acct/manifest.json", Body=b"{}")
    calls = count_calls(storage, "ListObjectsV2")
    assert list(storage.manifest_keys()) == sorted(wanted)
    assert calls
    assert all(c["Prefix"] == "listed/" for c in calls)


def test_open_storage_reads_the_destination(s3: S3Server) -> None:
    """``s3://bucket/prefix`` names the bucket and prefix; the part size is checked."""
    storage = storage_of(s3, prefix="a/b/")
    assert storage.describe() == f"s3://{s3.bucket}/a/b"
    assert storage.object_key("k") == "a/b/k"
    assert open_storage(f"s3://{s3.bucket}", s3_options=s3.options()).describe() == (
        f"s3://{s3.bucket}"
    )
    with pytest.raises(ConfigurationError, match="minimum part size"):
        open_storage(f"s3://{s3.bucket}", s3_options=s3.options(part_size=MiB))


def test_a_missing_bucket_is_a_storage_error_naming_it(s3: S3Server) -> None:
    """No such bucket: StorageError naming it, for a lookup and for an upload alike."""
    storage = open_storage("s3://no-such-bucket-zoomq/x", s3_options=s3.options())
    with pytest.raises(StorageError, match=r"no-such-bucket-zoomq.*does not exist") as caught:
        storage.stored(KEY)
    assert caught.value.where.startswith("s3://no-such-bucket-zoomq")
    with pytest.raises(StorageError, match="no-such-bucket-zoomq"):
        storage.begin(KEY)


def test_a_denied_bucket_is_a_storage_error_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """A server enforcing IAM refuses unknown credentials: StorageError naming the bucket."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAUNKNOWN")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "nope")
    env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "0"}
    with moto_server(env) as url:
        storage = open_storage("s3://guarded", s3_options={"endpoint_url": url, "region": REGION})
        with pytest.raises(StorageError, match="access denied to bucket 'guarded'"):
            storage.begin(KEY)
        with pytest.raises(StorageError, match="guarded"):
            storage.write_manifest("m.json", {})


def test_an_endpoint_that_is_down_is_a_storage_error_naming_the_bucket(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Nothing listening: StorageError naming bucket and endpoint, not a botocore trace."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", CREDENTIALS["aws_access_key_id"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", CREDENTIALS["aws_secret_access_key"])
    url = f"http://127.0.0.1:{free_port()}"
    storage = open_storage("s3://offline/p", s3_options={"endpoint_url": url, "region": REGION})
    with pytest.raises(StorageError, match=rf"s3://offline.*{re.escape(url)}") as caught:
        storage.stored(KEY)
    assert caught.value.where == "s3://offline"


MEMORY_SCRIPT = """
import hashlib, json, os, sys, threading
from zoomq.archive.storage import open_storage
url, bucket, total = sys.argv[1], sys.argv[2], int(sys.argv[3])
page = os.sysconf("SC_PAGE_SIZE")
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * page
options = {"endpoint_url": url, "region": "us-east-1"}
storage = open_storage(f"s3://{bucket}/mem", s3_options=options)
warm = storage.begin("warm")  # load boto3's models and open its connections first
warm.write(b"w" * 1024)
warm.commit(expected_size=1024, sha256=hashlib.sha256(b"w" * 1024).hexdigest())
before = peak = rss()
done = threading.Event()
def sample():
    global peak
    while not done.wait(0.002):
        peak = max(peak, rss())
sampler = threading.Thread(target=sample)
sampler.start()
block = bytearray(1 << 20)
upload = storage.begin("big")
digest = hashlib.sha256()
for i in range(total >> 20):
    block[:8] = i.to_bytes(8, "big")
    chunk = bytes(block)
    digest.update(chunk)
    upload.write(chunk)
stored = upload.commit(expected_size=total, sha256=digest.hexdigest())
done.set()
sampler.join()
print(json.dumps({"growth": max(peak, rss()) - before, "part": storage.part_size,
                  "size": stored.size}))
"""


def test_a_large_upload_holds_at_most_about_one_part_in_memory(s3: S3Server) -> None:
    """256 MiB through 8 MiB parts: the peak RSS grows by less than two parts."""
    total = 256 * MiB
    out = subprocess.run(
        [sys.executable, "-c", MEMORY_SCRIPT, s3.endpoint_url, s3.bucket, str(total)],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    report = json.loads(out.stdout)
    growth = report["growth"]
    print(f"peak RSS growth for {total} bytes in {report['part']}-byte parts: {growth} bytes")
    assert report["size"] == total
    assert growth < 2 * report["part"]


def test_a_sandbox_recording_downloads_into_the_bucket_and_resumes_by_range(
    s3: S3Server,
    sandbox: SandboxServer,
    http: Http11,
    token: str,
    allowed: Callable[[str], bool],
    recording_file: Callable[..., RecordingFile],
) -> None:
    """download() from the sandbox into S3: cut mid-part 3, resumed from 2 parts, exact."""
    f = recording_file(3 * PART + PART // 2)
    sandbox.state.download_faults.cut(f.file_id, after=2 * PART + 300_000)
    key = storage_of(s3).key_for(f)

    with pytest.raises(IncompleteDownload) as raised:
        download(http, f, storage_of(s3).begin(key), token=token, allowed_hosts=allowed)
    assert raised.value.reached == 2 * PART  # the bytes of part 3 so far died with the buffer
    assert storage_of(s3).stored(key) is None

    storage = storage_of(s3)
    uploads = count_calls(storage, "UploadPart")
    stored = download(http, f, storage.begin(key), token=token, allowed_hosts=allowed)

    assert sandbox.state.range_log[f.file_id] == [0, 2 * PART]
    assert len(uploads) == 2  # parts 3 and 4; 1 and 2 were not sent again
    assert stored.sha256 == expected_sha256(f.file_id, f.file_size)
    body = object_bytes(s3, f"archive/{key}")
    assert hashlib.sha256(body).hexdigest() == stored.sha256
    assert storage.stored(key) == stored
