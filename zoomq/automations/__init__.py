"""Automations: what zoomq does when a Zoom event arrives.

Registered in Python with ``@automation("recording.completed")`` or declared in the rules
file; each matching automation runs once per event (``zoomq.runtime.idempotency``).
"""

from zoomq.automations.context import AutomationContext, StepResult
from zoomq.automations.dispatch import DispatchReport, dispatch_event, run_automation
from zoomq.automations.loader import load_automations
from zoomq.automations.registry import Automation, Automations, automation, event_matches
from zoomq.automations.rules import Condition, Rule, load_rules, parse_rules
from zoomq.automations.template import Template, compile_template, lookup
from zoomq.errors import RulesError, TemplateError

__all__ = [
    "Automation",
    "AutomationContext",
    "Automations",
    "Condition",
    "DispatchReport",
    "Rule",
    "RulesError",
    "StepResult",
    "Template",
    "TemplateError",
    "automation",
    "compile_template",
    "dispatch_event",
    "event_matches",
    "load_automations",
    "load_rules",
    "lookup",
    "parse_rules",
    "run_automation",
]
