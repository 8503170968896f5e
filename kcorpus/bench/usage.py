"""How busy a GPU node's CPUs and card were during a rebuild (standard library and nvidia-smi).

    python3 -m kcorpus.bench.usage USAGE.jsonl [--every S]      # samples until killed

Every S seconds (default 5) one line: the wall time, the fraction of all CPUs busy since the last
sample (from /proc/stat: everything but idle and iowait), the iowait fraction, and the GPU's
utilisation and memory in use (nvidia-smi; absent where there is none). `summarize` turns the
samples into means over the run and, given the run's stage seconds, over each stage. The stages
of a rebuild run one after another, so a stage's samples are those between the sums of the
stage seconds before it, counted from the first sample; Python's start-up before the first
stage shifts them by a few seconds.

Whether a rebuild is bound by the CPUs (each slot compiling) or by the card decides whether more
slots than cores would help; flows/gpu_corpus.sh samples every run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path


def cpu_times() -> tuple[int, int, int]:
    """(total, idle, iowait) jiffies over all CPUs since boot."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    return sum(fields[:8]), fields[3], fields[4]


def gpu_now() -> dict:
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=utilization.gpu,memory.used",
                              "--format=csv,noheader,nounits"], capture_output=True, text=True,
                             timeout=10)
        util, mem = out.stdout.strip().splitlines()[0].split(",")
        return {"gpu_util": float(util), "gpu_mem_mb": float(mem)}
    except (OSError, ValueError, IndexError, subprocess.TimeoutExpired):
        return {}


def sample(path: Path, every_s: float) -> None:
    last = cpu_times()
    with path.open("w", buffering=1) as f:
        while True:
            time.sleep(every_s)
            now = cpu_times()
            total = max(now[0] - last[0], 1)
            idle, iowait = now[1] - last[1], now[2] - last[2]
            f.write(json.dumps({"t": round(time.time(), 1),
                                "cpu_busy": round(1 - (idle + iowait) / total, 3),
                                "iowait": round(iowait / total, 3), **gpu_now()}) + "\n")
            last = now


def summarize(path: Path, stage_seconds: dict | None = None) -> dict:
    """Means over the samples in `path`, and per stage where `stage_seconds` is given."""
    rows = [json.loads(x) for x in path.read_text().splitlines() if x.strip()] \
        if path.is_file() else []
    if not rows:
        return {"samples": 0}
    out = {"samples": len(rows), **_means(rows)}
    if stage_seconds:
        t0, start, by_stage = rows[0]["t"], 0.0, {}
        for name, seconds in stage_seconds.items():
            end = start + (seconds or 0.0)
            inside = [r for r in rows if start <= r["t"] - t0 < end]
            if inside:
                by_stage[name] = _means(inside)
            start = end
        out["by_stage"] = by_stage
    return out


def _means(rows: list[dict]) -> dict:
    means = {"cpu_busy": round(statistics.fmean(r["cpu_busy"] for r in rows), 3)}
    gpu = [r["gpu_util"] for r in rows if "gpu_util" in r]
    if gpu:
        means["gpu_util"] = round(statistics.fmean(gpu), 1)
        means["gpu_mem_mb_max"] = max(r["gpu_mem_mb"] for r in rows if "gpu_mem_mb" in r)
    return means


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("out", type=Path)
    p.add_argument("--every", type=float, default=5.0, help="seconds between samples")
    a = p.parse_args(argv)
    if a.every <= 0:
        print(f"error: --every {a.every}: must be positive", file=sys.stderr)
        return 2
    sample(a.out, a.every)
    return 0


if __name__ == "__main__":
    sys.exit(main())
