"""Deterministic file content: any byte range of any file, computed, never stored.

Block ``i`` (64 KiB, at offset ``i * 65536``) is a rotation of a 64 KiB base block
derived from the file id; the rotation changes with ``i`` (period 4 GiB), so a
download that resumes at the wrong offset gets bytes that differ from these.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Iterator
from functools import lru_cache

__all__ = ["CHUNK_SIZE", "aiter_bytes", "expected_bytes", "expected_sha256", "iter_bytes"]

CHUNK_SIZE = 64 * 1024
_STEP = 40_503  # odd, so the rotations of consecutive blocks never repeat within 4 GiB


@lru_cache(maxsize=128)
def _doubled_base(file_id: str) -> bytes:
    base = hashlib.shake_128(file_id.encode()).digest(CHUNK_SIZE)
    return base + base


def _block_slice(file_id: str, block: int, start: int, stop: int) -> bytes:
    """Bytes ``start:stop`` (0 <= start < stop <= 64 KiB) of block ``block``."""
    rotation = (block * _STEP) % CHUNK_SIZE
    return _doubled_base(file_id)[rotation + start : rotation + stop]


def iter_bytes(file_id: str, start: int, end: int) -> Iterator[bytes]:
    """Bytes ``[start, end)`` of the file, in chunks of at most 64 KiB on the block grid."""
    offset = start
    while offset < end:
        block, within = divmod(offset, CHUNK_SIZE)
        stop = min(CHUNK_SIZE, within + (end - offset))
        yield _block_slice(file_id, block, within, stop)
        offset += stop - within


async def aiter_bytes(file_id: str, start: int, end: int) -> AsyncIterator[bytes]:
    """``iter_bytes`` for a StreamingResponse: constant memory whatever the size."""
    for chunk in iter_bytes(file_id, start, end):
        yield chunk


def expected_bytes(file_id: str, start: int, end: int) -> bytes:
    """The file's bytes ``[start, end)`` (end exclusive, like a slice), for tests."""
    if start < 0 or end < start:
        raise ValueError(f"bad range {start}..{end}")
    return b"".join(iter_bytes(file_id, start, end))


def expected_sha256(file_id: str, size: int) -> str:
    """The SHA-256 (hex) of the file's first ``size`` bytes, in constant memory."""
    digest = hashlib.sha256()
    for chunk in iter_bytes(file_id, 0, size):
        digest.update(chunk)
    return digest.hexdigest()
