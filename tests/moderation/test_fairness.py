"""Fair turns across servers, through the fake Discord: one server's burst does not make
another server wait behind all of it (the order itself: tests/store contract tests)."""

import asyncio

from tests.moderation.helpers import World, accepted, delivered, imagine


async def test_a_burst_in_one_server_does_not_starve_another(world: World) -> None:
    engine = world.stack.engine
    engine.step_seconds = 0.05
    first = await imagine(world, "a: first", steps=60)  # keeps the worker busy meanwhile
    await first.wait_original(lambda m: m.content.startswith("Drawing: step"), 30)
    burst = [imagine(world, f"a: burst {i}") for i in range(11)]
    requests = [*await asyncio.gather(*burst), await imagine(world, "b: single", server=world.b)]
    assert all(await asyncio.gather(*(accepted(r) for r in requests)))
    single = requests[-1]
    status = await single.wait_original(lambda m: m.content.startswith("Queued"))
    assert status.content.startswith("Queued: yours is next")  # not behind the burst
    engine.step_seconds = 0.0
    await asyncio.gather(*(delivered(r) for r in requests))
    prompts = [[request.prompt for request in batch] for batch in engine.batches]
    assert prompts[0] == ["a: first"]
    assert prompts[1][0] == "b: single"  # the next claim serves server B first
