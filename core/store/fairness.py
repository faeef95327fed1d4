"""Fair order of the queue, shared by every store backend.

The next job is picked round-robin: first the server whose last claimed job is the
longest ago (a server never served comes first; ties go to the one with the oldest job),
then, within it, the member picked the same way, then that member's oldest job. A batch
is filled by repeating the same pick among the jobs that fit it. So one server's burst
of fifty jobs delays another server's single job by one job, not fifty.

If nothing new arrives and each claim takes one job, the queue is therefore served in
rounds: round r gives the r-th job of every server that still has one, servers in their
turn order; a server's own jobs come in rounds of its members the same way. Queue
positions and the work ahead of a job (what the bot's ETA is computed from) both count
the jobs this order serves before it: `jobs_ahead` says which, as the number taken from
the front of each member's queue.

A worker that holds only some models (docs/design.md, "Claims by model") runs the same
pick among its models' jobs: a member's jobs of other models are passed over, not
waited behind. Positions count every model's jobs alike.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

Id = TypeVar("Id", bound=Hashable)  # a server's or member's id, as the backend keeps it


@dataclass(frozen=True)
class Flow:
    """A server (or a member within one) with queued jobs, as the round-robin sees it.

    `order` sorts flows the way the next claim would: the sequence number of its last
    claimed job (0: never), then its oldest queued job (queued time, then enqueue order)."""

    order: tuple[float, ...]
    waiting: int


def taken_in_turns(turns: int, flows: Sequence[Flow]) -> list[int]:
    """How many jobs each flow gives in the first `turns` turns of the round-robin among
    `flows` (in turn order, one job per turn, a flow that ran out skipped)."""
    taken = [0] * len(flows)
    active = sorted(range(len(flows)), key=lambda i: flows[i].order)
    left = turns
    while active and left >= len(active):
        # Whole rounds, up to the first flow running out.
        rounds = min(left // len(active), min(flows[i].waiting - taken[i] for i in active))
        for i in active:
            taken[i] += rounds
        left -= rounds * len(active)
        active = [i for i in active if taken[i] < flows[i].waiting]
    for i in active[:left]:  # a last, partial round
        taken[i] += 1
    return taken


def guild_flows(
    members: Mapping[tuple[Id, Id], Flow], served: Mapping[Id, float]
) -> dict[Id, Flow]:
    """Each server's flow, from its members' flows and when the server was last served."""
    by_guild: defaultdict[Id, list[Flow]] = defaultdict(list)
    for (guild, _), flow in members.items():
        by_guild[guild].append(flow)
    return {
        guild: Flow(
            (served.get(guild, 0), *min(flow.order[1:] for flow in flows)),
            sum(flow.waiting for flow in flows),
        )
        for guild, flows in by_guild.items()
    }


def jobs_ahead(
    members: Mapping[tuple[Id, Id], Flow],
    served_guilds: Mapping[Id, float],
    mine: tuple[Id, Id],
    rank: int,
) -> dict[tuple[Id, Id], int]:
    """Which queued jobs are claimed before the job that is `rank`-th (0: first) in the
    queue of member `mine` (server, member): how many from the front of each member's
    queue (members with queued jobs only, `mine` included), if servers and members take
    turns, one job per claim, and nothing new arrives. Their sum is the job's position.

    `members`: every member with queued jobs, keyed (server, member); `served_guilds`:
    the sequence number of each server's last claimed job (missing: never)."""
    guild, _ = mine
    me = members[mine]
    ahead: dict[tuple[Id, Id], int] = {}
    for key, flow in members.items():
        if key == mine:
            ahead[key] = rank
        elif key[0] == guild:  # my server's other members: `rank` turns, one more if first
            ahead[key] = min(rank + (flow.order < me.order), flow.waiting)
    turns = sum(ahead.values())  # jobs of my server before mine: its turns before mine
    guilds = guild_flows(members, served_guilds)
    my_guild = guilds.pop(guild)
    in_guild: defaultdict[Id, list[tuple[tuple[Id, Id], Flow]]] = defaultdict(list)
    for key, flow in members.items():
        if key[0] != guild:
            in_guild[key[0]].append((key, flow))
    for other, flow in guilds.items():
        # Another server gets as many turns as mine before my job, one more if it goes
        # first; its members share them in their own turns.
        served = min(turns + (flow.order < my_guild.order), flow.waiting)
        keys = [key for key, _ in in_guild[other]]
        taken = taken_in_turns(served, [member for _, member in in_guild[other]])
        ahead.update(zip(keys, taken, strict=True))
    return ahead
