"""The hand-written Celery message: identical in form to Celery's own, and run by a real worker."""

from __future__ import annotations

import base64
import json
import os
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis
from celery import Celery
from celery.contrib.testing.worker import start_worker

from tests.receiver.conftest import EVENTS, event_body, queued, signed
from zoomq.runtime import RawJSON, build_task_message, origin_nodename

TASK = "zoomq.events.handle"


def _celery(broker: str) -> Celery:
    app = Celery("receiver-tests", broker=broker, set_as_current=False)
    app.conf.update(
        task_default_queue=EVENTS,
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
    )
    return app


def _shape(value: Any) -> Any:
    """The structure of a JSON value: dict keys and value types, recursively."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(v) for v in value]
    return type(value).__name__


def test_matches_what_celery_send_task_writes(redis_url: str, redis_client: redis.Redis) -> None:
    """Field for field, our message is what Celery 5 (protocol 2) puts on the Redis list."""
    args = [{"event": "meeting.created", "n": 1}]
    kwargs = {"meta": {"connection": "default", "received_at": 1.5}}
    app = _celery(redis_url)
    app.send_task(TASK, args=args, kwargs=kwargs, task_id="evt-abc", queue=EVENTS)
    [theirs_raw] = queued(redis_client)
    theirs = json.loads(theirs_raw)
    ours = json.loads(build_task_message(TASK, args, kwargs, "evt-abc", EVENTS))

    assert list(ours) == list(theirs)  # same keys, same order
    assert _shape(ours) == _shape(theirs)
    assert json.loads(base64.b64decode(ours["body"])) == json.loads(
        base64.b64decode(theirs["body"])
    )
    for volatile in ("delivery_tag", "reply_to"):  # a fresh uuid; the sender's result oid
        ours["properties"].pop(volatile)
        theirs["properties"].pop(volatile)
    assert ours["properties"] == theirs["properties"]
    assert ours["headers"] == theirs["headers"]
    assert ours["headers"]["origin"] == f"gen{os.getpid()}@{socket.gethostname()}"
    assert (ours["content-type"], ours["content-encoding"]) == ("application/json", "utf-8")
    app.close()


def test_the_receivers_form_matches_what_celery_writes(
    redis_url: str, redis_client: redis.Redis
) -> None:
    """As the receiver calls it (RawJSON event and kwargs, non-ASCII text, argsrepr given),
    the message is what Celery writes for the decoded values with the same reprs."""
    body = b'{"event":"meeting.created","payload":{"object":{"topic":"Zo\xc3\xab \\u00e9"}}}'
    kwargs = b'{"meta":{"connection":"default","received_at":1.5,"request_id":null}}'
    argsrepr, kwargsrepr = "[<meeting.created event, 60 bytes>]", "{'meta': '...'}"
    app = _celery(redis_url)
    app.send_task(
        TASK,
        args=[json.loads(body)],
        kwargs=json.loads(kwargs),
        task_id="evt-def",
        queue=EVENTS,
        argsrepr=argsrepr,
        kwargsrepr=kwargsrepr,
    )
    [theirs_raw] = queued(redis_client)
    theirs = json.loads(theirs_raw)
    ours_raw = build_task_message(
        TASK,
        [RawJSON(body)],
        RawJSON(kwargs),
        "evt-def",
        EVENTS,
        argsrepr=argsrepr,
        kwargsrepr=kwargsrepr,
    )
    ours = json.loads(ours_raw)
    # send_task also copies its extra options into the properties; workers read the headers.
    assert theirs["properties"].pop("argsrepr") == theirs["headers"]["argsrepr"]
    assert theirs["properties"].pop("kwargsrepr") == theirs["headers"]["kwargsrepr"]
    assert list(ours) == list(theirs)
    assert _shape(ours) == _shape(theirs)
    assert json.loads(base64.b64decode(ours["body"])) == json.loads(
        base64.b64decode(theirs["body"])
    )
    for volatile in ("delivery_tag", "reply_to"):
        ours["properties"].pop(volatile)
        theirs["properties"].pop(volatile)
    assert ours["properties"] == theirs["properties"]
    assert ours["headers"] == theirs["headers"]
    assert ours["headers"]["argsrepr"] == argsrepr
    app.close()


def test_the_pins_hold_the_versions_the_message_is_checked_against() -> None:
    """pyproject pins celery and kombu to the installed minor, the one the docstring names."""
    import tomllib
    from importlib.metadata import version
    from pathlib import Path

    from zoomq.runtime import celery_message

    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    deps = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    for package, spec in (("celery", "celery[redis]"), ("kombu", "kombu")):
        major, minor = (int(x) for x in version(package).split(".")[:2])
        assert f"{spec}>={major}.{minor},<{major}.{minor + 1}" in deps
        assert f"{package} {major}.{minor}" in (celery_message.__doc__ or "")


def test_raw_json_argument_is_spliced_verbatim() -> None:
    """A RawJSON argument decodes to the same value as the dict it stands for."""
    body = b'{"event":"x","payload":{"name":"Zo\xc3\xab","n":[1,2.5,null]}}'
    spliced = json.loads(build_task_message(TASK, [RawJSON(body)], {}, "t", EVENTS))
    encoded = json.loads(build_task_message(TASK, [json.loads(body)], {}, "t", EVENTS))
    assert json.loads(base64.b64decode(spliced["body"])) == json.loads(
        base64.b64decode(encoded["body"])
    )
    assert repr(RawJSON(body)) == f"RawJSON(<{len(body)} bytes>)"


def test_argsrepr_is_truncated_like_celerys() -> None:
    """Default argsrepr is the repr, cut at Celery's 1024 characters."""
    message = json.loads(build_task_message(TASK, ["x" * 5000], {}, "t", EVENTS))
    assert len(message["headers"]["argsrepr"]) == 1024
    assert message["headers"]["argsrepr"].endswith("...")
    assert origin_nodename() == message["headers"]["origin"]


