"""The GPU corpus summary (kcorpus.bench.corpus): where verification and Inductor synthesis spent
their time, read back from what the stages store (verdict rows, `inductor_jobs.jsonl`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from kcorpus import schema
from kcorpus.bench import corpus, usage
from kcorpus.bench.corpus import inductor_jobs, verify_phases
from kcorpus.catalog import Catalog
from kcorpus.verify.stage import verdict_row


def _verdict(i: int, phases: dict, code: str = "") -> dict:
    v = {"id": f"c{i}", "passed": not code, "stage": "timing", "failure_code": code,
         "seconds": sum(phases.values()), "phase_seconds": phases}
    return verdict_row(v, {"device": "cuda", "gpu_arch": "sm_90", "gpu_name": "H200",
                           "interpreter": False, "torch_version": "2", "triton_version": "3",
                           "driver": "", "tf32": False})


def test_verify_phases_sum_what_each_verdict_stored(tmp_path):
    rows = [_verdict(0, {"load": 1.0, "gpu_lock_wait": 4.0, "gpu_lock_held": 2.0}),
            _verdict(1, {"load": 3.0, "gpu_lock_wait": 0.0, "gpu_lock_held": 1.0}),
            _verdict(2, {"load": 2.0}, code="MISMATCH")]
    with Catalog(tmp_path / "catalog.duckdb") as cat:
        cat.insert_new("verdicts", schema.table("verdicts").to_arrow(rows))
        got = verify_phases(cat)
    assert got["child_seconds"] == 13.0
    assert got["phases"]["load"] == {"sum": 6.0, "median": 2.0}
    assert got["phases"]["gpu_lock_wait"] == {"sum": 4.0, "median": 2.0}
    assert got["verdicts_by_code"] == {"passed": 2, "MISMATCH": 1}


def test_inductor_jobs_count_compile_time_and_why_jobs_gave_nothing(tmp_path):
    lines = [{"id": "a", "seconds": {"dynamic": 4.0}, "error": ""},
             {"id": "b", "seconds": {"dynamic": 2.0, "static": 6.0}, "error": ""},
             {"id": "c", "seconds": {"dynamic": 1.0, "static": 1.0},
              "error": "RuntimeError: expected one generated module"},
             {"id": "d", "seconds": None, "failure_code": "TIMEOUT", "error": "no verdict"}]
    (tmp_path / "inductor_jobs.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    got = inductor_jobs(tmp_path)
    assert got["jobs"] == 4 and got["compile_seconds"] == 14.0 and got["max_s"] == 8.0
    assert got["no_program"] == {"RuntimeError": 1, "TIMEOUT": 1}
    assert inductor_jobs(tmp_path / "nothing") == {}


def test_a_rebuild_in_several_runs_sums_their_gpu_and_stage_seconds(tmp_path):
    """Each run (a fresh machine resuming the catalog) is recorded from what `kcorpus rebuild
    --json` printed; the summary sums them, and a missing runs file is named."""
    runs = tmp_path / "runs.jsonl"
    for seconds, synth in ((500.0, 300.2), (420.0, 250.0)):
        printed = tmp_path / "rebuild.json"
        printed.write_text("log line\n" + json.dumps(
            {"mine": {"seconds": 10.0, "problems": 3}, "synth": {"seconds": synth}}) + "\n")
        assert corpus.main(["--record-run", str(runs), "--rebuild-json", str(printed),
                            "--gpu-seconds", str(seconds)]) == 0
    summed = corpus.over_runs([json.loads(ln) for ln in runs.read_text().splitlines()])
    assert summed["gpu_seconds"] == 920.0
    assert summed["stage_seconds"] == {"mine": 20.0, "synth": 550.2}
    assert [r["gpu_seconds"] for r in summed["runs"]] == [500.0, 420.0]
    assert corpus.main(["--record-run", str(runs)]) == 2  # nothing to record


def test_usage_samples_the_cpus_while_a_process_keeps_one_busy(tmp_path):
    """kcorpus.bench.usage reads /proc/stat: with one core spinning, the busy fraction of all
    CPUs is at least most of one core's share."""
    out = tmp_path / "usage.jsonl"
    sampler = subprocess.Popen([sys.executable, "-m", "kcorpus.bench.usage", str(out),
                                "--every", "0.3"])
    spin = subprocess.Popen([sys.executable, "-c", "import time\nt = time.time()\n"
                             "while time.time() - t < 2.5: pass"])
    spin.wait()
    sampler.terminate()
    sampler.wait()
    got = usage.summarize(out)
    assert got["samples"] >= 4
    assert 0.6 / os.cpu_count() < got["cpu_busy"] <= 1.0


def test_usage_is_summed_per_stage_in_the_order_the_stages_ran(tmp_path):
    out = tmp_path / "usage.jsonl"
    rows = [{"t": 100.0 + i, "cpu_busy": 1.0 if i < 3 else 0.2, "iowait": 0.0,
             "gpu_util": 0.0 if i < 3 else 80.0, "gpu_mem_mb": 10.0 * i} for i in range(10)]
    out.write_text("".join(json.dumps(r) + "\n" for r in rows))
    got = usage.summarize(out, {"problems": 3.0, "synth": 7.0, "publish": 0.0})
    assert got["by_stage"] == {
        "problems": {"cpu_busy": 1.0, "gpu_util": 0.0, "gpu_mem_mb_max": 20.0},
        "synth": {"cpu_busy": 0.2, "gpu_util": 80.0, "gpu_mem_mb_max": 90.0}}
    runs = tmp_path / "runs.jsonl"
    printed = tmp_path / "rebuild.json"
    printed.write_text(json.dumps({"problems": {"seconds": 3.0}, "synth": {"seconds": 7.0}}) + "\n")
    assert corpus.main(["--record-run", str(runs), "--rebuild-json", str(printed),
                        "--gpu-seconds", "10", "--usage", str(out)]) == 0
    assert json.loads(runs.read_text())["usage"]["by_stage"]["synth"]["cpu_busy"] == 0.2
    assert usage.summarize(tmp_path / "none.jsonl") == {"samples": 0}
