"""``zoomq jobs``: submit bulk jobs to a receiver's ``/v1`` API, follow them, read results.

Every command talks HTTP to the receiver (``--url``, default ``$ZOOMQ_API_URL`` or
``http://127.0.0.1:8000``, where ``zoomq receiver`` and ``zoomq dev`` listen) with an API
key from ``$ZOOMQ_API_KEY`` or ``--api-key-file`` (its first line). The key is never
printed nor passed on the command line, where ``ps`` would show it.

stdout is the result (one JSON document, or NDJSON for ``results``); notes, errors and the
progress bar (``rich``, on stderr, only on a terminal) are on stderr. Exit codes: 0 done,
2 invalid input (the message names the line, field or option), 1 anything else (the API
refused, the receiver is unreachable, or ``--wait`` saw items fail).

Items files: ``.jsonl`` / ``.ndjson`` hold one JSON object per line (blank lines skipped).
``.csv`` has a header row of field names; a dotted name builds a nested object
(``settings.host_video`` -> ``{"settings": {"host_video": ...}}``); an empty cell leaves
the field out; a cell that starts with ``{`` or ``[`` is parsed as JSON (lists, objects);
every other cell is a string, which the action's input model converts (``"85746065432"``
to a meeting id, ``"true"`` to a boolean).
"""

from __future__ import annotations

import csv
import json
import os
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
import orjson
from pydantic import BaseModel
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from zoomq.cli.connections import DEFAULT_RECEIVER_URL
from zoomq.cli.context import fail
from zoomq.errors import APIError, InvalidInput, ZoomError
from zoomq.jobs.api import JobBody
from zoomq.jobs.client import Client, finished
from zoomq.jobs.models import ItemState

__all__ = ["jobs_group", "read_items"]

_SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}


class _BadItems(Exception):
    """A line of the items file that is not an item; names the file and line."""


def _csv_row(row: Mapping[str, str | None], where: str) -> dict[str, Any]:
    item: dict[str, Any] = {}
    for name, cell in row.items():
        if name is None:  # more cells than header fields
            raise _BadItems(f"{where}: more cells than the header has fields")
        if cell is None or cell == "":
            continue
        value: Any = cell
        if cell.lstrip()[:1] in ("{", "["):
            try:
                value = json.loads(cell)
            except ValueError as exc:
                raise _BadItems(f"{where}: column {name!r} is not valid JSON: {exc}") from None
        parts = name.strip().split(".")
        if not all(parts):
            raise _BadItems(f"{where}: column name {name!r} has an empty part")
        target = item
        for part in parts[:-1]:
            nested = target.setdefault(part, {})
            if not isinstance(nested, dict):
                raise _BadItems(f"{where}: column {name!r} clashes with column {part!r}")
            target = nested
        if parts[-1] in target:
            raise _BadItems(f"{where}: column {name!r} is given twice")
        target[parts[-1]] = value
    return item


def read_items(path: Path) -> Iterator[dict[str, Any]]:
    """The items of a ``.jsonl``/``.ndjson`` or ``.csv`` file, read one at a time."""
    kind = _SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise _BadItems(f"{path}: expected a .jsonl, .ndjson or .csv file")
    with path.open(encoding="utf-8", newline="") as handle:
        if kind == "csv":
            reader = csv.DictReader(handle)
            if not reader.fieldnames:
                raise _BadItems(f"{path}: no header row")
            for row in reader:
                yield _csv_row(row, f"{path}:{reader.line_num}")
            return
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                item = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise _BadItems(f"{path}:{number}: not JSON: {exc}") from None
            if not isinstance(item, dict):
                raise _BadItems(f"{path}:{number}: expected a JSON object")
            yield item


def _emit(value: BaseModel | Mapping[str, Any]) -> None:
    data = value.model_dump(mode="json") if isinstance(value, BaseModel) else value
    click.echo(json.dumps(data, ensure_ascii=False, default=str))


@contextmanager
def _api_errors() -> Iterator[None]:
    """The client's errors as exits: 2 for what the input must fix, 1 for the rest."""
    try:
        yield
    except _BadItems as exc:
        fail(str(exc), 2)
    except InvalidInput as exc:
        click.echo(f"error: {exc}", err=True)
        for error in exc.errors[:50]:
            where = str(error.get("field") or "")
            if error.get("index") is not None:
                where = f"item {error['index']}: {where}"
            reason = error.get("reason") or error.get("message")
            click.echo(f"  {where}: {reason}", err=True)
        if len(exc.errors) > 50:
            click.echo(f"  ... and {len(exc.errors) - 50} more", err=True)
        sys.exit(2)
    except APIError as exc:
        fail(f"{exc.status}: {exc.message}", 1)
    except ZoomError as exc:
        fail(str(exc), 1)


