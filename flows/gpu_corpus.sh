#!/usr/bin/env bash
# The real corpus on a GPU node without network (pipelines/kernelbench.yaml), from the
# repository root, in steps that fit a copy limit per call:
#   gpu_corpus.sh install X...     install into $SITE the wheels in each folder X, or the packed
#                                  site X (a site.tar.xz: `kcorpus.wheelhouse --pack`)
#   gpu_corpus.sh start SRC [STATE] rebuild in the background (KCORPUS_SRC=SRC, a directory or a
#                                  .tgz of one), workdir $WORK; STATE: a state.tgz that collect
#                                  wrote on an earlier machine, to go on from (the catalog and
#                                  the releases)
#   gpu_corpus.sh collect [WAIT_S] wait up to WAIT_S for it, then copy the log, the summary
#                                  (kcorpus.bench.corpus, over every run the state holds), the
#                                  card, the manifest, the state (state.tgz) and the logs
#                                  (logs.tgz) to $OUT: six files
#   gpu_corpus.sh kernelbench KB [STATE]
#                                  with a KernelBench checkout KB: the same candidates through our
#                                  fork server and KernelBench's harness, then the release's
#                                  KernelBench export through that harness (verify_vs_kernelbench);
#                                  STATE: a state.tgz from collect, whose release it checks;
#                                  the three results go to $OUT/kernelbench.tgz
#   gpu_corpus.sh pack CHECKOUTS OUT.tgz
#                                  here, before the first call: the Python files and licenses of
#                                  the checkouts kernelbench.yaml names (CHECKOUTS/KernelBench,
#                                  pytorch-image-models, Liger-Kernel) as one .tgz for `start`
#   gpu_corpus.sh gputests [TEST...] the tests marked gpu (all of tests/ by default), after
#                                  install: the last lines of pytest's report
#   gpu_corpus.sh profile [N]      after a rebuild on this machine: N jobs of each kind drawn from
#                                  its catalog (probe, inductor, verification) run one at a time
#                                  and profiled (kcorpus.bench.child_costs): $OUT/costs.tgz
# Each step exports PYTHONPATH=checkout:$SITE (the checkout's kcorpus before the wheel's);
# on a box of your own, `pip install` the wheelhouse instead.
# SITE and WORK live outside the checkout (the device tool replaces the checkout every call).
set -u
OUT=${OUT:-/tmp/kcorpus-out}
SITE=${KCORPUS_SITE:-/tmp/kcorpus-site}
WORK=${KCORPUS_GPU_WORKDIR:-/tmp/kcorpus-work}
mkdir -p "$OUT" "$WORK"
export PYTHONPATH="$PWD:$SITE" PYTHONUNBUFFERED=1 PREFECT_HOME="$WORK/prefect"
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS=120 KCORPUS_PROGRESS_INTERVAL=10
case "${1:-}" in
  install)
    shift
    mkdir -p "$SITE"
    for x in "$@"; do
      case "$x" in
        *.tar.xz) tar xJf "$x" -C "$SITE" || exit 1 ;;
        *) python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
             --target "$SITE" "$x"/*.whl || exit 1 ;;
      esac
    done
    python3 -c "import duckdb, prefect, pydantic, kcorpus; print('installed: duckdb', duckdb.__version__, 'prefect', prefect.__version__)"
    ;;
  pack)
    [ -d "${2:-}" ] && [ -n "${3:-}" ] || { echo "usage: gpu_corpus.sh pack CHECKOUTS OUT.tgz"; exit 2; }
    top=$(basename "$3" .tgz); tmp=$(mktemp -d); mkdir -p "$tmp/$top"
    for sub in KernelBench/KernelBench pytorch-image-models/timm Liger-Kernel/src; do
      repo=${sub%%/*}
      [ -d "$2/$sub" ] || { echo "pack: $2/$sub is missing (clone $repo into $2)"; rm -rf "$tmp"; exit 1; }
      (cd "$2" && find "$sub" -name '*.py' && find "$repo" -maxdepth 1 -iname 'LICENSE*') \
        | (cd "$2" && tar cf - -T -) | tar xf - -C "$tmp/$top"
    done
    tar czf "$3" -C "$tmp" "$top" && rm -rf "$tmp" && ls -la "$3"
    ;;
  start)  # from a copy of the checkout and sources under $WORK: later calls may replace them
    rm -f "$WORK/rc" "$WORK/run_recorded" "$WORK/seconds"  # a warm machine's last run's
    mkdir -p "$WORK/repo" && tar --exclude=./.whl --exclude=./.git --exclude=./.state \
      -cf - . | (cd "$WORK/repo" && tar xf -)
    if [ -n "${3:-}" ]; then tar xzf "$3" -C "$WORK" || exit 1; echo "state: $(ls $WORK)"; fi
    export KCORPUS_SRC="$WORK/repo/$2" KCORPUS_RELEASES="$WORK/releases"
    case "$2" in *.tgz)  # a packed source tree: one top-level directory
      mkdir -p "$WORK/src" && tar xzf "$2" -C "$WORK/src" || exit 1
      KCORPUS_SRC="$WORK/src/$(tar tzf "$2" | head -1 | cut -d/ -f1)" ;;
    esac
    cd "$WORK/repo" && export PYTHONPATH="$PWD:$SITE"
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$WORK/gpu.txt"
    cat > $WORK/run.sh <<INNER
cd "$PWD"
t0=\$(python3 -c "import time; print(time.time())")
python3 -m kcorpus.bench.usage $WORK/usage.jsonl & sampler=\$!
python3 -m kcorpus rebuild pipelines/kernelbench.yaml --workdir "$WORK" --json > $WORK/rebuild.json 2> $WORK/rebuild.log
status=\$?
kill \$sampler
python3 -c "import time; print(round(time.time() - \$t0, 1))" > $WORK/seconds
echo \$status > $WORK/rc   # last: collect reads the rest once it sees rc
INNER
    setsid nohup bash $WORK/run.sh > /dev/null 2>&1 < /dev/null &
    echo "rebuild started in the background"
    ;;
  collect)
    if [ ! -f $WORK/run.sh ]; then  # a fresh machine: the one that ran `start` was given back
      echo "no rebuild was started on this machine ($WORK/run.sh missing): run start again"; exit 3
    fi
    waited=0
    while [ ! -f $WORK/rc ] && [ "$waited" -lt "${2:-0}" ]; do sleep 10; waited=$((waited + 10)); done
    grep -E "^progress |Finished|Crashed|Failed|Error" $WORK/rebuild.log | tail -15
    python3 -m kcorpus status --workdir "$WORK" --json 2>/dev/null | head -c 1500; echo
    # a copy returns at most 8 files: the logs go in one
    (cd $WORK && tar czf "$OUT/logs.tgz" $(ls rebuild.log rebuild.json inductor_jobs.jsonl usage.jsonl 2>/dev/null))
    if [ -f $WORK/rc ]; then
      echo "rebuild exit code $(cat $WORK/rc), $(cat $WORK/seconds) s"
      [ -f $WORK/run_recorded ] || { python3 -m kcorpus.bench.corpus --record-run "$WORK/runs.jsonl" \
        --rebuild-json $WORK/rebuild.json --gpu-seconds "$(cat $WORK/seconds)" --usage $WORK/usage.jsonl \
        && touch $WORK/run_recorded; }
      python3 -m kcorpus.bench.corpus "$WORK" --runs "$WORK/runs.jsonl" --out "$OUT/corpus_h200.json"
      (cd $WORK && tar czf "$OUT/state.tgz" catalog.duckdb runs.jsonl \
        $(ls -d inductor_jobs.jsonl releases 2>/dev/null))
      ls -la "$OUT/state.tgz"
      latest=$(ls -d $WORK/releases/latest $WORK/releases/*/latest 2>/dev/null | head -1)
      [ -n "$latest" ] && cp "$latest/README.md" "$OUT/card_README.md" && cp "$latest/manifest.json" "$latest/speedups.svg" "$OUT/" 2>/dev/null
      ls "$latest" 2>/dev/null
    else
      echo "still running"
    fi
    ;;
  kernelbench)
    if [ -n "${3:-}" ]; then tar xzf "$3" -C "$WORK" || exit 1; fi
    python3 -m kcorpus bench verify-vs-kernelbench --kernelbench "$2" --parallel 16 --timeout 120 \
      --out "$OUT/verify_vs_kernelbench_detail.json" | tail -1 | tee "$OUT/verify_vs_kernelbench_h200.json"
    latest=$(ls -d $WORK/releases/latest $WORK/releases/*/latest 2>/dev/null | head -1)
    [ -n "$latest" ] && python3 -m kcorpus bench verify-vs-kernelbench --kernelbench "$2" \
      --release "$latest" --timeout 300 | tail -1 | tee "$OUT/kernelbench_export_check.json"
    # one file for the three (a copy returns at most 8, and collect writes six)
    (cd "$OUT" && tar czf kernelbench.tgz $(ls verify_vs_kernelbench_h200.json \
      verify_vs_kernelbench_detail.json kernelbench_export_check.json 2>/dev/null) && \
      rm -f verify_vs_kernelbench_h200.json verify_vs_kernelbench_detail.json \
        kernelbench_export_check.json)
    ;;
  gputests)
    shift
    python3 -m pytest -q -p no:cacheprovider -m gpu "${@:-tests/}" 2>&1 | tail -25
    ;;
  profile)
    [ -f $WORK/catalog.duckdb ] || { echo "no catalog in $WORK: run start first"; exit 3; }
    python3 -m kcorpus.bench.sample_jobs $WORK/catalog.duckdb $WORK/sampled.jsonl --n "${2:-6}" || exit 1
    python3 -m kcorpus.bench.child_costs $WORK/sampled.jsonl --out $WORK/costs --fork-checks | tail -30
    (cd $WORK && tar czf "$OUT/costs.tgz" costs sampled.jsonl)
    ;;
  *) echo "usage: gpu_corpus.sh pack CHECKOUTS OUT.tgz | install X... | start SRC [STATE] | collect [WAIT_S] | kernelbench KB [STATE] | gputests [TEST...] | profile [N]"; exit 2 ;;
esac
