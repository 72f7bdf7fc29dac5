"""End-to-end fixtures: the receiver and a Celery worker as real processes, the sandbox and
a redis-server.

The worker runs as ``python -m celery -A worker.app worker --pool threads`` and the receiver
as ``python -m zoomq receiver`` (uvicorn), both with the environment a deployment would set
(REDIS_URL, ZOOM_*, ZOOMQ_RULES_FILE...), retry backoffs shortened so the whole module runs
in well under a minute and a half. Events reach the worker only through the receiver:
signed, POSTed over loopback, enqueued by the receiver's own code.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from celery import Celery

from receiver.dispatch import event_task_id
from worker.app import create_celery
from zoomq.clock import SystemClock
from zoomq.redis_server import RedisServer, free_port
from zoomq.sandbox.config import SandboxConfig
from zoomq.sandbox.server import SandboxServer
from zoomq.sandbox.webhooks import build_headers, serialize
from zoomq.settings import DEFAULT_CONNECTION, Settings
from zoomq.webhooks import dedup_key, parse_envelope

REPO = Path(__file__).resolve().parents[2]

#: Sandbox budgets are 10 % of Zoom's Pro plan: light 3/s, medium 2/s. zoomq's limiter is
#: told a little less, so no 1-second window at the sandbox ever sees more than its budget.
SANDBOX_SCALE = 0.1
CLIENT_RATES = {"light": 2.0, "medium": 1.5}

#: Tokens put into events; none may ever appear in the worker's log.
DOWNLOAD_TOKEN = "dltok-" + uuid.uuid4().hex
PASSWORD = "pw-" + uuid.uuid4().hex
#: The receiver's ZOOM_WEBHOOK_SECRET_TOKEN.
WEBHOOK_SECRET = "e2e-webhook-secret-" + uuid.uuid4().hex

RULES = """
[[rule]]
name = "copy-registrant"
event = "meeting.registration_created"
action = "addMeetingRegistrant"
when = {{ "payload.object.topic" = {{ in = ["E2E launch", "E2E demo"] }} }}
[rule.input]
meetingId = {meeting_id}
email = "{{{{ payload.object.registrant.email }}}}"
firstName = "{{{{ payload.object.registrant.first_name }}}}"
lastName = "Copied from {{{{ payload.object.id }}}}"

