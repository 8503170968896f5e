#!/usr/bin/env bash
# The real corpus on a GPU node without network (pipelines/kernelbench.yaml), from the
# repository root, in steps that fit a copy limit per call:
#   gpu_corpus.sh install DIR...   install the wheels in DIR... into .site (kcorpus.wheelhouse)
#   gpu_corpus.sh start SRC        rebuild in the background (KCORPUS_SRC=SRC), workdir .kc
#   gpu_corpus.sh collect [WAIT_S] wait up to WAIT_S for it, then copy the log, the summary
#                                  (kcorpus.bench.corpus), the card and the manifest to $OUT
# Each step exports PYTHONPATH=.site; on a box of your own, `pip install` the wheelhouse instead.
set -u
OUT=${OUT:-/tmp/kcorpus-out}
mkdir -p "$OUT" .kc
export PYTHONPATH="$PWD/.site" PYTHONUNBUFFERED=1 PREFECT_HOME="$PWD/.kc/prefect"
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS=120 KCORPUS_PROGRESS_INTERVAL=10
case "${1:-}" in
  install)
    shift
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
      --target .site $(for d in "$@"; do ls "$d"/*.whl; done) || exit 1
    python3 -c "import duckdb, prefect, pydantic, kcorpus; print('installed: duckdb', duckdb.__version__, 'prefect', prefect.__version__)"
    ;;
  start)
    export KCORPUS_SRC=$(cd "$2" && pwd)
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee .kc/gpu.txt
    cat > .kc/run.sh <<INNER
cd "$PWD"
t0=\$(python3 -c "import time; print(time.time())")
python3 -m kcorpus rebuild pipelines/kernelbench.yaml --workdir .kc --json > .kc/rebuild.json 2> .kc/rebuild.log
echo \$? > .kc/rc
python3 -c "import time; print(round(time.time() - \$t0, 1))" > .kc/seconds
INNER
    setsid nohup bash .kc/run.sh > /dev/null 2>&1 < /dev/null &
    echo "rebuild started in the background"
    ;;
  collect)
    waited=0
    while [ ! -f .kc/rc ] && [ "$waited" -lt "${2:-0}" ]; do sleep 10; waited=$((waited + 10)); done
    grep -E "^progress |Finished|Crashed|Failed|Error" .kc/rebuild.log | tail -15
    python3 -m kcorpus status --workdir .kc --json 2>/dev/null | head -c 1500; echo
    cp .kc/rebuild.log .kc/rebuild.json "$OUT"/ 2>/dev/null
    if [ -f .kc/rc ]; then
      echo "rebuild exit code $(cat .kc/rc), $(cat .kc/seconds) s"
      python3 -m kcorpus.bench.corpus .kc --rebuild-json .kc/rebuild.json \
        --gpu-seconds "$(cat .kc/seconds)" --out "$OUT/corpus_h200.json"
      latest=$(ls -d .kc/releases/*/latest 2>/dev/null | head -1)
      [ -n "$latest" ] && cp "$latest/README.md" "$OUT/card_README.md" && cp "$latest/manifest.json" "$latest/speedups.svg" "$OUT/" 2>/dev/null
      ls "$latest" 2>/dev/null
    else
      echo "still running"
    fi
    ;;
  *) echo "usage: gpu_corpus.sh install DIR... | start SRC | collect [WAIT_S]"; exit 2 ;;
esac
