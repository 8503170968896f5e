"""`kcorpus bench rebuild`: a full rebuild of a pipeline of N sources, then the rebuild after one
more source is added, in the same run; the second should cost a small share of the first.

The sources are local directories, each holding one of the sample repository's problem files
with its own input size (so every source gives a distinct problem), and the sample's recorded
completions for them (replay), verified in the Triton interpreter on the CPU. Each rebuild runs
`kcorpus rebuild` in a fresh process, as a scheduled rebuild would, so the times include
starting Prefect's ephemeral server; the per-stage times from the flow's summary are printed
too. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from kcorpus.bench.report import print_result

SAMPLE = Path(__file__).resolve().parents[2] / "pipelines" / "sample"
FILES = ["models/linear_relu.py", "models/softmax_temperature.py", "models/layers/rms_norm.py",
         "losses/mse_loss.py", "models/layers/layer_norm.py", "models/gelu_affine.py"]


def make_sources(base: Path, n: int) -> list[Path]:
    out = []
    for i in range(n):
        rel = FILES[i % len(FILES)]
        text = (SAMPLE / "repo" / rel).read_text()
        sized = re.sub(r"torch\.randn\((\d+)", lambda m, k=i: f"torch.randn({int(m[1]) + k + 1}",
                       text, count=1)
        repo = base / f"src{i:02d}"
        (repo / rel).parent.mkdir(parents=True)
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
                    "verify: {device: cpu, trials: 2, workers: 2}\n")
    return path


def rebuild(pipeline: Path, workdir: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "kcorpus", "rebuild", str(pipeline), "--workdir",
                    str(workdir)], check=True, capture_output=True, text=True)
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sources", type=int, default=20)
    a = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="kcorpus-bench-rebuild-") as tmp:
        base = Path(tmp)
        sources = make_sources(base, a.sources + 1)
        full = rebuild(write_pipeline(base, sources[:-1]), base / "wd")
        again = rebuild(write_pipeline(base, sources[:-1]), base / "wd")
        incremental = rebuild(write_pipeline(base, sources), base / "wd")
    result = {"sources": a.sources, "full_seconds": round(full, 1),
              "unchanged_seconds": round(again, 1),
              "incremental_seconds": round(incremental, 1),
              "incremental_share": round(incremental / full, 3)}
    print_result(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
