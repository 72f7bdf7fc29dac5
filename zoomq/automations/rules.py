"""The declarative rules file (TOML): when an event matches, run one catalog action.

::

    [[rule]]
    name = "register-vip"                          # unique; part of the idempotency key
    event = "meeting.registration_created"         # or a prefix wildcard: "meeting.*"
    when = { "payload.object.type" = 2, "payload.object.topic" = { in = ["A", "B"] } }
    action = "addMeetingRegistrant"                # a key of the action catalog
    connection = "default"                         # optional: defaults to the event's
    [rule.input]
    meetingId = 85746065432
    email = "{{ payload.object.registrant.email }}"
    firstName = "{{ payload.object.registrant.first_name }}"

``when`` holds equality tests on dotted paths, ``{ in = [...] }`` and ``{ exists = bool }``.
Input strings are templates (``zoomq.automations.template``). The file is checked when the
worker starts: unknown actions and fields, bad templates, and static inputs the action
would refuse are errors that name the rule and the field.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import AliasChoices, AliasPath, BaseModel

from zoomq.actions import CATALOG, parse_input
from zoomq.automations.registry import Automation, template_context
from zoomq.automations.template import compile_value, lookup, render_value
from zoomq.errors import InvalidInput, RulesError, TemplateError

if TYPE_CHECKING:
    from zoomq.automations.context import AutomationContext

__all__ = ["Condition", "Rule", "load_rules", "parse_rules"]

_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
_PATH_STEP = re.compile(r"^[A-Za-z0-9_-]+$")
_RULE_KEYS = frozenset({"name", "event", "when", "action", "connection", "input", "description"})
_OPS = frozenset({"eq", "in", "exists"})


@dataclass(frozen=True)
class Condition:
    """One test of ``when``: the value at ``path`` equals, is in, or exists."""

    path: str
    op: Literal["eq", "in", "exists"]
    value: Any

    def test(self, context: Mapping[str, Any]) -> bool:
        try:
            found = lookup(context, self.path)
        except TemplateError:
            return self.op == "exists" and self.value is False
        if self.op == "exists":
            return bool(self.value)
        if self.op == "in":
            return any(_same(found, v) for v in self.value)
        return _same(found, self.value)


def _same(a: Any, b: Any) -> bool:
    # TOML's true must not equal an event's 1.
    return isinstance(a, bool) == isinstance(b, bool) and bool(a == b)


@dataclass(frozen=True)
class Rule:
    """One ``[[rule]]``, checked and with its templates compiled."""

    name: str
    event: str
    action: str
    input: dict[str, Any]
    when: tuple[Condition, ...] = ()
    connection: str | None = None
    description: str = ""
    source: str = ""
    compiled: Any = field(default=None, compare=False, repr=False)

    def applies(self, context: Mapping[str, Any]) -> bool:
        return all(c.test(context) for c in self.when)

    def render_input(self, event: Mapping[str, Any], meta: Mapping[str, Any]) -> dict[str, Any]:
        """The action's input for this event; a missing path raises naming rule and field."""
        try:
            rendered = render_value(self.compiled, template_context(event, meta))
        except TemplateError as exc:
            raise TemplateError(f"rule {self.name!r}: {exc}", field=exc.field) from None
        assert isinstance(rendered, dict)
        return rendered

    def run(self, event: dict[str, Any], ctx: AutomationContext) -> Any:
        """The rule's handler: render the input, run the action once."""
        return ctx.run_action(self.action, self.render_input(event, ctx.meta))

    def as_automation(self) -> Automation:
        return Automation(
            name=self.name,
            event=self.event,
            handler=self.run,
            connection=self.connection,
            when=self.applies if self.when else None,
            source=self.source,
        )


def load_rules(path: Path, *, connections: Collection[str] | None = None) -> list[Rule]:
    """Read and check the rules file at ``path``."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise RulesError(f"rules file {path}: cannot read: {exc.strerror or exc}") from exc
    return parse_rules(text, source=str(path), connections=connections)


def parse_rules(
    text: str, *, source: str = "rules", connections: Collection[str] | None = None
) -> list[Rule]:
    """Parse and check rules TOML; ``connections`` (when given) are the known names."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(f"rules file {source}: not valid TOML: {exc}") from exc
    unknown = set(data) - {"rule"}
    if unknown:
        raise RulesError(
            f"rules file {source}: unknown top-level key(s) {sorted(unknown)}; "
            "rules go in [[rule]] tables"
        )
    raw_rules = data.get("rule", [])
    if not isinstance(raw_rules, list):
        raise RulesError(f"rules file {source}: 'rule' must be an array of tables ([[rule]])")
    rules: list[Rule] = []
    seen: set[str] = set()
    for number, raw in enumerate(raw_rules, start=1):
        if not isinstance(raw, dict):
            raise RulesError(f"rules file {source}: rule #{number}: must be a table")
        rule = _parse_rule(_plain(raw), number, source, connections)
        if rule.name in seen:
            raise RulesError(
                f"rules file {source}: rule #{number}: name {rule.name!r} is used twice"
            )
        seen.add(rule.name)
        rules.append(rule)
    return rules


