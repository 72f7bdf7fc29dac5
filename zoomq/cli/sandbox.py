"""``zoomq sandbox``: serve a local Zoom API + OAuth server."""

from __future__ import annotations

import click

from zoomq.sandbox.config import MAX_ACCOUNTS, SandboxConfig
from zoomq.settings import Plan

__all__ = ["sandbox_command"]


@click.command("sandbox")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=9100, show_default=True, type=int, help="Port to listen on.")
@click.option("--seed", default=1, show_default=True, type=int, help="Seed of the fake account.")
@click.option(
    "--accounts",
    default=1,
    show_default=True,
    type=click.IntRange(1, MAX_ACCOUNTS),
    help="Zoom accounts to serve, each with its own credentials, data and rate counters.",
)
@click.option(
    "--plan",
    type=click.Choice([p.value for p in Plan]),
    default=Plan.PRO.value,
    show_default=True,
    help="Zoom plan whose rate limits apply (to every account).",
)
@click.option(
    "--rate-scale", default=1.0, show_default=True, type=float, help="Multiply every budget."
)
@click.option(
    "--latency",
    metavar="SECONDS[-SECONDS]",
    help="Wait this long (or, for LOW-HIGH, a random time between) before each /v2 answer.",
)
@click.option("--token-ttl", default=3600, show_default=True, type=int, help="Token lifetime (s).")
@click.option("--no-rate-limits", is_flag=True, help="Switch rate limiting off.")
@click.option(
    "--webhook-url",
    help="Send signed Zoom events here when the sandbox's state changes.",
)
@click.option(
    "--webhook-secret",
    envvar="ZOOM_WEBHOOK_SECRET_TOKEN",
    help="Secret that signs those events [env: ZOOM_WEBHOOK_SECRET_TOKEN].",
)
def sandbox_command(
    host: str,
    port: int,
    seed: int,
    accounts: int,
    plan: str,
    rate_scale: float,
    latency: str | None,
    token_ttl: int,
    no_rate_limits: bool,
    webhook_url: str | None,
    webhook_secret: str | None,
) -> None:
    """Serve a local Zoom API (/v2) and OAuth server with a seeded fake account."""
    from zoomq.sandbox.server import serve

    if rate_scale <= 0:
        raise click.BadParameter("must be positive", param_hint="--rate-scale")
    delay = _latency(latency)
    on_event = None
    if webhook_url:
        if not webhook_secret:
            raise click.BadParameter(
                "is required with --webhook-url", param_hint="--webhook-secret"
            )
        import httpx

        from zoomq.sandbox.webhooks.emitter import make_sandbox_emitter

        # Each account's events carry its own account id.
        on_event = make_sandbox_emitter(webhook_url, webhook_secret, httpx.Client())
    config = SandboxConfig(
        on_account_event=on_event,
        webhook_url=webhook_url,
        seed=seed,
        accounts=accounts,
        plan=Plan(plan),
        rate_scale=rate_scale,
        latency=delay,
        token_ttl=token_ttl,
        rate_limits=not no_rate_limits,
        public_url=f"http://{host}:{port}",
    )
    url = config.public_url
    # Sandbox credentials are fixed and not secret: printing them is the point.
    click.echo(f"Zoom sandbox on {url}")
    click.echo(f"  API base URL:  {url}/v2")
    click.echo(f"  token URL:     {url}/oauth/token")
    click.echo(f"  authorize URL: {url}/oauth/authorize")
    for number in range(1, accounts + 1):
        app = config.account_app(number)
        if accounts > 1:
            click.echo(f"  account {number}:")
        click.echo(f"  account_id:    {app.account_id}")
        click.echo(f"  client_id:     {app.client_id}")
        click.echo(f"  client_secret: {app.client_secret}")
    click.echo(f"  plan: {plan}, rate limits: {'off' if no_rate_limits else f'x{rate_scale}'}")
    if delay is not None:
        click.echo(f"  latency:       {delay[0]:g}-{delay[1]:g} s per /v2 answer")
    if webhook_url:
        click.echo(f"  events to:     {webhook_url}")
    serve(config, host, port)


def _latency(value: str | None) -> tuple[float, float] | None:
    """``0.2`` or ``0.1-0.3`` as (low, high) seconds."""
    if value is None:
        return None
    try:
        one = float(value)  # 0.2, 1e-3
    except ValueError:
        one = None
    low, _, high = value.partition("-")
    try:
        found = (one, one) if one is not None else (float(low), float(high))
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not SECONDS or LOW-HIGH", param_hint="--latency"
        ) from None
    if not 0 <= found[0] <= found[1] <= 60:
        raise click.BadParameter("must be 0 <= LOW <= HIGH <= 60", param_hint="--latency")
    return found
