"""The completion callback: signed as Standard Webhooks, only to allowed hosts, never redirected."""

from __future__ import annotations

import base64
import secrets
import socket
import threading
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook

from tasks.callbacks import send_callback
from tasks.runtime import Runtime
from tests.client.listener import Listener, Seen
from zoomq.clock import SystemClock
from zoomq.errors import InvalidInput, TransportError
from zoomq.jobs.callback import CALLBACK_EVENT, CallbackHosts, build_request, deliver, webhook_id
from zoomq.jobs.models import ItemState, JobRequest, JobStatus, JobView
from zoomq.jobs.submit import Fanout, submit
from zoomq.runtime.jobs import JobStore, Outcome
from zoomq.settings import JobsSettings, Settings

SECRET = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def view(url: str | None, **over: Any) -> JobView:
    at = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    fields: dict[str, Any] = {
        "job_id": "job-" + secrets.token_hex(4),
        "tenant": "tenant-a",
        "action": "addMeetingRegistrant",
        "connection": "default",
        "status": JobStatus.COMPLETED,
        "items": 3,
        "counts": {ItemState.SUCCEEDED: 2, ItemState.FAILED: 1},
        "progress": 1.0,
        "rate": 0.0,
        "eta_seconds": None,
        "created_at": at,
        "updated_at": at,
        "finished_at": at,
        "priority": "normal",
        "callback_url": url,
    }
    return JobView(**{**fields, **over})


def no_dns(host: str, port: int) -> list[str]:
    raise AssertionError(f"no name should be resolved here, got {host}:{port}")


def test_delivered_signed_to_a_real_listener() -> None:
    """One POST, whose Standard Webhooks headers the standardwebhooks package verifies."""
    with Listener() as trap:
        job = view(trap.url + "/hooks/zoomq?x=1")
        hosts = CallbackHosts.parse([trap.url])
        sent = deliver(job, hosts, SECRET, resolver=no_dns)
    assert sent["http_status"] == 200
    [seen] = trap.seen
    assert (seen.method, seen.path) == ("POST", "/hooks/zoomq?x=1")
    payload = Webhook(SECRET).verify(seen.body, seen.headers)
    assert payload["type"] == CALLBACK_EVENT
    assert payload["data"]["job_id"] == job.job_id
    assert payload["data"]["counts"] == {"succeeded": 2, "failed": 1}
    assert seen.headers["webhook-id"] == webhook_id(job) == sent["webhook_id"]
    with pytest.raises(Exception, match="signature"):
        Webhook("whsec_" + base64.b64encode(b"another key, 32 bytes long......").decode()).verify(
            seen.body, seen.headers
        )


def test_each_attempt_at_one_completion_has_one_id() -> None:
    """A failed attempt is a TransportError (the queue backs off); the retry keeps the id."""
    answers = iter([(500, {}, b"no"), (204, {}, b"")])
    with Listener(lambda _s: next(answers)) as trap:
        job = view(trap.url + "/cb")
        hosts = CallbackHosts.parse([trap.url])
        with pytest.raises(TransportError, match="500"):
            deliver(job, hosts, SECRET)
        deliver(job, hosts, SECRET)
    first, second = trap.seen
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    again = view(trap.url + "/cb", job_id=job.job_id, finished_at=datetime(2026, 12, 2, tzinfo=UTC))
    assert webhook_id(again) != webhook_id(job)  # another completion (after retry-failed)


def test_a_redirect_is_refused_and_not_followed() -> None:
    """A 3xx gives up (InvalidInput on callback_url); its Location gets nothing."""
    with Listener() as elsewhere:

        def redirect(_: Seen) -> tuple[int, dict[str, str], bytes]:
            return 302, {"Location": elsewhere.url + "/stolen"}, b""

        with Listener(redirect) as trap:
            hosts = CallbackHosts.parse([trap.url, elsewhere.url])
            with pytest.raises(InvalidInput, match="redirect") as caught:
                deliver(view(trap.url + "/cb"), hosts, SECRET)
    assert caught.value.errors[0]["field"] == "callback_url"
    assert len(trap.seen) == 1
    assert elsewhere.seen == []


def test_a_host_not_allowed_gets_nothing() -> None:
    """Scheme, host and port must all match an allowed entry; no request is made."""
    with Listener() as trap:
        other_port = CallbackHosts.parse([f"http://127.0.0.1:{trap.port + 1}"])
        https_only = CallbackHosts.parse([f"127.0.0.1:{trap.port}"])  # bare: https
        for hosts in (other_port, https_only, CallbackHosts.parse([])):
            with pytest.raises(InvalidInput) as caught:
                deliver(view(trap.url + "/cb"), hosts, SECRET, resolver=no_dns)
            assert caught.value.errors[0]["field"] == "callback_url"
    assert trap.seen == []


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.7/cb",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]:8080/cb",
        "http://user:pw@127.0.0.1:8080/cb",
        "ftp://127.0.0.1:8080/cb",
        "http://127.0.0.1:8080\\@evil.example/cb",
    ],
)
def test_private_and_odd_urls_refused(url: str) -> None:
    """Private IP literals not listed, user info, other schemes and backslashes: refused."""
    hosts = CallbackHosts.parse(["http://127.0.0.1:8080"])
    with pytest.raises(InvalidInput):
        hosts.check(url)


