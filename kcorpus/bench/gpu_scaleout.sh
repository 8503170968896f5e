#!/usr/bin/env bash
# On a node with 2 or more GPUs, from the repository root: `kcorpus bench scaleout` through Ray.
# Ray is carried as wheels in .whl/ (ray core, with its Java jars, RLlib and the dashboard's web
# client left out to fit the device tool's 64 MiB; see RESULTS.md), installed under /tmp/site.
set -u
OUT=${OUT:-/tmp}
export PYTHONUNBUFFERED=1 RAY_USAGE_STATS_ENABLED=0
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
  --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
nproc
python3 -c "import torch, triton, ray; print('torch', torch.__version__, 'triton', triton.__version__, 'ray', ray.__version__)"
python3 -m kcorpus.bench.scaleout --out "$OUT"/scaleout.json "$@" 2> "$OUT"/scaleout.err
tail -5 "$OUT"/scaleout.err
