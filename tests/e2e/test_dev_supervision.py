"""`zoomq dev` answers for its children: its own ports, their deaths, and its own stop.

Every `zoomq dev` here starts as under nohup (SIGINT and SIGHUP ignored), on free ports.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.e2e.conftest import wait_for
from zoomq.processes import port_holder
from zoomq.redis_server import free_port

pytestmark = pytest.mark.e2e

CHILDREN = {"redis-server", "sandbox", "receiver", "worker"}


#: ``python -m zoomq ARGS`` with SIGINT and SIGHUP ignored, as nohup and CI runners start it
#: (an ignored signal stays ignored across exec).
AS_UNDER_NOHUP = [
    sys.executable, "-c",
    "import os, signal, sys; "
    "signal.signal(signal.SIGINT, signal.SIG_IGN); signal.signal(signal.SIGHUP, signal.SIG_IGN); "
    "os.execv(sys.executable, [sys.executable, '-m', 'zoomq', *sys.argv[1:]])",
]  # fmt: skip


class Dev:
    """One `zoomq dev` process and what it started."""

    def __init__(self, tmp_path: Path, port: int, sandbox_port: int) -> None:
        self.port, self.sandbox_port = port, sandbox_port
        self.log = tmp_path / "dev.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ZOOM", "REDIS"))}
        env["ZOOMQ_LOG_FORMAT"] = "json"
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [*AS_UNDER_NOHUP, "dev", "--port", str(port), "--sandbox-port", str(sandbox_port)],
                env=env, cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )  # fmt: skip

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_running(self) -> dict[str, int]:
        """Until it says it runs; its children by name."""
        wait_for(
            lambda: "zoomq dev is running" in self.text() or self.process.poll() is not None,
            60,
            "zoomq dev",
        )
        assert self.process.poll() is None, self.text()
        return wait_for(
            lambda: (found := children_of(self.process.pid)).keys() == CHILDREN and found,
            10,
            f"all of {CHILDREN}",
        )

    def redis_port(self) -> int:
        found = re.search(r"redis://127\.0\.0\.1:(\d+)/", self.text())
        assert found, self.text()
        return int(found.group(1))

    def wait(self, timeout: float = 30) -> int:
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def children_of(ppid: int) -> dict[str, int]:
    """The live child processes of ``ppid`` by name: redis-server, sandbox, receiver, worker."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            argv = (stat.parent / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if int(fields[1]) != ppid or fields[0] == "Z":
            continue
        if b"redis-server" in argv[0]:
            found["redis-server"] = int(stat.parent.name)
        elif b"zoomq" in argv and len(argv) > argv.index(b"zoomq") + 1:
            found[argv[argv.index(b"zoomq") + 1].decode()] = int(stat.parent.name)
    return found


def gone(pid: int) -> bool:
    """Exited: no such process, or a zombie left for its parent to reap."""
    try:
        os.kill(pid, 0)
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (ProcessLookupError, FileNotFoundError):
        return True


def assert_all_stopped(dev: Dev, children: dict[str, int]) -> None:
    wait_for(lambda: all(gone(pid) for pid in children.values()), 30, f"{children} to exit")
    for port in (dev.port, dev.sandbox_port, dev.redis_port()):
        assert port_holder(port) is None, f"port {port} still held"


@pytest.fixture
def dev(tmp_path: Path) -> Iterator[Dev]:
    started = Dev(tmp_path, free_port(), free_port())
    try:
        yield started
    finally:
        started.close()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_stop_signal_stops_every_child(dev: Dev, signum: signal.Signals) -> None:
    """SIGTERM, SIGHUP and SIGINT (even inherited as ignored) stop dev and all it started."""
    children = dev.wait_running()
    dev.process.send_signal(signum)
    assert dev.wait() == 0, dev.text()[-3000:]
    assert_all_stopped(dev, children)


def test_children_stop_when_dev_is_killed(dev: Dev) -> None:
    """kill -9 of dev: the kernel tells each child, and each exits on its own."""
    children = dev.wait_running()
    dev.process.kill()
    dev.process.wait()
    assert_all_stopped(dev, children)


def test_a_dead_child_stops_dev_with_an_error_naming_it(dev: Dev) -> None:
    """The receiver killed: dev exits non-zero naming it, and stops the rest."""
    children = dev.wait_running()
    os.kill(children["receiver"], signal.SIGKILL)
    code = dev.wait()
    assert code != 0
    assert re.search(r"error: receiver \(pid \d+\) exited with signal SIGKILL", dev.text())
    assert_all_stopped(dev, children)


class _Answer(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        del args


class _Server6(ThreadingHTTPServer):
    address_family = socket.AF_INET6


@pytest.fixture(params=["127.0.0.1", "0.0.0.0", "::1"])
def other_program(request: pytest.FixtureRequest) -> Iterator[int]:
    """Another HTTP server, answering 200 to everything on a free port of one address."""
    host: str = request.param
    cls = _Server6 if ":" in host else ThreadingHTTPServer
    try:
        server = cls((host, 0), _Answer)
    except OSError as exc:
        pytest.skip(f"cannot listen on {host}: {exc}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("option", ["--port", "--sandbox-port"])
def test_a_port_held_by_another_program_is_an_error_naming_it(
    tmp_path: Path, other_program: int, option: str
) -> None:
    """Dev never reports "running" on another program's answers; it exits 2 naming the port."""
    port, sandbox_port = (
        (other_program, free_port()) if option == "--port" else (free_port(), other_program)
    )
    dev = Dev(tmp_path, port, sandbox_port)
    try:
        code = dev.wait(60)
    finally:
        dev.close()
    text = dev.text()
    assert code == 2, text[-3000:]
    assert f"error: port {other_program} ({option}) is already in use" in text
    assert "zoomq dev is running" not in text
