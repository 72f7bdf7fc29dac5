"""``zoomq dev``: everything on embedded defaults, in one terminal.

A private redis-server (data under ``.zoomq/``), the sandbox Zoom unless real
credentials are configured, the receiver on 127.0.0.1:8000 and a worker. It says
"running" only once each port is answered by its own child; it exits non-zero as soon
as a child dies, and Ctrl-C, SIGTERM or SIGHUP (or its own death) stops all of it.
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any, NamedTuple

import click
import httpx

from zoomq.cli.context import fail, pass_settings, zoom_errors
from zoomq.cli.devstate import STATE_FILE, remove_state, write_state
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

__all__ = ["DEV_KEY_NAME", "dev_command", "zoomq_command"]

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


class _Ports(NamedTuple):
    receiver: int
    sandbox: int


def _webhook_secret(settings: Settings, env: dict[str, str]) -> tuple[str, str | None]:
    """The secret for the children's environment; what to print of it, and the generated one.

    A configured secret is never printed nor written to the state file: ``zoomq webhook
    send`` finds it where the user configured it.
    """
    if settings.zoom_webhook_secret_token is not None:
        return "from ZOOM_WEBHOOK_SECRET_TOKEN", None
    generated = secrets.token_urlsafe(24)  # made here, so printing it gives nothing away
    env["ZOOM_WEBHOOK_SECRET_TOKEN"] = generated
    return f"{generated} (generated)", generated


#: The tenant name of the API key ``zoomq dev`` generates.
DEV_KEY_NAME = "dev"


def _api_key(settings: Settings, env: dict[str, str]) -> tuple[str, str | None]:
    """The ``/v1`` key for the receiver's environment, as ``_webhook_secret`` does it:
    what to print of it, and the generated one. Configured keys are never printed."""
    if settings.jobs.api_keys:
        names = ", ".join(k.name for k in settings.jobs.api_keys)
        return f"from ZOOMQ_API_KEYS ({names})", None
    generated = secrets.token_urlsafe(32)  # 43 characters, past MIN_API_KEY_LENGTH
    env["ZOOMQ_API_KEYS"] = json.dumps([{"name": DEV_KEY_NAME, "key": generated}])
    return f"{generated} (generated, tenant {DEV_KEY_NAME!r})", generated


def zoomq_command(cwd: Path | None = None) -> str:
    """How to run this very ``zoomq`` from a shell in ``cwd``: ``zoomq`` if that is what PATH
    finds, else its path (relative when inside ``cwd``), as a Quickstart venv is not active."""
    argv0 = sys.argv[0]
    if argv0.endswith("__main__.py"):  # python -m zoomq: the venv's own script, if any
        found: str | None = str(Path(sys.executable).parent / "zoomq")
    else:
        found = shutil.which(argv0) if os.sep not in argv0 else argv0
    if found is None or not Path(found).is_file():
        return f"{shlex.quote(sys.executable)} -m zoomq"
    on_path = shutil.which("zoomq")
    if on_path is not None and Path(on_path).resolve() == Path(found).resolve():
        return "zoomq"
    path = Path(os.path.abspath(found))
    base = Path(os.path.abspath(cwd or Path.cwd()))
    if path.is_relative_to(base):
        return shlex.quote(str(path.relative_to(base)))  # has a slash: never a PATH lookup
    return shlex.quote(str(path))


def _state_settings(env: dict[str, str], sandbox_env: dict[str, str]) -> dict[str, Any]:
    """What a second terminal needs of this stack, as ``Settings`` field values."""
    values: dict[str, Any] = {"redis_url": env["REDIS_URL"]}
    for name, value in sandbox_env.items():
        values[name.lower()] = json.loads(value) if name == "ZOOM_API_HOSTS" else value
    return values


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
            use_sandbox = not (settings.zoom_client_id and settings.zoom_client_secret)
            if use_sandbox and port == sandbox_port:
                raise ConfigurationError(
                    f"--port and --sandbox-port are both {port}: the receiver and the "
                    "sandbox Zoom need a port each; give them different ones"
                )
            _check_free(port, "--port")
            if use_sandbox:
                _check_free(sandbox_port, "--sandbox-port")
            redis_server.start()
            assert redis_server.process is not None
            children.watch("redis-server", redis_server.process)
            _run(
                children,
                settings,
                redis_server,
                _Ports(port, sandbox_port),
                use_sandbox,
                exit_after,
                STATE_FILE,
            )
    except _Stopped as stopped:
        click.echo(f"\nzoomq dev: {stopped}, stopping…", err=True)
    except _ChildExited as exited:
        fail(f"{exited}; stopping the rest")
    finally:
        remove_state(STATE_FILE)  # first: the stack it describes is going away
        children.stop(keep=redis_server.process)
        redis_server.stop()


def _run(
    children: _Children,
    settings: Settings,
    redis_server: RedisServer,
    ports: _Ports,
    use_sandbox: bool,
    exit_after: float | None,
    state_file: Path,
) -> None:
    env = dict(os.environ)
    env["REDIS_URL"] = redis_server.url
    secret_line, generated = _webhook_secret(settings, env)
    key_line, api_key = _api_key(settings, env)
    hook = f"http://127.0.0.1:{ports.receiver}/webhooks/zoom"
    python = [sys.executable, "-m", "zoomq"]
    sandbox_env: dict[str, str] = {}
    if use_sandbox:
        sandbox_url = f"http://127.0.0.1:{ports.sandbox}"
        sandbox_env = _sandbox_env(sandbox_url)
        env.update(sandbox_env)
        # Recording downloads redirect to the sandbox's "CDN", on this host and port.
        env["ZOOMQ_ARCHIVE_DOWNLOAD_HOSTS"] = f"127.0.0.1:{ports.sandbox}"
        # The sandbox tells the receiver about changes it makes, as Zoom would.
        sandbox = children.spawn(
            "sandbox",
            [*python, "sandbox", "--port", str(ports.sandbox), "--webhook-url", hook],
            env,
        )
        _wait_ready(children, "sandbox", sandbox, ports.sandbox, "/_sandbox/state")
    receiver = children.spawn(
        "receiver", [*python, "receiver", "--host", "127.0.0.1", "--port", str(ports.receiver)],
        env,
    )  # fmt: skip
    _wait_ready(children, "receiver", receiver, ports.receiver, "/healthz")
    children.spawn("worker", [*python, "worker"], env)
    children.check()
    state = _state_settings(env, sandbox_env)
    if use_sandbox:
        state["archive_download_hosts"] = [f"127.0.0.1:{ports.sandbox}"]
    if generated is not None:
        state["zoom_webhook_secret_token"] = generated
    api_url = f"http://127.0.0.1:{ports.receiver}"
    api = {"api_url": api_url}
    if api_key is not None:
        api["api_key"] = api_key
    write_state(state_file, state, api)
    zoomq = zoomq_command()
    secret_arg = f" --secret '{generated}'" if generated is not None else ""
    click.echo(
        "\nzoomq dev is running:\n"
        f"  redis     {redis_server.url} (data in {redis_server.data_dir})\n"
        + (f"  sandbox   http://127.0.0.1:{ports.sandbox}/v2 (Zoom emulator)\n"
           if use_sandbox else "  zoom      real account from ZOOM_* settings\n")
        + f"  receiver  {hook}\n"
        + f"  jobs API  {api_url}/v1 (OpenAPI: {api_url}/v1/openapi.json)\n"
        "  worker    celery, queues events,actions,downloads,bulk\n"
        f"  webhook secret: {secret_line}\n"
        f"  API key   {key_line}\n\n"
        f"Other terminals in this directory use this stack: {state_file} tells `zoomq`\n"
        "commands where it is, while nothing else is configured. Try:\n"
        f"  {zoomq} webhook send meeting.created --to {hook}{secret_arg}\n"
        + (f"""  {zoomq} action getUser --input '{{"userId": "me"}}'\n""" if use_sandbox else "")
        + (f"""  echo '{{"userId": "me"}}' > users.jsonl && {zoomq} jobs submit """
           """-a getUser --items users.jsonl --wait\n""" if use_sandbox else "")
        + f"  {zoomq} dlq list\n\n"
        "Ctrl-C stops everything.\n"
    )  # fmt: skip
    started = time.monotonic()
    while exit_after is None or time.monotonic() - started < exit_after:
        children.sleep(0.2)
