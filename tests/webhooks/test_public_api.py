"""The package's public surface stays curated and honest."""

from __future__ import annotations

import importlib

import pytest

import zoomq.webhooks

MODULES = [
    "zoomq.cli.webhook",
    "zoomq.sandbox.webhooks.catalog",
    "zoomq.sandbox.webhooks.emitter",
    "zoomq.sandbox.webhooks.events",
    "zoomq.sandbox.webhooks.objects",
    "zoomq.sandbox.webhooks.sender",
    "zoomq.webhooks.envelope",
    "zoomq.webhooks.errors",
    "zoomq.webhooks.signing",
    "zoomq.webhooks.verify",
]


def test_every_exported_name_exists() -> None:
    """Each name in zoomq.webhooks.__all__ resolves, and nothing is listed twice."""
    assert len(set(zoomq.webhooks.__all__)) == len(zoomq.webhooks.__all__)
    for name in zoomq.webhooks.__all__:
        assert hasattr(zoomq.webhooks, name), name


@pytest.mark.parametrize("module_name", MODULES)
def test_each_module_exports_what_it_defines(module_name: str) -> None:
    """A module's __all__ names its own public objects, all of which exist."""
    module = importlib.import_module(module_name)
    for name in module.__all__:
        assert hasattr(module, name), f"{module_name}.{name}"
    defined_here = {
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and getattr(value, "__module__", None) == module.__name__
    }
    assert defined_here <= set(module.__all__), defined_here - set(module.__all__)
