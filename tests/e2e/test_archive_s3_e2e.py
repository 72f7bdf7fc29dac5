"""The recording archive end to end on S3: a real S3-compatible server (moto's, as its own
process over loopback HTTP), the same receiver and workers as the local test."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.archive.s3server import CREDENTIALS, REGION, S3Server, moto_server
from tests.e2e.conftest import ArchiveE2E, archive_stack, wait_for
from tests.e2e.test_archive_e2e import GIB, KIB, MIB, cdn_offsets, envelope, new_recording, rfiles
from zoomq.archive.files import RecordingFile
from zoomq.archive.s3 import S3Storage
from zoomq.sandbox.content import expected_sha256

PART = 5 * MIB
PREFIX = "archive"


@pytest.fixture(scope="module")
def s3_server() -> Iterator[S3Server]:
    with moto_server() as url:
        server = S3Server(url, f"zoomq-e2e-{uuid.uuid4().hex[:8]}")
        server.client().create_bucket(Bucket=server.bucket)
        yield server


@pytest.fixture(scope="module")
def archive_e2e_s3(
    tmp_path_factory: pytest.TempPathFactory, s3_server: S3Server
) -> Iterator[ArchiveE2E]:
    env = {
        "ZOOMQ_ARCHIVE_DEST": f"s3://{s3_server.bucket}/{PREFIX}",
        "ZOOMQ_ARCHIVE_S3_ENDPOINT_URL": s3_server.endpoint_url,
        "ZOOMQ_ARCHIVE_S3_REGION": REGION,
        "ZOOMQ_ARCHIVE_S3_PART_BYTES": str(PART),
        "AWS_ACCESS_KEY_ID": CREDENTIALS["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": CREDENTIALS["aws_secret_access_key"],
    }
    with archive_stack(tmp_path_factory.mktemp("archive-s3-e2e"), env) as stack:
        yield stack


@pytest.fixture
def storage(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> S3Storage:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", CREDENTIALS["aws_access_key_id"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", CREDENTIALS["aws_secret_access_key"])
    return S3Storage(f"s3://{s3_server.bucket}/{PREFIX}", **s3_server.options(part_size=PART))


def manifest(storage: S3Storage, f: RecordingFile) -> dict[str, Any]:
    return storage.read_manifest(storage.manifest_key_for(f)) or {}


def assert_identical(s3_server: S3Server, storage: S3Storage, f: RecordingFile) -> None:
    """The object's bytes hash to what the sandbox serves; its metadata and the manifest
    say the same digest."""
    body = s3_server.client().get_object(
        Bucket=s3_server.bucket, Key=storage.object_key(storage.key_for(f))
    )
    digest = hashlib.sha256()
    for chunk in body["Body"].iter_chunks(4 * MIB):
        digest.update(chunk)
    want = expected_sha256(f.file_id, f.file_size)
    assert digest.hexdigest() == want
    assert body["Metadata"]["sha256"] == want
    assert manifest(storage, f)["files"][f.file_id]["sha256"] == want


def test_completed_then_transcript_lands_in_s3_byte_identical(
    archive_e2e_s3: ArchiveE2E, s3_server: S3Server, storage: S3Storage
) -> None:
    """Both events through the receiver: every file an object with the sandbox's SHA-256,
    one manifest object listing them."""
    archive = archive_e2e_s3
    rec = new_recording(archive, [12 * MIB, 300 * KIB, 40 * KIB])
    token = archive.sandbox.state.issue_download_token()
    first = {**rec, "recording_files": [dict(x) for x in rec["recording_files"]]}
    transcript = next(x for x in first["recording_files"] if x["file_type"] == "TRANSCRIPT")
    transcript["status"] = "processing"
    archive.stack.send_event(envelope("recording.completed", first, token), "corr-s3")
    late = {**rec, "recording_files": [transcript | {"status": "completed"}]}
    archive.stack.send_event(envelope("recording.transcript_completed", late, token), "corr-s3b")
    files = rfiles(rec)
    ids = {f.file_id for f in files}
    wait_for(lambda: ids <= set(manifest(storage, files[0]).get("files", {})), 60, "the manifest")
    for f in files:
        assert_identical(s3_server, storage, f)
        assert cdn_offsets(archive, f.file_id) == [0]
    leaked = [line for line in archive.logs() if token in json.dumps(line)]
    assert leaked == []
    # `recordings status` lists the bucket's manifests as the local backend's.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZOOM", "AWS_"))}
    env |= {
        "ZOOMQ_ARCHIVE_S3_ENDPOINT_URL": s3_server.endpoint_url,
        "ZOOMQ_ARCHIVE_S3_REGION": REGION,
        "AWS_ACCESS_KEY_ID": CREDENTIALS["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": CREDENTIALS["aws_secret_access_key"],
    }
    dest = f"s3://{s3_server.bucket}/{PREFIX}"
    argv = [sys.executable, "-m", "zoomq", "recordings", "status", "--dest", dest]
    argv += ["--meeting", str(rec["uuid"])]
    status = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert status.returncode == 0, status.stderr
    [listed] = [json.loads(line) for line in status.stdout.splitlines()]
    assert listed["manifest"] == storage.manifest_key_for(files[0])
    assert set(listed["files"]) == ids


def test_kill_9_mid_file_resumes_from_the_uploaded_parts(
    archive_e2e_s3: ArchiveE2E, s3_server: S3Server, storage: S3Storage
) -> None:
    """kill -9 while a multipart upload has parts: the new worker asks the CDN only for the
    bytes after them (they are not downloaded, so not uploaded, again); byte-identical."""
    archive = archive_e2e_s3
    size = GIB // 4
    rec = new_recording(archive, [size])
    [f] = rfiles(rec)
    token = archive.sandbox.state.issue_download_token()
    archive.stack.send_event(envelope("recording.completed", rec, token), "corr-s3-kill")
    client = s3_server.client()
    staging = storage.object_key(storage.key_for(f)) + ".part"

    def parts() -> int:
        uploads = client.list_multipart_uploads(Bucket=s3_server.bucket, Prefix=staging)
        found = uploads.get("Uploads") or []
        if not found:
            return 0
        listed = client.list_parts(
            Bucket=s3_server.bucket, Key=staging, UploadId=found[0]["UploadId"]
        )
        return len(listed.get("Parts") or [])

    wait_for(lambda: parts() >= 4, 60, "four parts uploaded")
    archive.kill_downloads()
    uploaded = parts()
    assert uploaded * PART < size, "the upload finished before the kill"
    archive.start_downloads()
    wait_for(lambda: f.file_id in manifest(storage, f).get("files", {}), 150, "the file")
    offsets = cdn_offsets(archive, f.file_id)
    print(f"\nS3: kill -9 with {uploaded} parts uploaded; CDN responses started at {offsets}")
    assert offsets[0] == 0
    assert offsets[-1] >= uploaded * PART
    assert_identical(s3_server, storage, f)
