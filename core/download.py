"""Downloads a file over HTTP(S) into a folder: resumed after an interruption, refused
unless it matches its sha256, with a plain log line per tenth.

Our own, on the standard library, rather than huggingface_hub: KerasCV's weight files
are on huggingface.co but CLIP's vocabulary is on github.com, so the hub's client would
cover only some of the files; KerasCV's sha256 hashes would still have to be checked by
us; and its tqdm bars are carriage returns in `docker compose logs`. What is needed
(an HTTP Range request into a `.part` file, a hash, a line per tenth) is this module.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

log = logging.getLogger(__name__)

CHUNK: Final = 1 << 20
TIMEOUT_SECONDS: Final = 60.0  # per connection attempt and per read
RETRY_SECONDS: Final = 2.0  # before resuming a transfer that broke after some progress
_MB: Final = 1_000_000


@dataclass(frozen=True)
class RemoteFile:
    name: str
    origin: str
    sha256: str
    holds: str  # what the file is, for messages

    def url(self, mirror: str | None = None) -> str:
        """Where to get it: its own address, or `mirror`/name."""
        return f"{mirror.rstrip('/')}/{self.name}" if mirror else self.origin


class DownloadError(Exception):
    """A download that failed or a file that did not match its hash: one sentence that
    names the address, and what to do instead."""


class _Broken(Exception):
    """An attempt that stopped part-way (worth resuming if it got anywhere)."""


def download(
    file: RemoteFile,
    folder: Path,
    *,
    mirror: str | None = None,
    instead: str = "",
    sleep: Callable[[float], None] = time.sleep,
) -> Path:
    """`folder/file.name`, from a verified copy already there or downloaded.

    An interrupted transfer resumes from its `.part` file, in this call while each attempt
    gets further and in the next call otherwise. `instead` ends the error sentence: the
    setting to use where the file cannot be downloaded.
    """
    target = folder / file.name
    if target.is_file():
        if sha256_of(target) == file.sha256:
            return target
        log.warning("%s does not match its sha256 hash: downloading it again", target)
        target.unlink()
    try:
        return _download(file, folder, file.url(mirror), instead, sleep)
    except OSError as error:  # the folder's, not the network's: a full disk, permissions
        raise DownloadError(
            f"Could not save {file.name} in {folder}: {_reason(error)}; check that folder's "
            "free space and permissions, or set IMAGINE_CACHE_DIR to another folder."
        ) from None


def _download(
    file: RemoteFile, folder: Path, url: str, instead: str, sleep: Callable[[float], None]
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target, part = folder / file.name, folder / f"{file.name}.part"
    log.info("Downloading %s (%s) from %s into %s", file.name, file.holds, url, folder)
    while True:
        before = part.stat().st_size if part.exists() else 0
        try:
            _attempt(url, part, file.name)
            break
        except _Broken as error:
            after = part.stat().st_size if part.exists() else 0
            if after <= before:
                raise DownloadError(_sentence(file, url, str(error), instead)) from None
            log.warning("%s: %s; resuming at %d MB", file.name, error, after // _MB)
            sleep(RETRY_SECONDS)
    if sha256_of(part) != file.sha256:
        part.unlink()
        reason = "the file does not match its sha256 hash, so it was deleted"
        raise DownloadError(_sentence(file, url, reason, instead))
    part.replace(target)
    log.info("%s is ready at %s", file.name, target)
    return target


def _attempt(url: str, part: Path, name: str) -> None:
    """One request, appended to `part` from where it ends; _Broken when it stops early."""
    offset = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={offset}-"} if offset else {})
    try:
        response = urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS)
    except urllib.error.HTTPError as error:
        error.close()  # it holds the response's connection
        if error.code == 416 and offset:  # nothing past the end: the .part is whole
            return
        raise _Broken(f"HTTP {error.code} {error.reason}") from None
    except (urllib.error.URLError, OSError) as error:
        raise _Broken(_reason(error)) from None
    with response:
        if response.status != 206:  # the server ignored the Range: start again
            offset = 0
        length = response.headers.get("Content-Length")
        total = offset + int(length) if length is not None else None
        progress = _Progress(name, total, offset)
        if offset:
            log.info("Resuming %s at %d MB", name, offset // _MB)
        with part.open("ab" if offset else "wb") as out:
            while chunk := _read(response):
                out.write(chunk)  # an OSError here (a full disk) is not the connection's
                progress.advance(len(chunk))
    if total is not None and part.stat().st_size < total:
        raise _Broken("the connection closed before the end of the file")


def _read(response: http.client.HTTPResponse) -> bytes:
    try:
        return response.read(CHUNK)
    except (OSError, http.client.HTTPException) as error:
        raise _Broken(f"the connection broke ({_reason(error)})") from None


class _Progress:
    """Logs a line at every tenth of the file (every 100 MB when its size is unknown):
    plain lines, readable in `docker compose logs` and journald, no carriage returns."""

    def __init__(self, name: str, total: int | None, done: int) -> None:
        self.name, self.total, self.done = name, total, done
        self.started, self.start_bytes = time.monotonic(), done
        self.next_mark = self._mark_after(done)

    def _mark_after(self, done: int) -> int:
        step = self.total / 10 if self.total else 100 * _MB
        return int((done // step + 1) * step)

    def advance(self, count: int) -> None:
        self.done += count
        if self.done < self.next_mark:
            return
        self.next_mark = self._mark_after(self.done)
        seconds = max(time.monotonic() - self.started, 1e-6)
        speed = (self.done - self.start_bytes) / seconds / _MB
        if self.total:
            log.info(
                "%s: %d%% (%d of %d MB, %.1f MB/s)",
                self.name,
                100 * self.done // self.total,
                self.done // _MB,
                self.total // _MB,
                speed,
            )
        else:
            log.info("%s: %d MB (%.1f MB/s)", self.name, self.done // _MB, speed)


def _reason(error: BaseException) -> str:
    if isinstance(error, urllib.error.URLError) and not isinstance(error.reason, str):
        error = error.reason
    if isinstance(error, OSError) and error.strerror:
        return error.strerror.lower()
    return str(error) or type(error).__name__


def _sentence(file: RemoteFile, url: str, reason: str, instead: str) -> str:
    text = f"Could not download {file.name} ({file.holds}) from {url}: {reason}"
    return f"{text}; {instead}." if instead else f"{text}."


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as data:
        while block := data.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()
