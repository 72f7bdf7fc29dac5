"""``zoomq dev``: everything on embedded defaults, in one terminal.

A private redis-server (data under ``.zoomq/``), the sandbox Zoom unless real
credentials are configured, the receiver on 127.0.0.1:8000 and a worker. It says
"running" only once each port is answered by its own child; it exits non-zero as soon
as a child dies, and Ctrl-C, SIGTERM or SIGHUP (or its own death) stops all of it.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

import click
import httpx

from zoomq.cli.context import fail, pass_settings, zoom_errors
from zoomq.errors import ConfigurationError
from zoomq.processes import (
    exit_status,
    group_pids,
    listener_owners,
    port_holder,
    spawn_kwargs,
    stop_groups,
)
from zoomq.redis_server import RedisServer, free_port
from zoomq.settings import Settings

__all__ = ["dev_command"]

SANDBOX = {
    "ZOOM_ACCOUNT_ID": "sandbox-account",
    "ZOOM_CLIENT_ID": "sandbox-client",
    "ZOOM_CLIENT_SECRET": "sandbox-secret",
}


#: Signals that stop ``zoomq dev``. Handled explicitly: a process started with SIGINT
#: ignored (nohup, CI runners, ``&`` in a script) gets no KeyboardInterrupt from Python.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
GRACE = 10.0  # seconds between SIGTERM and SIGKILL


class _Stopped(Exception):
    """A stop signal arrived."""


class _ChildExited(Exception):
    """A child died while ``zoomq dev`` needed it."""


class _Children:
    """The processes ``zoomq dev`` started, watched together and stopped together."""

    def __init__(self) -> None:
        self.running: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.stop_signal: int | None = None

    def install_handlers(self) -> None:
        for signum in STOP_SIGNALS:
            signal.signal(signum, self._on_signal)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        del frame
        self.stop_signal = signum  # acted on by check(), never mid-Popen

    def spawn(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(argv, env=env, **spawn_kwargs())  # noqa: S603 - our own CLI
        self.running.append((name, proc))
        return proc

    def watch(self, name: str, proc: subprocess.Popen[bytes]) -> None:
        self.running.append((name, proc))

    def check(self) -> None:
        """Raise if a stop signal came or any child has exited."""
        if self.stop_signal is not None:
            raise _Stopped(signal.Signals(self.stop_signal).name)
        for name, proc in self.running:
            code = exit_status(proc)
            if code is not None:
                how = f"signal {_signal_name(-code)}" if code < 0 else f"code {code}"
                raise _ChildExited(f"{name} (pid {proc.pid}) exited with {how}")

    def sleep(self, seconds: float) -> None:
        self.check()
        time.sleep(seconds)
        self.check()

    def stop(self, keep: subprocess.Popen[bytes] | None = None) -> None:
        """Stop every child's process group but ``keep`` (Redis: the others need it to stop)."""
        stop_groups([p for _, p in reversed(self.running) if p is not keep], GRACE)


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:  # a real-time signal has no name
        return str(signum)


def _check_free(port: int, option: str) -> None:
    holder = port_holder(port)
    if holder is not None:
        raise ConfigurationError(
            f"port {port} ({option}) is already in use by another program on {holder}; "
            f"stop it or pass {option} with a free port"
        )


def _wait_ready(
    children: _Children,
    name: str,
    proc: subprocess.Popen[bytes],
    port: int,
    path: str,
    timeout: float = 30,
) -> None:
    """Until ``proc``'s process group holds the only listener on ``port`` and it answers."""
    url = f"http://127.0.0.1:{port}{path}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            answered = httpx.get(url, timeout=0.5).status_code == 200
        except httpx.TransportError:
            answered = False
        children.check()  # an answer from a port our child failed to bind is no answer
        owners = listener_owners(port, group_pids(proc.pid))
        if owners is not None and owners[1]:
            raise ConfigurationError(
                f"port {port} is also held by another program, not only by the {name}; "
                f"stop it or give the {name} another port"
            )
        if answered and (owners is None or owners[0]):
            return
        children.sleep(0.1)
    raise ConfigurationError(f"the {name} did not answer at {url} within {timeout:.0f}s")


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
    }


@click.command("dev")
@click.option(
    "--port", type=click.IntRange(1, 65535), default=8000, show_default=True, help="Receiver port."
)
@click.option(
    "--sandbox-port",
    type=click.IntRange(1, 65535),
    default=9100,
    show_default=True,
    help="Sandbox Zoom port.",
)
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
    children = _Children()
    children.install_handlers()  # first: a signal during start-up stops what has started
    redis_server = RedisServer(
        data_dir / "redis", port=free_port(), persist=True, die_with_parent=True
    )
    try:
        with zoom_errors():
            _check_free(port, "--port")
            use_sandbox = not (settings.zoom_client_id and settings.zoom_client_secret)
            if use_sandbox:
                _check_free(sandbox_port, "--sandbox-port")
            redis_server.start()
            assert redis_server.process is not None
            children.watch("redis-server", redis_server.process)
            _run(children, settings, redis_server, port, sandbox_port, use_sandbox, exit_after)
    except _Stopped as stopped:
        click.echo(f"\nzoomq dev: {stopped}, stopping…", err=True)
    except _ChildExited as exited:
        fail(f"{exited}; stopping the rest")
    finally:
        children.stop(keep=redis_server.process)
        redis_server.stop()


def _run(
    children: _Children,
    settings: Settings,
    redis_server: RedisServer,
    port: int,
    sandbox_port: int,
    use_sandbox: bool,
    exit_after: float | None,
) -> None:
    env = dict(os.environ)
    env["REDIS_URL"] = redis_server.url
    secret_line, secret_arg = _webhook_secret(settings, env)
    hook = f"http://127.0.0.1:{port}/webhooks/zoom"
    python = [sys.executable, "-m", "zoomq"]
    if use_sandbox:
        sandbox_url = f"http://127.0.0.1:{sandbox_port}"
        env.update(_sandbox_env(sandbox_url))
        # The sandbox tells the receiver about changes it makes, as Zoom would.
        sandbox = children.spawn(
            "sandbox",
            [*python, "sandbox", "--port", str(sandbox_port), "--webhook-url", hook],
            env,
        )
        _wait_ready(children, "sandbox", sandbox, sandbox_port, "/_sandbox/state")
    receiver = children.spawn(
        "receiver", [*python, "receiver", "--host", "127.0.0.1", "--port", str(port)], env
    )
    _wait_ready(children, "receiver", receiver, port, "/healthz")
    children.spawn("worker", [*python, "worker"], env)
    children.check()
    click.echo(
        "\nzoomq dev is running:\n"
        f"  redis     {redis_server.url} (data in {redis_server.data_dir})\n"
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
    while exit_after is None or time.monotonic() - started < exit_after:
        children.sleep(0.2)