@pytest.fixture
def worker_app(redis_url: str) -> Iterator[Celery]:
    """A Celery app with a ``zoomq.events.handle`` that records what it received in Redis."""
    app = _celery(redis_url)

    @app.task(name=TASK, bind=True, shared=False)
    def handle(self: Any, event: dict[str, Any], meta: dict[str, Any]) -> None:
        record = {
            "id": self.request.id,
            "event": event,
            "meta": meta,
            "started": time.time(),
        }
        with redis.Redis.from_url(redis_url) as client:
            client.rpush("ran", json.dumps(record))

    yield app
    app.close()


def _wait_for_runs(client: redis.Redis, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs: list[bytes] = client.lrange("ran", 0, -1)  # type: ignore[assignment]
        if len(runs) >= count:
            return [json.loads(r) for r in runs]
        time.sleep(0.02)
    raise AssertionError(f"the worker ran fewer than {count} tasks in {timeout} s")


def test_a_real_worker_runs_what_the_receiver_queued(
    worker_app: Celery, http: httpx.Client, redis_client: redis.Redis
) -> None:
    """End to end: webhook → receiver → Redis → Celery worker, with event, meta and task id."""
    body = event_body("recording.completed")
    headers = signed(body, extra={"x-zm-request-id": "req-123"})
    with start_worker(worker_app, pool="solo", perform_ping_check=False, shutdown_timeout=20):
        response = http.post("/webhooks/zoom", content=body, headers=headers)
        assert response.status_code == 200
        [run] = _wait_for_runs(redis_client, 1)
    assert run["event"] == json.loads(body)
    assert run["id"].startswith("evt-")
    assert run["meta"]["request_id"] == run["meta"]["correlation_id"] == "req-123"
    assert run["meta"]["connection"] == "default"
    assert run["meta"]["dedup_key"].startswith("evt:recording.completed:")
    assert run["started"] >= run["meta"]["received_at"]
    assert queued(redis_client) == []
