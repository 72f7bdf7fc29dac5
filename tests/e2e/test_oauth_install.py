"""An OAuth install over real processes: `zoomq receiver` under uvicorn, the `zoomq` CLI,
the sandbox's authorization-code OAuth and a redis-server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import redis

from tests.e2e.conftest import REPO, stop_worker, wait_for
from zoomq.redis_server import free_port
from zoomq.sandbox.server import SandboxServer

pytestmark = pytest.mark.e2e

TOKENS = "zoomq:oauth:partner"


@dataclass
class Stack:
    url: str
    env: dict[str, str]
    sandbox: SandboxServer

    def zoomq(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run the `zoomq` command as an operator would."""
        return subprocess.run(
            [sys.executable, "-m", "zoomq", *args],
            env=self.env, cwd=REPO, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip

    def link(self, *args: str) -> str:
        done = self.zoomq("connections", "install", "partner", *args)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()


@pytest.fixture
def stack(redis_url: str, tmp_path: Path) -> Iterator[Stack]:
    """The receiver as its own process, configured with OAuth app "partner" whose
    redirect_uri is the receiver's callback (so the CLI derives the link from it)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with SandboxServer() as sandbox:
        connections = tmp_path / "connections.json"
        connections.write_text(
            json.dumps(
                [
                    {
                        "name": "partner",
                        "type": "oauth",
                        "client_id": "sandbox-client",
                        "client_secret": "sandbox-secret",
                        "redirect_uri": f"{url}/oauth/zoom/callback",
                        "oauth_authorize_url": sandbox.authorize_url,
                        "oauth_token_url": sandbox.token_url,
                    }
                ]
            )
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ZOOM", "REDIS"))}
        env.update(
            {
                "PYTHONPATH": str(REPO),
                "REDIS_URL": redis_url,
                "ZOOMQ_CONNECTIONS_FILE": str(connections),
                "ZOOM_API_BASE_URL": sandbox.api_base_url,
                "ZOOMQ_LOG_FORMAT": "json",
            }
        )
        log = tmp_path / "receiver.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "zoomq", "receiver", "--port", str(port)],
                env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip

        def ready() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"the receiver exited:\n{log.read_text()}")
            try:
                return httpx.get(f"{url}/readyz", timeout=1).status_code == 200
            except httpx.TransportError:
                return False

        try:
            wait_for(ready, 30, "the receiver")
            yield Stack(url=url, env=env, sandbox=sandbox)
        finally:
            stop_worker(process)


def consent(browser: httpx.Client, link: str) -> str:
    """Open a link and pass Zoom's consent page: the callback URL the browser is sent to."""
    install = browser.get(link)
    assert install.status_code == 302, install.text
    authorize = browser.get(install.headers["location"])
    assert authorize.status_code == 302, authorize.text
    return str(authorize.headers["location"])


def test_operator_link_installs_once_and_never_replaces_silently(
    stack: Stack, redis_client: redis.Redis
) -> None:
    """Unauthenticated calls write nothing; the CLI's link installs the connection once;
    a link made without --replace cannot overwrite its tokens; --replace can."""
    for query in ({"connection": "partner"}, {}, {"token": "guessed"}):
        refused = httpx.get(f"{stack.url}/oauth/zoom/install", params=query, timeout=10)
        assert refused.status_code == 403
    callback = httpx.get(
        f"{stack.url}/oauth/zoom/callback", params={"code": "c", "state": "s"}, timeout=10
    )
    assert callback.status_code == 400
    assert redis_client.keys("*") == []

    link, early = stack.link(), stack.link()
    assert urlsplit(link).netloc == urlsplit(stack.url).netloc
    done = httpx.get(link, follow_redirects=True, timeout=10)
    assert done.status_code == 200, done.text
    assert "partner is connected" in done.text
    tokens = redis_client.get(TOKENS)
    assert tokens is not None
    assert json.loads(tokens)["refresh_token"]

    before = sorted(redis_client.keys("*"))
    again = httpx.get(link, timeout=10)
    assert again.status_code == 403
    assert "already used" in again.json()["error"]
    assert sorted(redis_client.keys("*")) == before

    with httpx.Client(timeout=10) as browser:
        callback_url = consent(browser, early)
        elsewhere = httpx.get(callback_url, timeout=10)  # the state alone, another browser
        assert elsewhere.status_code == 403
        assert "another browser" in elsewhere.json()["error"]
        kept = browser.get(callback_url)
    assert kept.status_code == 409
    assert "--replace" in kept.json()["error"]
    assert redis_client.get(TOKENS) == tokens

    refused_cli = stack.zoomq("connections", "install", "partner")
    assert refused_cli.returncode == 2
    assert "already installed" in refused_cli.stderr

    replaced = httpx.get(stack.link("--replace"), follow_redirects=True, timeout=10)
    assert replaced.status_code == 200, replaced.text
    assert redis_client.get(TOKENS) != tokens
    tested = stack.zoomq("connections", "test", "partner")
    assert tested.returncode == 0, tested.stderr
    assert "authenticated as" in tested.stdout
