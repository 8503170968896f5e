"""Synthesis: the program inside a completion, and the replay backend through the synth stage."""

from __future__ import annotations

import json

import pytest

from kcorpus.catalog import Catalog
from kcorpus.config import load_config
from kcorpus.mine.stage import mine
from kcorpus.problems import check_problems
from kcorpus.synth.stage import synth
from kcorpus.synth.parse import extract_program
from tests.conftest import make_git_repo, write_pipeline

MIT = ("MIT License\n\nPermission is hereby granted, free of charge, to any person obtaining a "
       "copy\nof this software and associated documentation files (the \"Software\").\n")

PROBLEM = '''import torch
import torch.nn as nn


class Model(nn.Module):
    def forward(self, x):
        return torch.{op}(x)


def get_inputs():
    return [torch.randn(16, 16)]


def get_init_inputs():
    return []
'''

PROGRAM = '''import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def {op}_kernel(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    tl.store(out_ptr + offs, tl.{op}(tl.load(x_ptr + offs, mask=mask)), mask=mask)


class ModelNew(nn.Module):
    def forward(self, x):
        out = torch.empty_like(x)
        n = x.numel()
        {op}_kernel[(triton.cdiv(n, 1024),)](x, out, n, BLOCK=1024)
        return out
'''

HELPER = '''def grid(n, block):
    return (triton.cdiv(n, block),)
'''


# -- extract_program ---------------------------------------------------------------------------

def test_a_fenced_python_block_is_the_program():
    program = PROGRAM.format(op="exp")
    text = f"Here is a fused kernel.\n\n```python\n{program}```\n\nIt launches one program per block."
    assert extract_program(text) == program


@pytest.mark.parametrize("fence", ["```py", "```python3", "```", "``` Python"])
def test_other_python_fences_are_read_too(fence):
    program = PROGRAM.format(op="exp")
    assert extract_program(f"Sure:\n{fence}\n{program}```\n") == program


def test_of_several_blocks_the_one_defining_model_new_wins():
    program = PROGRAM.format(op="exp")
    text = ("First a helper:\n\n```python\n" + HELPER + "```\n\nThen the module:\n\n```python\n"
            + program + "```\n\nAnd a usage example:\n\n```python\nm = ModelNew()\n"
            "print(m(torch.randn(4)))\n```\n")
    assert extract_program(text) == program


def test_blocks_in_other_languages_do_not_hide_the_python_block():
    program = PROGRAM.format(op="exp")
    text = ("Install Triton first:\n\n```bash\npip install triton\n```\n\nHere is the kernel:\n\n"
            "```python\n" + program + "```\n\nOutput:\n\n```text\ntensor([1., 2.])\n```\nDone.\n")
    assert extract_program(text) == program


def test_a_block_cut_off_at_the_end_is_still_read():
    program = PROGRAM.format(op="exp")
    assert extract_program("Here it is:\n```python\n" + program) == program


def test_without_a_fence_the_whole_text_is_the_program_when_it_is_code():
    program = PROGRAM.format(op="exp")
    assert extract_program("\n" + program + "\n\n") == program


@pytest.mark.parametrize("text", [
    "",
    "I cannot write a Triton kernel for this operator, sorry.",
    "The kernel would load each row, compute the max, subtract it and exponentiate.\n"
    "Then it divides by the sum. Let me know if you want the code!",
])
def test_prose_without_code_has_no_program(text):
    assert extract_program(text) == ""


# -- the replay backend through the synth stage ------------------------------------------------

def completion(op: str, prose: str = "Here is my kernel.") -> str:
    return f"{prose}\n\n```python\n{PROGRAM.format(op=op)}```\n"


@pytest.fixture
def mined(tmp_path):
    """A catalog with two problems mined from a git repository, and a replay pipeline for it."""
    repo = tmp_path / "repo"
    make_git_repo(repo, {"LICENSE": MIT, "ops/exp.py": PROBLEM.format(op="exp"),
                         "ops/sigmoid.py": PROBLEM.format(op="sigmoid")})
    replay = tmp_path / "pipelines" / "recorded" / "completions.jsonl"
    replay.parent.mkdir(parents=True)
    replay.write_text("")
    cfg = load_config(write_pipeline(tmp_path / "pipelines" / "p.yaml", f"""
name: synth-test
sources:
  - {{kind: git, url: {json.dumps(repo.as_uri())}}}
synth:
  backends:
    - {{kind: replay, path: recorded/completions.jsonl}}
"""))
    catalog = Catalog(tmp_path / "catalog.duckdb")
    assert mine(catalog, cfg, tmp_path / "work")["problems"] == 2
    assert check_problems(catalog, cfg.verify)["ok"] == 2  # only sound problems get candidates
    problems = {r["origin_path"]: r["problem_id"]
                for r in catalog.rows("SELECT origin_path, problem_id FROM problems")}
    yield catalog, cfg, replay, problems
    catalog.close()


