"""The stock KerasCV pipeline, given our engine's parts, and timing helpers."""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

from worker.engine import GenerationRequest, build_engine

if TYPE_CHECKING:  # Keras loads only after the benchmark has chosen its backend
    from worker.engine.engine import KerasEngine

PROMPT = "a photograph of an astronaut riding a horse"


def default_backend() -> str:
    return os.environ.get("IMAGINE_BACKEND", "tensorflow")


class Row(NamedTuple):
    measure: str
    before: str
    after: str
    ratio: str = ""  # before / after for times, after / before for rates
    target: str = ""


class CountingModel:
    """Stands in for the stock pipeline's UNet and counts its calls (each one is also a
    host round trip: ``predict_on_batch`` returns NumPy)."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.calls = 0

    def predict_on_batch(self, inputs: Any) -> Any:
        self.calls += 1
        return self.model.predict_on_batch(inputs)


def build(
    args: argparse.Namespace, precision: str, jit_compile: bool | None, max_batch: int
) -> KerasEngine:
    """Our engine at ``args.size`` from the weights, vocab and cache the command names."""
    width, height = (int(side) for side in args.size.split("x"))
    engine = build_engine(
        args.weights,
        sizes=[(width, height)],
        vocab=args.vocab,
        cache_dir=args.cache_dir,
        precision=precision,
        max_batch=max_batch,
        jit_compile=jit_compile,
        backend=args.backend,
    )
    from worker.engine.engine import KerasEngine

    assert isinstance(engine, KerasEngine)
    return engine


def timed(run: Callable[[], object]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def stock_pipeline(engine: KerasEngine, job: GenerationRequest) -> tuple[Any, CountingModel]:
    """``keras_cv.models.StableDiffusion`` on the engine's parts, precision and XLA
    setting, warmed for ``job.count`` images."""
    from worker.engine.kerascv import stable_diffusion

    jit = engine.precision.jit_compile
    stock = stable_diffusion().StableDiffusion(job.width, job.height, jit_compile=jit)
    parts = engine.model.parts
    if jit:  # what the stock pipeline does to the parts it builds itself
        for model in (parts.text_encoder, parts.diffusion_model, parts.decoder):
            model.compile(jit_compile=True)
    counter = CountingModel(parts.diffusion_model)
    stock._text_encoder = parts.text_encoder
    stock._diffusion_model = counter
    stock._decoder = parts.decoder
    stock._tokenizer = parts.tokenizer
    # Warm the stock side too: its predict functions trace per batch size.
    stock.text_to_image(PROMPT, batch_size=job.count, num_steps=2)
    return stock, counter
