"""A local fake of Discord's REST API and gateway that a real discord.py client talks to."""

from .helpers import point_discord_py_at, run_client
from .server import FakeDiscord, FaultRule
from .state import (
    DEFAULT_PERMISSIONS,
    EPHEMERAL,
    LOADING,
    Callback,
    FakeChannel,
    FakeGuild,
    FakeInteraction,
    FakeMessage,
    FakeUser,
    Option,
    RequestRecord,
    Upload,
    snowflake,
    snowflake_time,
)

__all__ = [
    "DEFAULT_PERMISSIONS",
    "EPHEMERAL",
    "LOADING",
    "Callback",
    "FakeChannel",
    "FakeDiscord",
    "FakeGuild",
    "FakeInteraction",
    "FakeMessage",
    "FakeUser",
    "FaultRule",
    "Option",
    "RequestRecord",
    "Upload",
    "point_discord_py_at",
    "run_client",
    "snowflake",
    "snowflake_time",
]