[[rule]]
name = "leaky-lookup"
event = "meeting.ended"
action = "rawRequest"
[rule.input]
method = "GET"
url = "/no-such-thing/{{{{ payload.object.id }}}}?access_token={{{{ download_token }}}}"
"""

AUTOMATIONS = '''
"""Python automations of the end-to-end tests."""

import httpx

from zoomq.automations import automation


@automation("user.created", name="welcome-meeting")
def welcome(event, ctx):
    user = event["payload"]["object"]
    created = ctx.run_action(
        "createMeeting", {"userId": user["id"], "topic": "Welcome " + user["email"]}
    )
    ctx.run_action("getMeeting", {"meetingId": created["data"]["id"]})


@automation("recording.completed", name="fetch-recording")
def fetch(event, ctx):
    # Downloads take the event's token as a query parameter; httpx's errors quote the URL.
    for item in event["payload"]["object"]["recording_files"]:
        url = item["download_url"] + "?access_token=" + event["download_token"]
        httpx.get(url, timeout=5).raise_for_status()
'''


@dataclass(frozen=True)
class Delivery:
    """What the receiver made of one POST: its answer and the task id it enqueued under."""

    status: int
    answer: dict[str, Any]
    task_id: str
    dedup_key: str


@dataclass
class E2E:
    """Handles on everything the end-to-end tests drive and inspect."""

    sandbox: SandboxServer
    redis: redis.Redis
    app: Celery
    settings: Settings
    log_path: Path
    registration_meeting_id: int
    #: The receiver's webhook endpoint, ``http://127.0.0.1:<port>/webhooks/zoom``.
    webhook_url: str
    receiver_log_path: Path

    def deliver(
        self, event: dict[str, Any], correlation_id: str, secret: str = WEBHOOK_SECRET
    ) -> Delivery:
        """POST ``event`` to the receiver as Zoom would, ``x-zm-request-id: correlation_id``.

        The task id is derived by the receiver's own function from the body as sent.
        """
        body = serialize(event)
        headers = build_headers(secret, body, SystemClock())
        headers["x-zm-request-id"] = correlation_id  # the receiver's correlation id
        response = httpx.post(self.webhook_url, content=body, headers=headers, timeout=10)
        key = dedup_key(parse_envelope(body), body)
        return Delivery(
            status=response.status_code,
            answer=response.json(),
            task_id=event_task_id(DEFAULT_CONNECTION, key),
            dedup_key=key,
        )

    def send_event(
        self, event: dict[str, Any], correlation_id: str, *, expect: str = "queued"
    ) -> tuple[str, dict[str, Any]]:
        """Deliver ``event`` through the receiver, which must answer ``{"status": expect}``.

        Returns the task id the receiver enqueued it under, and the ``meta`` fields a task
        inherits from it (for tests that redeliver a run's own message).
        """
        delivery = self.deliver(event, correlation_id)
        assert (delivery.status, delivery.answer) == (200, {"status": expect}), (
            f"the receiver answered {delivery.status} {delivery.answer}:\n"
            + self.receiver_log_path.read_text(errors="replace")[-4000:]
        )
        meta = {
            "connection": DEFAULT_CONNECTION,
            "received_at": time.time(),
            "correlation_id": correlation_id,
            "dedup_key": delivery.dedup_key,
            "request_id": correlation_id,
        }
        return delivery.task_id, meta

    def forget_delivery(self, key: str) -> None:
        """Drop the receiver's dedup marker of ``key``, as its TTL would: the next delivery of
        the same body is enqueued again (the broker-redelivery case the worker must absorb)."""
        markers = self.redis.keys(f"*:seen:{DEFAULT_CONNECTION}:{key}")
        assert len(markers) == 1, markers
        self.redis.delete(*markers)

    def receiver_metric(self, line_start: str) -> float:
        """The value of the receiver's /metrics sample whose line starts with ``line_start``."""
        metrics = httpx.get(self.webhook_url.replace("/webhooks/zoom", "/metrics"), timeout=5)
        values = [
            float(line.rpartition(" ")[2])
            for line in metrics.text.splitlines()
            if line.startswith(line_start)
        ]
        return sum(values)

    def registrants(self, email: str) -> list[dict[str, Any]]:
        state = self.sandbox.state
        with state.lock:
            found = state.store.meeting_registrants.get(self.registration_meeting_id, {})
            return [r for r in found.values() if r["email"] == email]

    def posts(self) -> int:
        path = f"/v2/meetings/{self.registration_meeting_id}/registrants"
        return self.sandbox.state.count("POST", path)

    def logs(self) -> list[dict[str, Any]]:
        """The worker's JSON log lines so far."""
        lines = []
        for raw in self.log_path.read_text(errors="replace").splitlines():
            if raw.startswith("{"):
                try:
                    lines.append(json.loads(raw))
                except ValueError:
                    continue
        return lines

    def log_events(self, name: str, **match: Any) -> list[dict[str, Any]]:
        return [
            line
            for line in self.logs()
            if line.get("event") == name and all(line.get(k) == v for k, v in match.items())
        ]


def wait_for(check: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> Any:
    """Poll ``check`` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


def registration_event(
    email: str, topic: str = "E2E launch", meeting_id: int = 7001
) -> dict[str, Any]:
    return {
        "event": "meeting.registration_created",
        "event_ts": int(time.time() * 1000),
        "download_token": DOWNLOAD_TOKEN,
        "payload": {
            "account_id": "sandbox-account",
            "object": {
                "id": meeting_id,
                "topic": topic,
                "password": PASSWORD,
                "registrant": {"email": email, "first_name": "Ada"},
            },
        },
    }


def worker_env(e2e_dir: Path, sandbox: SandboxServer, redis_url: str) -> dict[str, str]:
    connections = e2e_dir / "connections.json"
    connections.write_text(
        json.dumps(
            [
                {
                    "name": "default",
                    "account_id": "sandbox-account",
                    "client_id": "sandbox-client",
                    "client_secret": "sandbox-secret",
                    "rate_limits": CLIENT_RATES,
                }
            ]
        )
    )
    (e2e_dir / "e2e_automations.py").write_text(AUTOMATIONS)
    rules = e2e_dir / "rules.toml"
    rules.write_text(RULES.format(meeting_id=sandbox.state.seeded.registration_meeting_id))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZOOM", "REDIS"))}
    env.update(
        {
            "PYTHONPATH": os.pathsep.join([str(e2e_dir), str(REPO)]),
            "REDIS_URL": redis_url,
            "ZOOM_API_BASE_URL": sandbox.api_base_url,
            "ZOOM_OAUTH_TOKEN_URL": sandbox.token_url,
            "ZOOM_API_HOSTS": '["127.0.0.1"]',
            "ZOOMQ_CONNECTIONS_FILE": str(connections),
            "ZOOMQ_RULES_FILE": str(rules),
            "ZOOMQ_AUTOMATION_MODULES": "e2e_automations",
            "ZOOMQ_LOG_FORMAT": "json",
            # The HTTP client hands any wait over 0.5 s to the queue.
            "ZOOMQ_HTTP_MAX_WAIT": "0.5",
            "ZOOMQ_RETRY_BACKOFF_BASE": "0.2",
            "ZOOMQ_RETRY_BACKOFF_CAP": "1.0",
            "ZOOMQ_MAX_RETRIES": "2",
            "ZOOMQ_RATE_LIMIT_JITTER": "0.3",
            "ZOOMQ_DAILY_LIMIT_JITTER": "0.2",
            "ZOOMQ_SCHEDULER_INTERVAL": "0.2",
            # The built-in archive is on by default: never into the repository's .zoomq.
            "ZOOMQ_ARCHIVE_DEST": str(e2e_dir / "archive"),
        }
    )
    return env


def start_worker(
    argv: list[str], env: dict[str, str], log_path: Path, ready_timeout: float = 30
) -> subprocess.Popen[bytes]:
    with log_path.open("ab") as log:
        process = subprocess.Popen(argv, env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for(
            lambda: process.poll() is not None or '"worker.ready"' in log_path.read_text(),
            timeout=ready_timeout,
            what="the worker to be ready",
        )
    except AssertionError:
        stop_worker(process)
        raise
    if process.poll() is not None:
        raise AssertionError(f"the worker exited ({process.returncode}):\n{log_path.read_text()}")
    return process


def start_receiver(
    e2e_dir: Path, sandbox: SandboxServer, redis_url: str, log_path: Path, **extra_env: str
) -> tuple[subprocess.Popen[bytes], str]:
    """`zoomq receiver` (uvicorn) as its own process; its process and its base URL.

    ``extra_env`` is set over the worker's environment and ``WEBHOOK_SECRET``.
    """
    e2e_dir.mkdir(exist_ok=True)
    env = worker_env(e2e_dir, sandbox, redis_url)
    env["ZOOM_WEBHOOK_SECRET_TOKEN"] = WEBHOOK_SECRET
    env.update(extra_env)
    port = free_port()
    with log_path.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "zoomq", "receiver", "--port", str(port)],
            env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        try:
            return httpx.get(url + "/readyz", timeout=0.5).status_code == 200
        except httpx.TransportError:
            return process.poll() is not None

    try:
        wait_for(ready, 30, "the receiver")
    except AssertionError:
        stop_worker(process)
        raise
    if process.poll() is not None:
        raise AssertionError(f"the receiver exited ({process.returncode}):\n{log_path.read_text()}")
    return process, url


def fast_worker_env(
    e2e_dir: Path, sandbox: SandboxServer, redis_url: str, **overrides: str
) -> dict[str, str]:
    """``worker_env`` with a "light" budget (2000/s) that never holds a fast run back."""
    fast = e2e_dir / "fast-connections.json"
    fast.write_text(json.dumps([{
        "name": "default", "account_id": "sandbox-account", "client_id": "sandbox-client",
        "client_secret": "sandbox-secret", "rate_limits": {"light": 2000},
    }]))  # fmt: skip
    env = worker_env(e2e_dir, sandbox, redis_url)
    env.update(ZOOMQ_CONNECTIONS_FILE=str(fast), **overrides)
    return env


@contextmanager
def dev_stack(
    cwd: Path, env: dict[str, str], port: int, sandbox_port: int
) -> Iterator[tuple[subprocess.Popen[bytes], Path, str]]:
    """`zoomq dev` run in ``cwd``: its process, its log, and the log once dev said it runs.

    Leaving stops it with SIGINT (Ctrl-C), which must end it with code 0.
    """
    log = cwd / "dev.log"
    with log.open("wb") as out:
        dev = subprocess.Popen(
            [sys.executable, "-m", "zoomq", "dev", "--port", str(port),
             "--sandbox-port", str(sandbox_port)],
            env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    try:
        wait_for(
            lambda: "zoomq dev is running" in log.read_text() or dev.poll() is not None,
            60,
            "zoomq dev",
        )
        text = log.read_text()
        assert dev.poll() is None, text
        yield dev, log, text
    finally:
        dev.send_signal(signal.SIGINT)
        try:
            code = dev.wait(30)
        except subprocess.TimeoutExpired:
            dev.kill()
            raise
    assert code == 0, log.read_text()[-3000:]


def stop_worker(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def e2e(tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2E]:
    """One sandbox, one redis-server, one receiver and one Celery worker process."""
    e2e_dir = tmp_path_factory.mktemp("e2e")
    config = SandboxConfig(seed=11, rate_scale=SANDBOX_SCALE)
    with RedisServer(e2e_dir / "redis") as server, SandboxServer(config) as sandbox:
        log_path = e2e_dir / "worker.log"
        argv = [
            sys.executable, "-m", "celery", "-A", "worker.app", "worker",
            "--pool", "threads", "-c", "8", "-Q", "events,actions",
            "--loglevel", "DEBUG", "-n", "e2e@%h",
            "--without-gossip", "--without-mingle", "--without-heartbeat",
        ]  # fmt: skip
        process = start_worker(argv, worker_env(e2e_dir, sandbox, server.url), log_path)
        receiver_log = e2e_dir / "receiver.log"
        try:
            receiver, receiver_url = start_receiver(
                e2e_dir / "receiver", sandbox, server.url, receiver_log
            )
        except BaseException:
            stop_worker(process)
            raise
        settings = Settings(_env_file=None, redis_url=server.url)
        client = redis.Redis.from_url(server.url)
        try:
            yield E2E(
                sandbox=sandbox,
                redis=client,
                app=create_celery(settings),
                settings=settings,
                log_path=log_path,
                registration_meeting_id=sandbox.state.seeded.registration_meeting_id,
                webhook_url=receiver_url + "/webhooks/zoom",
                receiver_log_path=receiver_log,
            )
        finally:
            stop_worker(receiver)
            stop_worker(process)
            client.close()


@pytest.fixture(autouse=True)
def _no_faults_left(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "e2e" in request.fixturenames:
        request.getfixturevalue("e2e").sandbox.state.faults.clear()
    for name in ("archive_e2e", "archive_e2e_s3"):
        if name in request.fixturenames:
            state = request.getfixturevalue(name).sandbox.state
            state.faults.clear()
            state.download_faults.clear()


# -- the recording archive ----------------------------------------------------------------


@dataclass
class ArchiveE2E:
    """The stack with the archive on: an events/actions worker, a downloads worker (which
    tests kill and restart), the receiver, and the archive directory they write."""

    stack: E2E
    archive_dir: Path
    downloads_argv: list[str]
    env: dict[str, str]
    downloads_log: Path
    downloads: subprocess.Popen[bytes] | None = None

    @property
    def sandbox(self) -> SandboxServer:
        return self.stack.sandbox

    def start_downloads(self) -> subprocess.Popen[bytes]:
        self.downloads = start_worker(self.downloads_argv, self.env, self.downloads_log)
        return self.downloads

    def kill_downloads(self) -> None:
        """``kill -9``: no shutdown, no ack; what it was downloading stays unacknowledged."""
        assert self.downloads is not None
        self.downloads.kill()
        self.downloads.wait(10)
        self.downloads = None

    def logs(self) -> list[dict[str, Any]]:
        lines = []
        for path in (self.stack.log_path, self.downloads_log):
            for raw in path.read_text(errors="replace").splitlines():
                if raw.startswith("{"):
                    try:
                        lines.append(json.loads(raw))
                    except ValueError:
                        continue
        return lines

    def log_events(self, name: str, **match: Any) -> list[dict[str, Any]]:
        return [
            line
            for line in self.logs()
            if line.get("event") == name and all(line.get(k) == v for k, v in match.items())
        ]

    def files(self) -> list[Path]:
        """Every file under the archive directory (partial ones included)."""
        return sorted(p for p in self.archive_dir.rglob("*") if p.is_file())


#: Shorter than the defaults so a killed worker's download comes back within seconds: the
#: broker redelivers after the visibility timeout, the file's lock lapses after its own.
ARCHIVE_ENV = {
    "ZOOMQ_ARCHIVE_ENABLED": "true",
    # localhost: the sandbox under a second name (a redirect there carries no token).
    "ZOOMQ_ARCHIVE_DOWNLOAD_HOSTS": "127.0.0.1,localhost",
    "ZOOMQ_ARCHIVE_LOCK_TIMEOUT": "3",
    "ZOOMQ_VISIBILITY_TIMEOUT": "8",
    "ZOOMQ_TASK_TIME_LIMIT": "6",
    "ZOOMQ_TASK_SOFT_TIME_LIMIT": "5",
}


def archive_env(e2e_dir: Path, sandbox: SandboxServer, redis_url: str) -> dict[str, str]:
    """The worker's environment with the archive writing to ``e2e_dir/archive`` and no
    automations besides the built-in one (the harness's own would download files too)."""
    env = worker_env(e2e_dir, sandbox, redis_url)
    env.pop("ZOOMQ_AUTOMATION_MODULES")
    env.pop("ZOOMQ_RULES_FILE")
    env.update(ARCHIVE_ENV)
    env["ZOOMQ_ARCHIVE_DEST"] = str(e2e_dir / "archive")
    return env


@contextmanager
def archive_stack(e2e_dir: Path, extra_env: dict[str, str] | None = None) -> Iterator[ArchiveE2E]:
    """Sandbox, redis-server, receiver, an events/actions worker and a downloads worker;
    ``extra_env`` points the archive elsewhere (S3)."""
    config = SandboxConfig(seed=17, rate_scale=SANDBOX_SCALE)
    with RedisServer(e2e_dir / "redis") as server, SandboxServer(config) as sandbox:
        env = {**archive_env(e2e_dir, sandbox, server.url), **(extra_env or {})}
        log_path = e2e_dir / "worker.log"
        argv = [
            sys.executable, "-m", "celery", "-A", "worker.app", "worker",
            "--pool", "threads", "-c", "4", "-Q", "events,actions",
            "--loglevel", "INFO", "-n", "e2e-events@%h",
            "--without-gossip", "--without-mingle", "--without-heartbeat",
        ]  # fmt: skip
        downloads_argv = [
            sys.executable, "-m", "celery", "-A", "worker.app", "worker",
            "--pool", "threads", "-c", "2", "-Q", "downloads",
            "--loglevel", "INFO", "-n", "e2e-downloads@%h",
            "--without-gossip", "--without-mingle", "--without-heartbeat",
        ]  # fmt: skip
        process = start_worker(argv, env, log_path)
        archive = ArchiveE2E(
            stack=None,  # type: ignore[arg-type]  # set below, once the receiver is up
            archive_dir=e2e_dir / "archive",
            downloads_argv=downloads_argv,
            env=env,
            downloads_log=e2e_dir / "downloads.log",
        )
        receiver_log = e2e_dir / "receiver.log"
        try:
            archive.start_downloads()
            receiver, receiver_url = start_receiver(
                e2e_dir / "receiver", sandbox, server.url, receiver_log
            )
        except BaseException:
            if archive.downloads is not None:
                stop_worker(archive.downloads)
            stop_worker(process)
            raise
        settings = Settings(_env_file=None, redis_url=server.url)
        client = redis.Redis.from_url(server.url)
        archive.stack = E2E(
            sandbox=sandbox,
            redis=client,
            app=create_celery(settings),
            settings=settings,
            log_path=log_path,
            registration_meeting_id=sandbox.state.seeded.registration_meeting_id,
            webhook_url=receiver_url + "/webhooks/zoom",
            receiver_log_path=receiver_log,
        )
        try:
            yield archive
        finally:
            stop_worker(receiver)
            if archive.downloads is not None:
                stop_worker(archive.downloads)
            stop_worker(process)
            client.close()


@pytest.fixture(scope="module")
def archive_e2e(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ArchiveE2E]:
    """The archive stack writing to a local directory."""
    with archive_stack(tmp_path_factory.mktemp("archive-e2e")) as stack:
        yield stack
