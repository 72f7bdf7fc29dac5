"""``zoomq worker`` and ``zoomq dlq``: run the Celery worker, inspect and replay dead letters.

The worker and its app live in the top-level ``worker`` package; they are imported when a
command runs, so the rest of the CLI does not pay for Celery at start-up.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click
import redis

from zoomq.cli.context import fail, load_settings, pass_settings
from zoomq.errors import ConfigurationError
from zoomq.redis_client import redis_client, unreachable
from zoomq.runtime.dlq import DeadLetter, DeadLetterStore
from zoomq.runtime.keys import Keys
from zoomq.runtime.message import TaskMessage
from zoomq.runtime.names import QUEUES
from zoomq.settings import Settings

if TYPE_CHECKING:
    from celery import Celery

__all__ = ["dlq_group", "replay_dead_letters", "worker_command"]

POOLS = ("prefork", "threads", "solo")
DEFAULT_QUEUES = ",".join(QUEUES)


@click.command("worker")
@click.option(
    "--concurrency",
    "-c",
    type=click.IntRange(min=1),
    default=16,
    show_default=True,
    help="Task slots (threads or processes). The work is I/O-bound: ~30 calls per process.",
)
@click.option(
    "--pool",
    "-P",
    type=click.Choice(POOLS),
    default="threads",
    show_default=True,
    help="threads: one Zoom HTTP client per slot; prefork: one process per slot.",
)
@click.option(
    "--queues", "-Q", default=DEFAULT_QUEUES, show_default=True, help="Queues to consume."
)
@click.option("--loglevel", "-l", default=None, help="Log level (default: ZOOMQ_LOG_LEVEL).")
@click.option("--hostname", "-n", default=None, help="Worker node name (Celery's %h works).")
def worker_command(
    concurrency: int, pool: str, queues: str, loglevel: str | None, hostname: str | None
) -> None:
    """Run a Celery worker on zoomq's app: events, actions, downloads and bulk work."""
    from celery import concurrency as pools
    from celery.utils.nodenames import default_nodename, host_format

    from tasks.runtime import get_runtime
    from worker import signals
    from worker.app import create_celery

    settings = load_settings()
    try:
        app = create_celery(settings)
        automations = get_runtime(app).automations  # check the rules file before starting
    except ConfigurationError as exc:
        fail(str(exc), 2)
        return
    if pool == "prefork" and settings.queue.metrics_port and not settings.prometheus_multiproc_dir:
        fail(
            "ZOOMQ_WORKER_METRICS_PORT with --pool prefork needs PROMETHEUS_MULTIPROC_DIR "
            "(an empty directory the pool's processes keep their metrics in)",
            2,
        )
    names = [q.strip() for q in queues.split(",") if q.strip()]
    if not names:
        raise click.BadParameter("give at least one queue", param_hint="--queues")
    # As `celery worker -n` does: %h, %n, %d expanded; a bare name is taken as the host.
    node = host_format(default_nodename(hostname or ""))
    click.echo(
        f"zoomq worker: pool={pool} concurrency={concurrency} queues={','.join(names)} "
        f"automations={len(automations)} node={node}",
        err=True,
    )
    signals.connect()
    worker = app.Worker(
        hostname=node,
        pool_cls=pools.get_implementation(pool),
        concurrency=concurrency,
        queues=names,
        loglevel=(loglevel or settings.zoomq_log_level).upper(),
        quiet=True,  # Celery's banner goes to stdout; the line above says what matters
    )
    _stdout_to_stderr()
    worker.start()
    raise SystemExit(worker.exitcode)


def _stdout_to_stderr() -> None:
    """A worker has no result to print: Celery's shutdown notices (written to the
    process's original stdout) go to stderr with the logs, and stdout stays empty."""
    # Not real files under a test runner: nothing to redirect.
    with contextlib.suppress(OSError, ValueError, io.UnsupportedOperation):
        os.dup2(sys.stderr.fileno(), sys.stdout.fileno())


# -- dead letters ---------------------------------------------------------------------


@contextmanager
def _store(settings: Settings) -> Iterator[DeadLetterStore]:
    client = redis_client(settings, socket_connect_timeout=2, socket_timeout=10)
    try:
        client.ping()
    except redis.RedisError as exc:
        client.close()
        fail(f"Redis at REDIS_URL is unreachable: {unreachable(settings, exc)}", 2)
    try:
        yield DeadLetterStore(client, keys=Keys(settings.zoomq_key_prefix))
    finally:
        client.close()


