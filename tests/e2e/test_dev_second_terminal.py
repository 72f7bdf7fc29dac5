"""A second terminal beside `zoomq dev`: its `zoomq` commands reach dev's stack, as pasted.

dev gives its children the sandbox's credentials and a private Redis on a random port; a
second shell has none of that, only the working directory and dev's state file in it.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from tests.e2e.conftest import dev_stack, wait_for
from zoomq.redis_server import free_port
from zoomq.runtime.dlq import DeadLetterStore

pytestmark = pytest.mark.e2e

#: A second terminal: nothing of zoomq configured.
CLEAN_ENV = {k: v for k, v in os.environ.items() if not k.startswith(("ZOOM", "REDIS"))}


def zoomq(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "zoomq", *args],
        env=CLEAN_ENV, cwd=cwd, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_second_terminal_uses_the_running_dev_stack(tmp_path: Path) -> None:
    """action and dlq reach dev's sandbox and Redis; the banner's command works as pasted;
    once dev stops, its state file is gone and no longer used."""
    port, sandbox_port = free_port(), free_port()
    state = tmp_path / ".zoomq" / "dev.json"
    env = {**CLEAN_ENV, "ZOOMQ_LOG_FORMAT": "json"}
    with dev_stack(tmp_path, env, port, sandbox_port) as (dev, log, text):
        assert stat.S_IMODE(state.stat().st_mode) == 0o600
        published = json.loads(state.read_text())
        assert published["pid"] == dev.pid

        got = zoomq("action", "getUser", "--input", '{"userId":"me"}', cwd=tmp_path)
        assert got.returncode == 0, got.stderr
        assert json.loads(got.stdout)["data"]["id"]  # the sandbox's user
        assert "using the running `zoomq dev` stack" in got.stderr

        # A dead letter put into dev's own Redis is what `zoomq dlq list` shows.
        dev_redis = redis.Redis.from_url(published["settings"]["redis_url"])
        try:
            entry = DeadLetterStore(dev_redis).add_undecodable(
                body="{not json", content_type="application/json", content_encoding="utf-8",
                headers={}, properties={}, error=ValueError("marker"), queue="events",
            )  # fmt: skip
        finally:
            dev_redis.close()
        listed = zoomq("dlq", "list", cwd=tmp_path)
        assert listed.returncode == 0, listed.stderr
        assert entry.id in listed.stdout

        # The banner's webhook command, pasted into a shell without dev's environment.
        wait_for(lambda: '"worker.ready"' in log.read_text(), 60, "the worker")
        pasted = re.search(r"^  (\S.*webhook send .*)$", text, re.M)
        assert pasted, text
        sent = subprocess.run(
            ["/bin/sh", "-c", pasted.group(1)],
            env=CLEAN_ENV, cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert sent.returncode == 0, sent.stdout + sent.stderr
        assert json.loads(sent.stdout)["delivered"] is True

        # The banner's jobs command: receiver URL (a non-default port) and the generated
        # API key come from the state file; the job runs through dev's worker.
        assert f"http://127.0.0.1:{port}/v1" in text
        job_line = re.search(r"^  (\S.*jobs submit .*)$", text, re.M)
        assert job_line, text
        submitted = subprocess.run(
            ["/bin/sh", "-c", job_line.group(1)],
            env=CLEAN_ENV, cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert submitted.returncode == 0, submitted.stdout + submitted.stderr
        job = json.loads(submitted.stdout)
        assert (job["status"], job["counts"]["succeeded"]) == ("completed", 1)
        assert "stack's receiver and API key" in submitted.stderr
        assert published["api"]["api_key"] not in submitted.stdout + submitted.stderr
    assert not state.exists()
    after = zoomq("action", "getUser", "--input", '{"userId":"me"}', cwd=tmp_path)
    assert after.returncode == 2
    assert "using the running" not in after.stderr
    assert "unknown connection 'default'" in after.stderr
    assert "ZOOM_CLIENT_ID" in after.stderr
    assert "zoomq connections add" in after.stderr


def test_a_stale_state_file_is_ignored(tmp_path: Path) -> None:
    """A state file left by a dev that died (its pid gone) is not used."""
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    state = tmp_path / ".zoomq" / "dev.json"
    state.parent.mkdir()
    settings = {"zoom_account_id": "a", "zoom_client_id": "c", "zoom_client_secret": "s3cr3t-x"}
    state.write_text(json.dumps({"pid": int(gone.stdout), "settings": settings}))
    after = zoomq("action", "getUser", "--input", '{"userId":"me"}', cwd=tmp_path)
    assert after.returncode == 2, after.stderr
    assert "unknown connection 'default'" in after.stderr
    assert "using the running" not in after.stderr


def test_equal_ports_are_refused_up_front(tmp_path: Path) -> None:
    """--port and --sandbox-port the same: exit 2 naming both, before anything starts."""
    same = str(free_port())
    result = subprocess.run(
        [sys.executable, "-m", "zoomq", "dev", "--port", same, "--sandbox-port", same],
        env=CLEAN_ENV, cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "--port and --sandbox-port are both" in result.stderr
    assert not (tmp_path / ".zoomq" / "redis").exists()  # nothing was started
