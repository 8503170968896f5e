#!/usr/bin/env bash
# On a GPU node: what isolation the kernel offers, then in the background the GPU-marked verifier
# tests and `kcorpus bench verify` (this checkout's verifier, and with --against DIR another
# checkout's on the same jobs); `gpu_verify.sh collect` waits for them and copies the results.
# Usage: gpu_verify.sh [--against DIR] [bench args...]  |  gpu_verify.sh collect
set -u
OUT=${OUT:-/tmp}
if [ "${1:-}" = collect ]; then
  while pgrep -f "[g]pu_verify_background" >/dev/null; do sleep 5; done
  cp /tmp/bench_verify.json /tmp/bench_verify.log /tmp/gpu_tests.log "$OUT"/ 2>/dev/null
  tail -25 /tmp/gpu_tests.log
  tail -8 /tmp/bench_verify.log
  exit 0
fi
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
uname -r
python3 -c "import torch, triton; print('torch', torch.__version__, 'triton', triton.__version__)"
python3 -c "from kcorpus.verify import isolation; print('landlock abi', isolation.landlock_abi())"
unshare -rn true && echo "user+net namespaces: yes" || echo "user+net namespaces: no"
python3 -m kcorpus.bench.sandbox_probe || exit 1
cat > /tmp/gpu_verify_background.sh <<INNER
cd "$PWD"
KCORPUS_TEST_PARALLEL=8 python3 -m pytest -q -m gpu -p no:cacheprovider -rA \
  tests/test_adversarial.py tests/test_verify_sets.py > /tmp/gpu_tests.log 2>&1
python3 -m kcorpus.bench.verify --device cuda $* --out /tmp/bench_verify.json > /tmp/bench_verify.log 2>&1
INNER
setsid nohup bash /tmp/gpu_verify_background.sh > /dev/null 2>&1 < /dev/null &
echo "tests and bench started in the background"
