"""The core package's curated surface: every exported name exists and is importable."""

from __future__ import annotations

import importlib

import pytest

import zoomq

PACKAGES = ["zoomq", "zoomq.client", "zoomq.actions", "zoomq.webhooks", "zoomq.sandbox"]


@pytest.mark.parametrize("name", PACKAGES)
def test_exports_exist(name: str) -> None:
    """Each package's __all__ lists only names that resolve, none twice."""
    module = importlib.import_module(name)
    exported = module.__all__
    assert len(exported) == len(set(exported))
    for attr in exported:
        assert getattr(module, attr) is not None, f"{name}.{attr}"


def test_error_tree_has_one_root() -> None:
    """Everything zoomq.errors defines as an exception descends from ZoomError."""
    from zoomq import errors

    for attr in errors.__all__:
        value = getattr(errors, attr)
        if isinstance(value, type) and issubclass(value, BaseException):
            assert issubclass(value, zoomq.ZoomError), attr


def test_receiver_never_imports_worker_code() -> None:
    """The web process imports zoomq, never tasks or worker (STYLE: imports run one way)."""
    import subprocess
    import sys

    code = (
        "import sys, receiver.app; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('tasks', 'worker', 'celery')]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
