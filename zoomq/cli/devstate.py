"""The state file a running ``zoomq dev`` leaves for the ``zoomq`` commands of other terminals.

``zoomq dev`` gives its children the sandbox's credentials and URLs and a private Redis on a
random port through their environment only; a second terminal has none of it. So dev writes
them here and removes the file when it stops.

The file steers where credentials go, so it is trusted only when it is provably this user's
running dev: a regular file (no symlink) owned by this user, readable by no one else, in a
directory no one else can write, naming a live process whose start time matches the one
recorded (a reused pid does not pass). Only the keys in ``ALLOWED`` are taken from it, and
every URL in it must point at this machine's loopback.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "ALLOWED",
    "API_FIELDS",
    "STATE_FILE",
    "DevState",
    "read_live_state",
    "remove_state",
    "write_state",
]

#: Where dev writes it and the CLI looks, relative to the working directory.
STATE_FILE = Path(".zoomq") / "dev.json"

#: The ``Settings`` fields a state file may set: the sandbox connection, its URLs, the
#: private Redis, and a webhook secret dev generated.
ALLOWED = frozenset(
    {
        "redis_url",
        "zoom_account_id",
        "zoom_client_id",
        "zoom_client_secret",
        "zoom_api_base_url",
        "zoom_oauth_token_url",
        "zoom_oauth_authorize_url",
        "zoom_webhook_secret_token",
        "archive_download_hosts",  # the sandbox's CDN: settings.archive.download_hosts
    }
)
#: What ``zoomq jobs`` takes from it (not ``Settings`` fields: the jobs commands are a
#: client of the receiver): the receiver's URL and the API key dev generated.
API_FIELDS = frozenset({"api_url", "api_key"})
_URLS = ("redis_url", "zoom_api_base_url", "zoom_oauth_token_url", "zoom_oauth_authorize_url")
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


@dataclass(frozen=True, slots=True)
class DevState:
    """What one running ``zoomq dev`` published: its pid and ``Settings`` field values."""

    path: Path
    pid: int
    started: str
    settings: dict[str, Any]
    #: ``API_FIELDS`` for ``zoomq jobs``; a key only when dev generated it.
    api: dict[str, str] = field(default_factory=dict)


def write_state(path: Path, settings: dict[str, Any], api: dict[str, str] | None = None) -> None:
    """Publish ``settings`` (and ``api``) for this process, atomically, readable by this
    user only."""
    unknown = set(settings) - ALLOWED | set(api or {}) - API_FIELDS
    if unknown:
        raise ValueError(f"not a dev state setting: {', '.join(sorted(unknown))}")
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not _private_dir(path.parent):
        raise PermissionError(f"{path.parent} is not a directory only this user can write")
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # O_EXCL, 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            record = {
                "pid": os.getpid(),
                "started": _started(os.getpid()),
                "settings": settings,
                "api": api or {},
            }
            json.dump(record, out, indent=2)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def remove_state(path: Path) -> None:
    """Remove the file if this process wrote it (another dev may have replaced it since)."""
    state = _read(path)
    if state is not None and state.pid == os.getpid():
        path.unlink(missing_ok=True)


def read_live_state(path: Path = STATE_FILE) -> DevState | None:
    """The state of this user's ``zoomq dev`` that is still running, else None."""
    state = _read(path)
    if state is None or not state.started or _started(state.pid) != state.started:
        return None
    return state


def _private_dir(directory: Path) -> bool:
    try:
        info = os.stat(directory, follow_symlinks=False)
    except OSError:
        return False
    return (
        stat.S_ISDIR(info.st_mode)
        and info.st_uid == os.geteuid()
        and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    )


def _read(path: Path) -> DevState | None:  # noqa: PLR0911 - one return per check
    text = _private_text(path)
    try:
        data = json.loads(text) if text is not None else None
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    pid, started, settings = data.get("pid"), data.get("started"), data.get("settings")
    if not isinstance(pid, int) or pid <= 0 or not isinstance(settings, dict):
        return None
    if set(settings) - ALLOWED or not all(_loopback(settings.get(k)) for k in _URLS):
        return None
    hosts = settings.get("archive_download_hosts", [])
    if not isinstance(hosts, list) or not all(_loopback(f"http://{h}") for h in hosts):
        return None
    api = data.get("api", {})
    if (
        not isinstance(api, dict)
        or set(api) - API_FIELDS
        or not all(isinstance(v, str) for v in api.values())
        or not _loopback(api.get("api_url"))
    ):
        return None
    return DevState(path=path, pid=pid, started=str(started or ""), settings=settings, api=api)


def _private_text(path: Path) -> str | None:
    """The file's text if it is a regular file of this user's that no one else can read."""
    if not _private_dir(path.parent):
        return None
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    with os.fdopen(fd, encoding="utf-8") as file:
        info = os.fstat(file.fileno())
        private = (
            stat.S_ISREG(info.st_mode) and info.st_uid == os.geteuid() and not info.st_mode & 0o077
        )
        return file.read() if private else None


def _loopback(url: Any) -> bool:
    if url is None:
        return True
    try:
        host = urlsplit(str(url)).hostname
    except ValueError:
        return False
    return host in _LOOPBACK


def _started(pid: int) -> str:
    """The process's start time in clock ticks since boot (``/proc/<pid>/stat`` field 22),
    or "" when there is no such process (or no /proc)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    # The command name (field 2) is in parentheses and may hold spaces: split after it.
    fields = raw.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else ""
