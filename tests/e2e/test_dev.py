"""The Quickstart's `zoomq dev`: everything starts, a signed webhook goes through, Ctrl-C
stops it all."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import REPO, dev_stack, wait_for
from zoomq.redis_server import free_port

pytestmark = pytest.mark.e2e


def test_zoomq_dev_runs_the_whole_stack(tmp_path: Path) -> None:
    """`zoomq dev` on embedded defaults: sandbox, receiver and worker; SIGINT stops all."""
    port, sandbox_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZOOM", "REDIS"))}
    env["ZOOMQ_LOG_FORMAT"] = "json"
    # data in ./.zoomq, as for a user
    with dev_stack(tmp_path, env, port, sandbox_port) as (_dev, log, text):
        secret = text.split("webhook secret: ", 1)[1].split()[0]
        hook = f"http://127.0.0.1:{port}/webhooks/zoom"
        wait_for(lambda: '"worker.ready"' in log.read_text(), 60, "the worker")
        sent = subprocess.run(
            [sys.executable, "-m", "zoomq", "webhook", "send", "meeting.created",
             "--to", hook, "--secret", secret],
            env=env, cwd=REPO, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert sent.returncode == 0, sent.stdout + sent.stderr
        wait_for(lambda: '"event.dispatched"' in log.read_text(), 30, "the worker to handle it")
        api = f"http://127.0.0.1:{sandbox_port}/v2/users/me"
        assert httpx.get(api).status_code == 401  # the sandbox Zoom is up and wants a token
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
