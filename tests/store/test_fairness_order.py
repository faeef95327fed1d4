"""core/store/fairness.py against a plain simulation of the claims it predicts."""

import itertools
import random

from core.store.fairness import Flow, jobs_ahead, taken_in_turns

Member = tuple[int, int]


def simulate(
    queues: dict[Member, list[tuple[float, int]]],
    served_users: dict[Member, int],
    served_guilds: dict[int, int],
) -> list[tuple[Member, int]]:
    """Claims one job at a time as the stores do, until the queue is empty: the server
    served longest ago (ties: oldest job), its member served longest ago, that member's
    oldest job. Returns (member, rank in the member's queue) in claim order."""
    users, guilds = dict(served_users), dict(served_guilds)
    taken = dict.fromkeys(queues, 0)
    seq = max([0, *users.values(), *guilds.values()])
    order: list[tuple[Member, int]] = []
    while True:
        heads = {m: (users.get(m, 0), *q[taken[m]]) for m, q in queues.items() if taken[m] < len(q)}
        if not heads:
            return order
        guild_keys: dict[int, tuple[float, ...]] = {}
        for (guild, _), head in heads.items():
            key = (guilds.get(guild, 0), *head[1:])
            guild_keys[guild] = min(guild_keys.get(guild, key), key)
        guild = min(guild_keys, key=guild_keys.__getitem__)
        member = min((m for m in heads if m[0] == guild), key=heads.__getitem__)
        order.append((member, taken[member]))
        taken[member] += 1
        seq += 1
        users[member], guilds[guild] = seq, seq


def test_jobs_ahead_names_exactly_the_jobs_claimed_first() -> None:
    rng = random.Random(3)
    enqueued = itertools.count()
    for _ in range(200):
        queues: dict[Member, list[tuple[float, int]]] = {}
        for _ in range(rng.randint(1, 8)):
            member = (rng.randint(1, 3), rng.randint(1, 3))
            times = sorted(rng.choice((0.0, 1.0, 2.0, 3.0)) for _ in range(rng.randint(1, 6)))
            queues.setdefault(member, []).extend((t, next(enqueued)) for t in times)
        for queue in queues.values():
            queue.sort()
        # Each claim numbers a server's and a member's turn alike, so a server's number is
        # its members' latest, or later (a member served since whose queue ran empty).
        seqs = iter(rng.sample(range(1, 100), len(queues)))
        served_users = {m: next(seqs) for m in queues if rng.random() < 0.5}
        served_guilds: dict[int, int] = {}
        for (guild, _), seq in served_users.items():
            served_guilds[guild] = max(served_guilds.get(guild, 0), seq)
        for guild in {guild for guild, _ in queues}:
            if rng.random() < 0.3:
                served_guilds[guild] = 100 + guild
        flows = {
            m: Flow((served_users.get(m, 0), *queue[0]), len(queue)) for m, queue in queues.items()
        }
        order = simulate(queues, served_users, served_guilds)
        for position, (member, rank) in enumerate(order):
            ahead = jobs_ahead(flows, served_guilds, member, rank)
            before = order[:position]
            assert ahead == {m: sum(1 for b, _ in before if b == m) for m in queues}
            assert sum(ahead.values()) == position


def test_taken_in_turns_skips_flows_that_ran_out() -> None:
    flows = [Flow((2,), 5), Flow((1,), 1), Flow((3,), 3)]
    assert taken_in_turns(0, flows) == [0, 0, 0]
    assert taken_in_turns(2, flows) == [1, 1, 0]
    assert taken_in_turns(5, flows) == [2, 1, 2]
    assert taken_in_turns(7, flows) == [3, 1, 3]
    assert taken_in_turns(9, flows) == [5, 1, 3]
