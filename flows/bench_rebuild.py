"""`kcorpus bench rebuild`: a full rebuild of a pipeline of N sources, then the rebuild after one
more source is added, in the same run; the second should cost a small share of the first.

The sources are local repositories, each holding the sample repository's six modules with its
own input sizes (so every source gives six distinct problems), and the sample's recorded
completions for them (replay), verified in the Triton interpreter on the CPU (the default 5
trials). Each rebuild runs `kcorpus rebuild` in a fresh process against a running Prefect server
(`PREFECT_API_URL`), as deployments from prefect.yaml and `kcorpus serve` run: the reported
`full_seconds`, `unchanged_seconds` and `incremental_seconds`, with each stage's seconds. With
`--ephemeral` the same three rebuilds also run with no server, where each process starts
Prefect's temporary one (under `ephemeral`). The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path


SAMPLE = Path(__file__).resolve().parents[2] / "pipelines" / "sample"
FILES = ["models/linear_relu.py", "models/softmax_temperature.py", "models/layers/rms_norm.py",
         "losses/mse_loss.py", "models/layers/layer_norm.py", "models/gelu_affine.py"]


def make_sources(base: Path, n: int) -> list[Path]:
    """n small repositories, each with the six sample modules at its own input sizes."""
    out = []
    for i in range(n):
        repo = base / f"src{i:02d}"
        for rel in FILES:
            text = (SAMPLE / "repo" / rel).read_text()
            # the first module constant is the batch (or row) count: distinct sizes per source
            sized = re.sub(r"^([A-Z_]+) = (\d+)", lambda m, k=i: f"{m[1]} = {int(m[2]) + k + 1}",
                           text, count=1, flags=re.M)
            (repo / rel).parent.mkdir(parents=True, exist_ok=True)
            (repo / rel).write_text(sized)
        shutil.copy(SAMPLE / "repo" / "LICENSE", repo / "LICENSE")
        out.append(repo)
    return out


def write_pipeline(base: Path, sources: list[Path]) -> Path:
    lines = [line for line in (SAMPLE / "completions.jsonl").read_text().splitlines()
             if json.loads(line)["path"] in FILES and json.loads(line)["expect"] == "pass"]
    (base / "completions.jsonl").write_text("\n".join(lines) + "\n")
    srcs = "".join(f"  - {{kind: local, path: {s}, name: org/{s.name}, license: MIT}}\n"
                   for s in sources)
    path = base / "p.yaml"
    path.write_text(f"name: bench\nsources:\n{srcs}synth:\n  backends:\n"
                    "    - {kind: replay, path: completions.jsonl}\n"
                    "verify: {device: cpu, workers: 2}\n")
    return path


def rebuild(pipeline: Path, workdir: Path, env: dict) -> tuple[float, dict[str, float]]:
    """Wall seconds of one `kcorpus rebuild` process, and the seconds of each stage in it."""
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "kcorpus", "rebuild", str(pipeline),
                           "--workdir", str(workdir), "--json"], check=True, capture_output=True,
                          text=True, env=env)
    wall = time.perf_counter() - t0
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    return wall, {stage: r["seconds"] for stage, r in results.items()}


def three_rebuilds(base: Path, sources: list[Path], env: dict) -> list[tuple[float, dict]]:
    """Full, unchanged and one-source-added rebuilds in a fresh work directory."""
    wd = base / f"wd-{len(list(base.glob('wd-*')))}"
    twenty = write_pipeline(base, sources[:-1])
    return [rebuild(twenty, wd, env), rebuild(twenty, wd, env),
            rebuild(write_pipeline(base, sources), wd, env)]


@contextlib.contextmanager
def prefect_server(home: Path):
    """A Prefect API server for the duration (its own PREFECT_HOME); yields its API URL."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PREFECT_HOME": str(home)}
    proc = subprocess.Popen([sys.executable, "-m", "prefect", "server", "start", "--host",
                             "127.0.0.1", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}/api"
    try:
        for _ in range(120):
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=1):
                    break
            except OSError:
                time.sleep(0.5)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def summary(runs: list[tuple[float, dict]], sources: int) -> dict:
    (full, full_stages), (again, again_stages), (inc, inc_stages) = runs
    return {"sources": sources, "problems_per_source": len(FILES),
            "full_seconds": round(full, 1), "unchanged_seconds": round(again, 1),
            "incremental_seconds": round(inc, 1), "incremental_share": round(inc / full, 3),
            "stage_seconds": {"full": full_stages, "unchanged": again_stages,
                              "incremental": inc_stages}}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sources", type=int, default=20)
    p.add_argument("--ephemeral", action="store_true",
                   help="also rebuild with no Prefect server (a temporary one per process)")
    a = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="kcorpus-bench-rebuild-") as tmp:
        base = Path(tmp)
        sources = make_sources(base, a.sources + 1)
        home = {**os.environ, "PREFECT_HOME": str(base / "prefect-ephemeral")}
        home.pop("PREFECT_API_URL", None)
        with prefect_server(base / "prefect-server") as url:
            runs = three_rebuilds(base, sources, {**home, "PREFECT_API_URL": url})
        result = summary(runs, a.sources)
        if a.ephemeral:
            result["ephemeral"] = summary(three_rebuilds(base, sources, home), a.sources)
    print(table(result))
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


def table(result: dict) -> str:
    stages = result["stage_seconds"]
    lines = [f"{result['sources']} sources of {result['problems_per_source']} problems, "
             "against a Prefect server",
             f"{'':<22}{'full':>8}{'unchanged':>11}{'+1 source':>11}"]
    for stage in stages["full"]:
        lines.append(f"{'  ' + stage:<22}" + "".join(
            f"{stages[run].get(stage, 0):>{w}.1f}"
            for run, w in (("full", 8), ("unchanged", 11), ("incremental", 11))))
    lines.append(f"{'rebuild (process)':<22}{result['full_seconds']:>8.1f}"
                 f"{result['unchanged_seconds']:>11.1f}{result['incremental_seconds']:>11.1f}")
    lines.append(f"incremental share: {result['incremental_share']:.3f}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
