"""A 3xx from the API is an error with its status: never followed, never retried, never done."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from tasks.policy import GiveUp, decide
from tests.child_process import run_child
from tests.client.fakes import FakeClock, ScriptedZoom, connection, settings
from tests.client.listener import Answer, Listener, Seen
from tests.client.procs import settings_for
from zoomq.actions import run_action
from zoomq.client import ZoomClient
from zoomq.errors import ClientAction, Handling, QueueAction, UnexpectedStatus, handling
from zoomq.runtime.idempotency import IdempotencyStore, run_once
from zoomq.sandbox.server import SandboxServer
from zoomq.settings import QueueSettings

REDIRECTS = [301, 302, 303, 304, 307, 308]


# -- unit: MockTransport ------------------------------------------------------------------------


@pytest.mark.parametrize("status", REDIRECTS)
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_redirect_is_an_error_with_its_status(status: int, method: str) -> None:
    """One request, no follow and no retry: ``UnexpectedStatus`` carries the status."""
    zoom = ScriptedZoom(
        httpx.Response(status, headers={"Location": "https://evil.example/steal?sig=secret"})
    )
    s = settings()
    with (
        ZoomClient(s, connection(s), transport=zoom.transport(), clock=FakeClock()) as client,
        pytest.raises(UnexpectedStatus) as info,
    ):
        client.request(method, "/users/me", json={} if method == "POST" else None)
    assert info.value.status == status
    assert str(status) in str(info.value)
    assert [r.url.host for r in zoom.requests] == ["api.zoom.us"]


def test_the_message_names_the_location_without_its_query() -> None:
    """Where a redirect pointed is told; credentials and a signed URL's query are not."""
    zoom = ScriptedZoom(
        httpx.Response(302, headers={"Location": "/v2/elsewhere?sig=secret"}),
        httpx.Response(301, headers={"Location": "https://user:secret@cdn.example/f?sig=secret"}),
    )
    s = settings()
    with (
        ZoomClient(s, connection(s), transport=zoom.transport(), clock=FakeClock()) as client,
        pytest.raises(UnexpectedStatus) as info,
    ):
        run_action(client, "getUser", {"userId": "me"})
    message = str(info.value)
    assert message.startswith("Zoom API error 302: unexpected 302 Found")
    assert "https://api.zoom.us/v2/elsewhere" in message
    assert "secret" not in message
    assert info.value.to_dict()["type"] == "UnexpectedStatus"
    with (
        ZoomClient(s, connection(s), transport=zoom.transport(), clock=FakeClock()) as client,
        pytest.raises(UnexpectedStatus) as info,
    ):
        run_action(client, "getUser", {"userId": "me"})
    assert "to https://cdn.example/f;" in str(info.value)
    assert "secret" not in str(info.value)


def test_a_redirect_is_never_retried_by_the_queue() -> None:
    """The queue gives up at once: a redirect answers the same every time."""
    error = UnexpectedStatus("unexpected 301", status=301)
    assert handling(error) == Handling(ClientAction.RAISE, QueueAction.GIVE_UP)
    assert decide(error, {}, QueueSettings(), now=0.0) == GiveUp("never_retry")


# -- over real HTTP -----------------------------------------------------------------------------


class RedirectingApi:
    """An API that answers every /v2 call with ``status``, pointing Location at ``trap``."""

    def __init__(self, trap: Listener) -> None:
        self.status = 302
        self.trap = trap

    def __call__(self, seen: Seen) -> Answer:
        headers = {"Location": f"{self.trap.url}{seen.path}", "Content-Type": "text/html"}
        body = b"" if self.status == 304 else b"<a href='elsewhere'>moved</a>"
        return self.status, headers, body


@pytest.fixture
def api(trap: Listener) -> Iterator[tuple[Listener, RedirectingApi]]:
    script = RedirectingApi(trap)
    with Listener(script) as listener:
        yield listener, script


@pytest.mark.parametrize("status", [301, 302, 304, 307])
def test_over_http_a_redirect_fails_the_action_and_is_not_followed(
    status: int,
    sandbox: SandboxServer,
    trap: Listener,
    api: tuple[Listener, RedirectingApi],
) -> None:
    """The action errors with the status; the Location's listener gets no request and no token."""
    listener, script = api
    script.status = status
    s = settings_for(listener.url + "/v2", sandbox.token_url, zoom_api_hosts=())
    with ZoomClient(s, s.connection()) as client:
        for key, data in [
            ("getUser", {"userId": "me"}),
            ("rawRequest", {"method": "GET", "url": "/users/me"}),
            ("createMeeting", {"userId": "me", "topic": "Redirected"}),
        ]:
            with pytest.raises(UnexpectedStatus) as info:
                run_action(client, key, data)
            assert info.value.status == status, key
    assert [(seen.method, seen.path) for seen in listener.seen] == [
        ("GET", "/v2/users/me"),
        ("GET", "/v2/users/me"),
        ("POST", "/v2/users/me/meetings"),
    ]
    assert trap.seen == []


def test_a_redirected_write_leaves_no_done_record(
    sandbox: SandboxServer, api: tuple[Listener, RedirectingApi], redis_client: redis.Redis
) -> None:
    """The step guard records nothing for a redirect, so a later retry may run the step."""
    listener, script = api
    script.status = 307
    store = IdempotencyStore(redis_client)
    s = settings_for(listener.url + "/v2", sandbox.token_url)
    with ZoomClient(s, s.connection()) as client, pytest.raises(UnexpectedStatus):
        run_once(
            store,
            "step-1",
            "owner-1",
            30.0,
            "createMeeting",
            lambda: run_action(client, "createMeeting", {"userId": "me", "topic": "Once"}),
        )
    assert store.done("step-1") is None
    assert store.begin("step-1", "owner-2", 30.0).state == "run"


@pytest.mark.parametrize("status", [302, 307])
def test_zoomq_action_exits_1_naming_the_status(
    status: int,
    sandbox: SandboxServer,
    trap: Listener,
    api: tuple[Listener, RedirectingApi],
    tmp_path: Path,
) -> None:
    """`zoomq action` prints the status on stderr, prints no result and exits 1."""
    listener, script = api
    script.status = status
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZOOM", "REDIS"))}
    (tmp_path / "none.json").write_text("[]")  # no connections beyond the environment's
    env.update(
        ZOOM_ACCOUNT_ID="sandbox-account",
        ZOOM_CLIENT_ID="sandbox-client",
        ZOOM_CLIENT_SECRET="sandbox-secret",
        ZOOM_API_BASE_URL=listener.url + "/v2",
        ZOOM_OAUTH_TOKEN_URL=sandbox.token_url,
        ZOOMQ_CONNECTIONS_FILE=str(tmp_path / "none.json"),
    )
    done = run_child(
        [
            sys.executable,
            "-m",
            "zoomq",
            "action",
            "getUser",
            "--input",
            json.dumps({"userId": "me"}),
            "--no-redis",
        ],
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode == 1, done.stderr
    assert f"error: Zoom API error {status}: unexpected {status}" in done.stderr
    assert done.stdout == ""
    assert [seen.path for seen in listener.seen] == ["/v2/users/me"]
    assert trap.seen == []
