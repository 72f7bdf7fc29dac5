"""``zoomq action NAME --input JSON``: run one action in-process, print its JSON result."""

from __future__ import annotations

import difflib
import json
import sys
from pathlib import Path
from typing import Any

import click

from zoomq.actions import CATALOG, Action, parse_input, run_action
from zoomq.cli.context import open_client, pass_settings, zoom_errors
from zoomq.settings import Settings

__all__ = ["action_command", "input_fields", "read_json_option"]


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


def _type_of(schema: dict[str, Any]) -> str:
    """A short type for help text, from a field's JSON schema."""
    if "enum" in schema:
        return "|".join(json.dumps(v) for v in schema["enum"])
    if "anyOf" in schema:
        kinds = [_type_of(s) for s in schema["anyOf"] if s.get("type") != "null"]
        return " or ".join(dict.fromkeys(kinds)) or "null"
    if "$ref" in schema:
        return "object"
    kind = schema.get("type", "any")
    if kind == "array":
        return f"array of {_type_of(schema.get('items', {}))}"
    return str(kind)


def input_fields(action: Action) -> list[tuple[str, str, bool, str | None, str]]:
    """(name, type, required, default as JSON, description) of each input, as the reference
    names them (camelCase; snake_case is accepted too)."""
    schema = action.input.model_json_schema(by_alias=True)
    props: dict[str, Any] = schema.get("properties", {})
    required = set(schema.get("required", []))
    rows = []
    for name, info in action.input.model_fields.items():
        alias = info.alias or name
        prop = props.get(alias, {})
        default = None if info.is_required() or info.default is None else info.default
        rows.append(
            (
                alias,
                _type_of(prop),
                alias in required,
                json.dumps(default, default=str) if default is not None else None,
                info.description or prop.get("description", ""),
            )
        )
    return rows


def _unknown_action(name: str) -> click.BadParameter:
    by_case = {key.lower(): key for key in CATALOG}
    close = [by_case[name.lower()]] if name.lower() in by_case else []
    close = close or difflib.get_close_matches(name, CATALOG, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]}?" if close else ""
    return click.BadParameter(
        f"unknown action {name!r}{hint} (`zoomq action --list` lists them)", param_hint="NAME"
    )


class _ActionCommand(click.Command):
    """``zoomq action NAME --help`` describes NAME's inputs.

    Click runs ``--help`` before NAME is processed, so NAME is picked out of the arguments
    by the same parser (without callbacks) before the normal parse.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if any(a in ctx.help_option_names for a in args):
            rest = [a for a in args if a not in ctx.help_option_names]
            try:
                name = self.make_parser(ctx).parse_args(rest)[0].get("name")
            except click.UsageError:
                name = None
            if name in CATALOG:
                ctx.meta["zoomq.action"] = name
            elif isinstance(name, str) and name:
                raise _unknown_action(name)  # not the generic help with exit 0
        return super().parse_args(ctx, args)

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        name = ctx.meta.get("zoomq.action")
        if name is None:
            super().format_help(ctx, formatter)
            return
        action = CATALOG[name]
        formatter.write_usage(ctx.command_path, f"{name} --input JSON|@FILE [OPTIONS]")
        formatter.write_paragraph()
        formatter.write_text(f"{action.description} ({action.method} {action.path})")
        rows = [
            (
                field,
                f"{kind}; "
                + ("required" if required else f"default {default}" if default else "optional")
                + (f"; {text}" if text else ""),
            )
            for field, kind, required, default, text in input_fields(action)
        ]
        with formatter.section("Input fields (--input JSON object)"):
            formatter.write_dl(rows)
        self.format_options(ctx, formatter)


@click.command("action", cls=_ActionCommand)
@click.argument("name", required=False)
@click.option("--input", "input_", metavar="JSON|@FILE", help="The action's input as JSON.")
@click.option("--connection", "-c", help="Connection name (default: the only/`default` one).")
@click.option("--list", "list_", is_flag=True, help="List the actions and exit.")
@click.option("--inputs", is_flag=True, help="With --list: each action's inputs (* required).")
@click.option("--no-redis", is_flag=True, help="Use process-local token cache and limiter.")
@pass_settings
def action_command(
    settings: Settings,
    name: str | None,
    input_: str | None,
    connection: str | None,
    list_: bool,
    inputs: bool,
    no_redis: bool,
) -> None:
    """Run the Zoom action NAME once and print its JSON result.

    `zoomq action NAME --help` lists NAME's input fields.
    """
    if list_:
        width = max(len(k) for k in CATALOG)
        for key, action in sorted(CATALOG.items()):
            click.echo(f"{key:<{width}}  {action.description}")
            if inputs:
                names = [f"{f[0]}*" if f[2] else f[0] for f in input_fields(action)]
                click.echo(f"{'':<{width}}    inputs: {', '.join(names)}")
        return
    if not name:
        raise click.UsageError("give an action NAME, or --list")
    if name not in CATALOG:
        raise _unknown_action(name)
    data = read_json_option(input_, "--input")
    if not isinstance(data, dict):
        raise click.BadParameter("must be a JSON object", param_hint="--input")
    with zoom_errors():
        parse_input(CATALOG[name], data)  # bad input fails before any connection is opened
        with open_client(settings, connection, use_redis=not no_redis) as client:
            result = run_action(client, name, data)
    click.echo(json.dumps(result, indent=2, ensure_ascii=False))
