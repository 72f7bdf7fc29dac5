"""schemathesis against ``/v1/openapi.json`` on a running receiver: a ``zoomq receiver``
process over loopback on the tests' redis-server.

Every check runs (no 5xx, status codes, content types, headers and bodies as documented,
invalid data refused, auth not ignored, ``Allow`` on 405) but ``positive_data_acceptance``:
a request can match the document and still be refused with a documented 422, since an
item's schema depends on the action, and connections and callback hosts on the
deployment. The seed is fixed so a run is reproducible (``st replay`` with the printed
case id); the budget keeps it near 15 s.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import REPO
from tests.e2e.conftest import stop_worker, wait_for
from zoomq.redis_server import RedisServer, free_port

KEY = "schemathesis-key-" + "s" * 32
SEED = 20261201
EXAMPLES = 40

pytestmark = pytest.mark.e2e


@pytest.fixture
def receiver(redis_server: RedisServer, tmp_path: Path) -> Iterator[str]:
    connections = tmp_path / "connections.json"
    connections.write_text(
        json.dumps(
            [{"name": "default", "account_id": "a", "client_id": "c", "client_secret": "s-value"}]
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZOOM", "REDIS"))}
    env.update(
        REDIS_URL=redis_server.url,
        ZOOMQ_CONNECTIONS_FILE=str(connections),
        ZOOMQ_API_KEYS=json.dumps([{"name": "fuzz", "key": KEY}]),
        ZOOMQ_JOB_CALLBACK_HOSTS="http://127.0.0.1:9",
        ZOOMQ_JOB_CALLBACK_SECRET="whsec_" + "A" * 44,
        ZOOMQ_LOG_FORMAT="json",
    )
    port = free_port()
    log = tmp_path / "receiver.log"
    with log.open("wb") as out:
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
        assert process.poll() is None, log.read_text()
        yield url
    finally:
        stop_worker(process)
    text = log.read_text(errors="replace")
    assert "Traceback" not in text, text[-4000:]


def test_every_answer_matches_the_document(receiver: str, tmp_path: Path) -> None:
    """No 5xx, and every status, header and body as /v1/openapi.json says."""
    cli = Path(sys.executable).with_name("schemathesis")
    argv = [
        str(cli), "run", f"{receiver}/v1/openapi.json",
        "--checks", "all", "--exclude-checks", "positive_data_acceptance",
        "-H", f"Authorization: Bearer {KEY}",
        "--max-examples", str(EXAMPLES), "--seed", str(SEED),
        "--workers", "2", "--request-timeout", "20",
        # Hypothesis' data-generation health checks (too slow on a loaded machine) say
        # nothing of the API: off, so only the API's answers fail the run.
        "--suppress-health-check", "all",
    ]  # fmt: skip
    run = subprocess.run(
        argv, cwd=tmp_path, capture_output=True, text=True, timeout=90, check=False
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-8000:]
    assert " passed" in output
    assert KEY not in output
