"""How often the deliverer may ask Discord again: per delivery, an exponential backoff
with jitter after each failure; for the whole bot, a budget of invalid requests."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable

from bot.delivery.errors import describe, is_invalid

log = logging.getLogger(__name__)

Clock = Callable[[], float]
BACKOFF_CAP = 300.0  # a delivery failing for hours is still tried every 5 minutes
# Discord restricts an IP past 10,000 invalid requests (401, 403, 429) in 10 minutes, a
# thousand a minute; the deliverer stays far below, whatever is broken and however much
# is waiting: at most this many a minute, then nothing until the oldest is a minute old.
INVALID_REQUESTS_PER_MINUTE = 60
MINUTE = 60.0


class Backoff:
    """Per delivery: after the n-th failure in a row, wait between half and all of
    `base * 2**(n-1)` (at most `cap`): retries thin out, and deliveries that failed
    together (Discord down for everyone) do not all come back at the same moment."""

    def __init__(self, base: float, clock: Clock, rng: Callable[[], float], cap: float) -> None:
        self._base, self._clock, self._rng, self._cap = base, clock, rng, max(cap, base)
        self._failures: dict[str, int] = {}
        self._next: dict[str, float] = {}

    def due(self, key: str) -> bool:
        return self._clock() >= self._next.get(key, 0.0)

    def failures(self, key: str) -> int:
        return self._failures.get(key, 0)

    def failed(self, key: str) -> float:
        """Notes a failure; returns the seconds until the next try."""
        failures = self._failures[key] = self._failures.get(key, 0) + 1
        ceiling = min(self._cap, self._base * 2.0 ** min(failures - 1, 32))
        delay = ceiling / 2 + self._rng() * ceiling / 2
        self._next[key] = self._clock() + delay
        return delay

    def clear(self, key: str) -> None:
        self._failures.pop(key, None)
        self._next.pop(key, None)


class BudgetSpent(Exception):
    """The invalid-request budget ran out: stop asking Discord until it refills."""


class InvalidRequestBudget:
    """At most `limit` invalid requests in any `window` seconds. The deliverer starts no
    work while the budget is spent, and a request that spends its last unit stops the
    work under way (BudgetSpent): the limit is never passed."""

    def __init__(self, limit: int, clock: Clock, window: float = MINUTE) -> None:
        self._limit, self._clock, self._window = limit, clock, window
        self._spent: deque[float] = deque()
        self._warned = False

    @property
    def spent(self) -> bool:
        now = self._clock()
        while self._spent and now - self._spent[0] >= self._window:
            self._spent.popleft()
        if len(self._spent) < self._limit:
            self._warned = False
        return len(self._spent) >= self._limit

    def note(self, error: BaseException) -> None:
        """Counts `error` if Discord counts it as invalid; raises BudgetSpent if that was
        the last one the budget allows."""
        if not is_invalid(error):
            return
        self._spent.append(self._clock())
        if self.spent:
            if not self._warned:
                self._warned = True
                log.warning(
                    "%d requests refused by Discord within a minute (the last: %s);"
                    " pausing deliveries until the minute has passed",
                    self._limit,
                    describe(error),
                )
            raise BudgetSpent
