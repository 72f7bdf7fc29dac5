"""The one exception tree and its one handling table stay complete, drawn and in use."""

from __future__ import annotations

import importlib
import pkgutil
import re
from datetime import UTC, datetime
from types import ModuleType

import pytest

import receiver
import tasks
import worker
import zoomq
from zoomq import errors
from zoomq.errors import (
    HANDLING,
    ClientAction,
    Handling,
    QueueAction,
    ZoomError,
    handled_as,
    handling,
)

_ROW = re.compile(r"^    (?:[│├└─ ]*)(\w+)\s+(retry|raise)\s+(\w+)\s", re.MULTILINE)


def _import_everything() -> None:
    packages: list[ModuleType] = [zoomq, receiver, tasks, worker]
    for package in packages:
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if not info.name.endswith("__main__"):
                importlib.import_module(info.name)


def _tree() -> list[type[ZoomError]]:
    found: list[type[ZoomError]] = []
    todo = [ZoomError]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


def _drawn() -> dict[str, tuple[str, str]]:
    assert errors.__doc__ is not None
    return {m[1]: (m[2], m[3]) for m in _ROW.finditer(errors.__doc__)}


def test_every_error_class_lives_in_errors_py() -> None:
    """No module defines a ZoomError of its own: the tree is in one place."""
    _import_everything()
    outside = {
        f"{c.__module__}.{c.__qualname__}" for c in _tree() if c.__module__ != "zoomq.errors"
    }
    assert outside == set()


def test_every_class_has_a_row_and_is_exported() -> None:
    """Each class of the tree resolves to a row (its own or an ancestor's) and is public."""
    _import_everything()
    for cls in _tree():
        assert isinstance(handling(cls), Handling), cls
        assert cls.__name__ in errors.__all__, cls
    assert set(HANDLING) <= set(_tree())


def test_the_docstring_draws_every_class_with_the_row_it_gets() -> None:
    """The drawing names every class once, with the client and queue actions it really gets."""
    _import_everything()
    drawn = _drawn()
    assert set(drawn) == {cls.__name__ for cls in _tree()}
    for cls in _tree():
        row = handling(cls)
        assert drawn[cls.__name__] == (row.client.value, row.queue.value), cls.__name__


def test_the_most_specific_row_wins() -> None:
    """A subclass's own row overrides its parent's; one without a row inherits it."""
    assert handling(errors.PageTokenExpired).queue is QueueAction.RESTART_LISTING
    assert handling(errors.BadRequest).queue is QueueAction.GIVE_UP
    assert handled_as(errors.TemplateError) is errors.InvalidInput
    assert handled_as(
        errors.DailyLimitExceeded("d", reset_at=datetime.now(UTC), retry_after=1.0)
    ) is (errors.DailyLimitExceeded)
    with pytest.raises(TypeError, match="ValueError"):
        handled_as(ValueError)  # type: ignore[arg-type]


def test_only_what_the_client_may_repeat_is_marked_retry() -> None:
    """The client retries connect errors, 5xx and short 429s; nothing else."""
    retried = {cls for cls, row in HANDLING.items() if row.client is ClientAction.RETRY}
    assert retried == {errors.TransportError, errors.ServerError, errors.RateLimited}
