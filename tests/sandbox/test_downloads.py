"""Recording downloads: auth, 302 to a signed CDN URL, ranges, 2 GiB in flat memory."""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Callable

import httpx
import pytest

from tests.sandbox.conftest import FakeClock, account_token
from zoomq.sandbox import SandboxServer, expected_bytes

GIB = 1024**3


def current_rss() -> int:
    """Resident set size now, in bytes (Linux /proc; peak RSS elsewhere)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def cdn_url(sandbox: SandboxServer, file_id: str, token: str) -> str:
    response = httpx.get(
        f"{sandbox.url}/rec/download/{file_id}", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(f"{sandbox.url}/cdn/{file_id}?expires=")
    return location


@pytest.fixture
def token(sandbox: SandboxServer) -> str:
    return account_token(sandbox)


def test_download_redirects_to_a_cdn_url_that_needs_no_auth(
    sandbox: SandboxServer, token: str
) -> None:
    """With the access token: 302 to /cdn; the CDN serves the whole file without auth."""
    file_id = sandbox.state.seeded.recording_file_id
    size = sandbox.state.store.files[file_id].size
    response = httpx.get(cdn_url(sandbox, file_id, token))
    assert response.status_code == 200
    assert response.headers["content-type"] == "video/mp4"
    assert int(response.headers["content-length"]) == size
    assert response.content == expected_bytes(file_id, 0, size)


def test_download_follows_redirect_like_a_client(sandbox: SandboxServer, token: str) -> None:
    """A client following redirects gets the bytes of the file."""
    recording = sandbox.state.add_recording(sandbox.state.seeded.meeting_id, file_sizes=[70_000])
    url = recording["recording_files"][0]["download_url"]
    response = httpx.get(url, headers={"Authorization": f"Bearer {token}"}, follow_redirects=True)
    assert response.status_code == 200
    assert response.content == expected_bytes(recording["recording_files"][0]["id"], 0, 70_000)


def test_download_token_and_legacy_query_form(sandbox: SandboxServer) -> None:
    """A download token works as a bearer token and, legacy, as ?access_token=."""
    file_id = sandbox.state.seeded.recording_file_id
    download_token = sandbox.state.issue_download_token()
    cdn_url(sandbox, file_id, download_token)
    legacy = httpx.get(
        f"{sandbox.url}/rec/download/{file_id}", params={"access_token": download_token}
    )
    assert legacy.status_code == 302


def test_bad_token_gets_zoom_html_page(sandbox: SandboxServer, clock: FakeClock) -> None:
    """A wrong, missing or expired token: 200 text/html, as Zoom answers."""
    file_id = sandbox.state.seeded.recording_file_id
    url = f"{sandbox.url}/rec/download/{file_id}"
    expiring = sandbox.state.issue_download_token(ttl=60)
    clock.advance(61)
    for headers in ({"Authorization": "Bearer wrong"}, {}, {"Authorization": f"Bearer {expiring}"}):
        response = httpx.get(url, headers=headers)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
        assert "Only the host can download" in response.text


def test_cdn_url_expires_and_is_signed(
    sandbox: SandboxServer, token: str, clock: FakeClock
) -> None:
    """A tampered or expired CDN URL is 403."""
    file_id = sandbox.state.seeded.recording_file_id
    url = cdn_url(sandbox, file_id, token)
    tampered = url[:-4] + ("0000" if not url.endswith("0000") else "1111")
    assert httpx.get(tampered).status_code == 403
    other_file = url.replace(
        file_id,
        sandbox.state.store.recordings[sandbox.state.seeded.recorded_meeting_uuid][
            "recording_files"
        ][1]["id"],
    )
    assert httpx.get(other_file).status_code == 403
    clock.advance(601)
    assert httpx.get(url).status_code == 403


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [("bytes=100-199", 100, 199), ("bytes=65530-65545", 65530, 65545), ("bytes=-10", None, None)],
)
def test_range_requests(
    sandbox: SandboxServer, token: str, header: str, start: int | None, end: int | None
) -> None:
    """Ranges answer 206 with Content-Range and exactly those bytes."""
    file_id = sandbox.state.seeded.recording_file_id
    size = sandbox.state.store.files[file_id].size
    if start is None or end is None:
        start, end = size - 10, size - 1
    response = httpx.get(cdn_url(sandbox, file_id, token), headers={"Range": header})
    assert response.status_code == 206
    assert response.headers["content-range"] == f"bytes {start}-{end}/{size}"
    assert int(response.headers["content-length"]) == end - start + 1
    assert response.content == expected_bytes(file_id, start, end + 1)


def test_unsatisfiable_range_is_416(sandbox: SandboxServer, token: str) -> None:
    """A range past the end is 416 with ``bytes */size``."""
    file_id = sandbox.state.seeded.recording_file_id
    size = sandbox.state.store.files[file_id].size
    response = httpx.get(cdn_url(sandbox, file_id, token), headers={"Range": f"bytes={size}-"})
    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{size}"


def test_phone_recording_download(sandbox: SandboxServer, token: str) -> None:
    """A call recording's download_url redirects to the CDN like a cloud recording's."""
    headers = {"Authorization": f"Bearer {token}"}
    listing = httpx.get(sandbox.api_base_url + "/phone/recordings", headers=headers).json()
    url = listing["recordings"][0]["download_url"]
    response = httpx.get(url, headers=headers, follow_redirects=True)
    assert response.status_code == 200
    assert response.headers["content-type"] == "audio/mpeg"


@pytest.fixture
def big_file(make_sandbox: Callable[..., SandboxServer]) -> tuple[SandboxServer, str]:
    """A sandbox with a 2 GiB recording file, and the file's id."""
    server = make_sandbox()
    recording = server.state.add_recording(server.state.seeded.meeting_id, file_sizes=[2 * GIB])
    return server, recording["recording_files"][0]["id"]


