"""Registration events of big batches stay cheap: a bounded queue, one delivery thread."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.sandbox.conftest import account_token, api_client
from zoomq.sandbox import SandboxConfig, SandboxServer
from zoomq.sandbox.webhooks.emitter import SandboxEmitter


@pytest.fixture
def stalled_url() -> Iterator[str]:
    """A port that accepts connections and never answers: each delivery waits its deadline."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1024)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/webhooks/zoom"


def test_a_flood_of_events_is_bounded(stalled_url: str) -> None:
    """5,000 events while the receiver hangs: each call returns at once, one thread is
    added, at most ``max_pending`` wait and the rest are counted as dropped."""
    with httpx.Client() as http:
        emit = SandboxEmitter(stalled_url, "secret", http, deadline=0.1, max_pending=20)
        threads = threading.active_count()
        start = time.perf_counter()
        for n in range(5000):
            emit("meeting.registration_created", {"id": 1, "registrant": {"email": f"{n}@x"}})
        elapsed = time.perf_counter() - start
        assert threading.active_count() == threads + 1
        assert 5000 - 21 <= emit.dropped <= 5000 - 20
        assert elapsed < 2.0  # ~0.1 ms an event, whatever the receiver does
        assert emit.wait(timeout=60)
    assert 20 <= len(emit.results) <= 21  # the ones kept, each tried once
    assert not any(r.delivered for r in emit.results)


def test_batches_do_not_wait_for_the_event_hook(stalled_url: str) -> None:
    """10 batches of 30 against a hanging receiver take no longer than without one."""
    with httpx.Client() as http:
        emit = SandboxEmitter(stalled_url, "secret", http, deadline=0.1, max_pending=10)
        config = SandboxConfig(rate_limits=False, accounts=2, on_account_event=emit)
        with SandboxServer(config) as server:
            seeded = server.state.account(2).seeded
            with api_client(server, account_token(server, 2)) as client:
                start = time.perf_counter()
                for b in range(10):
                    batch = [
                        {"email": f"e{b}-{i}@example.org", "first_name": "E"} for i in range(30)
                    ]
                    response = client.post(
                        f"/meetings/{seeded.batch_meeting_id}/batch_registrants",
                        json={"registrants": batch},
                    )
                    assert response.status_code == 201
                elapsed = time.perf_counter() - start
            assert server.state.account(2).events == 300
        assert elapsed < 5.0  # 300 deliveries of 0.1 s each would take 30 s
        assert emit.dropped >= 300 - 11
        assert emit.wait(timeout=60)
    assert all(r.event == "meeting.registration_created" for r in emit.results)


def test_account_hook_names_the_account(make_sandbox: Callable[..., SandboxServer]) -> None:
    """``on_account_event`` gets each event with the id of the account that changed."""
    seen: list[tuple[str, str]] = []
    server = make_sandbox(
        SandboxConfig(
            rate_limits=False, accounts=2, on_account_event=lambda n, o, a: seen.append((n, a))
        )
    )
    for number in (2, 1):
        meeting_id = server.state.account(number).seeded.batch_meeting_id
        with api_client(server, account_token(server, number)) as client:
            client.post(
                f"/meetings/{meeting_id}/batch_registrants",
                json={"registrants": [{"email": "a@example.org", "first_name": "A"}]},
            )
    assert seen == [
        ("meeting.registration_created", "sandbox-account-2"),
        ("meeting.registration_created", "sandbox-account"),
    ]
