"""`kcorpus bench scaleout`: verification throughput on 1 GPU beside 2 (or more), in one run.

The jobs are `kcorpus bench verify`'s fixed candidate set without hanging candidates, repeated
`--repeat` times under distinct ids. For each GPU count g, the jobs are cut into batches of
`--batch` and dispatched one batch per GPU at a time, as `verify.runner: ray` does:

- `--dispatch ray`: `ray.remote(num_gpus=1)` tasks on a local Ray cluster told it has g GPUs,
  each task running `verify/batch.run_batch`, the function the pipeline's Ray task (flows/ray_runner.py)
  wraps (without Prefect's task-run bookkeeping, so that it runs on GPU nodes without Prefect);
- `--dispatch local`: one thread per GPU pulling batches from a shared queue, each batch's fork
  server pinned to its GPU with CUDA_VISIBLE_DEVICES.

Every batch's fork server runs `--parallel` candidates at once and has a private torch.compile
cache, so each GPU count starts cold. Throughput is candidates per minute over the dispatch
(Ray's start is reported apart); `scaling` is g GPUs' throughput over one GPU's. The last line
printed is one JSON object. Runs with only the standard library, torch, triton (and ray).
"""

from __future__ import annotations

import argparse
import json
import queue
import sys
import threading
import time
from collections import Counter

from kcorpus.bench.verify import BenchConfig, _codes, _jobs, candidate_set
from kcorpus.verify import batch, sandbox


def job_set(cfg: BenchConfig, repeat: int, limit: int | None = None) -> list[dict]:
    base = _jobs(cfg, candidate_set(hangs=0)[:limit])
    return [{**j, "id": f"{j['id']}#{r}"} for r in range(repeat) for j in base]


def dispatch_local(jobs: list[dict], limits: sandbox.Limits, device: str, gpus: int,
                   size: int) -> tuple[list[dict], float]:
    todo: queue.Queue = queue.Queue()
    for chunk in batch.chunks(jobs, size):
        todo.put(chunk)
    done: list[dict] = []

    def gpu_worker(index: int) -> None:
        while True:
            try:
                chunk = todo.get_nowait()
            except queue.Empty:
                return
            pin = str(index) if device == "cuda" else None
            done.append(batch.run_batch(chunk, limits, device, visible_devices=pin))

    t0 = time.perf_counter()
    threads = [threading.Thread(target=gpu_worker, args=(i,)) for i in range(gpus)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return done, time.perf_counter() - t0


def dispatch_ray(jobs: list[dict], limits: sandbox.Limits, device: str, gpus: int,
                 size: int) -> tuple[list[dict], float, float]:
    import ray

    t0 = time.perf_counter()
    ray.init(num_gpus=gpus, num_cpus=gpus * 2, include_dashboard=False,
             log_to_driver=False)
    started = time.perf_counter() - t0
    try:
        task = ray.remote(num_gpus=1, num_cpus=1)(batch.run_batch)
        t0 = time.perf_counter()
        done = ray.get([task.remote(chunk, limits, device) for chunk in batch.chunks(jobs, size)])
        return done, time.perf_counter() - t0, started
    finally:
        ray.shutdown()


def measure(jobs: list[dict], cfg: BenchConfig, gpus: int, size: int, how: str) -> dict:
    limits = sandbox.Limits(cfg.timeout_s, 8192, cfg.parallel)  # private compile caches
    if how == "ray":
        done, seconds, started = dispatch_ray(jobs, limits, cfg.device, gpus, size)
    else:
        (done, seconds), started = dispatch_local(jobs, limits, cfg.device, gpus, size), 0.0
    verdicts = {v["id"]: v for d in done for v in d["verdicts"]}
    per_gpu = Counter()
    for d in done:
        per_gpu[d["gpus"]] += len(d["verdicts"])
    names = {v.get("gpu_name") for v in verdicts.values() if v.get("gpu_name")}
    return {"gpus": gpus, "seconds": round(seconds, 2),
            "per_min": round(len(verdicts) / seconds * 60, 1), "verdicts": len(verdicts),
            "ray_start_seconds": round(started, 2), "per_gpu": dict(per_gpu),
            "gpu_names": sorted(names), "codes": _codes(verdicts)}


def run(cfg: BenchConfig, counts: list[int], repeat: int, size: int, how: str,
        limit: int | None = None) -> dict:
    jobs = job_set(cfg, repeat, limit)
    runs = [measure(jobs, cfg, g, size, how) for g in counts]
    base = runs[0]
    for r in runs:
        r["scaling"] = round(r["per_min"] / base["per_min"], 2)
        r["verdicts_equal"] = r["codes"] == base["codes"]
    return {"candidates": len(jobs), "device": cfg.device, "dispatch": how, "batch": size, "parallel_per_gpu":
            cfg.parallel, "timeout_s": cfg.timeout_s,
            "gpu": (base["gpu_names"] or [cfg.device])[0],
            "verdict_counts": dict(Counter(base["codes"].values())),
            "runs": [{k: v for k, v in r.items() if k != "codes"} for r in runs]}


def table(result: dict) -> str:
    lines = [f"{result['candidates']} candidates on {result['gpu']}, dispatch "
             f"{result['dispatch']}, batches of {result['batch']}, "
             f"{result['parallel_per_gpu']} at once per GPU",
             f"{'GPUs':>5} {'seconds':>9} {'per min':>9} {'scaling':>8} {'same verdicts':>14}"]
    for r in result["runs"]:
        lines.append(f"{r['gpus']:>5} {r['seconds']:>9} {r['per_min']:>9} {r['scaling']:>8} "
                     f"{str(r['verdicts_equal']):>14}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--gpus", default="1,2", help="GPU counts to compare, the first is the base")
    p.add_argument("--dispatch", choices=["ray", "local"], default="ray")
    p.add_argument("--batch", type=int, default=10)
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--parallel", type=int, default=12, help="candidates at once per GPU")
    p.add_argument("--timeout", type=float, default=30.0)
    p.add_argument("--limit", type=int, help="only the first N candidates of the set")
    p.add_argument("--device", choices=["cuda", "cpu"], default="cuda",
                   help="cpu: a dry run in the interpreter, each 'GPU' a slot of Ray's")
    p.add_argument("--out", help="also write the full result (with per-run detail) here")
    a = p.parse_args(argv)
    cfg = BenchConfig(device=a.device, parallel=a.parallel, timeout_s=a.timeout, hangs=0)
    result = run(cfg, [int(g) for g in a.gpus.split(",")], a.repeat, a.batch, a.dispatch,
                 a.limit)
    if a.out:
        with open(a.out, "w") as f:
            json.dump(result, f, indent=1)
    print(table(result))
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
