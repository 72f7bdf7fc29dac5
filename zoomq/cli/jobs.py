"""``zoomq jobs``: submit bulk jobs to a receiver's ``/v1`` API, follow them, read results.

Every command talks HTTP to the receiver (``--url``, default ``$ZOOMQ_API_URL`` or
``http://127.0.0.1:8000``, where ``zoomq receiver`` and ``zoomq dev`` listen) with an API
key from ``--api-key-file`` (its first line) or ``$ZOOMQ_API_KEY``. The key is never
printed nor taken from the command line, where ``ps`` would show it. With neither set and
a ``zoomq dev`` running in this directory, its receiver URL and generated key are used
(from ``.zoomq/dev.json``), and a note on stderr says so.

stdout is the result (one JSON document, or NDJSON for ``results``); notes, errors and the
progress bar (``rich``, on stderr, only on a terminal) are on stderr. Exit codes: 0 done,
2 invalid input (the message names the line, field or option), 1 anything else (the API
refused, the receiver is unreachable, or ``--wait`` saw items fail).

Items files: ``.jsonl`` / ``.ndjson`` hold one JSON object per line (blank lines skipped).
``.csv`` is comma-separated (a ``;``-separated file is refused, saying so), UTF-8 with or
without a BOM, with a header row of distinct field names; a dotted name builds a nested
object (``settings.host_video`` -> ``{"settings": {"host_video": ...}}``); an empty cell
leaves the field out; a cell that starts with ``{`` or ``[`` is parsed as JSON (lists,
objects). Other cells: under a free-form object of the action's input (``createMeeting``'s
``settings``), where no model converts them, ``true``/``false``/``null`` and JSON numbers
are parsed as such; everywhere else the cell is a string, which the action's input model
converts (``"85746065432"`` to a meeting id, ``"true"`` to a boolean) or keeps (a
``password`` of ``"123456"`` stays a string).
"""

from __future__ import annotations

import csv
import difflib
import json
import os
import re
import sys
import time
import typing
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

import click
import httpx
import orjson
from pydantic import BaseModel
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from receiver.jobs import MAX_LINE_BYTES
from zoomq.actions import CATALOG
from zoomq.cli.connections import DEFAULT_RECEIVER_URL
from zoomq.cli.context import fail
from zoomq.cli.devstate import read_live_state
from zoomq.errors import APIError, InvalidInput, InvalidItems, TransportError, ZoomError
from zoomq.jobs.api import JobBody
from zoomq.jobs.client import Client, finished
from zoomq.jobs.models import ItemState

__all__ = ["jobs_group", "read_items"]

_SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}


class _BadItems(Exception):
    """A line of the items file that is not an item; names the file and line."""


def _free_form(model: type[BaseModel] | None, name: str) -> bool:
    """Whether column ``name`` lands in a free-form object of ``model`` (``dict[str, Any]``),
    where no field type converts a cell's text."""
    parts = name.strip().split(".")
    if model is None or len(parts) < 2:
        return False
    for field_name, info in model.model_fields.items():
        if parts[0] in (field_name, info.alias):
            return _is_dict(info.annotation)
    return False


def _is_dict(annotation: Any) -> bool:
    if typing.get_origin(annotation) in (dict, Mapping):
        return True
    return any(_is_dict(a) for a in typing.get_args(annotation) if a is not type(None))


def _literal(cell: str) -> Any:
    """``true``/``false``/``null`` or a JSON number as its value; any other text as is."""
    text = cell.strip()
    if text in _LITERALS:
        return _LITERALS[text]
    if _NUMBER.fullmatch(text):
        return orjson.loads(text)
    return cell


_LITERALS: dict[str, Any] = {"true": True, "false": False, "null": None}
_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")


def _csv_row(
    row: Mapping[str, str | None], where: str, free: frozenset[str] = frozenset()
) -> dict[str, Any]:
    item: dict[str, Any] = {}
    for name, cell in row.items():
        if name is None:  # more cells than header fields
            raise _BadItems(f"{where}: more cells than the header has fields")
        if cell is None or cell == "":
            continue
        value: Any = _literal(cell) if name in free else cell
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


def _check_header(path: Path, names: Sequence[str] | None) -> None:
    if not names:
        raise _BadItems(f"{path}: no header row")
    if len(names) == 1 and ";" in names[0]:
        raise _BadItems(f"{path}:1: the header is separated by ';': use commas")
    seen: set[str] = set()
    for name in names:
        if name.strip() in seen:
            raise _BadItems(f"{path}:1: column {name.strip()!r} appears twice in the header")
        seen.add(name.strip())


