"""Per-key rate limits: one token bucket per API key, checked by :class:`serving.auth.AuthMiddleware`.

A bucket holds up to ``burst`` tokens and refills at ``per_second``; each request takes one. An empty bucket
answers 429 with ``Retry-After`` (whole seconds until a token is back, at least 1). Buckets live in the worker
process (a dict by key id, no lock: the middleware runs on the event loop), so with ``serve_workers`` N a key
may send up to N times its limit in total.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Rate:
    """Requests per second and burst (the most requests at once after a quiet period)."""

    per_second: float
    burst: float

    def __post_init__(self) -> None:
        if not (self.per_second > 0 and self.burst >= 1):
            raise ValueError(f"a rate needs per_second > 0 and burst >= 1, got {self.per_second}, {self.burst}")


class TokenBucket:
    """``take()`` returns 0.0 when a token was taken, else the seconds until one is available."""

    __slots__ = ("rate", "burst", "tokens", "stamp")

    def __init__(self, rate: Rate, now: float):
        self.rate = rate.per_second
        self.burst = rate.burst
        self.tokens = rate.burst
        self.stamp = now

    def take(self, now: float) -> float:
        tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if tokens >= 1.0:
            self.tokens = tokens - 1.0
            return 0.0
        self.tokens = tokens
        return (1.0 - tokens) / self.rate


class RateLimiter:
    """Buckets by key id; a bucket is rebuilt when its key's rate changes (a key store edit)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000):
        self._clock = clock
        self._buckets: dict[str, tuple[Rate, TokenBucket]] = {}
        self._max_keys = max_keys

    def check(self, key_id: str, rate: Rate) -> int:
        """0 when the request may pass, else the ``Retry-After`` seconds (>= 1)."""
        now = self._clock()
        entry = self._buckets.get(key_id)
        if entry is None or entry[0] is not rate and entry[0] != rate:
            if len(self._buckets) >= self._max_keys:
                self._buckets.clear()  # only with an absurd number of keys; every bucket starts full again
            entry = (rate, TokenBucket(rate, now))
            self._buckets[key_id] = entry
        wait = entry[1].take(now)
        return 0 if wait == 0.0 else max(1, math.ceil(wait))
