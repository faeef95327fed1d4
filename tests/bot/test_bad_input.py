"""Bad input through the real command path, including values Discord's own validation
would never send: each gets one short private sentence, and nothing is queued."""

import math

from tests.fake_discord import EPHEMERAL, Option
from tests.support.bot_stack import Stack

LONG = "x" * 10_000
OVER_77 = "a " * 80  # 82 tokens with start and end

CASES: list[tuple[str, dict[str, object], str]] = [
    ("empty prompt", {"prompt": ""}, "Your prompt is empty"),
    ("blank prompt", {"prompt": "   "}, "Your prompt is empty"),
    ("tabs and newlines", {"prompt": "\n\t \n"}, "Your prompt is empty"),
    ("zero-width only", {"prompt": "\u200b\u200d"}, "Your prompt is empty"),
    ("direction marks only", {"prompt": "\u202e\u200f"}, "Your prompt is empty"),
    ("10,000 characters", {"prompt": LONG}, "The prompt is longer than 1000"),
    ("NUL", {"prompt": "a\x00b"}, "The prompt contains control characters"),
    ("escape sequence", {"prompt": "\x1b[31mred"}, "The prompt contains control characters"),
    ("DEL", {"prompt": "cat\x7f"}, "The prompt contains control characters"),
    ("bell", {"prompt": "\x07ding"}, "The prompt contains control characters"),
    ("over 77 tokens", {"prompt": OVER_77}, "Your prompt is 82 tokens long"),
    ("negative over 77 tokens", {"prompt": "x", "negative_prompt": OVER_77}, "Your prompt is 82"),
    ("negative NUL", {"prompt": "x", "negative_prompt": "\x00"}, "The negative_prompt contains"),
    (
        "negative too long",
        {"prompt": "x", "negative_prompt": LONG},
        "The negative_prompt is longer",
    ),
    ("prompt is a number", {"prompt": Option(5, 4)}, "The prompt must be text"),
    ("steps 0", {"prompt": "x", "steps": 0}, "steps must be between 1 and 100"),
    ("steps -1", {"prompt": "x", "steps": -1}, "steps must be between 1 and 100"),
    ("steps 10^9", {"prompt": "x", "steps": 10**9}, "steps must be between 1 and 100"),
    ("steps 101", {"prompt": "x", "steps": 101}, "steps must be between 1 and 100"),
    ("steps as text", {"prompt": "x", "steps": Option("ten", 3)}, "steps must be between"),
    ("steps as float", {"prompt": "x", "steps": Option(2.5, 10)}, "steps must be between"),
    ("guidance NaN", {"prompt": "x", "guidance": Option(math.nan, 10)}, "guidance must be"),
    ("guidance inf", {"prompt": "x", "guidance": Option(math.inf, 10)}, "guidance must be"),
    ("guidance -inf", {"prompt": "x", "guidance": Option(-math.inf, 10)}, "guidance must be"),
    ("guidance -1", {"prompt": "x", "guidance": -1.0}, "guidance must be between 0.0 and 30.0"),
    ("guidance 31", {"prompt": "x", "guidance": 31.0}, "guidance must be between 0.0 and 30.0"),
    ("guidance 1e308", {"prompt": "x", "guidance": 1e308}, "guidance must be between"),
    ("guidance as text", {"prompt": "x", "guidance": Option("high", 3)}, "guidance must be"),
    ("guidance as bool", {"prompt": "x", "guidance": Option(True, 5)}, "guidance must be"),
    ("count 0", {"prompt": "x", "count": 0}, "count must be between 1 and 4"),
    ("count 100", {"prompt": "x", "count": 100}, "count must be between 1 and 4"),
    ("count -5", {"prompt": "x", "count": -5}, "count must be between 1 and 4"),
    ("count 5", {"prompt": "x", "count": 5}, "count must be between 1 and 4"),
    ("count as bool", {"prompt": "x", "count": Option(True, 5)}, "count must be between"),
    ("seed -1", {"prompt": "x", "seed": -1}, "seed must be between 0 and 4294967295"),
    ("seed 2^70", {"prompt": "x", "seed": 2**70}, "seed must be between 0 and 4294967295"),
    ("seed 2^32", {"prompt": "x", "seed": 2**32}, "seed must be between 0 and 4294967295"),
    ("size not offered", {"prompt": "x", "size": "640x640"}, "640x640 is not offered here"),
    ("size nonsense", {"prompt": "x", "size": "abc"}, "abc is not offered here"),
    ("size one number", {"prompt": "x", "size": "128"}, "128 is not offered here"),
    ("size zero", {"prompt": "x", "size": "0x0"}, "0x0 is not offered here"),
    ("size negative", {"prompt": "x", "size": "-128x128"}, "-128x128 is not offered"),
    ("size three sides", {"prompt": "x", "size": "128x128x128"}, "128x128x128 is not offered"),
    ("size 5000 digits", {"prompt": "x", "size": "9" * 5000 + "x1"}, "99999999999999999999 is"),
    ("size as number", {"prompt": "x", "size": Option(128, 4)}, "128 is not offered here"),
    ("missing prompt", {}, "Some options of this command were not understood"),
]


async def test_every_bad_input_gets_one_private_sentence_and_queues_nothing(
    stack: Stack,
) -> None:
    assert len(CASES) >= 40
    wrong: list[str] = []
    for name, options, reply in CASES:
        interaction = await stack.fake.slash("imagine", options)
        callback = await interaction.wait_callback()
        text = str(callback.data.get("content"))
        private = callback.type == 4 and bool(callback.data.get("flags", 0) & EPHEMERAL)
        if not (private and text.startswith(reply) and len(text) < 200):
            wrong.append(f"{name}: type {callback.type}, {text!r}")
    assert wrong == []
    assert await stack.store.head() == 0  # nothing was ever queued


async def test_an_unknown_command_gets_a_sentence(stack: Stack) -> None:
    interaction = await stack.fake.slash("dream", {"prompt": "x"})
    callback = await interaction.wait_callback()
    assert callback.data["flags"] & EPHEMERAL
    assert callback.data["content"].startswith("This command is not known here")


async def test_unusual_but_valid_prompts_are_queued_and_delivered(stack: Stack) -> None:
    prompts = ["قطة على سطح القمر", "🦊🌲❄️", "\u202eright to left", "雪の中の狐", "a\nb\tc"]
    for prompt in prompts:
        interaction = await stack.fake.slash("imagine", {"prompt": prompt})
        final = await interaction.wait_original(lambda m: bool(m.attachments), 30)
        assert final.embeds[0]["description"] == prompt
