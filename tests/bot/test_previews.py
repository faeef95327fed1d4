"""Previews in the status message while a job runs, gone once it ends."""

import io
from pathlib import Path

from PIL import Image

from tests.fake_discord import FakeDiscord
from tests.support.bot_stack import full_stack


def _names(version: dict[str, object]) -> list[str]:
    attachments = version.get("attachments") or []
    assert isinstance(attachments, list)
    return [str(attachment["filename"]) for attachment in attachments]


async def test_the_status_shows_newer_previews_then_only_the_result(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    async with full_stack(fake_discord, tmp_path, preview_seconds=0.3) as stack:
        stack.engine.step_seconds = 0.1
        interaction = await stack.fake.slash("imagine", {"prompt": "a slow fox", "steps": 40})
        message = await interaction.wait_original(
            lambda m: bool(m.attachments) and m.attachments[0]["filename"].endswith(".png"), 60
        )
    previews = [v for v in message.versions if any(n.startswith("preview-") for n in _names(v))]
    assert len(previews) >= 2, [_names(v) for v in message.versions]
    assert all(v["content"].startswith("Drawing: step") for v in previews)
    # Each preview edit uploads a new file (a newer preview), not the same one again.
    ids = [v["attachments"][0]["id"] for v in previews]  # type: ignore[index]
    assert len(set(ids)) >= 2
    assert _names(message.versions[-1]) == [f"imagine-{interaction.id}.png"]
    assert message.max_edits_within(5.0) <= 5


async def test_a_canceled_job_keeps_no_preview(fake_discord: FakeDiscord, tmp_path: Path) -> None:
    async with full_stack(fake_discord, tmp_path, preview_seconds=0.2) as stack:
        stack.engine.step_seconds = 0.1
        interaction = await stack.fake.slash("imagine", {"prompt": "a slow fox", "steps": 100})
        shown = await interaction.wait_original(lambda m: bool(m.attachments), 60)
        [preview] = shown.attachments
        with Image.open(io.BytesIO(shown.attachment_bytes(0))) as image:
            assert (image.format, image.size) == ("WEBP", (64, 64))
        assert preview["filename"].startswith("preview-")
        await stack.fake.click(shown, f"img:cancel:{interaction.id}")
        ended = await interaction.wait_original(lambda m: m.content == "This job was canceled.", 30)
    assert ended.attachments == []