def test_replayed_completions_become_candidates(mined):
    catalog, cfg, replay, problems = mined
    records = [
        {"path": "ops/exp.py", "model": "recorded/qwen-coder", "completion": completion("exp"),
         "sampling": {"temperature": 0.2, "top_p": 0.95}, "expect": "pass"},
        {"problem_id": problems["ops/sigmoid.py"], "model": "recorded/llama",
         "completion": completion("sigmoid")},
        {"path": "ops/sigmoid.py", "entry_point": "Model", "completion": "No idea, sorry."},
    ]
    replay.write_text("".join(json.dumps(r) + "\n" for r in records))

    counts = synth(catalog, cfg)

    assert counts == {"candidates": 3, "rejects": 0, "reverse_problems": 0}
    rows = catalog.rows("SELECT * FROM candidates ORDER BY model")
    by_model = {r["model"]: r for r in rows}
    assert set(by_model) == {"recorded/qwen-coder", "recorded/llama", "unknown"}
    assert all(r["backend"] == "replay" for r in rows)

    exp = by_model["recorded/qwen-coder"]
    assert exp["problem_id"] == problems["ops/exp.py"]
    assert exp["completion"] == records[0]["completion"]
    assert exp["code"] == PROGRAM.format(op="exp")
    assert json.loads(exp["sampling"]) == {"temperature": 0.2, "top_p": 0.95}

    sig = by_model["recorded/llama"]
    assert sig["problem_id"] == problems["ops/sigmoid.py"]
    assert sig["code"] == PROGRAM.format(op="sigmoid")

    # a completion without a program is still recorded (its verdict says so), with empty code
    none = by_model["unknown"]
    assert none["problem_id"] == problems["ops/sigmoid.py"]
    assert none["code"] == "" and none["completion"] == "No idea, sorry."


def test_bad_replay_lines_are_rejects_and_good_lines_still_land(mined):
    catalog, cfg, replay, problems = mined
    lines = [
        json.dumps({"path": "ops/exp.py", "model": "m", "completion": completion("exp")}),
        '{"path": "ops/exp.py", "completion": "```python\\nclass ModelNew',  # cut short
        json.dumps({"path": "ops/exp.py", "model": "m"}),
        json.dumps({"path": "ops/tanh.py", "completion": completion("tanh")}),
        "",
        json.dumps({"path": "ops/exp.py", "completion": completion("exp"), "temperature": 0.7}),
        json.dumps({"problem_id": "0" * 32, "completion": completion("exp")}),
        json.dumps(["ops/exp.py", completion("exp")]),
        json.dumps({"path": "ops/exp.py", "model": 7, "completion": completion("exp", "v2")}),
        json.dumps({"problem_id": ["x"], "completion": completion("exp")}),
        json.dumps({"completion": completion("exp")}),
        json.dumps({"path": "ops/sigmoid.py", "model": "m", "completion": completion("sigmoid")}),
    ]
    replay.write_text("\n".join(lines) + "\n")

    counts = synth(catalog, cfg)

    rejects = {r["path"]: r for r in catalog.rows("SELECT * FROM rejects WHERE stage = 'synth'")}
    bad = {2: "not valid JSON", 3: "completion", 4: "ops/tanh.py", 6: "temperature",
           7: "0" * 32, 8: "completion", 9: "model", 10: "problem_id", 11: "path"}
    assert set(rejects) == {f"completions.jsonl:{n}" for n in bad}
    for n, words in bad.items():
        r = rejects[f"completions.jsonl:{n}"]
        assert r["reason"] == "bad_replay_record", n
        assert words in r["detail"], (n, r["detail"])
    assert counts == {"candidates": 2, "rejects": len(bad), "reverse_problems": 0}
    cands = catalog.rows("SELECT problem_id, code FROM candidates ORDER BY code")
    assert cands == [{"problem_id": problems["ops/exp.py"], "code": PROGRAM.format(op="exp")},
                     {"problem_id": problems["ops/sigmoid.py"],
                      "code": PROGRAM.format(op="sigmoid")}]


def test_rerunning_synth_adds_nothing(mined):
    catalog, cfg, replay, problems = mined
    replay.write_text("\n".join([
        json.dumps({"path": "ops/exp.py", "model": "m", "completion": completion("exp")}),
        json.dumps({"path": "ops/sigmoid.py", "model": "m", "completion": completion("sigmoid")}),
        "not json",
    ]) + "\n")

    assert synth(catalog, cfg) == {"candidates": 2, "rejects": 1, "reverse_problems": 0}
    before = catalog.counts()
    assert synth(catalog, cfg) == {"candidates": 0, "rejects": 0, "reverse_problems": 0}
    assert catalog.counts() == before


def test_the_same_program_in_other_words_is_one_candidate(mined):
    catalog, cfg, replay, problems = mined
    replay.write_text("\n".join([
        json.dumps({"path": "ops/exp.py", "model": "a", "completion": completion("exp")}),
        json.dumps({"path": "ops/exp.py", "model": "a",
                    "completion": completion("exp", "A different preamble, same code.")}),
    ]) + "\n")

    assert synth(catalog, cfg)["candidates"] == 1


def test_a_pathologically_nested_completion_does_not_stop_the_stage(mined):
    catalog, cfg, replay, problems = mined
    too_deep_to_parse = "x = " + " + ".join(["1"] * 5000)
    too_deep_to_print = "x = " + " + ".join(["1"] * 800) + "\nclass ModelNew: pass"
    replay.write_text("\n".join([
        json.dumps({"path": "ops/exp.py", "model": "deep", "completion": too_deep_to_parse}),
        json.dumps({"path": "ops/exp.py", "model": "nested",
                    "completion": f"```python\n{too_deep_to_print}\n```"}),
        json.dumps({"path": "ops/sigmoid.py", "model": "m", "completion": completion("sigmoid")}),
    ]) + "\n")

    assert synth(catalog, cfg)["candidates"] == 3

    code = {r["model"]: r["code"] for r in catalog.rows("SELECT model, code FROM candidates")}
    assert code == {"deep": "", "nested": too_deep_to_print + "\n",
                    "m": PROGRAM.format(op="sigmoid")}
