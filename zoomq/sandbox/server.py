"""Run the sandbox: in a background thread for tests, or in the foreground for the CLI."""

from __future__ import annotations

import dataclasses
import socket
import threading
import time
from types import TracebackType

import uvicorn

from zoomq.sandbox.app import create_sandbox_app, sandbox_state
from zoomq.sandbox.config import SandboxConfig
from zoomq.sandbox.state import SandboxState

__all__ = ["SandboxServer", "serve"]


def _uvicorn_config(app: object, **kw: object) -> uvicorn.Config:
    # No access log and no lifespan: nothing per request beyond the app itself. No logging
    # config of uvicorn's own: its records go to the root handler the process configured.
    return uvicorn.Config(
        app,  # type: ignore[arg-type]
        log_level="warning",
        log_config=None,
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=2,
        **kw,  # type: ignore[arg-type]
    )


class SandboxServer:
    """A sandbox on 127.0.0.1 and a free port, served by uvicorn in a background thread.

    ::

        with SandboxServer(SandboxConfig(seed=7)) as sandbox:
            httpx.post(sandbox.token_url, ...)
            sandbox.state.faults.inject("GET", "/v2/users", 503, count=1)
    """

    def __init__(
        self, config: SandboxConfig | None = None, *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self.host = host
        self.port: int = self._sock.getsockname()[1]
        self.url = f"http://{host}:{self.port}"
        config = config or SandboxConfig()
        if config.public_url is None:
            config = dataclasses.replace(config, public_url=self.url)
        self.config = config
        self.app = create_sandbox_app(config)
        self._server = uvicorn.Server(_uvicorn_config(self.app))
        self._thread: threading.Thread | None = None

    @property
    def state(self) -> SandboxState:
        return sandbox_state(self.app)

    @property
    def api_base_url(self) -> str:
        return self.url + "/v2"

    @property
    def token_url(self) -> str:
        return self.url + "/oauth/token"

    @property
    def authorize_url(self) -> str:
        return self.url + "/oauth/authorize"

    def start(self, timeout: float = 10.0) -> SandboxServer:
        if self._thread is not None:
            return self
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._sock]},
            name="zoom-sandbox",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the Zoom sandbox did not start")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
            self._thread = None
        self._sock.close()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def serve(config: SandboxConfig, host: str = "127.0.0.1", port: int = 9100) -> None:
    """Serve the sandbox in the foreground until interrupted (``zoomq sandbox``)."""
    if config.public_url is None:
        config = dataclasses.replace(config, public_url=f"http://{host}:{port}")
    server = uvicorn.Server(_uvicorn_config(create_sandbox_app(config), host=host, port=port))
    server.run()
