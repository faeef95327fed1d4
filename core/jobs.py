"""The job: what a member asked for, and where it is in its life."""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

MAX_PROMPT_CHARS = 1000  # far past 77 CLIP tokens; stops absurd inputs before tokenizing
MIN_COUNT, MAX_COUNT = 1, 4
MIN_STEPS, MAX_STEPS = 1, 100
MIN_GUIDANCE, MAX_GUIDANCE = 0.0, 30.0
MIN_STRENGTH, MAX_STRENGTH = 0.05, 1.0  # img2img: how much of the source to redraw
MAX_SEED = 2**32 - 1
DEFAULT_STEPS = 25
DEFAULT_GUIDANCE = 7.5
DEFAULT_MAX_ATTEMPTS = 3
SAMPLER_NAMES = {"dpmpp_2m": "DPM-Solver++ 2M", "ddim": "DDIM"}  # the first is the default
SAMPLERS = tuple(SAMPLER_NAMES)
# KerasCV's two Stable Diffusion models; the first is the default.
MODEL_NAMES = {"sd14": "Stable Diffusion 1.4", "sd21": "Stable Diffusion 2.1"}
MODELS = tuple(MODEL_NAMES)
UPSCALE_FACTOR = 2  # an upscale button makes an image this many times as wide and high

# Why a job failed, as message keys the bot says in its requester's language.
GAVE_UP = "gave_up"  # its worker stopped too many times while making it
ENGINE_FAILED = "engine_failed"  # the engine raised on it every attempt


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELED = "canceled"

    @property
    def finished(self) -> bool:
        return self in (JobState.DONE, JobState.FAILED, JobState.CANCELED)


class InvalidRequest(ValueError):
    """A request a member can fix; `key` names the message, `values` fill it in."""

    def __init__(self, key: str, **values: object) -> None:
        super().__init__(key)
        self.key = key
        self.values = values


@dataclass(frozen=True)
class JobParams:
    """What to make. Validated once, at the door, by `validate`."""

    prompt: str
    negative_prompt: str = ""
    count: int = 1
    steps: int = DEFAULT_STEPS
    guidance: float = DEFAULT_GUIDANCE
    seed: int = 0
    width: int = 512
    height: int = 512
    sampler: str = SAMPLERS[0]  # DPM-Solver++ 2M
    strength: float | None = None  # img2img: how much of the source image to redraw
    model: str = MODELS[0]
    # A mask (white = redraw) is stored beside the source image: inpainting, zoom out, pan.
    masked: bool = False

    @property
    def size(self) -> str:
        return f"{self.width}x{self.height}"

    def validate(self, sizes: tuple[tuple[int, int], ...]) -> None:
        """Raises InvalidRequest for the first thing wrong, in the order a person reads."""
        _check_text(self.prompt, "prompt")
        _check_text(self.negative_prompt, "negative_prompt", allow_empty=True)
        _check_range("count", self.count, MIN_COUNT, MAX_COUNT)
        _check_range("steps", self.steps, MIN_STEPS, MAX_STEPS)
        if not _is_number(self.guidance) or not MIN_GUIDANCE <= self.guidance <= MAX_GUIDANCE:
            raise InvalidRequest("bad_range", name="guidance", low=MIN_GUIDANCE, high=MAX_GUIDANCE)
        _check_range("seed", self.seed, 0, MAX_SEED)
        if (self.width, self.height) not in sizes:
            raise InvalidRequest("bad_size", size=self.size, offered=size_list(sizes))
        if self.sampler not in SAMPLERS:
            raise InvalidRequest("bad_sampler", sampler=self.sampler)
        if self.strength is not None and not (
            _is_number(self.strength) and MIN_STRENGTH <= self.strength <= MAX_STRENGTH
        ):
            raise InvalidRequest("bad_range", name="strength", low=MIN_STRENGTH, high=MAX_STRENGTH)


def size_list(sizes: tuple[tuple[int, int], ...]) -> str:
    return ", ".join(f"{w}x{h}" for w, h in sizes)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check_text(text: str, name: str, *, allow_empty: bool = False) -> None:
    if not isinstance(text, str):
        raise InvalidRequest("bad_text", name=name)
    # Only whitespace or invisible characters (zero-width, direction marks) is empty too.
    if not allow_empty and not any(c.isprintable() and not c.isspace() for c in text):
        raise InvalidRequest("empty_prompt")
    if len(text) > MAX_PROMPT_CHARS:
        raise InvalidRequest("too_long_chars", name=name, limit=MAX_PROMPT_CHARS)
    if any(unicodedata.category(c) == "Cc" and c not in "\t\n" for c in text):
        raise InvalidRequest("control_chars", name=name)


def _check_range(name: str, value: int, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidRequest("bad_range", name=name, low=low, high=high)


@dataclass(frozen=True)
class NewJob:
    """A job as the bot hands it to the store. `id` is the idempotency key."""

    id: str
    guild_id: int
    channel_id: int
    user_id: int
    params: JobParams
    locale: str = "en-US"
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    source_png: bytes | None = None  # the image an img2img job starts from


@dataclass(frozen=True)
class Job:
    """A job as the store holds it."""

    id: str
    guild_id: int
    channel_id: int
    user_id: int
    params: JobParams
    locale: str
    state: JobState
    attempts: int
    max_attempts: int
    created_at: float
    lease_owner: str | None = None
    lease_expires: float | None = None
    step: int = 0
    total_steps: int = 0
    started_at: float | None = None
    finished_at: float | None = None
    gpu_seconds: float = 0.0
    error: str | None = None
    cancel_requested: bool = False


@dataclass(frozen=True)
class JobResult:
    """What a worker hands back: the grid and each image, all PNG."""

    grid_png: bytes
    image_pngs: tuple[bytes, ...]
    gpu_seconds: float


class EventKind(StrEnum):
    QUEUED = "queued"
    STARTED = "started"
    PROGRESS = "progress"
    DONE = "done"
    FAILED = "failed"
    CANCELED = "canceled"
    REQUEUED = "requeued"


@dataclass(frozen=True)
class JobEvent:
    """One change to one job; `seq` only grows, so a reader keeps a cursor."""

    seq: int
    job_id: str
    kind: EventKind
    at: float
    step: int = 0
    total_steps: int = 0
