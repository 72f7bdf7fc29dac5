"""``DELETE /meetings/{id}/recordings``: trash (the default) or delete, then 3301 and no files."""

from __future__ import annotations

from urllib.parse import quote

import httpx

from tests.sandbox.conftest import account_token
from zoomq.sandbox import SandboxServer


def test_trash_moves_the_recording_and_its_files(
    sandbox: SandboxServer, client: httpx.Client
) -> None:
    """After ``action=trash`` the recording is gone from GET, its files from the CDN, and
    it sits in the trash; a second trash is 3301."""
    recording = sandbox.state.add_recording(sandbox.state.seeded.meeting_id, file_sizes=[1000])
    uuid = quote(quote(recording["uuid"], safe=""), safe="")
    file_id = recording["recording_files"][0]["id"]
    url = recording["recording_files"][0]["download_url"]

    answer = client.delete(f"/meetings/{uuid}/recordings", params={"action": "trash"})

    assert answer.status_code == 204
    assert client.get(f"/meetings/{uuid}/recordings").json()["code"] == 3301
    assert recording["uuid"] in sandbox.state.store.trashed_recordings
    assert file_id not in sandbox.state.store.files
    token = account_token(sandbox)
    gone = httpx.get(url, headers={"Authorization": f"Bearer {token}"})
    assert gone.status_code == 404
    again = client.delete(f"/meetings/{uuid}/recordings", params={"action": "trash"})
    assert (again.status_code, again.json()["code"]) == (404, 3301)
    assert ("recording.trashed", recording["uuid"]) in [
        (name, obj.get("uuid")) for name, obj in sandbox.state.events
    ]


def test_unknown_action_is_refused(sandbox: SandboxServer, client: httpx.Client) -> None:
    """Only ``trash`` and ``delete`` are actions; anything else is a 300 and deletes nothing."""
    recording = sandbox.state.add_recording(sandbox.state.seeded.meeting_id, file_sizes=[1000])
    uuid = quote(quote(recording["uuid"], safe=""), safe="")
    answer = client.delete(f"/meetings/{uuid}/recordings", params={"action": "purge"})
    assert (answer.status_code, answer.json()["code"]) == (400, 300)
    assert recording["uuid"] in sandbox.state.store.recordings
