"""The state file a running ``zoomq dev`` leaves for the ``zoomq`` commands of other terminals.

``zoomq dev`` gives its children the sandbox's credentials and URLs and a private Redis on a
random port through their environment only; a second terminal has none of it. So dev writes
them here (mode 0600: it may hold the generated webhook secret) and removes the file when it
stops; a file whose pid is no longer alive (dev was killed) is stale and ignored.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["STATE_FILE", "DevState", "read_live_state", "remove_state", "write_state"]

#: Where the CLI looks, relative to the working directory: dev's default ``--data-dir``.
STATE_FILE = Path(".zoomq") / "dev.json"


@dataclass(frozen=True, slots=True)
class DevState:
    """What one running ``zoomq dev`` published: its pid and ``Settings`` field values."""

    path: Path
    pid: int
    settings: dict[str, Any]


def write_state(path: Path, settings: dict[str, Any]) -> None:
    """Publish ``settings`` (``Settings`` field names) for this process, atomically, mode 0600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump({"pid": os.getpid(), "settings": settings}, out, indent=2)
    os.replace(tmp, path)


def remove_state(path: Path) -> None:
    """Remove the file if this process wrote it (another dev may have replaced it since)."""
    state = _read(path)
    if state is not None and state.pid == os.getpid():
        path.unlink(missing_ok=True)


def read_live_state(path: Path = STATE_FILE) -> DevState | None:
    """The state of a ``zoomq dev`` that is still running, else None."""
    state = _read(path)
    return state if state is not None and _alive(state.pid) else None


def _read(path: Path) -> DevState | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    pid, settings = data.get("pid"), data.get("settings")
    if not isinstance(pid, int) or pid <= 0 or not isinstance(settings, dict):
        return None
    return DevState(path=path, pid=pid, settings=settings)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    return True
