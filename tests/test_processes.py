"""Who holds a port, and a redis-server that answers for itself."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from zoomq.errors import ConfigurationError
from zoomq.processes import exit_status, listener_owners, port_holder, spawn_kwargs, stop_groups
from zoomq.redis_server import RedisServer, free_port


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


HOSTS = [
    "127.0.0.1",
    "0.0.0.0",  # every interface, loopback included
    pytest.param(
        "::1", marks=pytest.mark.skipif(not _has_ipv6_loopback(), reason="no IPv6 loopback")
    ),
]


@pytest.fixture(params=HOSTS)
def listener(request: pytest.FixtureRequest) -> Iterator[tuple[socket.socket, str]]:
    """A socket of another program, listening on a free port of one loopback address."""
    host: str = request.param
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        sock.listen()
        yield sock, host


def test_port_holder_sees_a_listener_on_any_loopback_address(
    listener: tuple[socket.socket, str],
) -> None:
    """127.0.0.1, 0.0.0.0 and ::1 all count: each would answer a loopback client."""
    sock, _ = listener
    port = sock.getsockname()[1]
    holder = port_holder(port)
    assert holder is not None
    assert holder.endswith(f":{port}")


def test_port_holder_is_none_for_a_free_port() -> None:
    """A port nobody listens on is free."""
    assert port_holder(free_port()) is None


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
def test_listener_owners_tells_ours_from_theirs(listener: tuple[socket.socket, str]) -> None:
    """The listening socket is counted for the process holding it, and against any other."""
    sock, _ = listener
    port = sock.getsockname()[1]
    assert listener_owners(port, [os.getpid()]) == (1, 0)
    assert listener_owners(port, [1]) == (0, 1)
    assert listener_owners(free_port(), [1]) == (0, 0)


def test_stop_groups_reaches_a_grandchild() -> None:
    """Stopping a child stops the processes it started, which share its process group."""
    child = subprocess.Popen(
        [sys.executable, "-c", "import subprocess, sys, time; "
         "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)']); "
         "print(p.pid, flush=True); time.sleep(600)"],
        stdout=subprocess.PIPE, **spawn_kwargs(),
    )  # fmt: skip
    assert child.stdout is not None
    with child.stdout:
        grandchild = int(child.stdout.readline())
    stop_groups([child], grace=5)
    assert exit_status(child) is not None
    deadline = time.monotonic() + 10
    while not _gone(grandchild):
        assert time.monotonic() < deadline, f"grandchild {grandchild} still runs"
        time.sleep(0.05)


def _gone(pid: int) -> bool:
    """Exited: no such process, or a zombie waiting for its new parent to reap it."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_redis_server_refuses_a_port_answered_by_another_redis(tmp_path: Path) -> None:
    """A second server on a taken port fails naming it, not "started" on the first's answer."""
    with RedisServer(tmp_path / "first") as first:
        second = RedisServer(tmp_path / "second", port=first.port)
        with pytest.raises(ConfigurationError, match=f"port {first.port}"):
            second.start()
        assert second.process is None