def _parse_rule(
    raw: dict[str, Any], number: int, source: str, connections: Collection[str] | None
) -> Rule:
    name = raw.get("name")
    where = f"rules file {source}: rule #{number}"
    if isinstance(name, str) and name:
        where = f"rules file {source}: rule {name!r} (#{number})"

    def bad(fld: str, message: str) -> RulesError:
        return RulesError(f"{where}: {fld}: {message}")

    unknown = set(raw) - _RULE_KEYS
    if unknown:
        raise bad(sorted(unknown)[0], f"unknown key (known: {', '.join(sorted(_RULE_KEYS))})")
    if not isinstance(name, str) or not _NAME.match(name):
        raise bad("name", "required: 1-100 letters, digits, '_', '.' or '-'")
    event = raw.get("event")
    if not isinstance(event, str) or not event or ("*" in event and not event.endswith("*")):
        raise bad("event", "required: an event type, or a prefix ending in '*'")
    action_key = raw.get("action")
    if not isinstance(action_key, str) or action_key not in CATALOG:
        raise bad("action", f"{action_key!r} is not an action of the catalog")
    connection = raw.get("connection")
    if connection is not None and not isinstance(connection, str):
        raise bad("connection", "must be a connection name")
    if connection is not None and connections is not None and connection not in connections:
        known = ", ".join(sorted(connections)) or "none configured"
        raise bad("connection", f"unknown connection {connection!r} (known: {known})")
    description = raw.get("description", "")
    if not isinstance(description, str):
        raise bad("description", "must be a string")
    when_raw = raw.get("when", {})
    if not isinstance(when_raw, dict):
        raise bad("when", "must be a table of dotted paths to values")
    try:
        when = tuple(_conditions(when_raw, ""))
    except ValueError as exc:
        raise bad("when", str(exc)) from None
    input_raw = raw.get("input", {})
    if not isinstance(input_raw, dict):
        raise bad("input", "must be a table")
    try:
        compiled = compile_value(input_raw)
    except TemplateError as exc:
        raise RulesError(f"{where}: {exc}") from None
    _check_input(action_key, input_raw, compiled, bad)
    return Rule(
        name=name,
        event=event,
        action=action_key,
        input=input_raw,
        when=when,
        connection=connection,
        description=description,
        source=source,
        compiled=compiled,
    )


def _check_input(action_key: str, raw: dict[str, Any], compiled: Any, bad: Any) -> None:
    """Unknown fields are errors even when templated; a fully static input is validated."""
    known = _input_names(CATALOG[action_key].input)
    for key in raw:
        if key not in known:
            raise bad(f"input.{key}", f"{action_key} has no such field")
    if _is_static(compiled):
        try:
            parse_input(CATALOG[action_key], raw)
        except InvalidInput as exc:
            first = exc.errors[0] if exc.errors else {"field": "input", "message": str(exc)}
            raise bad(f"input.{first['field']}", first["message"]) from None


def _input_names(model: type[BaseModel]) -> frozenset[str]:
    """Every key the model accepts: field names, aliases and each validation alias
    (rawRequest's ``data`` is also ``body``; some fields keep the reference's spelling)."""
    names: set[str] = set()
    for fname, info in model.model_fields.items():
        names.add(fname)  # populate_by_name
        alias = info.validation_alias
        if alias is None:
            names.update([info.alias] if info.alias else [])
            continue
        for choice in alias.choices if isinstance(alias, AliasChoices) else [alias]:
            if isinstance(choice, str):
                names.add(choice)
            elif isinstance(choice, AliasPath) and isinstance(choice.path[0], str):
                names.add(choice.path[0])
    return frozenset(names)


def _is_static(compiled: Any) -> bool:
    from zoomq.automations.template import Template

    if isinstance(compiled, Template):
        return compiled.is_static
    if isinstance(compiled, dict):
        return all(_is_static(v) for v in compiled.values())
    if isinstance(compiled, list):
        return all(_is_static(v) for v in compiled)
    return True


def _conditions(table: Mapping[str, Any], prefix: str) -> list[Condition]:
    found: list[Condition] = []
    for key, value in table.items():
        steps = key.split(".")
        if not all(_PATH_STEP.match(s) for s in steps):
            raise ValueError(f"{key!r} is not a dotted path")
        path = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict) and value and set(value) <= _OPS:
            for op, arg in value.items():
                if op == "in" and not isinstance(arg, list):
                    raise ValueError(f"{path}: 'in' takes a list")
                if op == "exists" and not isinstance(arg, bool):
                    raise ValueError(f"{path}: 'exists' takes true or false")
                found.append(Condition(path, op, arg))
        elif isinstance(value, dict):
            if not value:
                raise ValueError(f"{path}: empty condition")
            found.extend(_conditions(value, path))
        else:
            found.append(Condition(path, "eq", value))
    return found


def _plain(value: Any) -> Any:
    """TOML dates and times become ISO strings, as they would arrive in JSON."""
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
