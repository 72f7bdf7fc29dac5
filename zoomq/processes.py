"""Child processes that cannot outlive their parent, and proof of who listens on a port.

``zoomq dev`` starts redis-server, the sandbox, the receiver and a worker. Each child runs
in its own process group (so stopping it reaches its own children too) and, on Linux, asks
the kernel for SIGTERM when its parent dies (``PR_SET_PDEATHSIG``): that covers a
``kill -9`` of the parent and a foreign binary (redis-server) alike, with no code in the
child. Which process owns a listening socket is read from ``/proc``, so a port answered by
another program is told apart from one answered by our child.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import ipaddress
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

__all__ = [
    "DEATH_SIGNAL",
    "exit_status",
    "group_pids",
    "listener_owners",
    "port_holder",
    "spawn_kwargs",
    "stop_groups",
]

#: What a child receives when its parent dies: the signal each of them shuts down on.
DEATH_SIGNAL = signal.SIGTERM
_PR_SET_PDEATHSIG = 1
_PROC = Path("/proc")
_TCP_LISTEN = "0A"


def _die_with(parent: int) -> Callable[[], None]:
    """A ``preexec_fn``: the child gets DEATH_SIGNAL when ``parent`` dies (Linux)."""
    # Loaded before the fork: the child only calls into an already-open library.
    prctl = ctypes.CDLL(None, use_errno=True).prctl if sys.platform == "linux" else None

    def preexec() -> None:
        if prctl is not None:
            prctl(_PR_SET_PDEATHSIG, int(DEATH_SIGNAL), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


def spawn_kwargs() -> dict[str, Any]:
    """``Popen`` arguments for a child in its own process group that dies with this process.

    Only call this from the main thread: the kernel signals the child when the *thread*
    that forked it exits.
    """
    return {"process_group": 0, "preexec_fn": _die_with(os.getpid()), "stdin": subprocess.DEVNULL}


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def exit_status(proc: subprocess.Popen[Any]) -> int | None:
    """``proc``'s return code (negative: the signal), None while it runs; without reaping it.

    A zombie keeps its pid, so its process group can still be signalled as ours.
    """
    if proc.returncode is not None or not hasattr(os, "waitid"):  # macOS before 3.13
        return proc.poll()
    try:
        info = os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:  # reaped elsewhere
        return proc.poll()
    if info is None:
        return None
    return info.si_status if info.si_code == os.CLD_EXITED else -info.si_status


def stop_groups(processes: Iterable[subprocess.Popen[Any]], grace: float = 10.0) -> None:
    """SIGTERM each child's whole process group, SIGKILL what is left after ``grace``.

    A leader is reaped only after its group got the last signal, so its pid (the group id)
    cannot have been reused by then.
    """
    procs = [p for p in processes if p.returncode is None]
    for proc in procs:
        _signal_group(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(exit_status(p) is None for p in procs):
        time.sleep(0.05)
    for proc in procs:
        _signal_group(proc.pid, signal.SIGKILL)  # stragglers, and a leader that ignored TERM
        proc.wait()


def group_pids(pgid: int) -> set[int]:
    """The live processes of process group ``pgid`` (from /proc)."""
    found = set()
    for entry in _PROC.glob("[0-9]*/stat"):
        try:
            stat = entry.read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()  # after "pid (comm)": state ppid pgrp ...
        if int(fields[2]) == pgid and fields[0] != "Z":
            found.add(int(entry.parent.name))
    return found


def _local_address(hexaddr: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """An address of /proc/net/tcp{,6}: hex, in host-order (little-endian) 32-bit words."""
    raw = bytes.fromhex(hexaddr)
    address = ipaddress.ip_address(b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4)))
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _listening_inodes(port: int) -> set[str] | None:
    """Sockets listening on ``port`` where a loopback client could reach them."""
    tables = [_PROC / "net" / "tcp", _PROC / "net" / "tcp6"]
    if not any(t.exists() for t in tables):
        return None
    inodes = set()
    for table in tables:
        with contextlib.suppress(FileNotFoundError):
            for line in table.read_text().splitlines()[1:]:
                fields = line.split()
                (host, local_port), state, inode = fields[1].split(":"), fields[3], fields[9]
                if state != _TCP_LISTEN or int(local_port, 16) != port:
                    continue
                address = _local_address(host)
                if address.is_loopback or address.is_unspecified:
                    inodes.add(inode)
    return inodes


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    with contextlib.suppress(OSError):
        for fd in (_PROC / str(pid) / "fd").iterdir():
            with contextlib.suppress(OSError):
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
    return inodes


def listener_owners(port: int, pids: Iterable[int]) -> tuple[int, int] | None:
    """(sockets listening on ``port`` held by ``pids``, those held by anyone else).

    None where /proc cannot tell (not Linux).
    """
    listening = _listening_inodes(port)
    if listening is None:
        return None
    ours = set().union(*(_socket_inodes(pid) for pid in pids)) & listening
    return len(ours), len(listening - ours)


def port_holder(port: int) -> str | None:
    """The loopback address on which another program already holds ``port``, if any.

    A listener on 0.0.0.0 or on a dual-stack [::] makes binding 127.0.0.1 fail too; one on
    ::1 alone would answer ``localhost`` instead of our child, so it counts as well.
    """
    for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
        try:
            sock = socket.socket(family, socket.SOCK_STREAM)
        except OSError:
            continue  # no IPv6 here
        with sock:
            # As uvicorn and redis-server do: a previous run's TIME_WAIT is no holder.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                sock.bind((host, port))
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    return f"{host}:{port}" if family == socket.AF_INET else f"[{host}]:{port}"
                if exc.errno != errno.EADDRNOTAVAIL:  # ::1 not configured: nothing there
                    raise
    return None
