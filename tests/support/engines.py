"""A small deterministic engine behind the worker's engine interface, for queue tests
that need many workers or many jobs (the real model is tested on its own)."""

import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from worker.engine import GenerationCanceled, GenerationRequest, PreviewFn, ProgressFn

POISON = "poison"


class StepEngine:
    """Takes `step_seconds` per step; each image is noise from its own seed."""

    def __init__(self, step_seconds: float = 0.0, journal: Path | None = None) -> None:
        self.step_seconds = step_seconds
        self.batches: list[list[GenerationRequest]] = []
        self.started = threading.Event()
        self._journal = journal  # "pid start|end time prompt" lines, shared by processes

    def _note(self, what: str, requests: Sequence[GenerationRequest]) -> None:
        if self._journal is None:
            return
        with self._journal.open("a") as journal:
            for r in requests:
                journal.write(f"{os.getpid()} {what} {time.time():.6f} {r.prompt}\n")

    def generate(
        self,
        requests: Sequence[GenerationRequest],
        progress: ProgressFn | None = None,
        preview: PreviewFn | None = None,
    ) -> list[np.ndarray]:
        self.batches.append(list(requests))
        self.started.set()
        if any(POISON in r.prompt for r in requests):
            raise RuntimeError("this prompt breaks the engine")
        self._note("start", requests)
        steps = requests[0].steps
        for step in range(1, steps + 1):
            time.sleep(self.step_seconds)
            if progress is not None and not progress(step, steps):
                raise GenerationCanceled
            if preview is not None:
                for index, request in enumerate(requests):
                    preview(index, _colours(request, step))
        self._note("end", requests)
        return [_images(r) for r in requests]


def _colours(request: GenerationRequest, step: int) -> np.ndarray:
    """A preview like the real engine's: one colour per latent cell, new each step."""
    shape = (request.count, request.height // 8, request.width // 8, 3)
    return np.random.default_rng([request.seed, step]).integers(0, 256, shape, dtype=np.uint8)


def _images(request: GenerationRequest) -> np.ndarray:
    shape = (request.height, request.width, 3)
    rows = [
        np.random.default_rng(request.seed + i).integers(0, 256, shape, dtype=np.uint8)
        for i in range(request.count)
    ]
    return np.stack(rows)
