"""``zoomq dev``: everything on embedded defaults, in one terminal.

A private redis-server (data under ``.zoomq/``), the sandbox Zoom unless real
credentials are configured, the receiver on 127.0.0.1:8000 and a worker. Ctrl-C
stops all of it.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import click
import httpx

from zoomq.cli.context import pass_settings, zoom_errors
from zoomq.redis_server import RedisServer, free_port
from zoomq.settings import Settings

__all__ = ["dev_command"]

SANDBOX = {
    "ZOOM_ACCOUNT_ID": "sandbox-account",
    "ZOOM_CLIENT_ID": "sandbox-client",
    "ZOOM_CLIENT_SECRET": "sandbox-secret",
}


def _wait_http(url: str, proc: subprocess.Popen[bytes], name: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise click.ClickException(f"{name} exited with code {proc.returncode}")
        try:
            httpx.get(url, timeout=0.5)
        except httpx.TransportError:
            time.sleep(0.1)
        else:
            return
    raise click.ClickException(f"{name} did not answer at {url}")


def _webhook_secret(settings: Settings, env: dict[str, str]) -> tuple[str, str]:
    """The secret for the children's environment; what to print of it, and how to pass it."""
    if settings.zoom_webhook_secret_token is not None:  # configured: never printed
        return "from ZOOM_WEBHOOK_SECRET_TOKEN", '"$ZOOM_WEBHOOK_SECRET_TOKEN"'
    generated = secrets.token_urlsafe(24)  # made here, so printing it gives nothing away
    env["ZOOM_WEBHOOK_SECRET_TOKEN"] = generated
    return f"{generated} (generated)", f"'{generated}'"


def _sandbox_env(sandbox_url: str) -> dict[str, str]:
    return {
        **SANDBOX,
        "ZOOM_API_BASE_URL": f"{sandbox_url}/v2",
        "ZOOM_OAUTH_TOKEN_URL": f"{sandbox_url}/oauth/token",
        "ZOOM_OAUTH_AUTHORIZE_URL": f"{sandbox_url}/oauth/authorize",
        "ZOOM_API_HOSTS": '["127.0.0.1"]',
    }


@click.command("dev")
@click.option("--port", default=8000, show_default=True, help="Receiver port.")
@click.option("--sandbox-port", default=9100, show_default=True)
@click.option(
    "--data-dir", type=click.Path(path_type=Path), default=Path(".zoomq"), show_default=True
)
@click.option(
    "--exit-after",
    type=float,
    default=None,
    hidden=True,
    help="Stop after this many seconds (for tests).",
)
@pass_settings
def dev_command(
    settings: Settings, port: int, sandbox_port: int, data_dir: Path, exit_after: float | None
) -> None:
    """Run Redis, the sandbox Zoom, the receiver and a worker together."""
    env = dict(os.environ)
    procs: list[tuple[str, subprocess.Popen[bytes]]] = []
    with zoom_errors():
        redis_server = RedisServer(data_dir / "redis", port=free_port(), persist=True).start()
    env["REDIS_URL"] = redis_server.url
    secret_line, secret_arg = _webhook_secret(settings, env)
    hook = f"http://127.0.0.1:{port}/webhooks/zoom"
    use_sandbox = not (settings.zoom_client_id and settings.zoom_client_secret)
    python = [sys.executable, "-m", "zoomq"]
    try:
        if use_sandbox:
            sandbox_url = f"http://127.0.0.1:{sandbox_port}"
            env.update(_sandbox_env(sandbox_url))
            # The sandbox tells the receiver about changes it makes, as Zoom would.
            sandbox = subprocess.Popen(  # noqa: S603 - our own CLI
                [*python, "sandbox", "--port", str(sandbox_port), "--webhook-url", hook], env=env
            )
            procs.append(("sandbox", sandbox))
            _wait_http(f"{sandbox_url}/_sandbox/state", sandbox, "sandbox")
        receiver = subprocess.Popen(  # noqa: S603 - our own CLI
            [*python, "receiver", "--host", "127.0.0.1", "--port", str(port)], env=env
        )
        procs.append(("receiver", receiver))
        _wait_http(f"http://127.0.0.1:{port}/healthz", receiver, "receiver")
        worker = subprocess.Popen([*python, "worker"], env=env)  # noqa: S603 - our own CLI
        procs.append(("worker", worker))
        click.echo(
            "\nzoomq dev is running:\n"
            f"  redis     {redis_server.url} (data in {data_dir / 'redis'})\n"
            + (f"  sandbox   http://127.0.0.1:{sandbox_port}/v2 (Zoom emulator)\n"
               if use_sandbox else "  zoom      real account from ZOOM_* settings\n")
            + f"  receiver  {hook}\n"
            "  worker    celery, queues events,actions,downloads,bulk\n"
            f"  webhook secret: {secret_line}\n\n"
            "Send a signed test event:\n"
            f"  zoomq webhook send meeting.created --to {hook} --secret {secret_arg}\n\n"
            "Ctrl-C stops everything.\n"
        )  # fmt: skip
        started = time.monotonic()
        while all(p.poll() is None for _, p in procs):
            if exit_after is not None and time.monotonic() - started > exit_after:
                break
            time.sleep(0.2)
        for name, p in procs:
            if p.poll() is not None:
                click.echo(f"{name} exited with code {p.returncode}; stopping", err=True)
    except KeyboardInterrupt:
        click.echo("\nstopping…")
    finally:
        for _, p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for _, p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        redis_server.stop()
