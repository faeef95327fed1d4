"""img2img uploads through /imagine: real PNG, JPEG and WebP only, checked before they
are decoded, turned upright, flattened, and handed to the engine as the source."""

import io
import struct
import threading
import zlib

import pytest
from PIL import Image

from bot.cogs import imagine as imagine_cog
from core import uploads
from tests.fake_discord import EPHEMERAL, Upload
from tests.support.bot_stack import Stack


def encoded(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def gradient(size: tuple[int, int], mode: str = "RGB") -> Image.Image:
    return Image.linear_gradient("L").resize(size).convert(mode)


def bomb_png(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims a huge image."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + header
    ihdr = struct.pack(">I", len(header)) + chunk + struct.pack(">I", zlib.crc32(chunk))
    idat_data = zlib.compress(b"\x00" * 64)
    idat = struct.pack(">I", len(idat_data)) + b"IDAT" + idat_data
    idat += struct.pack(">I", zlib.crc32(b"IDAT" + idat_data))
    end = struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND"))
    return b"\x89PNG\r\n\x1a\n" + ihdr + idat + end


def rotated_jpeg() -> bytes:
    """A 200x100 JPEG whose EXIF says: turn me 90 degrees (orientation 6)."""
    exif = Image.Exif()
    exif[0x0112] = 6
    return encoded(gradient((200, 100)), "JPEG", exif=exif.tobytes())


def jpeg_claiming(width: int, height: int) -> bytes:
    """A small JPEG whose frame header claims `width` x `height`."""
    data = bytearray(encoded(gradient((64, 64)), "JPEG"))
    frame = data.index(b"\xff\xc0")  # SOF0: length (2), precision (1), height, width
    data[frame + 5 : frame + 9] = struct.pack(">HH", height, width)
    return bytes(data)


async def imagine_with(stack: Stack, upload: Upload, **options: object) -> Image.Image:
    interaction = await stack.fake.slash(
        "imagine", {"prompt": "the same, in winter", "image": upload, **options}
    )
    await interaction.wait_original(lambda m: bool(m.attachments), 30)
    source = await stack.store.source(str(interaction.id))
    assert source is not None
    return Image.open(io.BytesIO(source))


@pytest.mark.parametrize(
    ("upload", "size"),
    [
        (Upload("a.png", encoded(gradient((300, 200)), "PNG"), "image/png"), (300, 200)),
        (Upload("b.webp", encoded(gradient((256, 256)), "WEBP"), "image/webp"), (256, 256)),
        (Upload("c.jpg", rotated_jpeg(), "image/jpeg"), (100, 200)),  # turned upright
        (Upload("d.png", encoded(gradient((2000, 1000)), "PNG"), "image/png"), (1024, 512)),
        # A phone's photo: larger than a PNG may be, decoded at half its size.
        (Upload("e.jpg", encoded(gradient((4000, 3000)), "JPEG"), "image/jpeg"), (1024, 768)),
    ],
)
async def test_real_images_become_the_jobs_source(
    stack: Stack, upload: Upload, size: tuple[int, int]
) -> None:
    source = await imagine_with(stack, upload)
    assert (source.format, source.mode, source.size) == ("PNG", "RGB", size)
    [request] = stack.engine.batches[-1]
    assert request.init_image is not None
    assert request.init_image.shape == (size[1], size[0], 3)
    assert request.strength == 0.6


async def test_transparency_is_flattened_on_white_and_strength_is_passed(stack: Stack) -> None:
    clear = Image.new("RGBA", (128, 128), (255, 0, 0, 0))
    source = await imagine_with(stack, Upload("e.png", encoded(clear, "PNG")), strength=0.3)
    assert source.getpixel((5, 5)) == (255, 255, 255)
    assert stack.engine.batches[-1][0].strength == 0.3


@pytest.mark.parametrize(
    ("upload", "reply"),
    [
        (Upload("f.gif", encoded(gradient((64, 64)), "GIF")), "That file is not a PNG"),
        (Upload("notes.txt", b"just some text", "text/plain"), "That file is not a PNG"),
        (Upload("cut.png", encoded(gradient((64, 64)), "PNG")[:80]), "That file is not a PNG"),
        (Upload("bomb.png", bomb_png(100_000, 100_000)), "That image has more than"),
        (Upload("big.png", bomb_png(5000, 5000)), "That image has more than 4,194,304 pixels."),
        (Upload("wide.png", bomb_png(2049, 2048)), "That image has more than 4,194,304 pixels."),
        (Upload("big.jpg", jpeg_claiming(5000, 4000)), "That image has more than 16,777,216"),
        (Upload("huge.bin", b"\x00" * (10 * 1024 * 1024 + 1)), "That image is larger than 10 MB"),
    ],
)
async def test_bad_uploads_are_refused_privately_and_queue_nothing(
    stack: Stack, upload: Upload, reply: str
) -> None:
    interaction = await stack.fake.slash("imagine", {"prompt": "x", "image": upload})
    callback = await interaction.wait_callback()
    assert callback.data["flags"] & EPHEMERAL
    assert callback.data["content"].startswith(reply), callback.data["content"]
    assert await stack.store.head() == 0


async def test_when_every_decode_slot_stays_busy_the_member_is_told_to_retry(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(imagine_cog, "FETCH_SECONDS", 0.5)
    release = threading.Event()
    # Other members' decodes, taking every slot until released.
    busy = [uploads._decoders.submit(release.wait) for _ in range(uploads.DECODE_SLOTS)]
    try:
        upload = Upload("a.png", encoded(gradient((64, 64)), "PNG"), "image/png")
        interaction = await stack.fake.slash("imagine", {"prompt": "x", "image": upload})
        callback = await interaction.wait_callback()
    finally:
        release.set()
    assert callback.data["flags"] & EPHEMERAL
    assert callback.data["content"] == (
        "I am reading other images right now; please try again in a moment."
    )
    assert all(done.result(5) for done in busy)
    assert await stack.store.head() == 0
