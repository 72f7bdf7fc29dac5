"""Imports run one way: cli → receiver | worker → tasks → automations | archive | jobs →
runtime → core.

The sandbox sits beside them, on the core, and only the CLI imports it (tests and benchmarks
do too; they are not walked here). The rule is checked on the source with ``ast``, every
import statement of every module, so nothing is imported to check it and an import hidden
in a function counts like any other. Only the CLI imports lazily across layers: that is how
``zoomq receiver`` starts without loading the worker, Celery or the sandbox, which the last
test checks in a fresh interpreter.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import REPO

PACKAGES = ("zoomq", "receiver", "tasks", "worker")

#: Each layer and the layers it may import, besides its own. A layer absent from every set
#: (the CLI) is imported by nothing; one beside the others (the sandbox) by the CLI alone.
MAY_IMPORT: dict[str, frozenset[str]] = {
    "cli": frozenset(
        {
            "receiver",
            "worker",
            "tasks",
            "automations",
            "archive",
            "jobs",
            "runtime",
            "core",
            "sandbox",
            "celery",
        }
    ),
    # The receiver takes bulk jobs in (validation and fan-out, without the worker).
    "receiver": frozenset({"jobs", "runtime", "core"}),
    "worker": frozenset({"tasks", "automations", "archive", "jobs", "runtime", "core", "celery"}),
    "tasks": frozenset({"automations", "archive", "jobs", "runtime", "core", "celery"}),
    # The automation engine runs steps on the runtime's idempotency records.
    "automations": frozenset({"runtime", "core"}),
    # The recording archive locks files and meetings with the runtime's Redis keys.
    "archive": frozenset({"runtime", "core"}),
    # Bulk jobs keep their state in the runtime's store and run steps on its records.
    "jobs": frozenset({"runtime", "core"}),
    "runtime": frozenset({"core"}),
    "core": frozenset(),
    "sandbox": frozenset({"core"}),
}

#: Imports that break the rule today, each with what it is waiting for. The test fails on
#: any other violation, and on an entry here that no longer occurs, so the list only shrinks.
KNOWN: dict[tuple[str, str], str] = {}


#: Modules of a higher package that belong to the core: the job models, which the
#: runtime's job store returns (the package's ``__init__`` imports nothing else).
CORE_MODULES = frozenset({"zoomq.jobs.models"})


def layer(module: str) -> str | None:
    """The layer of a module of the project, ``celery`` for Celery, None for the rest."""
    parts = module.split(".")
    if parts[0] == "celery":
        return "celery"
    if parts[0] not in PACKAGES:
        return None
    if parts[0] != "zoomq":
        return parts[0]
    if len(parts) > 1 and parts[1] == "__main__":
        return "cli"  # `python -m zoomq` is the CLI
    if module in CORE_MODULES:
        return "core"
    if len(parts) > 1 and parts[1] in (
        "cli",
        "automations",
        "archive",
        "jobs",
        "runtime",
        "sandbox",
    ):
        return parts[1]
    return "core"


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    line: int
    lazy: bool  # inside a function


def modules() -> Iterator[tuple[str, Path]]:
    """Every module of the project's packages, by dotted name."""
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            parts = path.relative_to(REPO).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            yield ".".join(parts), path


def imports(module: str, path: Path) -> Iterator[Import]:
    """Every import statement of a module, relative ones resolved."""
    tree = ast.parse(path.read_text(), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    lazy_nodes = {
        id(sub)
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        for sub in ast.walk(node)
    }
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # `from zoomq import runtime` imports the package zoomq.runtime.
            names = [f"{base}.{alias.name}" for alias in node.names]
        for name in names:
            yield Import(module, name, node.lineno, id(node) in lazy_nodes)


def violations() -> dict[tuple[str, str], str]:
    found: dict[tuple[str, str], str] = {}
    known_modules = {name for name, _ in modules()}
    for module, path in modules():
        own = layer(module)
        assert own is not None
        for imp in imports(module, path):
            # `from pkg import name`: the module pkg.name if there is one, else pkg.
            target = imp.imported
            if layer(target) != "celery" and target not in known_modules:
                target = target.rpartition(".")[0]
            other = layer(target)
            if other is None or other == own:
                continue
            key = (module, target)
            if other not in MAY_IMPORT[own]:
                found[key] = f"{module}:{imp.line}: {own} imports {other} ({target})"
            elif imp.lazy and own != "cli":
                found[key] = f"{module}:{imp.line}: imports {target} inside a function"
    return found


def test_imports_run_one_way() -> None:
    """No module imports a layer above or beside its own, nor hides an import in a function."""
    found = violations()
    new = sorted(text for key, text in found.items() if key not in KNOWN)
    assert new == [], "imports against cli → receiver | worker → tasks → runtime → core:\n" + (
        "\n".join(new)
    )
    gone = sorted(f"{a} -> {b}" for a, b in KNOWN if (a, b) not in found)
    assert gone == [], "fixed, so remove from KNOWN: " + ", ".join(gone)


def test_the_rule_sees_what_it_must(tmp_path: Path) -> None:
    """The walker finds relative, lazy and `from package import module` imports."""
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from . import clock\nfrom .runtime import dlq\n"
        "def f():\n    from zoomq import sandbox\n    import celery.app\n"
    )
    found = {(i.imported, i.lazy) for i in imports("zoomq.sample", sample)}
    assert found == {
        ("zoomq.clock", False),
        ("zoomq.runtime.dlq", False),
        ("zoomq.sandbox", True),
        ("celery.app", True),
    }
    assert [layer(n) for n in ("zoomq.cli.dev", "zoomq.__main__", "zoomq.webhooks")] == [
        "cli",
        "cli",
        "core",
    ]


def test_production_entry_points_load_neither_worker_nor_sandbox() -> None:
    """`zoomq receiver` and the receiver app load no tasks, worker, Celery or sandbox module:
    the web process enqueues by task name, and Zoom's side of webhooks is a tool."""
    probe = (
        "import sys, receiver.app, zoomq.cli, zoomq.cli.receiver; "
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('tasks', 'worker', 'celery') or m.startswith('zoomq.sandbox'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == ""