def test_two_gib_streams_in_flat_memory(big_file: tuple[SandboxServer, str]) -> None:
    """2 GiB read through httpx streaming (chunks dropped): memory grows by < 50 MiB."""
    server, file_id = big_file
    url = cdn_url(server, file_id, account_token(server))
    before = current_rss()
    peak = before
    received = 0
    checked = 0
    started = time.monotonic()
    with httpx.stream("GET", url, timeout=30) as response:
        assert response.status_code == 200
        assert int(response.headers["content-length"]) == 2 * GIB
        for i, chunk in enumerate(response.iter_raw(1024 * 1024)):
            if i % 256 == 0:  # spot-check content, sample memory
                assert chunk == expected_bytes(file_id, received, received + len(chunk))
                checked += 1
                peak = max(peak, current_rss())
            received += len(chunk)
    elapsed = time.monotonic() - started
    assert received == 2 * GIB
    assert checked >= 8
    assert peak - before < 50 * 1024 * 1024
    assert elapsed < 30


def test_resume_in_the_middle_of_two_gib(big_file: tuple[SandboxServer, str]) -> None:
    """``Range: bytes=<1 GiB + 7>-`` returns 206 and the right bytes from there."""
    server, file_id = big_file
    offset = GIB + 7
    url = cdn_url(server, file_id, account_token(server))
    with httpx.stream("GET", url, headers={"Range": f"bytes={offset}-"}) as response:
        assert response.status_code == 206
        assert response.headers["content-range"] == f"bytes {offset}-{2 * GIB - 1}/{2 * GIB}"
        assert int(response.headers["content-length"]) == 2 * GIB - offset
        head = b""
        for chunk in response.iter_raw():
            head += chunk
            if len(head) >= 300_000:
                break
    assert head[:300_000] == expected_bytes(file_id, offset, offset + 300_000)
    tail = httpx.get(url, headers={"Range": f"bytes={2 * GIB - 70_000}-"})
    assert tail.content == expected_bytes(file_id, 2 * GIB - 70_000, 2 * GIB)
