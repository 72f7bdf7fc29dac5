"""``zoomq receiver`` as a process: starts uvicorn with the app, serves, stops on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import REPO
from tests.receiver.conftest import SECRET, event_body, signed
from zoomq.redis_server import free_port

LAUNCH = "from zoomq.cli.receiver import receiver_command; receiver_command()"


def test_receiver_command_serves_webhooks(redis_url: str, tmp_path: Path) -> None:
    """The command reads Settings from the environment and answers on --host/--port."""
    port = free_port()
    (tmp_path / "none.json").write_text("[]")  # no connections beyond the environment's
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "REDIS_URL": redis_url,
        "ZOOM_WEBHOOK_SECRET_TOKEN": SECRET,
        "ZOOMQ_CONNECTIONS_FILE": str(tmp_path / "none.json"),
        "ZOOMQ_LOG_FORMAT": "json",
    }
    process = subprocess.Popen(
        [sys.executable, "-c", LAUNCH, "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 15
        while True:
            try:
                if httpx.get(f"{base}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            assert time.monotonic() < deadline, "the receiver did not become ready"
            time.sleep(0.05)
        body = event_body()
        response = httpx.post(f"{base}/webhooks/zoom", content=body, headers=signed(body))
        assert response.status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=10)[0].decode()
    # uvicorn shuts down cleanly, then re-raises the signal so the exit status tells of it.
    assert process.returncode in (0, -signal.SIGTERM), output
    assert "Application shutdown complete" in output
    assert "POST /webhooks/zoom" not in output  # no access log
