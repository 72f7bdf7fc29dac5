"""Zoom-shaped identifiers drawn from a seeded ``random.Random``."""

from __future__ import annotations

import base64
import random
import string
import uuid

__all__ = ["IdFactory"]

_ID_ALPHABET = string.ascii_letters + string.digits + "-_"
_ALNUM = string.ascii_letters + string.digits


class IdFactory:
    """Makes ids the way Zoom spells them; numeric ids never repeat within one factory.

    Factories given the same ``taken`` set (one per account of a sandbox) never repeat
    each other's numbers either, so a meeting id names one meeting in the whole sandbox.
    """

    def __init__(self, rng: random.Random, taken: set[int] | None = None) -> None:
        self.rng = rng
        self._numbers: set[int] = set() if taken is None else taken

    def user_id(self) -> str:
        """22 url-safe characters, like ``KDcuGIm1QgePTO8WbOqwIQ``."""
        return "".join(self.rng.choices(_ID_ALPHABET, k=22))

    def meeting_id(self) -> int:
        """An 11-digit meeting or webinar number."""
        return self._unique(81_000_000_000, 99_999_999_999)

    def pmi(self) -> int:
        return self._unique(2_000_000_000, 9_999_999_999)

    def meeting_uuid(self) -> str:
        """Base64 of 16 bytes: ``4444AAAiAAAAAiAiAiiAii==``; may contain ``/`` and ``+``."""
        return base64.b64encode(self.rng.randbytes(16)).decode()

    def slash_uuid(self) -> str:
        """A meeting UUID that starts with ``/`` and contains ``//`` (needs double encoding)."""
        raw = self.meeting_uuid()
        return "/" + raw[1:8] + "//" + raw[10:]

    def file_id(self) -> str:
        """A recording file id: a UUID string."""
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def hex32(self) -> str:
        return f"{self.rng.getrandbits(128):032x}"

    def digits(self, n: int) -> str:
        return "".join(self.rng.choices(string.digits, k=n))

    def password(self, n: int = 6) -> str:
        return "".join(self.rng.choices(_ALNUM, k=n))

    def secret(self, n: int = 32) -> str:
        return "".join(self.rng.choices(_ALNUM, k=n))

    def _unique(self, low: int, high: int) -> int:
        while True:
            value = self.rng.randint(low, high)
            if value not in self._numbers:
                self._numbers.add(value)
                return value
