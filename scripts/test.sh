#!/usr/bin/env bash
# Sets up .venv with everything the tests need, then runs the linters and the whole suite
# (the engine on TensorFlow); with no arguments, then the engine's contract and
# equivalence tests again on JAX (docs/engine.md, "Backends"). With arguments, only
# pytest with them.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh bot,worker,cpu,jax,test
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
if [ $# -gt 0 ]; then
  .venv/bin/python -m pytest "$@"
else
  # The engine's session holds both models' random-weight networks (about 11 GB) until
  # it ends: in its own process, so the end-to-end tests' bot and worker have the room.
  .venv/bin/python -m pytest tests/engine
  .venv/bin/python -m pytest --ignore=tests/engine
  IMAGINE_BACKEND=jax .venv/bin/python -m pytest -m "not model" tests/engine
  IMAGINE_BACKEND=jax .venv/bin/python -m pytest tests/engine/test_engine.py \
    tests/engine/test_keras_cv_equivalence.py tests/engine/test_dpm_reference.py \
    tests/engine/test_masks.py
fi
