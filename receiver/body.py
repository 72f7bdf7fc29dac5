"""Reading a request body with a size limit, without ever holding more than the limit."""

from __future__ import annotations

from starlette.requests import ClientDisconnect
from starlette.types import Receive

__all__ = ["BodyTooLarge", "ClientDisconnect", "read_body"]


class BodyTooLarge(Exception):
    """The body is (or declares itself) larger than the limit."""


async def read_body(receive: Receive, content_length: str | None, limit: int) -> bytes:
    """The whole body, or ``BodyTooLarge`` as soon as it is known to exceed ``limit`` bytes.

    ``content_length`` (the header, if sent) is checked before reading anything; a chunked
    body is counted as it streams. Raises ``ClientDisconnect`` if the client goes away.
    """
    # uvicorn refuses non-numeric lengths itself; anything odd here is treated as too large.
    if content_length is not None and (not content_length.isdigit() or int(content_length) > limit):
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # http.disconnect
            raise ClientDisconnect
        chunk: bytes = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)
