"""``zoomq receiver``: serve the receiver with uvicorn."""

from __future__ import annotations

import click
import uvicorn

from zoomq.cli.context import pass_settings, zoom_errors
from zoomq.logs import configure_logging
from zoomq.settings import Settings

__all__ = ["receiver_command"]


@click.command("receiver")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="Worker processes; each runs its own Redis writer.",
)
@pass_settings
def receiver_command(settings: Settings, host: str, port: int, workers: int) -> None:
    """Receive Zoom webhooks and enqueue them for the workers."""
    from receiver.app import create_app, server_config

    configure_logging(settings.zoomq_log_format, settings.zoomq_log_level)
    with zoom_errors():
        # Fail here, not in a worker, on a bad configuration.
        app = create_app(settings, server_config(settings))
    uvicorn.run(
        # Several workers each build their app (and Settings) in their own process.
        app if workers == 1 else "receiver.app:create_app_from_environment",
        factory=workers > 1,
        workers=workers,
        host=host,
        port=port,
        # The access log halves a bare app's throughput (PERF_BASELINES.md); metrics count
        # every request instead, and the receiver logs its failures itself.
        access_log=False,
        log_level=settings.zoomq_log_level.lower(),
        # No logging config of uvicorn's own: its records reach the root handler (stderr,
        # redacted) that configure_logging installed, here and in each worker's factory.
        log_config=None,
        server_header=False,
    )
