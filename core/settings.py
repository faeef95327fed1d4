"""Settings from the environment (and `.env`), shared by the bot and the worker.

A wrong or missing value stops the process at start with one sentence naming the
variable (`load`), never a traceback.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Annotated, TypeVar

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from core.jobs import MODELS, UPSCALE_FACTOR

Size = tuple[int, int]
_SIZE = re.compile(r"^\s*(\d+)\s*x\s*(\d+)\s*$")


def parse_models(text: str) -> tuple[str, ...]:
    """`"sd14, sd21"` -> ("sd14", "sd21"); each one of core.jobs.MODELS, at least one."""
    names = tuple(dict.fromkeys(item.strip().lower() for item in text.split(",") if item.strip()))
    if not names:
        raise ValueError("name at least one model")
    for name in names:
        if name not in MODELS:
            raise ValueError(f"{name!r} is not one of {', '.join(MODELS)}")
    return names


def parse_sizes(text: str) -> tuple[Size, ...]:
    """`"512x512, 512x768"` -> ((512, 512), (512, 768)); sides multiples of 128, 128-2048."""
    sizes: list[Size] = []
    for item in text.split(","):
        match = _SIZE.match(item)
        if not match:
            raise ValueError(f"{item.strip()!r} is not WIDTHxHEIGHT")
        width, height = int(match[1]), int(match[2])
        for side in (width, height):
            if side % 128 or not 128 <= side <= 2048:
                raise ValueError(f"{side} is not a multiple of 128 between 128 and 2048")
        sizes.append((width, height))
    return tuple(dict.fromkeys(sizes))


class CommonSettings(BaseSettings):
    # An empty value means "not set": a copied .env.example, and docker compose's
    # `${NAME:-}`, leave every setting nobody filled in empty.
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", env_ignore_empty=True)

    store: str = Field("sqlite:///data/imagine.db", alias="IMAGINE_STORE")
    # Finished jobs, their pictures and uploads are purged this long after they finished.
    retention_days: float = Field(7.0, gt=0, alias="IMAGINE_RETENTION_DAYS")
    sizes: Annotated[tuple[Size, ...], NoDecode] = Field(
        ((512, 512), (512, 768), (768, 512)), alias="IMAGINE_SIZES"
    )
    # The bot offers these models; a worker loads them and claims only their jobs.
    models: Annotated[tuple[str, ...], NoDecode] = Field((MODELS[0],), alias="IMAGINE_MODELS")
    # Upscale buttons (bot); each size's 2x compiled in the background (worker).
    upscale: bool = Field(True, alias="IMAGINE_UPSCALE")
    vocab: Path | None = Field(None, alias="IMAGINE_VOCAB")
    cache_dir: Path = Field(Path("data/cache"), alias="IMAGINE_CACHE_DIR")
    log_level: str = Field("INFO", alias="IMAGINE_LOG_LEVEL")
    metrics_port: int | None = Field(None, ge=1, le=65535, alias="IMAGINE_METRICS_PORT")
    metrics_host: str = Field("127.0.0.1", alias="IMAGINE_METRICS_HOST")

    @field_validator("sizes", mode="before")
    @classmethod
    def _sizes(cls, value: object) -> object:
        return parse_sizes(value) if isinstance(value, str) else value

    @property
    def upscale_sizes(self) -> tuple[Size, ...]:
        """What the upscale buttons make (bot) and the worker compiles for them: twice
        each offered size, when upscaling is on."""
        if not self.upscale:
            return ()
        return tuple((UPSCALE_FACTOR * w, UPSCALE_FACTOR * h) for w, h in self.sizes)

    @field_validator("models", mode="before")
    @classmethod
    def _models(cls, value: object) -> object:
        return parse_models(value) if isinstance(value, str) else value

    @field_validator("store")
    @classmethod
    def _store(cls, value: str) -> str:
        if not value.startswith(("sqlite:///", "redis://", "rediss://")):
            raise ValueError(
                "it must look like sqlite:///data/imagine.db or redis://:password@host:6379/0"
            )
        return value

    @field_validator("vocab")
    @classmethod
    def _vocab(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"there is no file at {value}")
        return value

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        if value.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ValueError("it must be DEBUG, INFO, WARNING or ERROR")
        return value.upper()


class WorkerSettings(CommonSettings):
    weights: str = Field("download", alias="IMAGINE_WEIGHTS")
    precision: str = Field("auto", alias="IMAGINE_PRECISION")
    # The Keras backend: tensorflow (the image's) or jax (the `jax` extra).
    backend: str = Field("tensorflow", alias="IMAGINE_BACKEND")
    max_batch_images: int = Field(4, ge=1, le=16, alias="IMAGINE_MAX_BATCH")
    worker_id: str = Field("", alias="IMAGINE_WORKER_ID")
    lease_seconds: float = Field(60.0, gt=1, alias="IMAGINE_LEASE_SECONDS")
    heartbeat_file: Path = Field(Path("data/worker.heartbeat"), alias="IMAGINE_HEARTBEAT_FILE")
    preview_seconds: float = Field(3.0, ge=0, alias="IMAGINE_PREVIEW_SECONDS")
    download_mirror: str | None = Field(None, alias="IMAGINE_DOWNLOAD_MIRROR")
    # A worker whose download failed waits this long before it exits: Docker restarts a
    # container that ran over 10 s after only 100 ms, so without a pause it would try
    # again every few seconds, forever.
    failure_pause_seconds: float = Field(0.0, ge=0, alias="IMAGINE_FAILURE_PAUSE_SECONDS")

    @field_validator("download_mirror")
    @classmethod
    def _download_mirror(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("it must be an http:// or https:// address")
        return value

    @field_validator("weights")
    @classmethod
    def _weights(cls, value: str) -> str:
        if value not in ("download", "random") and not Path(value).is_dir():
            raise ValueError("it must be download, random, or a folder holding the weights")
        return value

    @field_validator("backend")
    @classmethod
    def _backend(cls, value: str) -> str:
        if value not in ("tensorflow", "jax"):
            raise ValueError("it must be tensorflow or jax")
        return value

    @field_validator("precision")
    @classmethod
    def _precision(cls, value: str) -> str:
        if value not in ("auto", "float32", "mixed_float16", "mixed_bfloat16"):
            raise ValueError("it must be auto, float32, mixed_float16 or mixed_bfloat16")
        return value


class BotHealthSettings(CommonSettings):
    """What `python -m bot check` reads: a health check needs no token."""

    heartbeat_file: Path = Field(Path("data/bot.heartbeat"), alias="IMAGINE_BOT_HEARTBEAT_FILE")


class BotSettings(BotHealthSettings):
    token: SecretStr = Field(alias="DISCORD_TOKEN")
    api_base: str | None = Field(None, alias="DISCORD_API_BASE")
    gateway_url: str | None = Field(None, alias="DISCORD_GATEWAY_URL")
    bot_db: Path = Field(Path("data/bot.db"), alias="IMAGINE_BOT_DB")
    sync_guild: int | None = Field(None, alias="IMAGINE_SYNC_GUILD")
    retry_seconds: float = Field(10.0, gt=0, alias="IMAGINE_RETRY_SECONDS")

    @field_validator("token")
    @classmethod
    def _token(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise ValueError("it is empty")
        return value


S = TypeVar("S", bound=CommonSettings)


def load(kind: type[S]) -> S:
    """Reads settings or exits with one sentence naming the first bad variable."""
    try:
        return kind()
    except ValidationError as error:
        sys.exit(f"Configuration error: {describe(error)}")


def describe(error: ValidationError) -> str:
    """One sentence for the first problem, naming the variable and never its value."""
    first = error.errors()[0]
    variable = str(first["loc"][0]) if first["loc"] else "a setting"
    if first["type"] == "missing":
        return f"{variable} is not set."
    reason = str(first["msg"]).removeprefix("Value error, ")
    return f"{variable} is invalid: {reason}."
