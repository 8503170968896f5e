"""The end-to-end rebuild of the sample pipeline, through the CLI and the Prefect flow."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import datasets
import pytest

from kcorpus import schema
from tests.conftest import run_cli

# the module's rebuild (its fixture's setup counts towards the first test) took 486 s of the
# default 600 alone on 2 cores; slower machines must not fail it for time
pytestmark = pytest.mark.timeout(1200)

EXPECTED_CODE = {"pass": "", "mismatch": "MISMATCH", "compile_error": "COMPILE_ERROR",
                 "runtime_error": "RUNTIME_ERROR", "crash": "CRASH", "no_kernel": "NO_KERNEL",
                 "no_code": "NO_CODE"}


@pytest.fixture(scope="module")
def rebuilt(tmp_path_factory):
    """One rebuild of a copy of the sample pipeline, shared by the tests of this module."""
    import shutil

    from tests.conftest import ROOT

    base = tmp_path_factory.mktemp("rebuild")
    shutil.copytree(ROOT / "pipelines", base / "pipelines")
    workdir = base / "wd"
    proc = run_cli("rebuild", str(base / "pipelines" / "sample.yaml"), "--workdir", str(workdir))
    status = json.loads(run_cli("status", "--json", "--workdir", str(workdir)).stdout)
    return base, workdir, proc, status


def test_rebuild_prints_a_summary_and_leaves_a_release(rebuilt):
    _, workdir, proc, status = rebuilt
    assert "rebuild kcorpus-sample" in proc.stdout and "publish" in proc.stdout
    assert status["tables"]["problems"] >= 15
    assert status["tables"]["verdicts"] == status["tables"]["candidates"] >= 15
    [release] = status["releases"]
    assert release["version"] == "v1" and release["target"] == "local"
    assert Path(release["path"], "manifest.json").is_file()
    assert (Path(release["path"]).parent / "latest").resolve() == Path(release["path"]).resolve()


def test_every_config_loads_with_datasets(rebuilt):
    _, _, _, status = rebuilt
    path = status["releases"][0]["path"]
    for name in schema.configs():
        ds = datasets.load_dataset(path, name, split="train")
        assert ds.num_rows > 0, name
        assert ds.features == schema.config(name).datasets_features(), name


def test_pairs_are_verified_and_carry_provenance(rebuilt):
    _, _, _, status = rebuilt
    pairs = datasets.load_dataset(status["releases"][0]["path"], "pairs", split="train")
    assert pairs.num_rows >= 10
    for row in pairs:
        assert row["repo_name"] == "example-labs/sample-models"
        assert row["licenses"] == ["MIT"] and len(row["sha"]) == 64
        assert row["origin_path"].endswith(".py") and row["entry_point"]
        assert row["arch"] == "cpu" and row["interpreter"] is True
        assert row["speedup_eager"] is None  # the interpreter gives no timing
        assert [m["role"] for m in row["messages"]] == ["system", "user", "assistant"]
        assert row["python_code"] in row["messages"][1]["content"]
        assert "class Model(" in row["python_code"] and "def get_inputs" in row["python_code"]
        assert "@triton.jit" in row["triton_code"]


def test_every_kind_of_verdict_is_the_expected_one(rebuilt):
    base, _, _, status = rebuilt
    attempts = datasets.load_dataset(status["releases"][0]["path"], "attempts", split="train")
    by_completion = {r["completion"]: r for r in attempts}
    records = [json.loads(line) for line in
               (base / "pipelines" / "sample" / "completions.jsonl").read_text().splitlines()]
    seen = set()
    for rec in records:
        row = by_completion[rec["completion"]]
        assert row["failure_code"] == EXPECTED_CODE[rec["expect"]], (rec["path"], row["message"])
        assert row["passed"] == (rec["expect"] == "pass")
        seen.add(rec["expect"])
    assert seen == set(EXPECTED_CODE)


def test_query_json_returns_rows(rebuilt):
    _, workdir, _, _ = rebuilt
    out = run_cli("query", "--json", "--workdir", str(workdir), "--limit", "0").stdout
    rows = [json.loads(line) for line in out.splitlines()]
    assert len(rows) >= 10 and all(r["arch"] == "cpu" for r in rows)
    softmax = run_cli("query", "--json", "--op", "softmax", "--workdir", str(workdir)).stdout
    assert softmax.strip() and all("softmax" in json.loads(line)["op_types"]
                                   for line in softmax.splitlines())


def test_the_flow_leaves_a_markdown_artifact_of_counts(rebuilt):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    async def read():
        async with get_client() as client:
            return await client.read_artifacts(
                artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["rebuild-kcorpus-sample"])))

    artifacts = asyncio.run(read())
    assert artifacts and artifacts[0].type == "markdown"
    assert "| verify | verdicts |" in artifacts[0].data
    assert "Release **v1**" in artifacts[0].data and "/releases/kcorpus-sample/v1" in artifacts[0].data


def test_a_second_rebuild_adds_no_row_and_skips_the_cached_stages(rebuilt):
    base, workdir, _, status = rebuilt
    pipeline = str(base / "pipelines" / "sample.yaml")
    proc = run_cli("rebuild", pipeline, "--workdir", str(workdir))
    again = json.loads(run_cli("status", "--json", "--workdir", str(workdir)).stdout)
    assert again == status
    for stage in ("dedup", "publish"):  # their inputs are unchanged: Prefect's cache answers
        assert re.search(rf"{stage}\s*│\s*cached\s*│\s*True", proc.stdout), proc.stdout
    assert not re.search(r"verify\s*│\s*cached", proc.stdout)  # only pure stages are cached
    refreshed = run_cli("rebuild", pipeline, "--workdir", str(workdir), "--refresh-cache",
                        "--json")
    results = json.loads(refreshed.stdout.strip().splitlines()[-1])
    assert list(results) == ["mine", "problems", "synth", "verify", "refine", "dedup", "publish"]
    assert not any("cached" in r for r in results.values())
    assert results["publish"]["new"] is False and results["publish"]["version"] == "v1"
    assert all(r["seconds"] >= 0 for r in results.values())
    assert json.loads(run_cli("status", "--json", "--workdir", str(workdir)).stdout) == status


def test_smollm2_ran_for_real_and_its_attempts_are_published(rebuilt):
    """The sample's transformers backend: SmolLM2-135M on the CPU, two problems, one refine
    turn; whatever the verifier said, every attempt is in the release."""
    _, _, _, status = rebuilt
    attempts = datasets.load_dataset(status["releases"][0]["path"], "attempts", split="train")
    mine = [r for r in attempts if r["backend"] == "transformers"]
    assert [r["model"] for r in mine] == ["smollm2"] * len(mine)
    first = {r["candidate_id"]: r for r in mine if r["turn"] == 0}
    second = [r for r in mine if r["turn"] == 1]
    assert len(first) == 2 and all(r["prompt_template"] == "triton_v1" for r in mine)
    # every failed first attempt got exactly one feedback turn, linked to it
    failed = {cid for cid, r in first.items() if not r["passed"]}
    assert sorted(r["parent_candidate_id"] for r in second) == sorted(failed)
    assert all(r["completion"].strip() and r["failure_code"] or r["passed"] for r in mine)


EXPECTED_OP_TYPE = {  # what each sample module computes, as a person reading it would say
    "losses/distillation.py": "loss", "losses/mse_loss.py": "loss",
    "models/attention.py": "attention", "models/backbone.py": "conv",
    "models/bmm_scale.py": "matmul", "models/classifier_head.py": "matmul",
    "models/conv_block.py": "conv", "models/gelu_affine.py": "elementwise",
    "models/layers/cosine_sim.py": "matmul", "models/layers/layer_norm.py": "norm",
    "models/layers/rms_norm.py": "norm", "models/layers/squeeze_excite.py": "matmul",
    "models/layers/swiglu.py": "matmul", "models/linear_relu.py": "matmul",
    "models/mlp.py": "matmul", "models/pooling.py": "pooling", "models/residual_norm.py": "norm",
    "models/softmax_temperature.py": "softmax", "models/stat_pool.py": "reduction",
}


def test_op_types_come_from_the_aten_ops_each_reference_ran(rebuilt):
    _, _, _, status = rebuilt
    problems = datasets.load_dataset(status["releases"][0]["path"], "problems", split="train")
    got = {r["origin_path"]: r["op_type"] for r in problems if r["inputs_origin"] != "reverse"}
    assert got == EXPECTED_OP_TYPE
    by_path = {r["origin_path"]: r for r in problems}
    assert by_path["models/linear_relu.py"]["flops"] > 0  # a matmul's FLOPs are counted
    assert by_path["models/layers/rms_norm.py"]["op_types"][:2] == ["norm", "reduction"]
    assert all(r["bytes_moved"] > 0 and r["level"] in ("single_op", "fusion", "model")
               for r in problems)


def test_query_filters_by_speedup_and_sql_and_writes_parquet(rebuilt, tmp_path):
    _, workdir, _, _ = rebuilt
    out = run_cli("query", "--config", "attempts", "--sql", "failure_code = 'MISMATCH'",
                  "--format", "json", "--limit", "0", "--workdir", str(workdir)).stdout
    rows = [json.loads(line) for line in out.splitlines()]
    assert rows and all(r["failure_code"] == "MISMATCH" for r in rows)
    none = run_cli("query", "--min-speedup", "1.0", "--json", "--workdir", str(workdir)).stdout
    assert none.strip() == ""  # the interpreter gives no speedups: nothing passes the filter
    target = tmp_path / "softmax.parquet"
    run_cli("query", "--op", "softmax", "--format", "parquet", "--out", str(target),
            "--workdir", str(workdir))
    import pyarrow.parquet as pq

    table = pq.read_table(target)
    assert table.num_rows >= 1 and set(table.column("op_type").to_pylist()) <= {"softmax"} | set(
        r for ops in table.column("op_types").to_pylist() for r in ops)
    bad = run_cli("query", "--sql", "no_such_column > 1", "--workdir", str(workdir), check=False)
    assert bad.returncode != 0 and "query failed" in (bad.stdout + bad.stderr)


def test_bench_query_prints_one_json_line():
    out = run_cli("bench", "query", "--rows", "20000", "--repeat", "1").stdout
    result = json.loads(out.strip().splitlines()[-1])
    assert result["rows"] == 20000 and result["matched"] == result["pandas_matched"] > 0
    assert result["seconds"] > 0 and result["pandas_seconds"] > 0


def test_pairs_messages_feed_a_chat_template_as_they_are(rebuilt):
    """What an SFT trainer does with a `messages` column: render it with the model's chat
    template (here SmolLM2's, the model the sample already runs)."""
    from transformers import AutoTokenizer

    from kcorpus.synth.local_hf import resolve_model

    _, _, _, status = rebuilt
    pairs = datasets.load_dataset(status["releases"][0]["path"], "pairs", split="train")
    path, gguf = resolve_model("smollm2", None)
    tok = AutoTokenizer.from_pretrained(path, gguf_file=gguf, local_files_only=True)
    row = pairs[0]
    text = tok.apply_chat_template(row["messages"], tokenize=False)
    assert row["python_code"].strip() in text and row["triton_code"].strip() in text
    assert text.count("<|im_start|>") == 3  # system, user, assistant


def test_a_scheduled_pipeline_becomes_a_deployment(tmp_path):
    from flows.rebuild import RETRIES, deployment
    from tests.conftest import write_pipeline

    (tmp_path / "repo").mkdir()
    body = "name: nightly\nsources:\n  - {kind: local, path: repo}\n"
    dep = deployment(str(write_pipeline(tmp_path / "p.yaml",
                                        body + "schedule: {cron: '0 3 * * *'}\n")), "wd")
    assert dep.name == "kcorpus-nightly"
    [schedule] = dep.schedules
    assert schedule.schedule.cron == "0 3 * * *"
    assert dep.parameters["pipeline"].endswith("p.yaml")
    assert RETRIES["mine"] >= 1  # network stages are retried
    import pytest

    with pytest.raises(ValueError, match="no schedule"):
        deployment(str(write_pipeline(tmp_path / "q.yaml", body)), "wd")
