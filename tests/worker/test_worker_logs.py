"""A real ``zoomq worker`` process: its logs are zoomq's JSON lines on stderr, each once."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _env(redis_url: str, tmp_path: Path) -> dict[str, str]:
    no_connections = tmp_path / "no-connections.json"
    no_connections.write_text("[]")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZOOM", "REDIS"))}
    env.update(
        {
            "PYTHONPATH": str(REPO),
            "REDIS_URL": redis_url,
            "ZOOMQ_LOG_FORMAT": "json",
            "ZOOMQ_LOG_LEVEL": "INFO",
            "ZOOMQ_CONNECTIONS_FILE": str(no_connections),
        }
    )
    return env


def _wait_for(path: Path, text: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while text not in path.read_text(errors="replace"):
        if process.poll() is not None:
            raise AssertionError(f"the worker exited ({process.returncode}):\n{path.read_text()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"no {text} within {timeout} s:\n{path.read_text()}")
        time.sleep(0.05)


@pytest.mark.parametrize("pool", ["threads", "prefork"])
def test_worker_logs_each_line_once_on_stderr_and_nothing_on_stdout(
    redis_url: str, tmp_path: Path, pool: str
) -> None:
    """Logging is configured once per process: no line twice, Celery's records in JSON too."""
    out, err = tmp_path / "stdout", tmp_path / "stderr"
    # The console script of this interpreter's environment: the real entry point.
    argv = [str(Path(sys.executable).with_name("zoomq")), "worker", "--pool", pool, "-c", "2"]
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.Popen(
            argv, env=_env(redis_url, tmp_path), cwd=tmp_path, stdout=stdout, stderr=stderr
        )
    try:
        _wait_for(err, '"worker.ready"', process, timeout=60)
        process.send_signal(signal.SIGTERM)
        process.wait(30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert out.read_bytes() == b""
    lines = [line for line in err.read_text().splitlines() if line.startswith("{")]
    records = [json.loads(line) for line in lines]
    assert [r["event"] for r in records].count("worker.ready") == 1
    # Celery's own records (stdlib logging) go through the same JSON handler.
    assert any(str(r.get("logger", "")).startswith("celery") for r in records), lines
    duplicated = [line for line, n in Counter(lines).items() if n > 1]
    assert duplicated == []
    # Celery installed no formatter of its own ("[2026-12-01 10:00:00,000: INFO/...]").
    celery_format = re.compile(r"^\[\d{4}-\d\d-\d\d ")
    assert [line for line in err.read_text().splitlines() if celery_format.match(line)] == []
