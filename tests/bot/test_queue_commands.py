"""/queue and /history through the fake Discord."""

from tests.support.bot_stack import Stack


async def test_queue_shows_my_jobs_the_servers_and_the_workers(stack: Stack) -> None:
    stack.engine.step_seconds = 0.05
    running = await stack.fake.slash("imagine", {"prompt": "first", "steps": 100})
    await running.wait_original(lambda m: m.content.startswith("Drawing: step"))
    waiting = await stack.fake.slash("imagine", {"prompt": "second", "size": "256x128"})
    await waiting.wait_original(lambda m: m.content.startswith("Queued"))
    listing = await stack.fake.slash("queue")
    callback = await listing.wait_callback()
    assert callback.ephemeral
    [embed] = callback.data["embeds"]
    fields = {field["name"]: field["value"] for field in embed["fields"]}
    mine = fields["Your jobs"].splitlines()
    assert mine[0].endswith("· second")
    assert mine[0].startswith("0 ahead, about ")
    assert mine[1].startswith("Drawing ▰")
    assert mine[1].endswith("· first")
    assert fields["Waiting or running in this server"] == "2"
    assert fields["Workers online"] == "1"


async def test_history_links_my_finished_jobs(stack: Stack) -> None:
    done = await stack.fake.slash("imagine", {"prompt": "a [bright] moon"})
    final = await done.wait_original(lambda m: bool(m.attachments), 30)
    other = stack.fake.add_user("bob")
    theirs = await stack.fake.slash("imagine", {"prompt": "not mine"}, user=other)
    await theirs.wait_original(lambda m: bool(m.attachments), 30)
    listing = await stack.fake.slash("history")
    [embed] = (await listing.wait_callback()).data["embeds"]
    link = f"https://discord.com/channels/{stack.fake.guild.id}/{final.channel_id}/{final.id}"
    assert embed["description"] == f"Done · [a (bright) moon]({link})"


async def test_empty_queue_and_history_say_so(stack: Stack) -> None:
    listing = await stack.fake.slash("queue")
    [embed] = (await listing.wait_callback()).data["embeds"]
    assert embed["fields"][0]["value"] == "You have no jobs waiting."
    history = await stack.fake.slash("history")
    [embed] = (await history.wait_callback()).data["embeds"]
    assert embed["description"] == "You have no finished jobs here yet."
