"""``zoomq sandbox``: serve a local Zoom API + OAuth server."""

from __future__ import annotations

import click

from zoomq.sandbox.config import DEFAULT_APP, SandboxConfig
from zoomq.settings import Plan

__all__ = ["sandbox_command"]


@click.command("sandbox")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=9100, show_default=True, type=int, help="Port to listen on.")
@click.option("--seed", default=1, show_default=True, type=int, help="Seed of the fake account.")
@click.option(
    "--plan",
    type=click.Choice([p.value for p in Plan]),
    default=Plan.PRO.value,
    show_default=True,
    help="Zoom plan whose rate limits apply.",
)
@click.option(
    "--rate-scale", default=1.0, show_default=True, type=float, help="Multiply every budget."
)
@click.option("--token-ttl", default=3600, show_default=True, type=int, help="Token lifetime (s).")
@click.option("--no-rate-limits", is_flag=True, help="Switch rate limiting off.")
def sandbox_command(
    host: str,
    port: int,
    seed: int,
    plan: str,
    rate_scale: float,
    token_ttl: int,
    no_rate_limits: bool,
) -> None:
    """Serve a local Zoom API (/v2) and OAuth server with a seeded fake account."""
    from zoomq.sandbox.server import serve

    if rate_scale <= 0:
        raise click.BadParameter("must be positive", param_hint="--rate-scale")
    config = SandboxConfig(
        seed=seed,
        plan=Plan(plan),
        rate_scale=rate_scale,
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
    click.echo(f"  account_id:    {DEFAULT_APP.account_id}")
    click.echo(f"  client_id:     {DEFAULT_APP.client_id}")
    click.echo(f"  client_secret: {DEFAULT_APP.client_secret}")
    click.echo(f"  plan: {plan}, rate limits: {'off' if no_rate_limits else f'x{rate_scale}'}")
    serve(config, host, port)
