"""A job that breaks the engine every time: it fails after its attempts with a clear
sentence to its requester, and the jobs behind it are served meanwhile."""

from tests.support.bot_stack import Stack
from tests.support.engines import POISON


async def test_a_poison_job_fails_clearly_and_the_others_are_served(stack: Stack) -> None:
    poisoned = await stack.fake.slash("imagine", {"prompt": f"{POISON} apple"})
    behind = await stack.fake.slash("imagine", {"prompt": "an ordinary apple"})
    served = await behind.wait_original(lambda m: bool(m.attachments), 30)
    failed = await poisoned.wait_original(lambda m: m.content.startswith("This job failed"), 30)
    assert "the image generator failed on it" in failed.content
    assert not failed.attachments
    assert served.embeds[0]["description"] == "an ordinary apple"
    attempts = [b for b in stack.engine.batches if any(POISON in r.prompt for r in b)]
    assert len([b for b in attempts if len(b) == 1]) == 3  # alone, every attempt it had
