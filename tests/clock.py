"""The tests' one fake clock: time moves only when told to, or when the code sleeps."""

from __future__ import annotations


class FakeClock:
    """A ``zoomq.clock.Clock`` for tests; ``sleeps`` records every wait asked for."""

    def __init__(self, now: float = 1_760_000_000.0, mono: float = 1_000.0) -> None:
        self.now = now
        self.mono = mono
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.mono

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.advance(max(0.0, seconds))

    def advance(self, seconds: float) -> None:
        self.now += seconds
        self.mono += seconds
