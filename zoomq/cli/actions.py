"""``zoomq action NAME --input JSON``: run one action in-process, print its JSON result."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from zoomq.actions import CATALOG, parse_input, run_action
from zoomq.cli.context import open_client, pass_settings, zoom_errors
from zoomq.settings import Settings

__all__ = ["action_command", "read_json_option"]


def read_json_option(value: str | None, option: str) -> Any:
    """Parse a JSON option given inline, as ``@file.json``, or ``@-`` for stdin."""
    if value is None:
        return {}
    try:
        if value.startswith("@"):
            name = value[1:]
            text = sys.stdin.read() if name == "-" else Path(name).read_text()
        else:
            text = value
        return json.loads(text)
    except OSError as exc:
        raise click.BadParameter(
            f"cannot read {value[1:]}: {exc.strerror}", param_hint=option
        ) from exc
    except ValueError as exc:
        raise click.BadParameter(f"not valid JSON: {exc}", param_hint=option) from exc


@click.command("action")
@click.argument("name", required=False)
@click.option("--input", "input_", metavar="JSON|@FILE", help="The action's input as JSON.")
@click.option("--connection", "-c", help="Connection name (default: the only/`default` one).")
@click.option("--list", "list_", is_flag=True, help="List the actions and exit.")
@click.option("--no-redis", is_flag=True, help="Use process-local token cache and limiter.")
@pass_settings
def action_command(
    settings: Settings,
    name: str | None,
    input_: str | None,
    connection: str | None,
    list_: bool,
    no_redis: bool,
) -> None:
    """Run the Zoom action NAME once and print its JSON result."""
    if list_:
        width = max(len(k) for k in CATALOG)
        for key, action in sorted(CATALOG.items()):
            click.echo(f"{key:<{width}}  {action.description}")
        return
    if not name:
        raise click.UsageError("give an action NAME, or --list")
    if name not in CATALOG:
        raise click.BadParameter(
            f"unknown action {name!r}; `zoomq action --list` lists them", param_hint="NAME"
        )
    data = read_json_option(input_, "--input")
    if not isinstance(data, dict):
        raise click.BadParameter("must be a JSON object", param_hint="--input")
    with zoom_errors():
        parse_input(CATALOG[name], data)  # bad input fails before any connection is opened
        with open_client(settings, connection, use_redis=not no_redis) as client:
            result = run_action(client, name, data)
    click.echo(json.dumps(result, indent=2, ensure_ascii=False))
