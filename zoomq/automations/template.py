"""The rules file's template engine: ``{{ dotted.path }}`` lookups into the event, nothing else.

No expressions, filters or attribute access: a template can only read a value at a dotted
path (``payload.object.id``, list items by index: ``payload.object.participants.0.email``).
A string that is exactly one ``{{ x }}`` keeps the value's JSON type; a string mixing text
and templates becomes text. A path that is not in the event is an error naming it.

Why not Jinja or ``str.format``: for safety. The values come from webhook bodies, written
by whoever names a meeting or registers for one; an engine with expressions, filters or
attribute access (``{0.__class__}``) lets a template reach beyond the event's data, and
would turn every value into text where the action wants the event's JSON types.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from zoomq.errors import TemplateError

__all__ = [
    "Template",
    "compile_template",
    "compile_value",
    "lookup",
    "render_value",
]

_OPEN, _CLOSE = "{{", "}}"
_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)*$")


@dataclass(frozen=True)
class Template:
    """One compiled string: literal text and paths, alternating."""

    source: str
    #: ``str`` parts are literal text, ``tuple`` parts are paths to look up.
    parts: tuple[str | tuple[str, ...], ...]

    @property
    def paths(self) -> tuple[str, ...]:
        return tuple(".".join(p) for p in self.parts if isinstance(p, tuple))

    @property
    def is_static(self) -> bool:
        return not self.paths

    def render(self, context: Mapping[str, Any]) -> Any:
        """The value at the path for a lone ``{{ x }}``; otherwise the interpolated text."""
        if len(self.parts) == 1 and isinstance(self.parts[0], tuple):
            return lookup(context, self.parts[0])
        out: list[str] = []
        for part in self.parts:
            out.append(part if isinstance(part, str) else _as_text(lookup(context, part)))
        return "".join(out)


def compile_template(source: str) -> Template:
    """Parse ``source``; a ``{{`` without ``}}`` or a bad path raises ``TemplateError``."""
    parts: list[str | tuple[str, ...]] = []
    rest = source
    while rest:
        start = rest.find(_OPEN)
        if start < 0:
            parts.append(rest)
            break
        if start:
            parts.append(rest[:start])
        end = rest.find(_CLOSE, start + len(_OPEN))
        if end < 0:
            raise TemplateError(f"unclosed '{{{{' in {source!r}")
        expr = rest[start + len(_OPEN) : end].strip()
        if not _PATH.match(expr):
            raise TemplateError(
                f"{{{{ {expr} }}}} in {source!r} is not a dotted path (like payload.object.id)"
            )
        parts.append(tuple(expr.split(".")))
        rest = rest[end + len(_CLOSE) :]
    return Template(source, tuple(parts))


def compile_value(value: Any, field: str = "input") -> Any:
    """Compile every string inside ``value`` (dicts and lists walked), naming the bad field."""
    if isinstance(value, str):
        try:
            return compile_template(value)
        except TemplateError as exc:
            raise TemplateError(f"{field}: {exc}", field=field) from None
    if isinstance(value, Mapping):
        return {str(k): compile_value(v, f"{field}.{k}") for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [compile_value(v, f"{field}.{i}") for i, v in enumerate(value)]
    return value


def render_value(compiled: Any, context: Mapping[str, Any], field: str = "input") -> Any:
    """Fill a ``compile_value`` result from ``context``; a missing path names the field."""
    if isinstance(compiled, Template):
        try:
            return compiled.render(context)
        except TemplateError as exc:
            raise TemplateError(f"{field}: {exc}", field=field) from None
    if isinstance(compiled, Mapping):
        return {k: render_value(v, context, f"{field}.{k}") for k, v in compiled.items()}
    if isinstance(compiled, list):
        return [render_value(v, context, f"{field}.{i}") for i, v in enumerate(compiled)]
    return compiled


def lookup(context: Mapping[str, Any], path: tuple[str, ...] | str) -> Any:
    """The value at a dotted path; raises ``TemplateError`` naming the first missing step."""
    steps = tuple(path.split(".")) if isinstance(path, str) else path
    current: Any = context
    for depth, step in enumerate(steps):
        if isinstance(current, Mapping) and step in current:
            current = current[step]
        elif isinstance(current, list) and step.isdigit() and int(step) < len(current):
            current = current[int(step)]
        else:
            where = ".".join(steps[:depth]) or "the event"
            raise TemplateError(f"{'.'.join(steps)} is missing (no {step!r} in {where})")
    return current


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, separators=(",", ":"), sort_keys=True)
