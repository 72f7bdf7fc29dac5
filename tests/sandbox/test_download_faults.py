"""The download path's faults and logs, driven over /_sandbox: cut-offs, redirects, ranges."""

from __future__ import annotations

import httpx
import pytest

from zoomq.sandbox import SandboxServer, expected_bytes


def _file(sandbox: SandboxServer, size: int) -> str:
    state = sandbox.state
    recording = state.add_recording(state.seeded.recorded_meeting_id, [size])
    return str(recording["recording_files"][0]["id"])


def test_a_cut_closes_the_connection_mid_body_and_the_range_log_shows_offsets(
    sandbox: SandboxServer,
) -> None:
    """The first response stops after N bytes (fewer than Content-Length); then normal."""
    file_id = _file(sandbox, 300_000)
    token = sandbox.state.issue_download_token()
    added = httpx.post(
        f"{sandbox.url}/_sandbox/download_faults", json={"file_id": file_id, "cut_after": 1000}
    )
    assert added.status_code == 201
    auth = {"Authorization": f"Bearer {token}"}
    url = f"{sandbox.url}/rec/download/{file_id}"
    received = bytearray()

    def read_all() -> None:
        with httpx.stream("GET", url, headers=auth, follow_redirects=True) as response:
            assert response.headers["content-length"] == "300000"
            for chunk in response.iter_bytes():
                received.extend(chunk)

    with pytest.raises(httpx.RemoteProtocolError):
        read_all()
    assert bytes(received) == expected_bytes(file_id, 0, 1000)
    rest = httpx.get(url, headers={**auth, "Range": "bytes=1000-"}, follow_redirects=True)
    assert rest.status_code == 206
    assert rest.content == expected_bytes(file_id, 1000, 300_000)
    state = httpx.get(f"{sandbox.url}/_sandbox/state").json()
    assert state["range_log"][file_id] == [0, 1000]
    assert [r["path"].split("/")[1] for r in state["download_log"]] == ["rec", "cdn"] * 2


def test_a_redirect_fault_sends_the_download_elsewhere(sandbox: SandboxServer) -> None:
    """The download URL answers 302 to the given URL; DELETE ends it."""
    file_id = _file(sandbox, 10)
    token = sandbox.state.issue_download_token()
    body = {"file_id": "*", "redirect_to": "http://127.0.0.2:9/trap"}
    assert httpx.post(f"{sandbox.url}/_sandbox/download_faults", json=body).status_code == 201
    url = f"{sandbox.url}/rec/download/{file_id}"
    auth = {"Authorization": f"Bearer {token}"}
    assert httpx.get(url, headers=auth).headers["location"] == "http://127.0.0.2:9/trap"
    assert httpx.delete(f"{sandbox.url}/_sandbox/download_faults").status_code == 204
    assert "/cdn/" in httpx.get(url, headers=auth).headers["location"]


def test_a_bad_download_fault_is_a_400(sandbox: SandboxServer) -> None:
    response = httpx.post(f"{sandbox.url}/_sandbox/download_faults", json={"file_id": "x"})
    assert response.status_code == 400
