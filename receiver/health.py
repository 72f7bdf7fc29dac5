"""``/healthz`` (the process answers), ``/readyz`` (Redis answers), ``/metrics``."""

from __future__ import annotations

import asyncio

from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from receiver.runtime import ReceiverRuntime

__all__ = ["PROMETHEUS_CONTENT_TYPE", "health_routes"]

PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def health_routes(runtime: ReceiverRuntime) -> list[Route]:
    async def healthz(request: Request) -> Response:
        del request
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        del request
        client, enqueuer = runtime.redis, runtime.enqueuer
        if client is None or enqueuer is None or not enqueuer.running:
            return JSONResponse({"status": "not ready", "redis": "not started"}, status_code=503)
        try:
            await asyncio.wait_for(client.ping(), runtime.config.readiness_timeout)
        except (RedisError, OSError, TimeoutError) as exc:
            detail = "timeout" if isinstance(exc, TimeoutError) else type(exc).__name__
            return JSONResponse({"status": "not ready", "redis": detail}, status_code=503)
        return JSONResponse({"status": "ready"})

    async def metrics(request: Request) -> Response:
        del request
        return PlainTextResponse(runtime.metrics.render(), media_type=PROMETHEUS_CONTENT_TYPE)

    return [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
    ]
