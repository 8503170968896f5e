#!/usr/bin/env bash
# On a GPU node: the GPU-marked tests, then `kcorpus bench verify` in the background (it can
# outlast one device command); `gpu_verify.sh collect` waits for it and copies the results.
set -u
OUT=${OUT:-/tmp}
if [ "${1:-}" = collect ]; then
  exec bash "$(dirname "$0")/gpu_collect.sh" verify 6
fi
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
python3 -c "import torch, triton; print('torch', torch.__version__, 'triton', triton.__version__)"
python3 -m pytest -q tests/test_adversarial.py -m gpu -p no:cacheprovider 2>&1 | tail -3
setsid nohup python3 -m kcorpus.bench.verify --device cuda "$@" --out /tmp/bench_verify.json \
  > /tmp/bench_verify.log 2>&1 < /dev/null &
echo "bench started in the background"