def replay_dead_letters(
    store: DeadLetterStore,
    send: Callable[[TaskMessage], None],
    entry_id: str | None = None,
) -> list[DeadLetter]:
    """Replay one entry (or every entry when ``entry_id`` is None); returns what was sent."""
    if entry_id is None:
        return store.replay_all(send)
    entry = store.replay(entry_id, send)
    return [entry] if entry is not None else []


@contextmanager
def _sender(settings: Settings) -> Iterator[Callable[[TaskMessage], None]]:
    """Send through zoomq's Celery app, so routing is the worker's own."""
    from worker.app import create_celery, send_message

    try:
        app: Celery = create_celery(settings)
    except ConfigurationError as exc:
        fail(str(exc), 2)
        raise  # unreachable
    try:
        yield lambda message: send_message(app, message)
    finally:
        app.close()


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _error_line(error: dict[str, Any]) -> str:
    kind = str(error.get("type", "?"))
    code = error.get("code")
    message = str(error.get("message", ""))
    text = (
        f"{kind}" + (f" {code}" if code is not None else "") + (f": {message}" if message else "")
    )
    return text if len(text) <= 70 else text[:67] + "..."


@click.group("dlq")
def dlq_group() -> None:
    """The dead-letter store: tasks that failed for good."""


@dlq_group.command("list")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.option("--raw", is_flag=True, help="With --json: secrets in the arguments as stored.")
@pass_settings
def dlq_list(settings: Settings, limit: int, as_json: bool, raw: bool) -> None:
    """List dead letters, most recent failure first."""
    with _store(settings) as store:
        entries = store.entries(limit=limit)
        total = store.count()
    if as_json:
        for entry in entries:
            data = entry.to_dict() if raw else entry.redacted()
            click.echo(json.dumps(data, default=str))
        return
    if not entries:
        click.echo("no dead letters")
        return
    for entry in entries:
        click.echo(
            f"{entry.id}  {entry.message.name}  conn={entry.connection or '-'}  "
            f"attempts={entry.attempts}  last={_when(entry.last_at)}  "
            f"{_error_line(entry.error)}"
        )
    if total > len(entries):
        click.echo(f"... {total - len(entries)} more (use --limit)")


@dlq_group.command("show")
@click.argument("entry_id", metavar="ID")
@click.option("--raw", is_flag=True, help="Show secrets in the arguments (tokens) as stored.")
@pass_settings
def dlq_show(settings: Settings, entry_id: str, raw: bool) -> None:
    """Show one dead letter as JSON (tokens in its arguments redacted unless --raw)."""
    with _store(settings) as store:
        entry = store.get(entry_id)
    if entry is None:
        fail(f"no dead letter {entry_id!r}")
        return
    data = entry.to_dict() if raw else entry.redacted()
    click.echo(json.dumps(data, indent=2, default=str))


@dlq_group.command("replay")
@click.argument("entry_id", metavar="ID", required=False)
@click.option("--all", "replay_all", is_flag=True, help="Replay every dead letter.")
@pass_settings
def dlq_replay(settings: Settings, entry_id: str | None, replay_all: bool) -> None:
    """Send a dead letter (or --all) again with a fresh retry budget, and remove it."""
    if bool(entry_id) == replay_all:
        raise click.UsageError("give an ID or --all (not both)")
    with _store(settings) as store, _sender(settings) as send:
        sent = replay_dead_letters(store, send, None if replay_all else entry_id)
    if entry_id and not sent:
        with _store(settings) as store:
            kept = store.get(entry_id)
        if kept is not None:  # an undecodable message: nothing to send, kept for inspection
            fail(
                f"{entry_id!r} is a message the worker could not decode; it has no task to "
                f"replay (see `zoomq dlq show {entry_id}`; `zoomq dlq purge` removes it)",
                2,
            )
        fail(f"no dead letter {entry_id!r}")
    for entry in sent:
        click.echo(f"replayed {entry.id}  {entry.message.name}")
    if replay_all:
        click.echo(f"{len(sent)} replayed")


@dlq_group.command("purge")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_settings
def dlq_purge(settings: Settings, yes: bool) -> None:
    """Delete every dead letter."""
    if not yes:
        click.confirm("Delete every dead letter?", abort=True)
    with _store(settings) as store:
        count = store.purge()
    click.echo(f"{count} purged")
