"""The 25 Zoom actions: one catalog entry each, run by one generic runner."""

from zoomq.actions.catalog import CATALOG, Action
from zoomq.actions.run import get_action, parse_input, run_action

__all__ = ["CATALOG", "Action", "get_action", "parse_input", "run_action"]