def read_items(path: Path, model: type[BaseModel] | None = None) -> Iterator[dict[str, Any]]:
    """The items of a ``.jsonl``/``.ndjson`` or ``.csv`` file, read one at a time.

    ``model`` (the action's input) tells which CSV columns are free-form (see above).
    """
    kind = _SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise _BadItems(f"{path}: expected a .jsonl, .ndjson or .csv file")
    # utf-8-sig: a spreadsheet's BOM is not part of the first column's name.
    with path.open(encoding="utf-8-sig", newline="") as handle:
        if kind == "csv":
            reader = csv.DictReader(handle)
            _check_header(path, reader.fieldnames)
            assert reader.fieldnames is not None
            free = frozenset(n for n in reader.fieldnames if _free_form(model, n))
            for row in reader:
                where = f"{path}:{reader.line_num}"
                yield _fits(_csv_row(row, where, free), where)
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
            yield _fits(item, f"{path}:{number}")


def _fits(item: dict[str, Any], where: str) -> dict[str, Any]:
    """``item``, if the receiver takes it as one NDJSON line (``MAX_LINE_BYTES``)."""
    size = len(orjson.dumps(item)) + 1
    if size > MAX_LINE_BYTES:
        raise _BadItems(f"{where}: the item is {size} bytes, over the {MAX_LINE_BYTES} a job takes")
    return item


def _emit(value: BaseModel | Mapping[str, Any]) -> None:
    data = value.model_dump(mode="json") if isinstance(value, BaseModel) else value
    click.echo(json.dumps(data, ensure_ascii=False, default=str))


@contextmanager
def _api_errors(url: str | None = None) -> Iterator[None]:
    """The client's errors as exits: 2 for what the input must fix, 1 for the rest."""
    try:
        yield
    except _BadItems as exc:
        fail(str(exc), 2)
    except InvalidItems as exc:
        click.echo(f"error: 422 invalid_items: {exc.count} invalid item(s)", err=True)
        _print_errors(exc.errors, len(exc.errors) if exc.total is None else exc.total)
        sys.exit(2)
    except InvalidInput as exc:
        click.echo(f"error: {str(exc).split(' (', 1)[0]}", err=True)
        _print_errors(exc.errors, len(exc.errors))
        sys.exit(2)
    except APIError as exc:
        fail(f"{exc.status} {exc.message}", 1)
    except TransportError as exc:
        if url is not None and isinstance(exc.__cause__, httpx.ConnectError):
            fail(f"no receiver at {url}: start `zoomq dev` or pass --url", 1)
        fail(str(exc), 1)
    except ZoomError as exc:
        fail(str(exc), 1)


def _print_errors(errors: Sequence[Mapping[str, Any]], total: int) -> None:
    """Each listed error once, then how many more there are."""
    for error in errors[:_SHOWN]:
        where = str(error.get("field") or "")
        if error.get("index") is not None:
            where = f"item {error['index']}: {where}"
        reason = error.get("reason") or error.get("message")
        click.echo(f"  {where}: {reason}", err=True)
    if total > min(len(errors), _SHOWN):
        click.echo(f"  …and {total - min(len(errors), _SHOWN)} more", err=True)


_SHOWN = 50


def _api_key(api_key_file: Path | None, dev_key: str | None) -> str:
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
    # The environment, never the command line: ``ps`` shows arguments to everyone.
    from_env = os.environ.get("ZOOMQ_API_KEY", "").strip()
    if from_env:
        return from_env
    if dev_key:
        return dev_key
    fail("no API key: set ZOOMQ_API_KEY, pass --api-key-file FILE or run `zoomq dev` here", 2)
    raise AssertionError  # unreachable


def _client_options(fn: Any) -> Any:
    fn = click.option(
        "--url",
        envvar="ZOOMQ_API_URL",
        default=None,
        help=(
            f"The receiver's base URL (or $ZOOMQ_API_URL; default: the running `zoomq dev`'s, "
            f"else {DEFAULT_RECEIVER_URL})."
        ),
    )(fn)
    return click.option(
        "--api-key-file",
        type=click.Path(path_type=Path, dir_okay=False),
        help="A file whose first line is the API key (default: $ZOOMQ_API_KEY).",
    )(fn)


class _Target(NamedTuple):
    url: str
    api_key: str


