#!/usr/bin/env bash
# On a GPU node: a smoke run of `python -m kcorpus.bench.inductor` on two problems (foreground),
# then the full problem set in the background (it can outlast one device command);
# `gpu_inductor.sh collect` waits for it and copies the results to $OUT.
set -u
OUT=${OUT:-/tmp}
if [ "${1:-}" = collect ]; then
  exec bash "$(dirname "$0")/gpu_collect.sh" inductor 45
fi
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
mkdir -p /tmp/smoke && cp kcorpus/bench/inductor_problems/{linear_gelu,conv3x3_relu}.py /tmp/smoke/
timeout 400 python3 -m kcorpus.bench.inductor /tmp/smoke --parallel 4 --out "$OUT"/smoke.json \
  2>"$OUT"/smoke.err | tail -12
tail -5 "$OUT"/smoke.err
if [ "${1:-}" = smoke ]; then exit 0; fi
setsid nohup python3 -m kcorpus.bench.inductor "$@" --out /tmp/bench_inductor.json \
  > /tmp/bench_inductor.log 2>&1 < /dev/null &
echo "full bench started in the background"
