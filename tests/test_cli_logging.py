"""Every process logs to stderr, redacted, at ZOOMQ_LOG_LEVEL; stdout is a command's result.

Real processes: ``zoomq sandbox`` serves, ``zoomq action`` calls it through injected 429s
(so the client retries and logs), the receiver runs under uvicorn with workers.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.child_process import run_child
from tests.conftest import REPO
from zoomq.redis_server import free_port

ZOOMQ = [sys.executable, "-c", "from zoomq.cli import main; main()"]
SECRET = "s3cr3t-VALUE-123"


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a deployment: nothing zoomq reads but what the test sets."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZOOM", "REDIS"))}
    (tmp_path / "none.json").write_text("[]")  # no connections beyond the environment's
    env.update(
        {
            "PYTHONPATH": str(REPO),
            "ZOOMQ_CONNECTIONS_FILE": str(tmp_path / "none.json"),
            "ZOOMQ_LOG_FORMAT": "json",
            **extra,
        }
    )
    return env


def wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(url).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert process.poll() is None, log.read_text()
        assert time.monotonic() < deadline, f"{url} did not answer:\n{log.read_text()}"
        time.sleep(0.05)


def json_lines(text: str) -> list[dict[str, Any]]:
    """Every line of ``text`` as JSON (fails on a line that is not)."""
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def sandbox_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``zoomq sandbox`` as a process of its own."""
    tmp = tmp_path_factory.mktemp("sandbox")
    port = free_port()
    out, err = tmp / "stdout", tmp / "stderr"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.Popen(
            [*ZOOMQ, "sandbox", "--port", str(port), "--no-rate-limits"],
            env=clean_env(tmp),
            cwd=tmp,
            stdout=stdout,
            stderr=stderr,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url + "/_sandbox/state", process, err)
        yield url
    finally:
        process.terminate()
        process.wait(15)
    # The banner is the command's output; no log line is mixed into it.
    assert out.read_text().startswith(f"Zoom sandbox on {url}\n")


