#!/usr/bin/env bash
# On a GPU node: wait for the background `python3 -m kcorpus.bench.NAME` that gpu_NAME.sh
# started, copy /tmp/bench_NAME.{json,log} to $OUT and print the last LINES lines of the log.
# Usage: gpu_collect.sh NAME [LINES]
set -u
name=$1
OUT=${OUT:-/tmp}
while pgrep -f "[k]corpus[.]bench[.]$name" >/dev/null; do sleep 5; done
cp "/tmp/bench_$name.json" "/tmp/bench_$name.log" "$OUT"/ 2>/dev/null
tail -"${2:-6}" "/tmp/bench_$name.log"