def _api_key(api_key_file: Path | None, from_env: str | None) -> str:
    if api_key_file is not None:
        try:
            lines = api_key_file.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            fail(f"--api-key-file {api_key_file}: {exc.strerror or exc}", 2)
            raise  # unreachable
        key = lines[0].strip() if lines else ""
        if not key:
            fail(f"--api-key-file {api_key_file}: the file is empty", 2)
        return key
    if not from_env:
        fail("no API key: set ZOOMQ_API_KEY or pass --api-key-file FILE", 2)
    return str(from_env).strip()


def _client_options(fn: Any) -> Any:
    fn = click.option(
        "--url",
        envvar="ZOOMQ_API_URL",
        default=DEFAULT_RECEIVER_URL,
        show_default=True,
        help="The receiver's base URL (or $ZOOMQ_API_URL).",
    )(fn)
    fn = click.option(
        "--api-key-file",
        type=click.Path(path_type=Path, dir_okay=False),
        help="A file whose first line is the API key (default: $ZOOMQ_API_KEY).",
    )(fn)
    # From the environment only: hidden, and never shown with a default.
    return click.option("--api-key", "api_key_env", envvar="ZOOMQ_API_KEY", hidden=True)(fn)


def _open(url: str, api_key_file: Path | None, api_key_env: str | None) -> Client:
    if not url.startswith(("http://", "https://")):
        fail(f"--url {url!r}: expected http:// or https://", 2)
    return Client(url, _api_key(api_key_file, api_key_env))


@click.group("jobs")
def jobs_group() -> None:
    """Bulk jobs over the receiver's /v1 API: submit, status, results, cancel, list."""


class _Bar:
    """Done of total, rate, ETA and failures, on stderr; nothing off a terminal."""

    def __init__(self, console: Console | None = None) -> None:
        console = console or Console(stderr=True)
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]:>8.1f}/s"),
            TextColumn("ETA {task.fields[eta]}"),
            TextColumn("failed {task.fields[failed]}"),
            console=console,
            disable=not console.is_terminal,
        )
        self.task = self.progress.add_task("job", total=None, rate=0.0, eta="-", failed=0)

    def show(self, job: JobBody) -> None:
        counts = {str(k): v for k, v in job.counts.items()}
        done = sum(counts.get(s, 0) for s in _FINAL)
        failed = counts.get(ItemState.FAILED, 0) + counts.get(ItemState.DEAD, 0)
        eta = "-" if job.eta_seconds is None else f"{job.eta_seconds:.0f}s"
        self.progress.update(
            self.task,
            description=f"{job.job_id[:12]} {job.status}",
            total=job.items,
            completed=done,
            rate=job.rate,
            eta=eta,
            failed=failed,
        )


_FINAL = (ItemState.SUCCEEDED, ItemState.FAILED, ItemState.DEAD, ItemState.CANCELLED)


def _follow(client: Client, job_id: str, timeout: float | None) -> JobBody:
    bar = _Bar()
    delay = 0.5
    with bar.progress:
        job = client.get(job_id)
        bar.show(job)
        deadline = None if timeout is None else time.monotonic() + timeout
        while not finished(job):
            if deadline is not None and time.monotonic() > deadline:
                fail(f"job {job_id} is still {job.status} after --timeout {timeout:g}s", 1)
            time.sleep(delay)
            delay = min(delay * 1.25, 2.0)
            job = client.get(job_id)
            bar.show(job)
    return job


def _failed(job: JobBody) -> int:
    counts = {str(k): v for k, v in job.counts.items()}
    return sum(counts.get(s, 0) for s in (ItemState.FAILED, ItemState.DEAD, ItemState.CANCELLED))


