"""``latency``: the sandbox answers ``/v2`` as slowly as Zoom would, and only ``/v2``."""

from __future__ import annotations

import concurrent.futures
import subprocess
import sys
import time
from collections.abc import Callable

import httpx
import pytest

from tests.sandbox.conftest import account_token, api_client
from zoomq.errors import ConfigurationError
from zoomq.sandbox.config import SandboxConfig
from zoomq.sandbox.server import SandboxServer


def _timed(call: Callable[[], httpx.Response]) -> float:
    started = time.monotonic()
    call().raise_for_status()
    return time.monotonic() - started


def test_api_answers_wait_within_the_range_and_oauth_does_not(
    make_sandbox: Callable[..., SandboxServer],
) -> None:
    server = make_sandbox(latency=(0.15, 0.25))
    token_took = _timed(lambda: httpx.post(
        server.token_url,
        params={"grant_type": "account_credentials", "account_id": "sandbox-account"},
        auth=("sandbox-client", "sandbox-secret"),
    ))  # fmt: skip
    assert token_took < 0.1
    with api_client(server, account_token(server)) as client:
        took = [_timed(lambda: client.get("/users/me")) for _ in range(6)]
    assert all(0.15 <= t < 0.5 for t in took), took
    assert max(took) - min(took) > 0.005  # random within the range, not one fixed wait


def test_answers_wait_side_by_side(make_sandbox: Callable[..., SandboxServer]) -> None:
    """A wait holds its own request only: 8 at once take about one wait, not eight."""
    server = make_sandbox(latency=(0.2, 0.2))
    token = account_token(server)
    clients = [api_client(server, token) for _ in range(8)]
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda c: c.get("/users/me").raise_for_status(), clients))
    assert time.monotonic() - started < 0.8
    for client in clients:
        client.close()


@pytest.mark.parametrize("latency", [(-0.1, 0.2), (0.3, 0.1), (0.0, 61.0)])
def test_a_latency_out_of_range_is_refused(latency: tuple[float, float]) -> None:
    with pytest.raises(ConfigurationError, match="latency"):
        SandboxConfig(latency=latency)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("abc", "not SECONDS or LOW-HIGH"),
        ("0.3-0.1", "LOW <= HIGH"),
        ("0.1-", "not SECONDS or LOW-HIGH"),
    ],
)
def test_the_cli_names_a_bad_latency(value: str, message: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "zoomq", "sandbox", "--port", "1", "--latency", value],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "--latency" in done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_the_cli_reads_one_time_a_range_and_exponents() -> None:
    from zoomq.cli.sandbox import _latency

    assert _latency("0.2") == (0.2, 0.2)
    assert _latency("0.1-0.3") == (0.1, 0.3)
    assert _latency("1e-3") == (0.001, 0.001)
    assert _latency(None) is None
