"""Fair order of the queue, shared by every store backend.

The next job is picked round-robin: first the server whose last claimed job is the
longest ago (a server never served comes first; ties go to the one with the oldest job),
then, within it, the member picked the same way, then that member's oldest job. A batch
is filled by repeating the same pick among the jobs that fit it. So one server's burst
of fifty jobs delays another server's single job by one job, not fifty.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Flow:
    """A server (or a member within one) with queued jobs, as the round-robin sees it.

    `order` sorts flows the way the next claim would: the sequence number of its last
    claimed job (0: never), then its oldest queued job."""

    order: tuple[float, ...]
    waiting: int


def ahead_in_round_robin(rank: int, mine: Flow, others: Iterable[Flow]) -> int:
    """How many jobs are claimed before the job that is `rank`-th (0: first) in its own
    flow, if every flow is served in turn, one job per turn, and nothing new arrives:
    each other flow gets `rank` turns first, plus one if its turn comes before ours."""
    return rank + sum(min(rank + (other.order < mine.order), other.waiting) for other in others)
