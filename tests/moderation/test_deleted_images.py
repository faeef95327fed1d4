"""A picture a moderator deletes from the audit channel leaves no copy in the job store."""

from tests.moderation.helpers import MODERATOR, World, configure, delivered, imagine
from tests.moderation.test_audit import audit_posts


async def test_deleting_from_the_audit_channel_drops_the_stored_pictures(world: World) -> None:
    await configure(world, "audit", {"channel": world.a.audit})
    job = await imagine(world, "a lighthouse")
    result = await delivered(job)
    [post] = await audit_posts(world)
    store = world.stack.store
    assert await store.result(str(job.id)) is not None
    await world.fake.click(post, f"mod:delete:{job.id}", permissions=MODERATOR)
    await world.fake.wait_for(lambda: result.deleted)
    assert await store.result(str(job.id)) is None
    assert await store.get(str(job.id)) is not None
