"""The public surfaces of ``receiver`` and ``zoomq.runtime`` are what ``__all__`` says."""

from __future__ import annotations

import importlib

import pytest

MODULES = [
    "receiver",
    "receiver.app",
    "receiver.body",
    "zoomq.cli.receiver",
    "receiver.config",
    "receiver.dispatch",
    "receiver.health",
    "receiver.metrics",
    "receiver.oauth",
    "receiver.runtime",
    "receiver.webhooks",
    "zoomq.runtime",
    "zoomq.runtime.enqueue",
    "zoomq.runtime.celery_message",
]


@pytest.mark.parametrize("name", MODULES)
def test_all_names_exist_and_public_names_are_listed(name: str) -> None:
    """Every name in __all__ exists; every public function or class defined here is in it."""
    module = importlib.import_module(name)
    exported = set(module.__all__)
    assert all(hasattr(module, n) for n in exported)
    defined = {
        n
        for n, v in vars(module).items()
        if not n.startswith("_")
        and getattr(v, "__module__", None) == name
        and (isinstance(v, type) or callable(v))
    }
    assert defined <= exported, defined - exported


def test_receiver_never_imports_worker_or_tasks() -> None:
    """The web process enqueues by task name; importing it pulls in no Celery worker code."""
    import subprocess
    import sys

    from tests.conftest import REPO

    probe = (
        "import sys, receiver.app, zoomq.cli.receiver; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('tasks', 'worker', 'celery')]; "
        "print(','.join(bad))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == ""


def test_receiver_never_loads_the_sandbox() -> None:
    """Zoom's side of webhooks (catalog, sender, emitter) stays out of the production process."""
    import subprocess
    import sys

    from tests.conftest import REPO

    probe = (
        "import sys, receiver.app; "
        "print(','.join(m for m in sys.modules if m.startswith('zoomq.sandbox')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == ""
