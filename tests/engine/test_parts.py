"""Where the weights come from: KerasCV's files and hashes, local folders, the cache."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from core.download import DownloadError
from core.vocab import VOCAB_FILE
from tests.engine.conftest import BACKEND, SIZE
from worker.engine import build_engine
from worker.engine.kerascv import stable_diffusion
from worker.engine.weights import (
    CACHE_SUBDIR,
    MODEL_FILES,
    WEIGHT_FILES,
    RemoteFile,
    fetch,
    model_files,
    weight_paths,
)


def keras_cv_sources() -> str:
    folder = Path(stable_diffusion().__path__[0])  # the installed KerasCV's own files
    return "".join(path.read_text() for path in sorted(folder.glob("*.py")))


def test_weight_files_are_keras_cv_s_own() -> None:
    sources = keras_cv_sources()
    for file in [*model_files(list(MODEL_FILES)), VOCAB_FILE]:
        assert file.origin in sources
        assert re.search(rf'file_hash="{file.sha256}"', sources), file.name


def test_random_weights_need_no_files(tmp_path: Path) -> None:
    assert weight_paths("random", tmp_path) is None


def test_a_complete_folder_gives_every_part_its_file(tmp_path: Path) -> None:
    for file in WEIGHT_FILES.values():
        (tmp_path / file.name).write_bytes(b"")
    paths = weight_paths(str(tmp_path), tmp_path)
    assert paths == {part: tmp_path / file.name for part, file in WEIGHT_FILES.items()}


def test_a_missing_weights_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="'/nonexistent' is not a folder"):
        build_engine("/nonexistent", sizes=[SIZE], vocab=None, cache_dir=tmp_path, backend=BACKEND)


def test_a_missing_weight_file_is_named(tmp_path: Path) -> None:
    for name in ("kcv_encoder.h5", "kcv_diffusion_model.h5", "vae_encoder.h5"):
        (tmp_path / name).write_bytes(b"")
    with pytest.raises(ValueError, match=r"has no kcv_decoder\.h5 \(the VAE decoder's weights\)"):
        weight_paths(str(tmp_path), tmp_path)


def test_sd21_shares_the_vae_files_and_names_its_own(tmp_path: Path) -> None:
    for file in WEIGHT_FILES.values():
        (tmp_path / file.name).write_bytes(b"")
    with pytest.raises(ValueError, match=r"has no text_encoder_v2_1\.h5 \(the SD 2\.1 text enc"):
        weight_paths(str(tmp_path), tmp_path, model="sd21")
    for name in ("text_encoder_v2_1.h5", "diffusion_model_v2_1.h5"):
        (tmp_path / name).write_bytes(b"")
    paths = weight_paths(str(tmp_path), tmp_path, model="sd21")
    assert paths is not None
    assert paths["decoder"] == tmp_path / "kcv_decoder.h5"
    assert paths["image_encoder"] == tmp_path / "vae_encoder.h5"
    assert paths["diffusion_model"] == tmp_path / "diffusion_model_v2_1.h5"
    assert len(model_files(["sd14", "sd21"])) == 6  # the VAE's two files once


def test_a_missing_vocab_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"vocabulary file .* does not exist"):
        build_engine(
            "random", sizes=[SIZE], vocab=tmp_path / "nope.gz", cache_dir=tmp_path, backend=BACKEND
        )


@pytest.mark.parametrize("size", [(100, 128), (128, 0)])
def test_sizes_must_be_multiples_of_64(tmp_path: Path, size: tuple[int, int]) -> None:
    with pytest.raises(ValueError, match="multiples of 64"):
        build_engine("random", sizes=[size], vocab=None, cache_dir=tmp_path, backend=BACKEND)


@pytest.mark.parametrize(
    ("models", "message"),
    [
        ((), "Configure at least one model"),
        (("sd14", "sd3"), "Unknown model 'sd3'; choose from sd14, sd21"),
        (("sd21", "sd21"), "listed twice"),
    ],
)
def test_build_engine_refuses_bad_model_lists_before_building(
    tmp_path: Path, models: tuple[str, ...], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        build_engine(
            "random", sizes=[SIZE], vocab=None, cache_dir=tmp_path, backend=BACKEND, models=models
        )


def served_file(tmp_path: Path, content: bytes, sha256: str | None = None) -> RemoteFile:
    origin = tmp_path / "served.bin"
    origin.write_bytes(content)
    digest = sha256 or hashlib.sha256(content).hexdigest()
    return RemoteFile("weights.h5", origin.as_uri(), digest, "test weights")


def test_fetch_downloads_into_the_cache_and_checks_the_hash(tmp_path: Path) -> None:
    cache = tmp_path / "cache" / "not-yet-made"
    path = fetch(served_file(tmp_path, b"weights"), cache)
    assert path == cache / CACHE_SUBDIR / "weights.h5"
    assert path.read_bytes() == b"weights"


def test_fetch_refuses_a_file_with_the_wrong_hash(tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match="does not match its sha256 hash"):
        fetch(served_file(tmp_path, b"weights", sha256="0" * 64), tmp_path / "cache")
