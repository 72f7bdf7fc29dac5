"""Shared CLI plumbing: settings built once at the edge, error exits, client construction."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Any, TypeVar

import click
import redis
from pydantic import ValidationError
from pydantic_settings import SettingsError

from zoomq.cli.devstate import STATE_FILE, read_live_state
from zoomq.client.http import ZoomClient
from zoomq.errors import ConfigurationError, InvalidInput, ZoomError
from zoomq.logs import configure_logging
from zoomq.redis_client import redis_client, unreachable
from zoomq.settings import Settings, env_name

__all__ = [
    "current_settings",
    "fail",
    "load_settings",
    "open_client",
    "open_redis",
    "pass_settings",
    "settings_errors",
    "setup_logging",
    "with_dev_state",
    "zoom_errors",
]

_LOG_SETTINGS = ("ZOOMQ_LOG_FORMAT", "ZOOMQ_LOG_LEVEL")
_FIELD = re.compile(r'field "(\w+)"')

F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str, code: int = 1) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def settings_errors(exc: ValidationError | SettingsError) -> list[tuple[str, str]]:
    """(variable, message) for each problem with the environment's settings."""
    if isinstance(exc, ValidationError):
        return [(env_name(e["loc"]), e["msg"].removeprefix("Value error, ")) for e in exc.errors()]
    # pydantic-settings could not even decode a value (a JSON list that is not JSON, ...).
    found = _FIELD.search(str(exc))
    cause = f": {exc.__cause__}" if exc.__cause__ else ""
    name = found.group(1).upper() if found else "settings"
    shape = ' (a JSON list, e.g. ["https://api.example.com"])' if name == "ZOOM_API_HOSTS" else ""
    return [(name, f"cannot be decoded{cause}{shape}")]


def load_settings() -> Settings:
    """Settings from the environment; an invalid one exits 2 naming the variable."""
    try:
        return Settings()
    except (ValidationError, SettingsError) as exc:
        name, message = settings_errors(exc)[0]
        fail(f"setting {name}: {message}" if name else f"settings: {message}", 2)
        raise  # unreachable; for type checkers


def setup_logging(ctx: click.Context) -> None:
    """Configure logging for this invocation (undone when it ends, for in-process runners).

    The settings are built here and kept for ``pass_settings``. A bad log setting exits 2
    naming it; any other bad setting is left to the command that needs settings, so that
    commands which need none (``zoomq sandbox``) still run, logging with the defaults.
    """
    root = ctx.find_root()
    settings = root.obj if isinstance(root.obj, Settings) else None
    if settings is None:
        try:
            settings = Settings()
        except (ValidationError, SettingsError) as exc:
            for name, message in settings_errors(exc):
                if name in _LOG_SETTINGS:
                    fail(f"setting {name}: {message}", 2)
        else:
            settings = root.obj = with_dev_state(settings, ctx)
    fmt, level = (
        (settings.zoomq_log_format, settings.zoomq_log_level) if settings else ("auto", "INFO")
    )
    ctx.call_on_close(configure_logging(fmt, level, cache=False))


def pass_settings(fn: F) -> F:
    """Inject the ``Settings`` built once per invocation."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        ctx = click.get_current_context()
        return fn(current_settings(ctx), *args, **kwargs)

    return wrapper  # type: ignore[return-value]


def current_settings(ctx: click.Context) -> Settings:
    """The ``Settings`` built once per invocation (built now if nothing has yet)."""
    root = ctx.find_root()
    if not isinstance(root.obj, Settings):
        root.obj = with_dev_state(load_settings(), ctx)
    return root.obj


#: Settings whose presence (environment or .env) means the user configured zoomq themselves.
_CONFIGURED = frozenset(
    {
        "zoom_account_id",
        "zoom_client_id",
        "zoom_client_secret",
        "zoom_api_base_url",
        "zoom_oauth_token_url",
        "redis_url",
        "zoomq_connections_file",
    }
)


def with_dev_state(settings: Settings, ctx: click.Context) -> Settings:
    """``settings``, or, when nothing is configured and a ``zoomq dev`` runs here, its stack's.

    ``zoomq dev`` gives its sandbox credentials and private Redis only to its children; this
    lets a second terminal's ``zoomq action`` or ``zoomq dlq list`` reach the same stack
    instead of failing, or worse, silently using another Redis on the default port.

    The state file is used only when no connection is configured at all (environment,
    ``.env`` or a connections file): its sandbox URLs would otherwise receive a real
    connection's credentials. Its values come in as init arguments, never over a setting
    the user made.
    """
    running_dev = "dev" in (ctx.find_root().invoked_subcommand, ctx.command.name)
    if running_dev or settings.model_fields_set & _CONFIGURED:
        return settings
    # `zoomq jobs` talks HTTP and says itself where to; `--help` uses no stack at all.
    if ctx.find_root().invoked_subcommand == "jobs" or ctx.resilient_parsing:
        return settings
    state = read_live_state()
    if state is None:
        if STATE_FILE.parent.is_dir():  # dev was used here, and is not running now
            click.echo(
                f"note: no running `zoomq dev` here ({STATE_FILE} is gone); using "
                f"REDIS_URL {settings.redis_url} and the configured connections",
                err=True,
            )
        return settings
    try:
        if settings.file_connections():  # the user's own: never point them at the sandbox
            click.echo(
                f"note: not using the running `zoomq dev` stack: connections are configured "
                f"in {settings.zoomq_connections_file}",
                err=True,
            )
            return settings
        values = {k: v for k, v in state.settings.items() if k not in settings.model_fields_set}
        hosts = tuple(values.pop("archive_download_hosts", ()))
        from_dev = Settings(**values)
        if hosts:  # added to the user's own, not instead of them
            archive = from_dev.archive
            wider = archive.model_copy(update={"download_hosts": (*archive.download_hosts, *hosts)})
            from_dev = from_dev.model_copy(update={"archive": wider})
    except (ValidationError, ConfigurationError, TypeError):
        return settings  # not a state file this version wrote; ignore it as if stale
    click.echo(
        f"note: using the running `zoomq dev` stack (pid {state.pid}, {state.path})", err=True
    )
    return from_dev


@contextmanager
def zoom_errors() -> Iterator[None]:
    """Map the exception tree to exit codes: 2 for bad input/config, 1 for Zoom errors."""
    try:
        yield
    except InvalidInput as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except ConfigurationError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except ZoomError as exc:
        click.echo(f"error: {exc}", err=True)
        click.echo(json.dumps(exc.to_dict(), default=str), err=True)
        sys.exit(1)


def open_redis(settings: Settings, *, required: bool) -> redis.Redis | None:
    """Redis if reachable; without it the CLI uses in-process caches (and says so)."""
    client = redis_client(settings, socket_connect_timeout=1, socket_timeout=5)
    try:
        client.ping()
    except redis.RedisError as exc:
        client.close()
        if required:
            raise ConfigurationError(
                f"Redis at REDIS_URL is unreachable: {unreachable(settings, exc)}"
            ) from exc
        click.echo(
            "note: Redis unreachable; using a process-local token cache and rate limiter",
            err=True,
        )
        return None
    return client


@contextmanager
def open_client(
    settings: Settings, connection: str | None, *, use_redis: bool = True
) -> Iterator[ZoomClient]:
    conn = settings.connection(connection)
    client_redis = open_redis(settings, required=False) if use_redis else None
    client = ZoomClient(settings, conn, redis_client=client_redis)
    try:
        yield client
    finally:
        client.close()
        if client_redis is not None:
            client_redis.close()
