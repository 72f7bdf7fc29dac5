"""``zoomq webhook``: play Zoom's side of webhook delivery against any endpoint."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click
import httpx

from zoomq.cli.context import current_settings
from zoomq.clock import Clock, SystemClock
from zoomq.errors import ZoomError
from zoomq.sandbox.webhooks.catalog import CATALOG
from zoomq.sandbox.webhooks.events import build_event, closest_events
from zoomq.sandbox.webhooks.sender import (
    ZOOM_DEADLINE,
    Attempt,
    DeliveryResult,
    WebhookSender,
    serialize,
)

__all__ = ["SANDBOX_CREDENTIALS", "fetch_sandbox_recording", "webhook_group"]

#: The sandbox's default Server-to-Server app (client_id, client_secret, account_id).
SANDBOX_CREDENTIALS = ("sandbox-client", "sandbox-secret", "sandbox-account")
#: A retry wait this long (s) after a refused connection earns a hint about --time-scale.
_LONG_WAIT = 60.0


def _parse_data(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    if value is None:
        return None
    text = value
    if value.startswith("@"):
        try:
            text = Path(value[1:]).read_text(encoding="utf-8")
        except OSError as exc:
            raise click.BadParameter(f"cannot read {value[1:]}: {exc.strerror}") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise click.BadParameter(f"not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise click.BadParameter("must be a JSON object")
    return data


def fetch_sandbox_recording(
    http: httpx.Client,
    api: str,
    *,
    token_url: str | None = None,
    credentials: tuple[str, str, str] = SANDBOX_CREDENTIALS,
    clock: Clock | None = None,
) -> dict[str, Any]:
    """The newest cloud recording of ``users/me`` in the sandbox, as its REST body.

    Token from the sandbox's ``/oauth/token`` (account_credentials grant with the default
    app); ``token_url`` defaults to ``/oauth/token`` on the API's host, as zoom.us is to
    api.zoom.us. Raises ``click.ClickException`` when the sandbox cannot supply one.
    """
    api = api.rstrip("/")
    if token_url is None:
        parts = urlsplit(api)
        token_url = f"{parts.scheme}://{parts.netloc}/oauth/token"
    client_id, client_secret, account_id = credentials
    try:
        token_response = http.post(
            token_url,
            params={"grant_type": "account_credentials", "account_id": account_id},
            auth=(client_id, client_secret),
        )
        token_response.raise_for_status()
        access_token = token_response.json()["access_token"]
        now = (clock or SystemClock()).time()
        # A listing spans at most one month (ZOOM_API.md §1, listUsersRecordings).
        window = {
            "from": time.strftime("%Y-%m-%d", time.gmtime(now - 29 * 86400)),
            "to": time.strftime("%Y-%m-%d", time.gmtime(now + 86400)),
            "page_size": "30",
        }
        listing = http.get(
            f"{api}/users/me/recordings",
            params=window,
            headers={"Authorization": f"Bearer {access_token}"},
        )
        listing.raise_for_status()
        meetings = listing.json().get("meetings") or []
    except (httpx.HTTPError, ValueError, KeyError, AttributeError) as exc:
        raise click.ClickException(f"the sandbox at {api} gave no recording: {exc}") from None
    with_files = [m for m in meetings if isinstance(m, dict) and m.get("recording_files")]
    if not with_files:
        raise click.ClickException(f"the sandbox at {api} has no recordings for users/me")
    return dict(with_files[0])


@click.group(name="webhook")
def webhook_group() -> None:
    """Send Zoom webhooks to an endpoint, signed and retried the way Zoom does."""


_secret_option = click.option(
    "--secret",
    envvar="ZOOM_WEBHOOK_SECRET_TOKEN",
    show_envvar=True,
    help="The app's Webhook Secret Token (default: ZOOM_WEBHOOK_SECRET_TOKEN from .env, "
    "or the one a running `zoomq dev` generated; of several, comma-separated, the first).",
)


def _resolve_secret(ctx: click.Context, secret: str | None) -> str:
    """--secret, else the configured one (the environment, .env, a running ``zoomq dev``).

    An empty one is refused here, naming where it came from, rather than as a traceback
    from the signer: ``--secret "$ZOOM_WEBHOOK_SECRET_TOKEN"`` in a shell without it is empty.
    """
    if secret is None:
        configured = current_settings(ctx).webhook_secret_tokens()
        secret = configured[0].get_secret_value() if configured else ""
        if not secret:
            raise click.BadParameter(
                "no webhook secret: pass --secret or set ZOOM_WEBHOOK_SECRET_TOKEN",
                param_hint="--secret",
            )
    if not secret.strip():
        raise click.BadParameter(
            "is empty (was ZOOM_WEBHOOK_SECRET_TOKEN unset in this shell?); "
            "pass the app's Webhook Secret Token",
            param_hint="--secret",
        )
    # During a rotation the variable holds "current,previous": Zoom signs with the current.
    return next((part.strip() for part in secret.split(",") if part.strip()), secret)


_deadline_option = click.option(
    "--deadline",
    type=click.FloatRange(min=0.01),
    default=ZOOM_DEADLINE,
    show_default=True,
    help="Seconds the endpoint has to answer each attempt.",
)


def _list_events(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    width = max(len(name) for name in CATALOG)
    for spec in CATALOG.values():
        click.echo(f"{spec.name:<{width}}  {spec.description}")
    ctx.exit(0)


def _known_event(ctx: click.Context, param: click.Parameter, value: str | None) -> str:
    if value is None:
        raise click.MissingParameter(ctx=ctx, param=param)
    if value not in CATALOG:
        close = closest_events(value)
        hint = f"; did you mean {' or '.join(close)}?" if close else ""
        raise click.BadParameter(
            f"unknown event {value!r}{hint} (`zoomq webhook send --list` lists all)"
        )
    return value


@webhook_group.command(
    "send",
    help="Build EVENT, sign it and deliver it to --to with Zoom's retry schedule.\n\n"
    f"EVENT is one of the {len(CATALOG)} events Zoom documents for meetings, webinars, "
    "recordings, users, phone recordings and team chat; --list shows them.",
)
@click.argument("event", required=False, callback=_known_event, metavar="EVENT")
@click.option(
    "--list",
    "list_events",
    is_flag=True,
    is_eager=True,
    expose_value=False,
    callback=_list_events,
    help="Print every known event, one a line with what it means, and exit.",
)
@click.option("--to", "url", required=True, help="The endpoint URL to POST to.")
@_secret_option
@click.option(
    "--data",
    callback=_parse_data,
    help="JSON (or @file) deep-merged into payload.object; with a 'payload' key it "
    "replaces the envelope's fields instead.",
)
@click.option(
    "--sandbox-api",
    help="recording.completed only: take the recording from this sandbox API base URL.",
)
@click.option(
    "--sandbox-token-url", help="The sandbox's OAuth token URL, if not <host>/oauth/token."
)
@click.option(
    "--time-scale",
    type=click.FloatRange(min=0),
    default=1.0,
    show_default=True,
    help="Multiplies Zoom's retry waits (5, 20, 60 min); 0.001 makes them seconds.",
)
@click.option("--account-id", help="payload.account_id (default: a random Zoom-like id).")
@_deadline_option
@click.pass_context
def send(
    ctx: click.Context,
    event: str,
    url: str,
    secret: str | None,
    data: dict[str, Any] | None,
    sandbox_api: str | None,
    sandbox_token_url: str | None,
    time_scale: float,
    account_id: str | None,
    deadline: float,
) -> None:
    """Build EVENT, sign it and deliver it to --to with Zoom's retry schedule.

    Progress goes to stderr; stdout carries one JSON line, the result (see ``_summary``).
    """
    key = _resolve_secret(ctx, secret)
    clock = SystemClock()
    with httpx.Client() as http:
        recording = None
        if sandbox_api:
            if event != "recording.completed":
                raise click.BadParameter(
                    "only recording.completed takes a sandbox recording", param_hint="--sandbox-api"
                )
            recording = fetch_sandbox_recording(
                http, sandbox_api, token_url=sandbox_token_url, clock=clock
            )
        try:
            payload = build_event(
                event, data=data, recording=recording, account_id=account_id, clock=clock
            )
            size = len(serialize(payload))
        except ZoomError as exc:
            raise click.BadParameter(str(exc), param_hint="--data") from None

        hinted = False

        def print_attempt(attempt: Attempt) -> None:
            nonlocal hinted
            click.echo(attempt.describe(), err=True)
            # Zoom's first retry is 5 minutes away: a newcomer whose receiver is not up yet
            # should not have to guess why the command seems to hang.
            if (
                not hinted
                and attempt.error == "connect_error"
                and (attempt.retry_in or 0) >= _LONG_WAIT
            ):
                hinted = True
                click.echo(
                    f"hint: nothing accepts connections at {url}; start the receiver, or pass "
                    "--time-scale 0.001 to make Zoom's retry waits seconds (Ctrl-C stops)",
                    err=True,
                )

        click.echo(f"sending {event} ({size} bytes) to {url}", err=True)
        sender = WebhookSender(
            http, key, clock, time_scale=time_scale, deadline=deadline, on_attempt=print_attempt
        )
        result = sender.deliver(url, payload)
    click.echo(result.describe(), err=True)
    click.echo(json.dumps(_summary(result, payload)))
    ctx.exit(0 if result.delivered else 1)


def _summary(result: DeliveryResult, payload: dict[str, Any]) -> dict[str, Any]:
    """The result of ``send``: whether it was delivered, and the last attempt's answer.

    ``{"event", "url", "delivered", "attempts", "status", "reason", "request_id"}``;
    ``status`` is None when nothing usable answered, ``reason`` the error or the body's.
    """
    last = result.attempts[-1]
    return {
        "event": result.event,
        "url": result.url,
        "delivered": result.delivered,
        "attempts": len(result.attempts),
        "status": last.status,
        "reason": last.detail or last.error,
        "request_id": last.request_id,
        "event_ts": payload.get("event_ts"),
    }


@webhook_group.command("validate")
@click.option("--to", "url", required=True, help="The endpoint URL to check.")
@_secret_option
@_deadline_option
@click.pass_context
def validate(ctx: click.Context, url: str, secret: str | None, deadline: float) -> None:
    """Run Zoom's endpoint.url_validation check against --to."""
    key = _resolve_secret(ctx, secret)
    with httpx.Client() as http:
        result = WebhookSender(http, key, deadline=deadline).validate_endpoint(url)
    if result.ok:
        click.echo(result.describe())
    else:
        click.echo(f"invalid: {url} failed the url_validation check")
        for problem in result.problems:
            click.echo(f"  - {problem}")
    ctx.exit(0 if result.ok else 1)
