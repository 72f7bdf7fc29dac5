"""The ``zoomq`` command line: one group, each family of commands in its own module."""

from __future__ import annotations

import click

from zoomq.cli.actions import action_command
from zoomq.cli.connections import connections_group
from zoomq.cli.context import pass_settings, setup_logging

__all__ = ["main", "pass_settings"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="zoomq")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """zoomq: Zoom webhooks in, Zoom API actions out, on Redis and Celery."""
    # Before any command runs: logs on stderr, redacted, at ZOOMQ_LOG_LEVEL; stdout is
    # the command's result (`zoomq action ... | jq`).
    setup_logging(ctx)


cli.add_command(action_command)
cli.add_command(connections_group)


def _optional_commands() -> None:
    # Commands whose modules pull in servers; imported here so `zoomq action` stays light.
    from zoomq.cli.dev import dev_command
    from zoomq.cli.jobs import jobs_group
    from zoomq.cli.receiver import receiver_command
    from zoomq.cli.recordings import recordings_group
    from zoomq.cli.sandbox import sandbox_command
    from zoomq.cli.webhook import webhook_group
    from zoomq.cli.worker import dlq_group, worker_command

    for command in (
        dev_command,
        dlq_group,
        jobs_group,
        receiver_command,
        recordings_group,
        sandbox_command,
        webhook_group,
        worker_command,
    ):
        cli.add_command(command)


def main() -> None:
    _optional_commands()
    cli(prog_name="zoomq")
