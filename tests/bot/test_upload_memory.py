"""What decoding an upload costs in memory, measured as the peak resident set size of a
fresh Python process before and after the decodes.

The peak is the process's VmHWM (/proc/self/status), not getrusage's ru_maxrss: Linux
carries ru_maxrss across fork and exec, so a child of pytest starts with pytest's own
peak (a few hundred MiB) and a smaller decode would not show at all.

The bound, DECODE_MIB per decode, is the worst case the caps allow plus room:
- a PNG at MAX_PIXELS (2048x2048 RGBA): 16 MiB decoded, 16 MiB for its RGB(A) copy,
  and the shrinking's intermediates: 61 MiB measured;
- a progressive JPEG without chroma subsampling at MAX_JPEG_PIXELS (4096x4096): its
  coefficients, 2 bytes per pixel and channel, are held whole while it decodes, whatever
  the scale: 96 MiB, 101 MiB measured.
Before these caps, a 4096x4096 PNG of 64 KiB was decoded at full size: 386 MiB.
"""

import io
import json
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from PIL import Image

from core.uploads import DECODE_SLOTS, MAX_JPEG_PIXELS, MAX_PIXELS

REPO = Path(__file__).resolve().parents[2]
DECODE_MIB = 120

MEASURE = """
import asyncio, json, re, sys
from core.uploads import decode_upload

def peak_kib():
    with open("/proc/self/status") as status:
        return int(re.search(r"VmHWM:\\s+(\\d+) kB", status.read())[1])

async def decode_all(payloads):
    found = await asyncio.gather(*map(decode_upload, payloads), return_exceptions=True)
    return [getattr(r, "key", type(r).__name__) for r in found]

payloads = [open(path, "rb").read() for path in sys.argv[1:]]
before = peak_kib()
outcomes = asyncio.run(decode_all(payloads))
print(json.dumps({"mib": (peak_kib() - before) / 1024, "outcomes": outcomes}))
"""


def blank_png(width: int, height: int) -> bytes:
    """A real, complete RGBA PNG of `width` x `height` transparent pixels: a few KiB that
    decode to 4 bytes a pixel. Written row by row, so making it costs no memory."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + body))
        return struct.pack(">I", len(body)) + kind + body + crc

    packer = zlib.compressobj(9)
    row = bytes(1 + 4 * width)  # filter byte, then the pixels
    pixels = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    ihdr, idat, end = chunk(b"IHDR", header), chunk(b"IDAT", pixels), chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + ihdr + idat + end


def progressive_jpeg(side: int) -> bytes:
    """The costliest JPEG to decode: progressive, no chroma subsampling."""
    image = Image.linear_gradient("L").resize((side, side)).convert("RGB")
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90, progressive=True, subsampling=0)
    return out.getvalue()


@pytest.fixture(scope="module")
def payloads(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("uploads")
    made = {
        "png_at_cap": blank_png(2048, 2048),
        "jpeg_at_cap": progressive_jpeg(4096),
        "png_old_cap": blank_png(4096, 4096),  # what was decoded before: now refused
    }
    assert MAX_PIXELS == 2048 * 2048
    assert MAX_JPEG_PIXELS == 4096 * 4096
    for name, data in made.items():
        (folder / name).write_bytes(data)
    return {name: folder / name for name in made}


def decode_in_a_fresh_process(*paths: Path) -> tuple[float, list[str]]:
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, *map(str, paths)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    found = json.loads(done.stdout)
    return float(found["mib"]), list(found["outcomes"])


@pytest.mark.parametrize("name", ["png_at_cap", "jpeg_at_cap"])
def test_the_largest_upload_allowed_decodes_within_the_bound(
    payloads: dict[str, Path], name: str
) -> None:
    mib, outcomes = decode_in_a_fresh_process(payloads[name])
    assert outcomes == ["bytes"]
    assert mib < DECODE_MIB, f"{name}: {mib:.0f} MiB"


def test_an_image_over_the_cap_is_refused_before_it_is_decoded(payloads: dict[str, Path]) -> None:
    mib, outcomes = decode_in_a_fresh_process(payloads["png_old_cap"])
    assert outcomes == ["image_too_many_pixels"]
    assert mib < 8, f"{mib:.0f} MiB"


def test_uploads_decoded_at_once_share_a_few_slots(payloads: dict[str, Path]) -> None:
    """Six members upload the costliest image at the same moment: only DECODE_SLOTS of
    them are decoded at a time (with a thread per upload, six would be: ~600 MiB)."""
    mib, outcomes = decode_in_a_fresh_process(*[payloads["jpeg_at_cap"]] * 6)
    assert outcomes == ["bytes"] * 6
    assert mib < DECODE_SLOTS * DECODE_MIB, f"{mib:.0f} MiB"
