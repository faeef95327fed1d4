"""The worker asks its engine for each size's upscale size when IMAGINE_UPSCALE is on."""

from __future__ import annotations

from typing import Any

import pytest

import worker.engine
from core.jobs import UPSCALE_FACTOR
from core.settings import WorkerSettings
from worker.__main__ import build


class _Built:
    def __init__(self, **options: Any) -> None:
        self.options = options

    def warm_up(self) -> float:
        return 0.0


@pytest.mark.parametrize("upscale", ["1", "0"])
def test_the_engine_gets_the_upscale_sizes_when_upscaling(
    monkeypatch: pytest.MonkeyPatch, upscale: str
) -> None:
    factor = UPSCALE_FACTOR
    expected = [(128 * factor, 128 * factor), (256 * factor, 128 * factor)]
    monkeypatch.setenv("IMAGINE_SIZES", "128x128,256x128")
    monkeypatch.setenv("IMAGINE_UPSCALE", upscale)
    monkeypatch.setattr(worker.engine, "build_engine", lambda weights, **kw: _Built(**kw))
    engine = build(WorkerSettings(), vocab=None, weights="random")  # type: ignore[arg-type]
    assert isinstance(engine, _Built)
    assert engine.options["sizes"] == ((128, 128), (256, 128))
    assert engine.options["upscale_sizes"] == (tuple(expected) if upscale == "1" else ())
