"""``zoomq connections add|list|test|install``: the Zoom accounts/apps zoomq talks to."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click

from zoomq.cli.context import open_client, open_redis, pass_settings, zoom_errors
from zoomq.client.auth import TOKEN_TIMEOUT, AuthCodeTokens, token_provider
from zoomq.client.install import (
    INSTALL_TTL,
    InstallGrant,
    install_link,
    installed,
    issue_grant,
    receiver_base_url,
)
from zoomq.client.tokens import RedisTokenStore
from zoomq.errors import ConfigurationError
from zoomq.settings import Connection, ConnectionType, Settings

__all__ = ["connections_group"]

#: Where ``zoomq receiver`` listens by default: the install link's base without a better one.
DEFAULT_RECEIVER_URL = "http://127.0.0.1:8000"
#: The longest an install link may stay valid.
MAX_INSTALL_TTL = 86_400


def _file(settings: Settings) -> Path:
    return settings.zoomq_connections_file


@click.group("connections")
def connections_group() -> None:
    """Manage Zoom connections (Server-to-Server and OAuth apps)."""


@connections_group.command("list")
@pass_settings
def list_connections(settings: Settings) -> None:
    """List configured connections (secrets are never shown)."""
    with zoom_errors():
        conns = settings.connections()
        store_redis = open_redis(settings, required=False)
    if not conns:
        click.echo(
            "no connections configured (set ZOOM_ACCOUNT_ID/ZOOM_CLIENT_ID/ZOOM_CLIENT_SECRET)"
        )
        return
    for conn in conns.values():
        state = ""
        if conn.type is ConnectionType.OAUTH:
            has_tokens = False
            if store_redis is not None:
                has_tokens = installed(
                    RedisTokenStore(store_redis, settings.zoomq_key_prefix), conn.name
                )
            state = "installed" if has_tokens else "not installed"
        click.echo(
            f"{conn.name}\t{conn.type.value}\taccount={conn.account_id or '-'}\t"
            f"plan={conn.plan.value}\twebhook_secrets={len(conn.webhook_secrets)}\t{state}".rstrip()
        )


@connections_group.command("add")
@click.argument("name")
@click.option(
    "--type",
    "type_",
    type=click.Choice([t.value for t in ConnectionType]),
    default=ConnectionType.SERVER_TO_SERVER.value,
    show_default=True,
)
@click.option("--account-id")
@click.option("--client-id", required=True)
@click.option("--client-secret", required=True, envvar="ZOOMQ_NEW_CLIENT_SECRET")
@click.option(
    "--plan", type=click.Choice(["free", "pro", "business"]), default="pro", show_default=True
)
@click.option("--webhook-secret", multiple=True, help="May be repeated while rotating.")
@click.option("--redirect-uri", help="OAuth apps: the redirect URI registered with Zoom.")
@click.option("--code", help="OAuth apps: an authorization code to exchange now.")
@pass_settings
def add_connection(
    settings: Settings,
    name: str,
    type_: str,
    account_id: str | None,
    client_id: str,
    client_secret: str,
    plan: str,
    webhook_secret: tuple[str, ...],
    redirect_uri: str | None,
    code: str | None,
) -> None:
    """Add connection NAME to the connections file (and install an OAuth code)."""
    raw: dict[str, Any] = {
        "name": name, "type": type_, "account_id": account_id, "client_id": client_id,
        "client_secret": client_secret, "plan": plan, "webhook_secrets": list(webhook_secret),
        "redirect_uri": redirect_uri,
    }  # fmt: skip
    raw = {k: v for k, v in raw.items() if v not in (None, [])}
    with zoom_errors():
        try:
            conn = Connection.model_validate(raw)
        except ValueError as exc:
            raise ConfigurationError(str(exc).splitlines()[-1].strip()) from None
        path = _file(settings)
        # The same reader (and errors) as at run time; the file may not exist yet.
        existing = settings.file_connections(required=False)
        if any(c.get("name") == name for c in existing) or name in settings.connections(
            file_required=False
        ):
            raise ConfigurationError(f"connection {name!r} already exists")
        _write_private(path, json.dumps([*existing, raw], indent=2) + "\n")
        click.echo(f"added {name} to {path}")
        click.echo(
            "note: a receiver or worker that is running (zoomq dev too) reads its connections "
            "when it starts: restart it to serve this one",
            err=True,
        )
        if code:
            _install(settings, conn, code, redirect_uri)


def _write_private(path: Path, text: str) -> None:
    """Replace ``path`` atomically with a file only its owner can read (it holds secrets)."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.replace(tmp, path)


