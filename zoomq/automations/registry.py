"""Automations: what runs when an event arrives, registered in Python or in the rules file.

A Python automation is a function ``(event, ctx)`` decorated with ``@automation("type")`` in
a module named by ``ZOOMQ_AUTOMATION_MODULES``; a rule is a ``[[rule]]`` of the rules file.
Both become an ``Automation``; ``Automations`` holds every one by its unique name.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from zoomq.errors import ConfigurationError

if TYPE_CHECKING:
    from zoomq.automations.context import AutomationContext

__all__ = [
    "Automation",
    "Automations",
    "Handler",
    "automation",
    "event_matches",
    "load_modules",
]

#: What an automation runs: the event and a context that can run catalog actions.
Handler = Callable[[dict[str, Any], "AutomationContext"], Any]
H = TypeVar("H", bound=Callable[..., Any])

_MARK = "__zoomq_automation__"


def event_matches(pattern: str, event_type: str) -> bool:
    """Exact match, or a ``*`` suffix wildcard: ``meeting.*``, ``*``."""
    if pattern.endswith("*"):
        return event_type.startswith(pattern[:-1])
    return pattern == event_type


@dataclass(frozen=True)
class Automation:
    """One named reaction to events of a type."""

    name: str
    event: str
    handler: Handler
    #: Connection the actions use; None means the event's own connection.
    connection: str | None = None
    #: Extra condition on the whole template context (``{**event, "meta": meta}``).
    when: Callable[[Mapping[str, Any]], bool] | None = None
    #: Where it was defined, for messages: ``rules.toml`` or ``module:function``.
    source: str = ""

    def matches(self, event: Mapping[str, Any], meta: Mapping[str, Any]) -> bool:
        event_type = event.get("event")
        if not isinstance(event_type, str) or not event_matches(self.event, event_type):
            return False
        return self.when is None or self.when(template_context(event, meta))


def template_context(event: Mapping[str, Any], meta: Mapping[str, Any]) -> dict[str, Any]:
    """What templates and conditions read: the event's fields, plus ``meta``."""
    return {**event, "meta": dict(meta)}


def automation(
    event: str, *, name: str | None = None, connection: str | None = None
) -> Callable[[H], H]:
    """Mark ``fn(event, ctx)`` as an automation for events of type ``event`` (``*`` suffix ok).

    The name defaults to ``module.function``; it is part of each run's idempotency key,
    so renaming an automation makes already-handled events look new to it.
    """
    if not event or ("*" in event and not event.endswith("*")):
        raise ConfigurationError(f"@automation: bad event pattern {event!r}")

    def mark(fn: H) -> H:
        auto_name = name or f"{fn.__module__}.{fn.__qualname__}"
        setattr(
            fn,
            _MARK,
            Automation(
                name=auto_name,
                event=event,
                handler=fn,
                connection=connection,
                source=f"{fn.__module__}:{fn.__qualname__}",
            ),
        )
        return fn

    return mark


def load_modules(names: Iterable[str]) -> list[Automation]:
    """Import each module and collect its ``@automation`` functions, in definition order."""
    found: list[Automation] = []
    for module_name in names:
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:  # any failure at import is a configuration error
            raise ConfigurationError(
                f"ZOOMQ_AUTOMATION_MODULES: cannot import {module_name!r}: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        for value in vars(module).values():
            marked = getattr(value, _MARK, None)
            if isinstance(marked, Automation) and marked.source.startswith(f"{module_name}:"):
                found.append(marked)
    return found


class Automations:
    """Every automation by name; names are unique across modules and rules."""

    def __init__(self, items: Iterable[Automation] = ()) -> None:
        self._by_name: dict[str, Automation] = {}
        for item in items:
            if item.name in self._by_name:
                other = self._by_name[item.name]
                raise ConfigurationError(
                    f"automation name {item.name!r} is used twice ({other.source}, {item.source})"
                )
            self._by_name[item.name] = item

    def __len__(self) -> int:
        return len(self._by_name)

    def __iter__(self) -> Iterator[Automation]:
        return iter(self._by_name.values())

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def get(self, name: str) -> Automation:
        try:
            return self._by_name[name]
        except KeyError:
            raise ConfigurationError(
                f"no automation named {name!r} (it may have been renamed or removed)"
            ) from None

    def for_event(self, event: Mapping[str, Any], meta: Mapping[str, Any]) -> list[Automation]:
        """The automations that want this event, in registration order."""
        return [a for a in self._by_name.values() if a.matches(event, meta)]
