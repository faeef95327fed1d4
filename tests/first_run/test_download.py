"""The downloader: resumes with a Range request, refuses a file that does not match its
hash, and says in one sentence which address failed and what to set instead."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import socket
from pathlib import Path

import pytest

from core.download import DownloadError, RemoteFile, download
from tests.first_run.file_server import serving

BODY = os.urandom(3_000_000)  # a few chunks, so progress has tenths to report
INSTEAD = "set IMAGINE_WEIGHTS to a folder"


def remote(body: bytes = BODY, name: str = "weights.h5") -> RemoteFile:
    return RemoteFile(name, "https://example.invalid/" + name, sha256(body), "test weights")


def sha256(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_cut_transfer_resumes_with_a_range_request_in_the_same_run(tmp_path: Path) -> None:
    waits: list[float] = []
    with serving({"weights.h5": BODY}) as files:
        files.cut_after, files.cuts = 1_000_000, 1
        path = download(remote(), tmp_path, mirror=files.url, sleep=waits.append)
    assert path.read_bytes() == BODY
    assert [wanted for _, wanted in files.requests] == [None, "bytes=1000000-"]
    assert len(waits) == 1
    assert not (tmp_path / "weights.h5.part").exists()


def test_the_next_run_resumes_what_a_run_left_in_its_part_file(tmp_path: Path) -> None:
    with serving({"weights.h5": BODY}) as files:
        # Cut at once: the attempt gets nowhere, so this run gives up...
        files.cut_after, files.cuts = 0, 1
        (tmp_path / "weights.h5.part").write_bytes(BODY[:1_234_567])  # ...an earlier run's
        with pytest.raises(DownloadError, match="the connection"):
            download(remote(), tmp_path, mirror=files.url, sleep=lambda _: None)
        assert (tmp_path / "weights.h5.part").stat().st_size == 1_234_567
        # ...and the next one, on a working connection, asks only for the rest.
        path = download(remote(), tmp_path, mirror=files.url)
    assert path.read_bytes() == BODY
    assert files.requests[-1] == ("/weights.h5", "bytes=1234567-")


def test_a_corrupted_download_is_refused_with_a_sentence_and_deleted(tmp_path: Path) -> None:
    corrupted = bytearray(BODY)
    corrupted[2_000_000] ^= 0xFF
    with serving({"weights.h5": bytes(corrupted)}) as files, pytest.raises(DownloadError) as raised:
        download(remote(), tmp_path, mirror=files.url, instead=INSTEAD)
    assert str(raised.value) == (
        f"Could not download weights.h5 (test weights) from {files.url}/weights.h5: the file "
        f"does not match its sha256 hash, so it was deleted; {INSTEAD}."
    )
    assert list(tmp_path.iterdir()) == []


def test_a_resumed_part_that_does_not_add_up_is_refused(tmp_path: Path) -> None:
    (tmp_path / "weights.h5.part").write_bytes(b"x" * 1000)  # not the file's first bytes
    with serving({"weights.h5": BODY}) as files, pytest.raises(DownloadError, match="sha256"):
        download(remote(), tmp_path, mirror=files.url)
    assert files.requests == [("/weights.h5", "bytes=1000-")]
    assert list(tmp_path.iterdir()) == []  # the next run starts from the beginning


def test_a_whole_part_file_is_checked_without_downloading_again(tmp_path: Path) -> None:
    (tmp_path / "weights.h5.part").write_bytes(BODY)  # cut just before the rename
    with serving({"weights.h5": BODY}) as files:
        path = download(remote(), tmp_path, mirror=files.url)
    assert path.read_bytes() == BODY
    assert files.requests == [("/weights.h5", f"bytes={len(BODY)}-")]  # answered 416


def test_a_server_that_ignores_the_range_gives_the_whole_file_again(tmp_path: Path) -> None:
    (tmp_path / "weights.h5.part").write_bytes(BODY[:1000])
    with serving({"weights.h5": BODY}) as files:
        files.ignore_range = True
        assert download(remote(), tmp_path, mirror=files.url).read_bytes() == BODY


def test_a_verified_copy_is_used_without_a_request(tmp_path: Path) -> None:
    (tmp_path / "weights.h5").write_bytes(BODY)
    with serving({"weights.h5": BODY}) as files:
        assert download(remote(), tmp_path, mirror=files.url) == tmp_path / "weights.h5"
    assert files.requests == []


def test_a_damaged_copy_in_the_cache_is_downloaded_again(tmp_path: Path) -> None:
    (tmp_path / "weights.h5").write_bytes(BODY[:-1])
    with serving({"weights.h5": BODY}) as files:
        assert download(remote(), tmp_path, mirror=files.url).read_bytes() == BODY
    assert len(files.requests) == 1


def test_a_missing_file_names_the_address_and_the_setting(tmp_path: Path) -> None:
    with serving({}) as files, pytest.raises(DownloadError) as raised:
        download(remote(), tmp_path, mirror=files.url, instead=INSTEAD)
    assert str(raised.value) == (
        f"Could not download weights.h5 (test weights) from {files.url}/weights.h5: "
        f"HTTP 404 Not Found; {INSTEAD}."
    )


def test_no_server_at_all_is_one_sentence_at_once(tmp_path: Path) -> None:
    waits: list[float] = []
    url = f"http://127.0.0.1:{closed_port()}"
    with pytest.raises(DownloadError) as raised:
        download(remote(), tmp_path, mirror=url, instead=INSTEAD, sleep=waits.append)
    assert str(raised.value) == (
        f"Could not download weights.h5 (test weights) from {url}/weights.h5: "
        f"connection refused; {INSTEAD}."
    )
    assert waits == []


def test_without_a_mirror_the_file_s_own_address_is_used(tmp_path: Path) -> None:
    file = remote()
    assert file.url() == file.origin
    assert file.url("http://mirror.lan/sd/") == "http://mirror.lan/sd/weights.h5"


def test_progress_is_a_plain_line_per_tenth(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "core.download")
    body = os.urandom(10 * (1 << 20))  # ten chunks: one line per chunk
    with serving({"weights.h5": body}) as files:
        download(remote(body), tmp_path, mirror=files.url)
    lines = [r.getMessage() for r in caplog.records]
    percents = [m[1] for line in lines if (m := re.match(r"weights\.h5: (\d+)% ", line))]
    assert percents == [str(percent) for percent in range(10, 101, 10)]
    assert lines[-2].startswith("weights.h5: 100% (10 of 10 MB, ")
    assert not any("\r" in line or "\x1b" in line for line in lines)


def test_a_folder_that_cannot_be_written_is_one_sentence(tmp_path: Path) -> None:
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("")
    with serving({"weights.h5": BODY}) as files, pytest.raises(DownloadError) as raised:
        download(remote(), blocked / "cache", mirror=files.url)
    assert str(raised.value) == (
        f"Could not save weights.h5 in {blocked / 'cache'}: not a directory; check that "
        "folder's free space and permissions, or set IMAGINE_CACHE_DIR to another folder."
    )
