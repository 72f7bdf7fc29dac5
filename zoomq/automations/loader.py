"""Load every automation — Python modules and the rules file — and check them together."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from pathlib import Path

from zoomq.automations.registry import Automations, load_modules
from zoomq.automations.rules import load_rules

__all__ = ["load_automations"]


def load_automations(
    rules_file: Path | None = None,
    modules: Iterable[str] = (),
    *,
    connections: Collection[str] | None = None,
) -> Automations:
    """Python automations first, then rules; any problem raises ``ConfigurationError``."""
    found = load_modules(modules)
    if rules_file is not None:
        found.extend(r.as_automation() for r in load_rules(rules_file, connections=connections))
    return Automations(found)
