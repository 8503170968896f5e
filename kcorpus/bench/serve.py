"""`kcorpus bench serve`: evaluations per minute through the reward service, beside a fresh
process per candidate (KernelBench's harness's way), in the same run.

The service (`kcorpus serve-verifier`, the real uvicorn server on a local port, `--workers`
children) gets `--requests` requests from `--clients` concurrent clients, cycling through the
verifier's test candidates for its small problem (`--mix full`: honest, wrong, with torch ops,
no program; `--mix cheap`: no program only, the service's own cost); a client answered 429
waits as Retry-After says.
The baseline verifies `--baseline` of the same candidates one after another, each in a fresh
sandboxed interpreter (`worker.py --single`). Latencies are per request, retries included.
The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from kcorpus.bench.report import print_result
from kcorpus.verify import sandbox
from kcorpus.verify import tricks as P
from kcorpus.verify.single import make_job

MIXES = {"full": [P.HONEST, P.WRONG, P.TORCH_OPS, "no program here"],
         "cheap": ["no program here"]}  # the service's own cost: a static failure per request


def start_service(port: int, device: str, workers: int, queue: int) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "kcorpus", "serve-verifier", "--port",
                             str(port), "--device", device, "--workers", str(workers),
                             "--queue", str(queue)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError("the service did not start within 120 s")


def load(url: str, requests: int, clients: int, candidates: list[str]
         ) -> tuple[list[float], list[int], float]:
    def one(i: int) -> tuple[float, int]:
        t0 = time.perf_counter()
        while True:
            r = httpx.post(f"{url}/v1/verify", json={"problem_code": P.PROBLEM,
                                                    "candidate": candidates[i % len(candidates)]},
                           timeout=600)
            if r.status_code != 429:
                return time.perf_counter() - t0, r.status_code
            time.sleep(float(r.headers.get("Retry-After", "1")))

    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        got = list(pool.map(one, range(requests)))
    return [s for s, _ in got], [c for _, c in got], time.perf_counter() - t0


def baseline(n: int, device: str, candidates: list[str]) -> float:
    """Seconds per candidate, each in a fresh sandboxed interpreter."""
    t0 = time.perf_counter()
    for i in range(n):
        job = make_job(str(i), P.PROBLEM, candidates[i % len(candidates)], device)
        sandbox.run_job(job, sandbox.Limits(timeout_s=120))
    return (time.perf_counter() - t0) / n


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--requests", type=int, default=200)
    p.add_argument("--clients", type=int, default=32)
    p.add_argument("--queue", type=int, default=64)
    p.add_argument("--baseline", type=int, default=8, help="candidates for the baseline")
    p.add_argument("--port", type=int, default=8766)
    p.add_argument("--mix", choices=sorted(MIXES), default="full",
                   help="full: honest, wrong, torch-op and static-failing candidates in turn; "
                        "cheap: static failures only (the service's own overhead)")
    a = p.parse_args(argv)
    proc = start_service(a.port, a.device, a.workers, a.queue)
    try:
        latencies, statuses, seconds = load(f"http://127.0.0.1:{a.port}", a.requests, a.clients,
                                            MIXES[a.mix])
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    per_candidate = baseline(a.baseline, a.device, MIXES[a.mix])
    lat = sorted(latencies)
    result = {"device": a.device, "mix": a.mix, "workers": a.workers, "clients": a.clients,
              "candidates": len(statuses), "answered": statuses.count(200),
              "seconds": round(seconds, 1), "per_min": round(60 * len(statuses) / seconds, 1),
              "p50_s": round(statistics.median(lat), 2),
              "p99_s": round(lat[min(len(lat) - 1, int(0.99 * len(lat)))], 2),
              "baseline_candidates": a.baseline,
              "baseline_per_min": round(60 / per_candidate, 1)}
    result["ratio"] = round(result["per_min"] / result["baseline_per_min"], 2)
    print_result(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
