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
would refuse are errors that name the rule and the field. The file's shape is declared as
pydantic models (``_RulesFile``, ``_RuleSpec``); their errors are rewritten into those
messages.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    AliasChoices,
    AliasPath,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from zoomq.actions import CATALOG, parse_input
from zoomq.automations.registry import Automation, template_context
from zoomq.automations.template import compile_value, lookup, render_value
from zoomq.errors import InvalidInput, RulesError, TemplateError

if TYPE_CHECKING:
    from zoomq.automations.context import AutomationContext

__all__ = ["Condition", "Rule", "load_rules", "parse_rules"]

_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
_PATH_STEP = re.compile(r"^[A-Za-z0-9_-]+$")
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


class _RuleSpec(BaseModel):
    """The shape of one ``[[rule]]`` table, as the file must write it.

    Validation context: ``connections``, the known connection names (or None: any).
    """

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    name: Annotated[str, StringConstraints(pattern=_NAME.pattern)]
    event: str
    action: str
    connection: str | None = None
    description: str = ""
    when: dict[str, Any] = Field(default_factory=dict)
    input: dict[str, Any] = Field(default_factory=dict)
    _when: tuple[Condition, ...] = PrivateAttr(default=())
    _compiled: Any = PrivateAttr(default=None)

    @field_validator("event")
    @classmethod
    def _event(cls, event: str) -> str:
        if not event or ("*" in event and not event.endswith("*")):
            raise _bad("event", _MESSAGES["event"])
        return event

    @field_validator("action")
    @classmethod
    def _action(cls, action: str) -> str:
        if action not in CATALOG:
            raise _bad("action", f"{action!r} is not an action of the catalog")
        return action

    @field_validator("connection")
    @classmethod
    def _connection(cls, connection: str | None, info: ValidationInfo) -> str | None:
        known = (info.context or {}).get("connections")
        if connection is not None and known is not None and connection not in known:
            names = ", ".join(sorted(known)) or "none configured"
            raise _bad("connection", f"unknown connection {connection!r} (known: {names})")
        return connection

    @model_validator(mode="after")
    def _compile(self) -> _RuleSpec:
        try:
            self._when = tuple(_conditions(self.when, ""))
        except ValueError as exc:
            raise _bad("when", str(exc)) from None
        try:
            self._compiled = compile_value(self.input)
        except TemplateError as exc:  # its message names the input field
            raise PydanticCustomError(_RULE_ERROR, "{message}", {"message": str(exc)}) from None
        _check_input(self.action, self.input, self._compiled)
        return self

    def rule(self, source: str) -> Rule:
        return Rule(
            name=self.name,
            event=self.event,
            action=self.action,
            input=self.input,
            when=self._when,
            connection=self.connection,
            description=self.description,
            source=source,
            compiled=self._compiled,
        )


class _RulesFile(BaseModel):
    """The whole file: an array of ``[[rule]]`` tables and nothing else."""

    model_config = ConfigDict(extra="forbid", strict=True)

    rule: list[dict[str, Any]] = Field(default_factory=list)


#: Error type of the messages the checks write themselves ("<field>: <what is wrong>").
_RULE_ERROR = "zoomq_rule"

#: What a key must be, said when it is missing or of the wrong type.
_MESSAGES = {
    "name": "required: 1-100 letters, digits, '_', '.' or '-'",
    "event": "required: an event type, or a prefix ending in '*'",
    "action": "required: the name of an action of the catalog",
    "connection": "must be a connection name",
    "description": "must be a string",
    "when": "must be a table of dotted paths to values",
    "input": "must be a table",
}


def _bad(fld: str, message: str) -> PydanticCustomError:
    return PydanticCustomError(
        _RULE_ERROR, "{field}: {message}", {"field": fld, "message": message}
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
    try:
        raw_rules = _RulesFile.model_validate(data).rule
    except ValidationError as exc:
        errors = exc.errors()
        unknown = sorted(str(e["loc"][0]) for e in errors if e["type"] == "extra_forbidden")
        if unknown:
            raise RulesError(
                f"rules file {source}: unknown top-level key(s) {unknown}; "
                "rules go in [[rule]] tables"
            ) from None
        loc = errors[0]["loc"]
        if len(loc) > 1 and isinstance(loc[1], int):
            raise RulesError(f"rules file {source}: rule #{loc[1] + 1}: must be a table") from None
        raise RulesError(
            f"rules file {source}: 'rule' must be an array of tables ([[rule]])"
        ) from None
    rules: list[Rule] = []
    seen: set[str] = set()
    for number, raw in enumerate(raw_rules, start=1):
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
    try:
        spec = _RuleSpec.model_validate(raw, context={"connections": connections})
    except ValidationError as exc:
        raise RulesError(f"{where}: {_first_problem(exc)}") from None
    return spec.rule(source)


def _first_problem(exc: ValidationError) -> str:
    """``<field>: <what is wrong>`` for the first problem, unknown keys first (as a typo
    explains the rest)."""
    errors = exc.errors()
    unknown = sorted(str(e["loc"][0]) for e in errors if e["type"] == "extra_forbidden")
    if unknown:
        return f"{unknown[0]}: unknown key (known: {', '.join(sorted(_RuleSpec.model_fields))})"
    error = errors[0]
    if error["type"] == _RULE_ERROR:
        return error["msg"]
    fld = str(error["loc"][0]) if error["loc"] else "rule"
    return f"{fld}: {_MESSAGES.get(fld, error['msg'])}"


def _check_input(action_key: str, raw: dict[str, Any], compiled: Any) -> None:
    """Unknown fields are errors even when templated; a fully static input is validated."""
    known = _input_names(CATALOG[action_key].input)
    for key in raw:
        if key not in known:
            raise _bad(f"input.{key}", f"{action_key} has no such field")
    if _is_static(compiled):
        try:
            parse_input(CATALOG[action_key], raw)
        except InvalidInput as exc:
            first = exc.errors[0] if exc.errors else {"field": "input", "message": str(exc)}
            raise _bad(f"input.{first['field']}", first["message"]) from None


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
