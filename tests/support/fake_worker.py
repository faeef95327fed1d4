"""`python -m tests.support.fake_worker`: the real worker process (settings, signals,
heartbeat file, job loop, store) with the small StepEngine in place of the model.

TEST_STEP_SECONDS sets its pace; TEST_ENGINE_JOURNAL, if set, is where it notes when each
job starts and ends, so a test can check that no job ever ran twice at once.
"""

import asyncio
import os
from pathlib import Path

from core import vocab_share
from core.logs import setup_logging
from core.settings import WorkerSettings, load
from tests.support.engines import StepEngine
from worker.__main__ import serve


def main() -> None:
    settings = load(WorkerSettings)
    setup_logging(settings.log_level)
    journal = os.environ.get("TEST_ENGINE_JOURNAL")
    engine = StepEngine(
        float(os.environ.get("TEST_STEP_SECONDS", "0")), Path(journal) if journal else None
    )
    asyncio.run(vocab_share.share_at_start(settings))  # as `python -m worker` does
    asyncio.run(serve(settings, engine))


if __name__ == "__main__":
    main()
