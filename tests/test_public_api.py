"""The public surface of every module of the project, one rule for all, against a snapshot.

Every module of zoomq, receiver, tasks and worker has an ``__all__``; every name it lists
exists, once, and is public; every public function, class and UPPER_CASE constant the module
defines is listed. The whole surface (``module:name`` per line) is kept in
``tests/public_api.txt``, so a change to it is a deliberate, reviewed change of that file:
``python -m tests.test_public_api`` rewrites it.
"""

from __future__ import annotations

import ast
import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

import zoomq
from tests.conftest import REPO

PACKAGES = ("zoomq", "receiver", "tasks", "worker")
SNAPSHOT = REPO / "tests" / "public_api.txt"
REGENERATE = "python -m tests.test_public_api"
#: Run, not imported: ``python -m zoomq`` starts the CLI on import.
SCRIPTS = {"zoomq.__main__"}


def module_paths() -> Iterator[tuple[str, Path]]:
    """Every importable module of the project's packages, by dotted name."""
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            parts = path.relative_to(REPO).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            name = ".".join(parts)
            if name not in SCRIPTS:
                yield name, path


MODULES = dict(module_paths())

#: Public names defined but not in ``__all__`` when this rule was written, each module's
#: owner to list them or make them private. Exact: a new unlisted name fails, and so does an
#: entry here once it is listed, renamed or gone, so the table only shrinks.
KNOWN_UNLISTED: dict[str, frozenset[str]] = {
    "zoomq.actions.run": frozenset({"collect_pages"}),
    "zoomq.automations.registry": frozenset({"template_context"}),
    "zoomq.cli": frozenset({"cli"}),
    "zoomq.cli.connections": frozenset(
        {
            "DEFAULT_RECEIVER_URL",
            "MAX_INSTALL_TTL",
            "add_connection",
            "install_connection",
            "list_connections",
            "test_connection",
        }
    ),
    "zoomq.cli.dev": frozenset({"GRACE", "SANDBOX", "STOP_SIGNALS"}),
    "zoomq.cli.webhook": frozenset({"send", "validate"}),
    "zoomq.cli.worker": frozenset(
        {"DEFAULT_QUEUES", "POOLS", "dlq_list", "dlq_purge", "dlq_replay", "dlq_show"}
    ),
    "zoomq.client.http": frozenset({"USER_AGENT"}),
    "zoomq.client.ratelimit": frozenset({"USER_MEETING_DAILY_CAP"}),
    "zoomq.runtime.dlq": frozenset({"ENTRIES_KEY", "INDEX_KEY"}),
    "zoomq.runtime.idempotency": frozenset({"Begin", "MAX_RESULT_BYTES", "PREFIX"}),
    "zoomq.runtime.parking": frozenset({"BAD_KEY", "MOVING_KEY", "PARKED_KEY"}),
    "zoomq.sandbox.api": frozenset({"QUERY_PARAMETER_MESSAGE", "authenticate"}),
    "zoomq.sandbox.checks": frozenset({"INVALID"}),
    "zoomq.sandbox.downloads": frozenset(
        {"ACCESS_DENIED", "MISSING_PAGE", "ONLY_HOST_PAGE", "UNSATISFIABLE"}
    ),
    "zoomq.sandbox.oauth": frozenset({"OAuthFailure"}),
    "zoomq.sandbox.objects": frozenset({"ROLE_NAMES"}),
    "zoomq.sandbox.pagination": frozenset({"page_size"}),
    "zoomq.sandbox.ratelimits": frozenset(
        {"DAILY_MESSAGE", "PER_SECOND_MESSAGE", "USER_MEETING_MESSAGE"}
    ),
    "zoomq.sandbox.routes.chat": frozenset({"M", "list_channels", "list_messages"}),
    "zoomq.sandbox.routes.meetings": frozenset(
        {
            "add_registrant",
            "create_meeting",
            "delete_meeting",
            "get_invitation",
            "get_meeting",
            "list_meetings",
            "list_registrants",
            "register",
            "update_meeting",
        }
    ),
    "zoomq.sandbox.routes.phone": frozenset({"M", "account_recordings", "user_recordings"}),
    "zoomq.sandbox.routes.recordings": frozenset(
        {"delete_meeting_recordings", "get_meeting_recordings", "list_user_recordings"}
    ),
    "zoomq.sandbox.routes.users": frozenset(
        {"create_user", "delete_user", "get_user", "list_users", "update_user"}
    ),
    "zoomq.sandbox.routes.webinars": frozenset(
        {"add_registrant", "get_webinar", "list_participants", "list_registrants", "list_webinars"}
    ),
    "zoomq.sandbox.state": frozenset({"DEFAULT_TEST_BASE_URL"}),
    "worker.app": frozenset({"TASK_ROUTES"}),
}


