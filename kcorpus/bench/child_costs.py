"""Where a fork-server child's seconds go, on a GPU node (stdlib, torch and triton only).

    python3 -m kcorpus.bench.child_costs JOBS.jsonl... --out DIR [--profile 2] [--fork-checks]

Each job (any kind the fork server runs: probe, inductor, verification; kcorpus.bench.sample_jobs
draws them from a rebuild's catalog) runs in a forked child of a server that preloaded as
worker.py does, in the fork server's environment (sandbox.scrubbed_env), one at a time on an
idle node: its wall seconds and phases, and for the first `--profile` jobs of each kind the top
functions under cProfile (DIR/profile_KIND_I.txt). A corpus run has 16 children at once, so its
phases are longer. `--fork-checks` first answers session 13's question again:

1. `cuda_calls`: which torch.cuda calls importing torch._inductor.compile_fx and
   torch._inductor.select_algorithm makes (a fork server may not touch the driver);
2. `fork_safety`: for each preload set, with and without PYTORCH_NVML_BASED_CUDA_CHECK=1,
   whether a forked child still runs CUDA and a torch.compile, and how long that took;
3. `first_use`: a forked child's first CUDA op, matmul and convolution, with cuDNN's
   sub-libraries dlopened in the server or not (a GPU probe without a matmul or convolution
   took 2.7 s, median, with a convolution 3.2 s, a matmul 3.4 s: RESULTS.md, session 14).

Prints a short table last; DIR gets `child_costs.json` and the profiles.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

EXTRA = ["torch._inductor.compile_fx", "torch._inductor.select_algorithm"]

_CALLS = """
import json, sys, traceback, torch, triton
import torch.cuda as tc
seen = []
for n in ["is_available", "device_count", "_lazy_init", "init", "get_device_properties",
          "get_device_capability", "current_device", "get_device_name", "mem_get_info",
          "is_bf16_supported", "synchronize"]:
    f = getattr(tc, n)
    def wrap(*a, _f=f, _n=n, **k):
        seen.append(_n + "\\n" + "".join(traceback.format_stack(limit=7)[:-1]))
        return _f(*a, **k)
    setattr(tc, n, wrap)
import torch._dynamo, torch._inductor.async_compile, torch._inductor.codecache
for m in sys.argv[1:]:
    __import__(m)
print(json.dumps({"initialized": torch.cuda.is_initialized(), "calls": seen}))
"""

_FORK = """
import json, os, sys, time, torch, triton
import torch._dynamo, torch._inductor.async_compile, torch._inductor.codecache
for m in sys.argv[1:]:
    __import__(m)
before = torch.cuda.is_initialized()
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    t = time.perf_counter()
    try:
        torch.ones(4, device="cuda").sum().item()
        f = torch.compile(torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.ReLU()).cuda())
        f(torch.randn(8, 64, device="cuda")).sum().item()
        msg = {"ok": True, "seconds": round(time.perf_counter() - t, 2)}
    except Exception as e:
        msg = {"ok": False, "error": f"{type(e).__name__}: {e}"[:300]}
    os.write(w, json.dumps(msg).encode())
    os._exit(0)
os.close(w)
os.waitpid(pid, 0)
out = json.loads(os.read(r, 65536) or b'{"ok": false, "error": "no answer"}')
print(json.dumps({"server_initialized_cuda": before, **out}))
"""


def cuda_calls() -> dict:
    out = subprocess.run([sys.executable, "-c", _CALLS, *EXTRA], capture_output=True, text=True,
                         timeout=300)
    last = (out.stdout.strip().splitlines() or ["{}"])[-1]
    try:
        return json.loads(last)
    except json.JSONDecodeError:
        return {"error": out.stderr[-1500:]}


_FIRST_USE = """
import ctypes, glob, json, os, sys, time, torch, triton
import torch._dynamo, torch._inductor.async_compile, torch._inductor.codecache
loaded = []
if sys.argv[1] == "cudnn":  # dlopen cuDNN's sub-libraries here, before the fork
    maps = open("/proc/self/maps").read().split()
    lib = next((os.path.dirname(p) for p in maps if "libcudnn.so" in p), None)
    for path in sorted(glob.glob(os.path.join(lib, "libcudnn_*.so*"))) if lib else []:
        ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
        loaded.append(os.path.basename(path))
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    steps, t = {}, time.perf_counter()
    try:
        for name, step in [
                ("cuda_init", lambda: torch.ones(4, device="cuda").sum().item()),
                ("first_matmul", lambda: (torch.randn(256, 256, device="cuda") @
                                          torch.randn(256, 256, device="cuda")).sum().item()),
                ("first_conv", lambda: torch.nn.functional.conv2d(
                    torch.randn(8, 16, 32, 32, device="cuda"),
                    torch.randn(32, 16, 3, 3, device="cuda")).sum().item())]:
            step()
            steps[name] = round(time.perf_counter() - t, 3)
            t = time.perf_counter()
        msg = {"ok": True, "steps": steps}
    except Exception as e:
        msg = {"ok": False, "steps": steps, "error": f"{type(e).__name__}: {e}"[:300]}
    os.write(w, json.dumps(msg).encode())
    os._exit(0)
