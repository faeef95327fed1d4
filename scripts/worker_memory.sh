#!/usr/bin/env bash
# Peak memory of one CPU worker process (random weights, float32), after it compiled
# each size: the kernel's high-water mark of its resident memory (VmHWM), read when the
# worker logs "Compiled WxH". Sizes in increasing order, so each figure is that size's
# peak. Builds the real 860M-parameter UNet: needs several GB free.
# Usage: scripts/worker_memory.sh 128x128,256x256,512x512 [max_batch]
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
python=${PYTHON:-$repo/.venv/bin/python}
sizes=${1:?usage: scripts/worker_memory.sh SIZES [MAX_BATCH]}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$python" -c "import pathlib, sys; from tests.support.vocab import write_test_vocab; write_test_vocab(pathlib.Path(sys.argv[1]))" "$tmp/vocab.gz"
cd "$tmp"  # no .env of the host's
env IMAGINE_WEIGHTS=random IMAGINE_PRECISION=float32 IMAGINE_SIZES="$sizes" \
  IMAGINE_MAX_BATCH="${2:-1}" IMAGINE_VOCAB="$tmp/vocab.gz" \
  IMAGINE_STORE="sqlite:///$tmp/jobs.db" IMAGINE_CACHE_DIR="$tmp/cache" \
  IMAGINE_HEARTBEAT_FILE="$tmp/worker.heartbeat" TF_CPP_MIN_LOG_LEVEL=2 \
  PYTHONPATH="$repo" "$python" -m worker > worker.log 2>&1 &
worker=$!
tail -n +1 -f --pid="$worker" worker.log | while read -r line; do
  case $line in
    *"Compiled "*) echo "${line#* worker*: }; peak so far: $(grep VmHWM "/proc/$worker/status")" ;;
    *"; ready"*) echo "${line#* worker: }"; kill -TERM "$worker" ;;
  esac
done
wait "$worker" || true