def _is_type_variable(value: ast.expr | None) -> bool:
    return (
        isinstance(value, ast.Call)
        and isinstance(value.func, ast.Name)
        and value.func.id in {"TypeVar", "ParamSpec", "TypeVarTuple"}
    )


def _has_code(path: Path) -> bool:
    """Anything besides a docstring: a package that is only its docstring exports nothing."""
    body = ast.parse(path.read_text(), str(path)).body
    return any(not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)) for n in body)


def defined_public(path: Path) -> set[str]:
    """The public functions, classes and UPPER_CASE constants a module defines itself."""
    names: set[str] = set()
    for node in ast.parse(path.read_text(), str(path)).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign) and not _is_type_variable(node.value):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name) and t.id.isupper())
    return {name for name in names if not name.startswith("_")}


def surface() -> list[str]:
    """``module:name`` for every name of every module's ``__all__``, sorted."""
    lines = []
    for name in MODULES:
        exported = getattr(importlib.import_module(name), "__all__", [])
        lines.extend(f"{name}:{attr}" for attr in exported)
    return sorted(lines)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_all_is_complete_and_true(name: str) -> None:
    """``__all__`` exists, lists each existing public name once, and misses none defined here."""
    module = importlib.import_module(name)
    if not _has_code(MODULES[name]):
        # Nothing but its submodules, bound once imported.
        names = [n for n, v in vars(module).items() if not n.startswith("_")]
        assert all(isinstance(vars(module)[n], ModuleType) for n in names), name
        return
    assert hasattr(module, "__all__"), f"{name} has no __all__"
    exported = list(module.__all__)
    assert len(exported) == len(set(exported)), f"{name}.__all__ lists a name twice"
    private = [n for n in exported if n.startswith("_") and not n.endswith("__")]
    assert private == [], f"{name}.__all__ lists private names"
    missing = [n for n in exported if not hasattr(module, n)]
    assert missing == [], f"{name}.__all__ lists names that do not exist"
    unlisted = defined_public(MODULES[name]) - set(exported)
    known = KNOWN_UNLISTED.get(name, frozenset())
    assert sorted(unlisted - known) == [], f"{name} defines public names its __all__ does not list"
    assert sorted(known - unlisted) == [], f"listed or gone: remove from KNOWN_UNLISTED[{name!r}]"


def test_the_surface_is_the_snapshot() -> None:
    """The surface changes only with ``tests/public_api.txt``: adding, renaming or dropping a
    public name is a reviewed change, never a side effect."""
    expected = SNAPSHOT.read_text().splitlines()
    actual = surface()
    added = sorted(set(actual) - set(expected))
    removed = sorted(set(expected) - set(actual))
    assert (added, removed) == ([], []), (
        f"the public surface changed (added {added}, removed {removed}); if that is intended, "
        f"run `{REGENERATE}` and commit tests/public_api.txt"
    )
    assert expected == actual, f"tests/public_api.txt is not sorted; run `{REGENERATE}`"


def test_the_walk_covers_every_package() -> None:
    """The rule reaches all four packages and their subpackages, so no module escapes it."""
    assert {name.split(".")[0] for name in MODULES} == set(PACKAGES)
    for expected in ("zoomq.runtime.ledger", "zoomq.sandbox.webhooks.sender", "zoomq.cli.dev"):
        assert expected in MODULES


def test_error_tree_has_one_root() -> None:
    """Everything zoomq.errors defines as an exception descends from ZoomError."""
    from zoomq import errors

    for attr in errors.__all__:
        value = getattr(errors, attr)
        if isinstance(value, type) and issubclass(value, BaseException):
            assert issubclass(value, zoomq.ZoomError), attr


if __name__ == "__main__":
    SNAPSHOT.write_text("".join(f"{line}\n" for line in surface()))
    sys.stdout.write(f"wrote {len(surface())} names to {SNAPSHOT.relative_to(REPO)}\n")