def test_a_name_resolving_to_a_private_address_is_refused() -> None:
    """An allowed name whose DNS answers a private, loopback or mapped address: refused."""
    hosts = CallbackHosts.parse(["hooks.example.com", "http://localhost:9999"])
    for host, url, addresses in [
        ("hooks.example.com", "https://hooks.example.com/cb", ["93.184.216.34", "10.1.2.3"]),
        ("hooks.example.com", "https://hooks.example.com/cb", ["::ffff:192.168.0.1"]),
        ("localhost", "http://localhost:9999/cb", ["127.0.0.1"]),
    ]:

        def resolver(
            name: str, port: int, answer: list[str] = addresses, want: str = host
        ) -> list[str]:
            assert name == want
            return answer

        with pytest.raises(InvalidInput, match="non-public"):
            build_request(view(url), hosts, SECRET, clock=SystemClock(), resolver=resolver)


def test_the_checked_address_is_the_one_connected_to() -> None:
    """Resolved once, then pinned: the request goes to that address, Host and SNI carry the
    name (so a second, different DNS answer cannot steer it)."""
    answers = iter([["93.184.216.34"], ["10.0.0.1"]])
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    hosts = CallbackHosts.parse(["hooks.example.com"])
    deliver(
        view("https://hooks.example.com/cb"),
        hosts,
        SECRET,
        resolver=lambda _h, _p: next(answers),
        transport=httpx.MockTransport(handler),
    )
    [request] = seen
    assert request.url.host == "93.184.216.34"
    assert request.url.scheme == "https"
    assert request.headers["host"] == "hooks.example.com"
    assert request.extensions["sni_hostname"] == "hooks.example.com"


def test_hosts_entries() -> None:
    """A bare host is https on 443, host:port https on that port; http only when spelled."""
    hosts = CallbackHosts.parse(
        ["Hooks.Example.com.", "api.example.com:8443", "http://10.0.0.5:81"]
    )
    assert hosts.origins == {
        ("https", "hooks.example.com", 443),
        ("https", "api.example.com", 8443),
        ("http", "10.0.0.5", 81),
    }
    assert hosts.check("https://HOOKS.example.com/x") == ("https", "hooks.example.com", 443)
    assert hosts.check("http://10.0.0.5:81/cb")[1] == "10.0.0.5"  # listed: allowed
    with pytest.raises(ValueError, match="host"):
        CallbackHosts.parse(["https://example.com/path"])


# -- the task's body over a real Redis ---------------------------------------------------


def _finished_job(settings: Settings, url: str, *, finish: bool = True) -> str:
    """A job stored by the core's submit(), its one item finished through the store."""
    runtime = Runtime(settings)
    store = JobStore(runtime.redis, keys=runtime.keys, retention=settings.jobs.retention)
    fanout = Fanout(settings.jobs)
    request = JobRequest(action="getUser", items=[{"userId": "me"}], callback_url=url)
    view, _ = submit(store, fanout, "tenant-a", request)
    if finish:
        store.start(view.job_id, [0])
        store.finish(view.job_id, [Outcome(0, ItemState.SUCCEEDED, output={"id": "me"})])
    runtime.close()
    return view.job_id


def _settings(redis_url: str, trap: Listener) -> Settings:
    jobs = JobsSettings(
        api_keys=[], callback_hosts=(trap.url,), callback_secret=SECRET, retention=600
    )
    return Settings(_env_file=None, redis_url=redis_url, jobs=jobs)


def test_the_task_delivers_once_per_completion(redis_url: str) -> None:
    """send_callback posts the finished job once; a redelivered task sends nothing more."""
    with Listener() as trap:
        settings = _settings(redis_url, trap)
        job_id = _finished_job(settings, trap.url + "/done")
        runtime = Runtime(settings)
        try:
            first = send_callback(runtime, job_id)
            again = send_callback(runtime, job_id)
        finally:
            runtime.close()
    assert first["status"] == "delivered"
    assert again["status"] == "already_delivered"
    [seen] = trap.seen
    payload = Webhook(SECRET).verify(seen.body, seen.headers)
    assert payload["data"]["job_id"] == job_id
    assert payload["data"]["status"] == "completed"
    assert payload["data"]["counts"]["succeeded"] == 1


def test_the_task_skips_an_unfinished_or_gone_job(redis_url: str) -> None:
    with Listener() as trap:
        settings = _settings(redis_url, trap)
        job_id = _finished_job(settings, trap.url + "/done", finish=False)
        runtime = Runtime(settings)
        try:
            assert send_callback(runtime, job_id)["status"] == "skipped"
            assert send_callback(runtime, "no-such-job")["status"] == "gone"
        finally:
            runtime.close()
    assert trap.seen == []


def _drip_server(head: bytes, drip: bytes) -> tuple[socket.socket, threading.Event]:
    """A listener that answers ``head`` at once, then ``drip`` one byte every 0.2 s."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    stop = threading.Event()

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(head)
            for byte in drip:
                if stop.wait(0.2):
                    return
                conn.sendall(bytes([byte]))

    threading.Thread(target=serve, daemon=True).start()
    return server, stop


@pytest.mark.parametrize(
    ("head", "drip"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n", b"x" * 1000),  # the body
        (b"HTTP/1.1 200 OK\r\n", b"X-Slow: " + b"y" * 1000),  # the headers
    ],
    ids=["body", "headers"],
)
def test_an_endpoint_that_drips_its_answer_is_cut_off_at_the_deadline(
    head: bytes, drip: bytes
) -> None:
    """The timeout bounds the whole attempt, not each read: the worker's thread is back in
    about the timeout, and the attempt is a TransportError the queue retries."""
    server, stop = _drip_server(head, drip)
    url = f"http://127.0.0.1:{server.getsockname()[1]}"
    try:
        started = time.monotonic()
        with pytest.raises(TransportError, match="within 1 s"):
            deliver(view(url + "/cb"), CallbackHosts.parse([url]), SECRET, timeout=1.0)
        assert time.monotonic() - started < 2.5
    finally:
        stop.set()
        server.close()
