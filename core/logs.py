"""Logging set-up that never prints a secret, whatever a library puts in a message."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable

# Interaction tokens travel in webhook and callback URLs and in gateway payloads, all of
# which discord.py logs at DEBUG.
_URL_TOKENS = re.compile(r"(/(?:webhooks|interactions)/\d+/)[A-Za-z0-9._-]{20,}")
_FIELD_TOKENS = re.compile(r"""(['"]token['"]\s*:\s*['"])[^'"]+""")


class RedactingFormatter(logging.Formatter):
    """Replaces every secret in the formatted record, traceback included."""

    def __init__(self, fmt: str, secrets: Iterable[str]) -> None:
        super().__init__(fmt)
        self._secrets = [s for s in secrets if s]

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        for secret in self._secrets:
            text = text.replace(secret, "[redacted]")
        text = _URL_TOKENS.sub(r"\1[redacted]", text)
        return _FIELD_TOKENS.sub(r"\1[redacted]", text)


def setup_logging(level: str, secrets: Iterable[str] = ()) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s", secrets)
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # aiosqlite logs every statement with its parameters at DEBUG: tokens included.
    logging.getLogger("aiosqlite").setLevel(max(logging.INFO, root.level))
