"""POST /_sandbox/users/{userId}/recordings: N meetings recorded and completed now."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from zoomq.sandbox import SandboxServer


def test_completes_n_recordings_for_a_user(sandbox: SandboxServer, client: httpx.Client) -> None:
    """Each is a new meeting with one file per size, listed by the user's recordings today
    and announced by a recording.completed event."""
    owner = sandbox.state.seeded.owner_email
    answer = httpx.post(
        sandbox.url + f"/_sandbox/users/{owner}/recordings",
        json={"count": 3, "file_sizes": [1000, 20]},
    )
    assert answer.status_code == 201
    made = answer.json()["recordings"]
    assert len({r["uuid"] for r in made}) == len({r["id"] for r in made}) == 3
    assert [[f["file_size"] for f in r["recording_files"]] for r in made] == [[1000, 20]] * 3
    today = datetime.fromtimestamp(sandbox.state.clock.time(), UTC).date().isoformat()
    listed = client.get(f"/users/{owner}/recordings", params={"from": today, "to": today})
    uuids = {m["uuid"] for m in listed.json()["meetings"]}
    assert {r["uuid"] for r in made} <= uuids
    events = [obj["uuid"] for name, obj in sandbox.state.events if name == "recording.completed"]
    assert events == [r["uuid"] for r in made]


def test_an_unknown_user_or_a_bad_count_is_refused(sandbox: SandboxServer) -> None:
    """Zoom's 404 for a user that does not exist; 400 for a count out of bounds."""
    url = sandbox.url + "/_sandbox/users/{}/recordings"
    missing = httpx.post(url.format("nobody@example.com"), json={"count": 1})
    assert (missing.status_code, missing.json()["code"]) == (404, 1001)
    owner = sandbox.state.seeded.owner_email
    assert httpx.post(url.format(owner), json={"count": 0}).status_code == 400
