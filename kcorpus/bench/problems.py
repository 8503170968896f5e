"""`kcorpus bench problems PATH...`: the problems stage's probe over real repositories, beside
the probe as it was before the shape pass, in the same run.

Jobs: what the mine stage makes of PATH... (each a directory of Python sources): every module
with inputs of its own, and every module it guessed inputs for (each guess a program to try).
Both probes get the same jobs in the same order, through the sandbox as the stage runs it (one
fork server, `--workers` children on the CPU):

- the probe (`kind: probe`, the stage's budget): all of them;
- the baseline (`mode: full`: value checks at the given size, then a real forward for the
  figures, within the sandbox's per-job limits of `--timeout` s and `--memory-mb`) until
  `--baseline-limit` seconds have passed; its rate counts what it finished by then.

`label_agreement` is the share of problems both found sound (too_large_for_cpu counts as sound
for the probe) whose op-type labels (optypes.aten_op_types over the ATen ops each saw) are the
same; `sound_agreement` the share of jobs both finished that they call sound alike. The
baseline runs out of memory on problems sized for a GPU, so each problem the probe checked for
real is also labelled from the ops its first real forward ran, at the size it checked it at
(`real_aten_ops`): `checked_label_agreement` is the share where that agrees with the shape pass.
`peak_child_rss_mb` is the largest resident set of any sandbox child (from wait4). The last
line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

from kcorpus import optypes
from kcorpus.bench.report import print_result
from kcorpus.config import MineConfig, ProbeBudget
from kcorpus.mine.per_file import mine_tree
from kcorpus.progress import bar
from kcorpus.verify import sandbox


def jobs_of(paths: list[Path], workers: int) -> list[dict]:
    """One probe job per runnable or guessed module, ordered by id (a content hash: shuffled)."""
    cfg = MineConfig()
    jobs = {}
    for root in paths:
        for rows in mine_tree(root, "bench", cfg.max_file_bytes, set(cfg.allowed_imports),
                              workers):
            for p in rows.problems:
                jobs[p["problem_id"]] = {"id": p["problem_id"], "programs": [p["code"]]}
            for g in rows.guesses:
                jobs[g["module_id"]] = {"id": g["module_id"], "programs": g["programs"]}
    return [{"kind": "probe", "device": "cpu", **jobs[k]} for k in sorted(jobs)]


def run(jobs: list[dict], limits: sandbox.Limits, label: str,
        limit_s: float | None = None) -> tuple[dict[str, dict], float]:
    """Answers by job id, and the seconds taken; with `limit_s`, whatever finished by then."""
    answers = {}
    t0 = time.perf_counter()
    with bar(label, total=len(jobs)) as progress:
        stream = sandbox.run_jobs(jobs, limits, "cpu")
        try:
            for answer in stream:
                answers[answer["id"]] = answer
                progress.advance()
                if limit_s is not None and time.perf_counter() - t0 > limit_s:
                    break
        finally:
            stream.close()  # the server and its children are killed
    return answers, time.perf_counter() - t0


def sound(answer: dict) -> bool:
    return answer.get("ok") is not None


def labels(answer: dict) -> list[str]:
    return optypes.aten_op_types(answer.get("aten_ops") or [], bool(answer.get("scalar_output")))


def compare(new: dict[str, dict], old: dict[str, dict]) -> dict:
    both = [k for k in old if k in new]
    labelled = [k for k in both if sound(new[k]) and sound(old[k]) and old[k].get("aten_ops")]
    same = [k for k in labelled if labels(new[k]) == labels(old[k])]
    alike = [k for k in both if sound(new[k]) == sound(old[k])]
    checked = [a for a in new.values() if a.get("real_aten_ops")]
    agree = [a for a in checked if labels(a) == labels({**a, "aten_ops": a["real_aten_ops"]})]
    return {"compared": len(both), "labels_compared": len(labelled),
            "label_agreement": round(len(same) / len(labelled), 3) if labelled else None,
            "checked_labels_compared": len(checked),
            "checked_label_agreement": round(len(agree) / len(checked), 3) if checked else None,
            "sound_agreement": round(len(alike) / len(both), 3) if both else None,
            "label_disagreements": [{"id": k, "probe": labels(new[k]), "baseline": labels(old[k])}
                                    for k in labelled if k not in same][:10]}


def summary(answers: dict[str, dict]) -> dict:
    flags = Counter(f for a in answers.values() if sound(a) for f in a.get("flags") or [])
    return {"sound": sum(map(sound, answers.values())),
            "too_large_for_cpu": flags["too_large_for_cpu"],
            "cut": sum(bool(a.get("checked_inputs")) for a in answers.values()),
            "fake_fallbacks": sum(bool(a.get("fake_error")) for a in answers.values()),
            "sandbox_failures": sum("failure_code" in a for a in answers.values())}


def _rate(n: int, seconds: float) -> float | None:
    return round(60 * n / seconds, 1) if seconds else None


def _peak(answers: dict[str, dict]) -> float | None:
    return max((a.get("child_rss_mb") or 0 for a in answers.values()), default=None)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("paths", nargs="+", type=Path)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--baseline-limit", type=float, default=300.0,
                   help="seconds the baseline may run (0: skip it)")
    p.add_argument("--timeout", type=float, default=120.0, help="the sandbox's seconds per job")
    p.add_argument("--memory-mb", type=int, default=8192, help="the sandbox's memory per job")
    p.add_argument("--budget-s", type=float, default=ProbeBudget().seconds)
    p.add_argument("--budget-mb", type=float, default=ProbeBudget().memory_mb)
    p.add_argument("--max-jobs", type=int, default=0, help="probe only the first N jobs")
    p.add_argument("--out", type=Path, help="write every answer of both probes here (JSON lines)")
    a = p.parse_args(argv)
    missing = [str(x) for x in a.paths if not x.is_dir()]
    if missing:
        print(f"error: not a directory: {', '.join(missing)}", file=sys.stderr)
        return 2
    jobs = jobs_of(a.paths, a.workers)[: a.max_jobs or None]
    limits = sandbox.Limits(timeout_s=a.timeout, memory_mb=a.memory_mb, parallel=a.workers)
    budget = {"seconds": a.budget_s, "memory_mb": a.budget_mb}
    new, seconds = run([{**j, "budget": budget} for j in jobs], limits, "probe")
    old, old_seconds = ({}, 0.0) if not a.baseline_limit else run(
        [{**j, "mode": "full"} for j in jobs], limits, "baseline", a.baseline_limit)
    result = {"jobs": len(jobs), "probed": len(new), "seconds": round(seconds, 1),
              "jobs_per_min": _rate(len(new), seconds), "workers": a.workers,
              "peak_child_rss_mb": _peak(new), **summary(new),
              "baseline_jobs": len(old), "baseline_seconds": round(old_seconds, 1),
              "baseline_jobs_per_min": _rate(len(old), old_seconds),
              "baseline_peak_child_rss_mb": _peak(old),
              "baseline_sandbox_failures": summary(old)["sandbox_failures"], **compare(new, old)}
    result["speedup"] = (round(result["jobs_per_min"] / result["baseline_jobs_per_min"], 2)
                         if result["baseline_jobs_per_min"] and result["jobs_per_min"] else None)
    if a.out:
        _write(a.out, new, old)
    print_result(result)
    return 0


def _write(path: Path, new: dict, old: dict) -> None:
    with open(path, "w") as f:
        for which, answers in (("probe", new), ("baseline", old)):
            for answer in answers.values():
                f.write(json.dumps({"probe": which, **answer}) + "\n")


if __name__ == "__main__":
    sys.exit(main())
