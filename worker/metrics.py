"""What a worker tells Prometheus: images made, seconds per step, batch sizes, failures.
Served by `core.metrics.serve_metrics` when IMAGINE_METRICS_PORT is set."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

IMAGES = Counter("imagine_images_generated", "Images the engine made.")
STEP_SECONDS = Histogram(
    "imagine_step_seconds",
    "Seconds per sampling step: a batch's time divided by its steps.",
    buckets=(0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.5, 5.0, 10.0, 30.0),
)
BATCH_IMAGES = Histogram(
    "imagine_batch_images", "Images per engine batch.", buckets=(1, 2, 3, 4, 6, 8, 12, 16)
)
JOB_FAILURES = Counter("imagine_job_failures", "Job attempts the engine failed on.")


def record_batch(images: int, steps: int, seconds: float) -> None:
    """Counts one batch the engine finished."""
    IMAGES.inc(images)
    BATCH_IMAGES.observe(images)
    STEP_SECONDS.observe(seconds / max(steps, 1))