def _install(settings: Settings, conn: Connection, code: str, redirect_uri: str | None) -> None:
    if conn.type is not ConnectionType.OAUTH:
        raise ConfigurationError("--code applies to oauth connections only")
    if not redirect_uri:
        raise ConfigurationError("--redirect-uri is required with --code")
    import httpx

    store_redis = open_redis(settings, required=True)
    assert store_redis is not None
    with httpx.Client(timeout=TOKEN_TIMEOUT) as http:
        provider = token_provider(
            settings, conn, RedisTokenStore(store_redis, settings.zoomq_key_prefix), http
        )
        assert isinstance(provider, AuthCodeTokens)
        provider.exchange_code(code, redirect_uri)
    click.echo(f"installed {conn.name}: tokens stored")


def _base_url(conn: Connection, base_url: str | None) -> str:
    """``--base-url``, else the receiver in the connection's redirect_uri, else the default."""
    if base_url is not None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise click.BadParameter(
                f"{base_url!r} is not an http(s) URL", param_hint="'--base-url'"
            )
        return base_url.rstrip("/")
    if conn.redirect_uri is None:
        click.echo(
            f"note: connection {conn.name!r} has no redirect_uri; the link assumes the "
            f"receiver at {DEFAULT_RECEIVER_URL} (pass --base-url otherwise)",
            err=True,
        )
        return DEFAULT_RECEIVER_URL
    found = receiver_base_url(conn.redirect_uri)
    if found is None:
        raise click.BadParameter(
            f"cannot tell the receiver's URL from redirect_uri {conn.redirect_uri!r}; pass it",
            param_hint="'--base-url'",
        )
    return found


@connections_group.command("install")
@click.argument("name")
@click.option("--replace", is_flag=True, help="Replace the tokens of an installed connection.")
@click.option(
    "--ttl",
    type=click.IntRange(1, MAX_INSTALL_TTL),
    default=INSTALL_TTL,
    show_default=True,
    help="Seconds the link stays valid.",
)
@click.option(
    "--base-url",
    help="The receiver's public URL. Default: taken from the connection's redirect_uri, "
    f"else {DEFAULT_RECEIVER_URL}.",
)
@pass_settings
def install_connection(
    settings: Settings, name: str, replace: bool, ttl: int, base_url: str | None
) -> None:
    """Print a one-time link that installs OAuth connection NAME through the receiver."""
    with zoom_errors():
        conn = settings.connection(name)
        if conn.type is not ConnectionType.OAUTH:
            raise ConfigurationError(
                f"connection {name!r} is {conn.type.value}: only oauth connections are installed"
            )
        base = _base_url(conn, base_url)
        store_redis = open_redis(settings, required=True)
        assert store_redis is not None
        with store_redis:
            if not replace and installed(
                RedisTokenStore(store_redis, settings.zoomq_key_prefix), name
            ):
                raise ConfigurationError(
                    f"connection {name!r} is already installed; pass --replace to replace "
                    "its tokens"
                )
            prefix = settings.zoomq_key_prefix
            token = issue_grant(store_redis, prefix, InstallGrant(name, replace=replace), ttl)
    click.echo(f"open this link within {ttl} s to install {name} (it works once):", err=True)
    click.echo(install_link(base, token))


@connections_group.command("test")
@click.argument("name", required=False)
@pass_settings
def test_connection(settings: Settings, name: str | None) -> None:
    """Get a token for connection NAME and call GET /users/me."""
    with zoom_errors(), open_client(settings, name) as client:
        response = client.request("GET", "/users/me")
        user = response.json()
        click.echo(
            f"ok: {client.connection.name} authenticated as {user.get('email', '?')} "
            f"(account {user.get('account_id', '?')})"
        )