os.close(w)
os.waitpid(pid, 0)
print(json.dumps({"preloaded": loaded, **json.loads(os.read(r, 65536) or b'{"ok": false}')}))
"""


def first_use() -> list[dict]:
    """What a forked child pays the first time it initialises CUDA, runs a matmul (cuBLAS) and a
    convolution (cuDNN), with the server as worker.py leaves it and with cuDNN's sub-libraries
    dlopened in the server first (a candidate for the preload, if the child stays sound)."""
    rows = []
    for variant in ("worker", "cudnn"):
        env = {**os.environ, "PYTORCH_NVML_BASED_CUDA_CHECK": "1"}
        out = subprocess.run([sys.executable, "-c", _FIRST_USE, variant], capture_output=True,
                             text=True, timeout=300, env=env)
        try:
            rows.append({"server": variant, **json.loads(out.stdout.strip().splitlines()[-1])})
        except (IndexError, json.JSONDecodeError):
            rows.append({"server": variant, "ok": False, "error": out.stderr[-500:]})
    return rows


def fork_safety() -> list[dict]:
    rows = []
    for nvml in ("", "1"):
        for extra in ([], EXTRA):
            env = {**os.environ, "PYTORCH_NVML_BASED_CUDA_CHECK": nvml}
            t = time.perf_counter()
            out = subprocess.run([sys.executable, "-c", _FORK, *extra], capture_output=True,
                                 text=True, timeout=300, env=env)
            last = (out.stdout.strip().splitlines() or ["{}"])[-1]
            try:
                row = json.loads(last)
            except json.JSONDecodeError:
                row = {"ok": False, "error": out.stderr[-500:]}
            rows.append({"nvml": bool(nvml), "preload": extra, "wall_s":
                         round(time.perf_counter() - t, 1), **row})
    return rows


def _server(jobs: list[dict], out: Path, profile: int, device: str) -> list[dict]:
    """Runs in a subprocess: preload as the fork server does, then one forked child per job,
    one at a time."""
    import tempfile

    from kcorpus.verify import worker
    from kcorpus.verify.pool import GpuLock

    t = time.perf_counter()
    worker._preload(device)
    preload_s = round(time.perf_counter() - t, 2)
    root = Path(tempfile.mkdtemp(prefix="kc-costs-"))
    lock = GpuLock(root / "gpu.lock")
    lock.path.touch()
    rows, profiled = [], {}
    for i, job in enumerate(jobs):
        kind = job.get("kind", "verify")
        prof = profiled.get(kind, 0) < profile
        profiled[kind] = profiled.get(kind, 0) + prof
        rows.append({"preload_s": preload_s, **_child(i, job, kind, root, lock, out, prof)})
    return rows


def _child(i: int, job: dict, kind: str, root: Path, lock, out: Path, prof: bool) -> dict:
    import cProfile
    import pstats

    from kcorpus.verify import worker

    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        work = root / f"job{i}"
        work.mkdir()
        os.chdir(work)
        os.environ.update(TRITON_CACHE_DIR=str(work / "triton"), TMPDIR=str(work), HOME=str(work),
                          TORCHINDUCTOR_CACHE_DIR=str(work / "inductor"))  # cold, as a first job
        t0 = time.perf_counter()
        profiler = cProfile.Profile() if prof else None
        if profiler:
            profiler.enable()
        verdict = worker.run_job(job, lock, lambda _: None)
        if profiler:
            profiler.disable()
            with open(out / f"profile_{kind}_{i}.txt", "w") as f:
                pstats.Stats(profiler, stream=f).sort_stats("cumulative").print_stats(60)
        msg = {"i": i, "kind": kind, "id": str(job.get("id"))[:80],
               "wall_s": round(time.perf_counter() - t0, 2), "profiled": prof,
               "passed": _succeeded(kind, verdict),
               "error": verdict.get("error") or verdict.get("failure_code"),
               "phases": verdict.get("phase_seconds"),
               "seconds": verdict.get("seconds")}
        os.write(w, json.dumps(msg).encode())
        os._exit(0)
    os.close(w)
    chunks = []
    while chunk := os.read(r, 65536):
        chunks.append(chunk)
    os.waitpid(pid, 0)
    os.close(r)
    return json.loads(b"".join(chunks) or b'{"error": "child died"}')


def _succeeded(kind: str, answer: dict) -> bool:
    """A probe names its sound program (`ok`: an index), Inductor returns code, a verdict passes."""
    if kind == "probe":
        return answer.get("ok") is not None
    if kind == "inductor":
        return bool(answer.get("code"))
    return bool(answer.get("passed"))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("jobs", type=Path, nargs="+", help="JSONL files of fork-server jobs")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--profile", type=int, default=2, help="children per kind under cProfile")
    p.add_argument("--fork-checks", action="store_true", help="session 13's fork-safety checks")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cuda",
                   help="the server's device (cpu: Triton's interpreter, for a check here)")
    p.add_argument("--server", action="store_true", help=argparse.SUPPRESS)  # internal
    args = p.parse_args(argv)
    missing = [str(f) for f in args.jobs if not f.is_file()]
    if missing:
        print(f"error: no such jobs file: {', '.join(missing)}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    jobs = [json.loads(x) for f in args.jobs for x in f.read_text().splitlines() if x.strip()]
    if args.server:
        print(json.dumps(_server(jobs, args.out, args.profile, args.device)))
        return 0
    result = {"cuda_calls": cuda_calls(), "fork_safety": fork_safety(),
              "first_use": first_use()} if args.fork_checks else {}
    from kcorpus.verify.sandbox import scrubbed_env

    env = {**os.environ, **scrubbed_env(args.out, args.device)}
    env["PYTHONPATH"] = os.environ.get("PYTHONPATH", "")
    out = subprocess.run([sys.executable, "-m", "kcorpus.bench.child_costs", *map(str, args.jobs),
                          "--out", str(args.out), "--profile", str(args.profile),
                          "--device", args.device, "--server"],
                         capture_output=True, text=True, env=env, timeout=3000)
    try:
        result["jobs"] = json.loads(out.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        result["jobs"] = [{"error": out.stderr[-1500:]}]
    (args.out / "child_costs.json").write_text(json.dumps(result, indent=1))
    _table(result)
    return 0


def _table(result: dict) -> None:
    if "cuda_calls" in result:
        calls = result["cuda_calls"].get("calls", [])
        print(f"cuda calls importing {EXTRA}: {len(calls)}; "
              f"initialized: {result['cuda_calls'].get('initialized')}")
        for r in result["fork_safety"]:
            print(f"fork nvml={r['nvml']!s:5} preload={'+'.join(r['preload']) or 'worker'}: "
                  f"ok={r.get('ok')} child_s={r.get('seconds')} {r.get('error', '')[:200]}")
        for r in result["first_use"]:
            print(f"first use, server {r['server']:6} ({len(r.get('preloaded', []))} libraries "
                  f"preloaded): ok={r.get('ok')} {r.get('steps')} {r.get('error', '')[:200]}")
    print(f"{'i':>2} {'kind':9} {'wall_s':>7} {'prof':5} phases")
    for r in result["jobs"]:
        print(f"{r.get('i', ''):>2} {r.get('kind', ''):9} {r.get('wall_s', '')!s:>7} "
              f"{r.get('profiled', '')!s:5} {r.get('phases') or r.get('seconds') or ''} "
              f"{r.get('error') or ''}"[:300])


if __name__ == "__main__":
    sys.exit(main())