def run_action(sandbox_url: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    # Two 429s with Retry-After: 0, so the client sleeps briefly, logs and retries.
    fault = {"method": "GET", "path_pattern": "/v2/users/*", "status": 429, "count": 2}
    added = httpx.post(f"{sandbox_url}/_sandbox/faults", json={**fault, "retry_after": "0"})
    assert added.status_code == 201, added.text
    return run_child(
        [*ZOOMQ, "action", "getUser", "--input", '{"userId": "me"}', "--no-redis"],
        env=clean_env(
            tmp_path,
            ZOOM_ACCOUNT_ID="sandbox-account",
            ZOOM_CLIENT_ID="sandbox-client",
            ZOOM_CLIENT_SECRET="sandbox-secret",
            ZOOM_API_BASE_URL=f"{sandbox_url}/v2",
            ZOOM_OAUTH_TOKEN_URL=f"{sandbox_url}/oauth/token",
            **env,
        ),
        cwd=tmp_path,
    )


def answered_429(sandbox_url: str) -> int:
    state = httpx.get(f"{sandbox_url}/_sandbox/state").json()
    return int(state["requests_by_status"].get("429", 0))


def test_action_prints_only_its_result_and_logs_retries_on_stderr(
    sandbox_url: str, tmp_path: Path
) -> None:
    """`zoomq action … | jq` works through retries: the retry log lines are on stderr."""
    before = answered_429(sandbox_url)
    done = run_action(sandbox_url, tmp_path, ZOOMQ_LOG_LEVEL="DEBUG")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["data"]["email"] == "owner@example.com"
    lines = json_lines(done.stderr)  # structlog's and httpx/httpcore's lines alike
    retries = [line for line in lines if line["event"] == "zoom.rate_limited"]
    assert [line["attempt"] for line in retries] == [0, 1]
    assert all(line["level"] == "debug" for line in retries)
    assert any(line.get("logger", "").startswith("httpcore") for line in lines)
    assert answered_429(sandbox_url) == before + 2


def test_the_log_level_setting_filters(sandbox_url: str, tmp_path: Path) -> None:
    """At the default INFO the same retries happen, and no debug line is printed."""
    before = answered_429(sandbox_url)
    done = run_action(sandbox_url, tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["data"]["email"] == "owner@example.com"
    assert answered_429(sandbox_url) == before + 2
    assert "zoom.rate_limited" not in done.stderr
    assert all(line["level"] != "debug" for line in json_lines(done.stderr))


def test_a_bad_log_level_names_the_setting(tmp_path: Path) -> None:
    """ZOOMQ_LOG_LEVEL=loud exits 2 with a message naming it, before any command runs."""
    done = run_child(
        [*ZOOMQ, "action", "--list"], env=clean_env(tmp_path, ZOOMQ_LOG_LEVEL="loud"), cwd=tmp_path
    )
    assert done.returncode == 2
    assert "ZOOMQ_LOG_LEVEL" in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""


FACTORY_PROBE = f"""
import logging, structlog
from receiver.app import create_app_from_environment
create_app_from_environment()  # as uvicorn --factory calls it in each worker process
structlog.get_logger("receiver.probe").warning(
    "probe",
    payload={{"object": {{"recording_play_passcode": "{SECRET}",
                          "join_url": "https://zoom.us/j/1?pwd={SECRET}"}}}},
    headers={{"Authorization": "Bearer {SECRET}", "X-Api-Key": "{SECRET}"}},
    topic="Weekly",
)
logging.getLogger("uvicorn.error").warning("GET /s/1?zak=%s", "{SECRET}")
logging.getLogger("receiver.probe").debug("below the level")
"""


def test_the_receiver_factory_configures_redacted_stderr_logging(
    tmp_path: Path, redis_url: str
) -> None:
    """The uvicorn factory leaves structlog and stdlib logging on stderr, JSON, redacted."""
    done = run_child(
        [sys.executable, "-c", FACTORY_PROBE],
        env=clean_env(tmp_path, REDIS_URL=redis_url, ZOOMQ_LOG_LEVEL="WARNING"),
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    lines = json_lines(done.stderr)
    assert [line["event"] for line in lines] == ["probe", "GET /s/1?zak=[redacted]"]
    probe = lines[0]
    assert probe["payload"]["object"] == {
        "recording_play_passcode": "[redacted]",
        "join_url": "https://zoom.us/j/1?pwd=[redacted]",
    }
    assert probe["headers"] == {"Authorization": "[redacted]", "X-Api-Key": "[redacted]"}
    assert probe["topic"] == "Weekly"
    assert probe["level"] == "warning"
    assert SECRET not in done.stderr


def test_receiver_workers_log_through_the_factory(tmp_path: Path, redis_url: str) -> None:
    """`zoomq receiver --workers 2`: every process's uvicorn lines are zoomq's JSON on stderr."""
    port = free_port()
    out, err = tmp_path / "stdout", tmp_path / "stderr"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.Popen(
            [*ZOOMQ, "receiver", "--port", str(port), "--workers", "2"],
            env=clean_env(tmp_path, REDIS_URL=redis_url, ZOOM_WEBHOOK_SECRET_TOKEN=SECRET),
            cwd=tmp_path,
            stdout=stdout,
            stderr=stderr,
        )
    try:
        wait_until_up(f"http://127.0.0.1:{port}/readyz", process, err)
        # Both workers are up once each has said so (the supervisor waits for neither).
        deadline = time.monotonic() + 30
        while err.read_text().count("Application startup complete") < 2:
            assert time.monotonic() < deadline, err.read_text()
            time.sleep(0.05)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(20)
    lines = json_lines(err.read_text())
    started = {line["event"] for line in lines if "Started server process" in line["event"]}
    assert len(started) == 2  # one per worker, different pids
    assert all(line["logger"].startswith("uvicorn") for line in lines if "process" in line["event"])
    assert out.read_text() == ""