@jobs_group.command("submit")
@click.option(
    "--action", "-a", required=True, help="The catalog action, e.g. addMeetingRegistrant."
)
@click.option(
    "--items",
    "items_path",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="FILE.jsonl, FILE.ndjson or FILE.csv: one item (the action's input) per line/row.",
)
@click.option("--connection", "-c", help="Connection name (default: the receiver's default).")
@click.option("--idempotency-key", help="The same key and body give back the same job.")
@click.option("--callback-url", help="POSTed (signed) when the job completes.")
@click.option("--priority", type=click.Choice(["low", "normal", "high"]), default="normal")
@click.option(
    "--batch/--no-batch",
    default=True,
    help="Registrants through Zoom's batch endpoints where eligible (default), or one by one.",
)
@click.option("--wait", is_flag=True, help="Follow the job to its end (progress on stderr).")
@click.option("--timeout", type=click.FloatRange(min=0), help="With --wait: give up after (s).")
@_client_options
def _submit_command(
    action: str,
    items_path: Path,
    connection: str | None,
    idempotency_key: str | None,
    callback_url: str | None,
    priority: str,
    batch: bool,
    wait: bool,
    timeout: float | None,
    url: str,
    api_key_file: Path | None,
    api_key_env: str | None,
) -> None:
    """Submit a job: every item of --items is checked before any is queued.

    Prints the accepted job (with --wait: the finished job) as JSON. With --wait, exits 1
    if any item failed, died or was cancelled.
    """
    with _api_errors():
        # A first pass checks the file (naming a bad line) before anything is sent; the
        # second streams it: neither holds it whole.
        count = sum(1 for _ in read_items(items_path))
        if not count:
            fail(f"--items {items_path}: no items", 2)
    with _api_errors(), _open(url, api_key_file, api_key_env) as client:
        accepted = client.submit(
            action,
            read_items(items_path),
            connection=connection,
            idempotency_key=idempotency_key,
            callback_url=callback_url,
            priority=priority,  # type: ignore[arg-type]  # click.Choice checked it
            batch=batch,
        )
        if not wait:
            _emit(accepted)
            return
        job = _follow(client, accepted.job_id, timeout)
        _emit(job)
        if _failed(job):
            sys.exit(1)


@jobs_group.command("status")
@click.argument("job_id")
@_client_options
def _status_command(
    job_id: str, url: str, api_key_file: Path | None, api_key_env: str | None
) -> None:
    """The job's counts per state, progress, rate and ETA, as JSON."""
    with _api_errors(), _open(url, api_key_file, api_key_env) as client:
        _emit(client.get(job_id))


@jobs_group.command("results")
@click.argument("job_id")
@_client_options
def _results_command(
    job_id: str, url: str, api_key_file: Path | None, api_key_env: str | None
) -> None:
    """Every item's result as NDJSON, in index order: `zoomq jobs results ID > out.ndjson`."""
    with _api_errors(), _open(url, api_key_file, api_key_env) as client:
        out = sys.stdout.buffer
        try:
            for item in client.iter_results(job_id):
                out.write(orjson.dumps(item.model_dump(mode="json")) + b"\n")
            out.flush()
        except BrokenPipeError:  # `| head`: the reader has what it wanted
            # Point stdout at nothing, so the interpreter's final flush fails silently too.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            sys.exit(0)


@jobs_group.command("cancel")
@click.argument("job_id")
@_client_options
def _cancel_command(
    job_id: str, url: str, api_key_file: Path | None, api_key_env: str | None
) -> None:
    """Cancel the job: queued items are cancelled, running ones finish."""
    with _api_errors(), _open(url, api_key_file, api_key_env) as client:
        _emit(client.cancel(job_id))


@jobs_group.command("retry-failed")
@click.argument("job_id")
@_client_options
def _retry_command(
    job_id: str, url: str, api_key_file: Path | None, api_key_env: str | None
) -> None:
    """Queue the job's failed and dead items again."""
    with _api_errors(), _open(url, api_key_file, api_key_env) as client:
        _emit(client.retry_failed(job_id))


@jobs_group.command("list")
@click.option("--limit", type=click.IntRange(1, 100), default=20, show_default=True)
@click.option("--cursor", type=click.IntRange(min=0), help="A previous page's next_cursor.")
@_client_options
def _list_command(
    limit: int,
    cursor: int | None,
    url: str,
    api_key_file: Path | None,
    api_key_env: str | None,
) -> None:
    """This API key's jobs, newest first, as JSON (with next_cursor for the next page)."""
    with _api_errors(), _open(url, api_key_file, api_key_env) as client:
        _emit(client.list_jobs(cursor=cursor, limit=limit))
