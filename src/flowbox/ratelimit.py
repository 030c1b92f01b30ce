"""Rate limits: a token bucket per key (a client address, an email), in memory.

    limit = RateLimit(rate=10 / 60, burst=10)   # 10 at once, then one every 6 s
    wait = limit.take(ip)                       # 0.0: go on; > 0: refuse with 429, Retry-After: ceil(wait)

Used for logins (per client address, and per email for failed attempts) and webhooks (per
client address, `FLOWBOX_WEBHOOK_RATE_LIMIT` requests/s). The buckets live in one process: with
several server processes each enforces its own share. Memory is bounded: past `max_keys`
the buckets that are full again (idle clients) are dropped first.
"""

from __future__ import annotations

import math
import time


class RateLimit:
    """`burst` events at once per key, refilled at `rate` per second."""

    def __init__(self, rate: float, burst: float, *, max_keys: int = 10_000) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("a rate limit needs rate > 0 and burst >= 1")
        self.rate = rate
        self.burst = float(burst)
        self.max_keys = max_keys
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)

    def _level(self, key: str, now: float) -> float:
        tokens, at = self._buckets.get(key, (self.burst, now))
        return min(self.burst, tokens + (now - at) * self.rate)

    def take(self, key: str) -> float:
        """Use one token of `key`: 0.0 when there was one, else the seconds until there is (nothing used)."""
        now = time.monotonic()
        level = self._level(key, now)
        if level < 1:
            self._buckets[key] = (level, now)
            return (1 - level) / self.rate
        if len(self._buckets) >= self.max_keys and key not in self._buckets:
            self._prune(now)
        self._buckets[key] = (level - 1, now)
        return 0.0

    def reset(self, key: str) -> None:
        """Forget `key` (a successful login clears its failures)."""
        self._buckets.pop(key, None)

    def _prune(self, now: float) -> None:
        full = [k for k, (tokens, at) in self._buckets.items() if tokens + (now - at) * self.rate >= self.burst]
        for key in full:
            del self._buckets[key]
        if len(self._buckets) >= self.max_keys:  # still full of busy clients: start over
            self._buckets.clear()


def retry_after(seconds: float) -> str:
    """The Retry-After header value for a wait (whole seconds, at least 1)."""
    return str(max(1, math.ceil(seconds)))
