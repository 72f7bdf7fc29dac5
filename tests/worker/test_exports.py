"""Each module of the worker half exports exactly what its ``__all__`` names."""

from __future__ import annotations

import importlib

import pytest

MODULES = [
    "zoomq.automations",
    "zoomq.automations.context",
    "zoomq.automations.dispatch",
    "zoomq.automations.loader",
    "zoomq.automations.registry",
    "zoomq.automations.rules",
    "zoomq.automations.template",
    "zoomq.runtime.dlq",
    "zoomq.runtime.idempotency",
    "zoomq.runtime.keys",
    "zoomq.runtime.parking",
    "zoomq.cli.worker",
    "tasks",
    "tasks.actions",
    "tasks.automations",
    "tasks.base",
    "tasks.events",
    "tasks.policy",
    "tasks.runtime",
    "worker.app",
    "worker.logconfig",
    "worker.scheduler",
    "worker.signals",
]


@pytest.mark.parametrize("name", MODULES)
def test_all_names_exist_and_are_public(name: str) -> None:
    """Every name in ``__all__`` is defined, and none is private."""
    module = importlib.import_module(name)
    exported = module.__all__
    assert len(exported) == len(set(exported))
    for attr in exported:
        assert not attr.startswith("_")
        assert hasattr(module, attr), f"{name}.{attr}"