def _target(url: str | None, api_key_file: Path | None) -> _Target:
    """Where to send requests and with which key; the running ``zoomq dev``'s fill the gaps."""
    dev = read_live_state()
    api = dev.api if dev is not None else {}
    dev_url = api.get("api_url")
    url = url or dev_url or DEFAULT_RECEIVER_URL
    if not url.startswith(("http://", "https://")):
        fail(f"--url {url!r}: expected http:// or https://", 2)
    # The dev key only ever goes to the dev receiver, and only when no key is given.
    own_key = api_key_file is not None or bool(os.environ.get("ZOOMQ_API_KEY", "").strip())
    dev_key = api.get("api_key") if url == dev_url and not own_key else None
    if dev is not None and url == dev_url:
        what = "receiver and API key" if dev_key else "receiver"
        click.echo(
            f"note: using the running `zoomq dev` stack's {what} (pid {dev.pid}, {dev.path})",
            err=True,
        )
    return _Target(url, _api_key(api_key_file, dev_key))


def _open(target: _Target) -> Client:
    return Client(target.url, target.api_key)


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
                bar.progress.stop()
                _emit(job)  # the job as it is: stdout is the result, even a partial one
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
    url: str | None,
    api_key_file: Path | None,
) -> None:
    """Submit a job: every item of --items is checked before any is queued.

    Prints the accepted job (with --wait: the finished job) as JSON. With --wait, exits 1
    if any item failed, died or was cancelled.
    """
    spec = CATALOG.get(action)
    if spec is None:
        close = difflib.get_close_matches(action, list(CATALOG), n=1)
        hint = f" (did you mean {close[0]}?)" if close else " (`zoomq action --list` lists them)"
        fail(f"unknown action {action!r}{hint}", 2)
        raise AssertionError  # unreachable
    with _api_errors():
        # A first pass checks the file (naming a bad line) before anything is sent; the
        # second streams it: neither holds it whole.
        count = sum(1 for _ in read_items(items_path, spec.input))
        if not count:
            fail(f"--items {items_path}: no items", 2)
    target = _target(url, api_key_file)
    with _api_errors(target.url), _open(target) as client:
        accepted = client.submit(
            action,
            read_items(items_path, spec.input),
            connection=connection,
            idempotency_key=idempotency_key,
            callback_url=callback_url,
            priority=priority,  # type: ignore[arg-type]  # click.Choice checked it
            batch=batch,
        )
        if accepted.replayed:
            click.echo(
                f"replayed: existing job {accepted.job_id} (same --idempotency-key and body)",
                err=True,
            )
        if not wait:
            _emit(accepted.model_dump(exclude={"replayed"}))
            return
        job = _follow(client, accepted.job_id, timeout)
        _emit(job)
        failed = _failed(job)
        if failed:
            counts = {str(k): v for k, v in job.counts.items() if v}
            detail = ", ".join(
                f"{s} {counts[s]}" for s in ("failed", "dead", "cancelled") if s in counts
            )
            fail(
                f"job {job.job_id}: {failed} of {job.items} items did not succeed ({detail}); "
                f"`zoomq jobs results {job.job_id}` has each one's error",
                1,
            )


@jobs_group.command("status")
@click.argument("job_id")
@_client_options
def _status_command(job_id: str, url: str | None, api_key_file: Path | None) -> None:
    """The job's counts per state, progress, rate and ETA, as JSON."""
    target = _target(url, api_key_file)
    with _api_errors(target.url), _open(target) as client:
        _emit(client.get(job_id))


@jobs_group.command("results")
@click.argument("job_id")
@_client_options
def _results_command(job_id: str, url: str | None, api_key_file: Path | None) -> None:
    """Every item's result as NDJSON, in index order: `zoomq jobs results ID > out.ndjson`."""
    target = _target(url, api_key_file)
    with _api_errors(target.url), _open(target) as client:
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
def _cancel_command(job_id: str, url: str | None, api_key_file: Path | None) -> None:
    """Cancel the job: queued items are cancelled, running ones finish."""
    target = _target(url, api_key_file)
    with _api_errors(target.url), _open(target) as client:
        _emit(client.cancel(job_id))


@jobs_group.command("retry-failed")
@click.argument("job_id")
@_client_options
def _retry_command(job_id: str, url: str | None, api_key_file: Path | None) -> None:
    """Queue the job's failed and dead items again."""
    target = _target(url, api_key_file)
    with _api_errors(target.url), _open(target) as client:
        _emit(client.retry_failed(job_id))


@jobs_group.command("list")
@click.option("--limit", type=click.IntRange(1, 100), default=20, show_default=True)
@click.option("--cursor", type=click.IntRange(min=0), help="A previous page's next_cursor.")
@_client_options
def _list_command(
    limit: int,
    cursor: int | None,
    url: str | None,
    api_key_file: Path | None,
) -> None:
    """This API key's jobs, newest first, as JSON (with next_cursor for the next page)."""
    target = _target(url, api_key_file)
    with _api_errors(target.url), _open(target) as client:
        _emit(client.list_jobs(cursor=cursor, limit=limit))
