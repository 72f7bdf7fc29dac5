"""The README's layout table names exactly the folders the repository has."""

from __future__ import annotations

import re

from tests.conftest import REPO


def _table_folders() -> set[str]:
    text = (REPO / "README.md").read_text()
    section = text.split("## Layout", 1)[1].split("\n## ", 1)[0]
    return {m.rstrip("/") for m in re.findall(r"^\| `([^`]+/)` \|", section, re.M)}


def test_the_layout_table_matches_the_folders() -> None:
    """Every top-level folder and every package of the core is in the table, and no more."""
    top = {
        p.name
        for p in REPO.iterdir()
        if p.is_dir()
        and not p.name.startswith(".")
        and p.name not in {"build", "__pycache__"}
        and not p.name.endswith(".egg-info")
    }
    core = {f"zoomq/{p.parent.name}" for p in (REPO / "zoomq").glob("*/__init__.py")}
    assert _table_folders() == top | core
