"""The verifier: static checks, the sandboxed worker, and the verify stage over a catalog.

Candidates run only in sandboxed worker processes (Triton's interpreter on the CPU here).
"""

from __future__ import annotations

import os

import pytest

from kcorpus import schema
from kcorpus.catalog import Catalog
from kcorpus.config import VerifyConfig
from kcorpus.verify import codes, sandbox, static
from kcorpus.verify.stage import verify
from kcorpus.verify import tricks as P

LIMITS = sandbox.Limits(timeout_s=60, memory_mb=8192)


def job(candidate: str, problem: str = P.PROBLEM, **kw) -> dict:
    return {"id": "c", "problem_code": problem, "candidate_code": candidate, "device": "cpu",
            "trials": 5, "seed": 3, **kw}


# -- static ------------------------------------------------------------------------------------

STATIC_CASES = {
    "": codes.NO_CODE,
    "def broken(:\n": codes.PARSE_ERROR,
    P.HEADER + P.KERNEL: codes.NO_MODELNEW,
    P.HEADER + P.MODEL_NEW.replace("scale_relu[", "other["): codes.NO_KERNEL,
    "import gc\n" + P.HONEST: codes.FORBIDDEN_IMPORT,
    "import numpy as np\n" + P.HONEST: codes.FORBIDDEN_IMPORT,
    "import threading\n" + P.HONEST: codes.FORBIDDEN_IMPORT,
    "from torch.utils._python_dispatch import _disable_current_modes\n" + P.HONEST:
        codes.FORBIDDEN_IMPORT,
    "from torch.utils.cpp_extension import load_inline\n" + P.HONEST: codes.FORBIDDEN_IMPORT,
    "import some_package_no_worker_has\n" + P.HONEST: codes.FORBIDDEN_IMPORT,
    P.variant("class ModelNew(nn.Module)", "class ModelNew(Model)"): codes.USES_REFERENCE,
    P.variant("        return out\n", "        torch.cuda.synchronize = lambda: None\n"
              "        return out\n"): codes.PATCHING,
    P.variant("        return out\n", "        s = torch.cuda.Stream()\n        return out\n"):
        codes.SIDE_STREAM,
    P.variant("        return out\n", "        return eval('out')\n"): codes.FORBIDDEN_CALL,
    P.variant("        return out\n", "        return getattr(torch, 'rel' + 'u')(x)\n"):
        codes.FORBIDDEN_CALL,
    P.variant("        return out\n", "        with torch._C._DisableTorchDispatch():\n"
              "            return torch.relu(x * self.weight)\n"): codes.FORBIDDEN_CALL,
    P.variant("        return out\n", "        return x.clone().apply_(lambda v: max(v, 0.0))\n"):
        codes.FORBIDDEN_CALL,
    P.variant("        return out\n", "        f = self.forward.__globals__\n        return out\n"):
        codes.FORBIDDEN_CALL,
    P.variant("        return out\n", "        return torch.frombuffer(bytearray(8), dtype=torch.float32)\n"):
        codes.FORBIDDEN_CALL,
    # the verifier and the worker themselves, even as an optional import
    "try:\n    import kcorpus.verify.instrument as I\nexcept ImportError:\n    I = None\n" + P.HONEST:
        codes.FORBIDDEN_IMPORT,
    "import __main__\n" + P.HONEST: codes.FORBIDDEN_IMPORT,
    # patching what an import bound, under any alias
    "from triton.runtime import jit as J\nJ.JITFunction.run = None\n" + P.HONEST: codes.PATCHING,
}

# what real repositories write: allowed statically since verifier 0.3, the run decides
STATIC_ALLOWED = {
    "try_except": P.variant("        x = x.contiguous()\n", "        try:\n            x = x.contiguous()\n"
                            "        except Exception:\n            return torch.relu(x)\n"),
    "stdlib_imports": "import os\nimport contextlib\nimport types\nimport functools\n"
                      "import warnings\nimport logging\n" + P.HONEST,
    "partial_launch": P.variant("        scale_relu[(", "        launch = functools.partial(scale_relu[(")
    .replace("BLOCK=128)\n", "BLOCK=128))\n        launch()\n")
    .replace("import torch\n", "import functools\nimport torch\n", 1),
    "dunders_and_device_queries": P.variant("        return out\n",
                                            "        name = type(self).__name__\n"
                                            "        if torch.cuda.is_available():\n"
                                            "            torch.cuda.current_device()\n"
                                            "        return out\n"),
    "torch_compute_is_listed_not_failed": P.variant("        return out\n",
                                                    "        return torch.matmul(out, out.t())\n"),
    "environment_knobs": "import os\nos.environ['KC_BLOCK'] = '128'\n" + P.HONEST,
}
@pytest.mark.parametrize("code, expected", list(STATIC_CASES.items()),
                         ids=list(range(len(STATIC_CASES))))
def test_static_rejections(code, expected):
    result = static.check(code)
    assert result.failure_code == expected, result.message


@pytest.mark.parametrize("name", list(STATIC_ALLOWED))
def test_static_allows_what_real_repositories_write(name):
    result = static.check(STATIC_ALLOWED[name])
    assert result.passed, result.message
    if name == "torch_compute_is_listed_not_failed":
        assert result.torch_ops == ["torch.matmul"]


def test_every_static_rule_states_its_reason():
    for table in (static.DENIED_MODULES, static.FORBIDDEN_CALLS, static.HIDDEN_TENSOR_SOURCES,
                  static.DENIED_TORCH, static.DENIED_EXTRA):
        assert all(isinstance(why, str) and len(why) > 10 for why in table.values())


def test_static_accepts_honest_code_whose_text_mentions_banned_words():
    honest = P.HONEST.replace('"""Scale by the weight',
                              '"""try: pass, import os, eval(); scale by the weight')
    assert static.check(honest).passed
    assert static.check(P.variant("        return out\n", "        return torch.relu(out)\n"),
                        lenient=True).torch_ops == ["torch.relu"]


# -- the sandboxed worker ----------------------------------------------------------------------

def test_an_honest_candidate_passes_with_its_context():
    v = sandbox.run_job(job(P.HONEST), LIMITS)
    assert v["passed"] and v["stage"] == "provenance" and v["failure_code"] == ""
    assert v["trials"] == 5 and v["triton_launches"] == 1 and v["torch_ops"] == []
    assert v["interpreter"] is True and v["gpu_arch"] == "cpu" and v["torch_version"]


@pytest.mark.parametrize("candidate, expected", [
    (P.WRONG, codes.MISMATCH),
    (P.SEGFAULT, codes.CRASH),
    (P.HUGE_ALLOC, codes.OOM),
    (P.TORCH_OPS, codes.TORCH_OPS),
    (P.NO_LAUNCH, codes.NO_TRITON_LAUNCH),
], ids=["mismatch", "segfault", "oom", "torch-ops", "no-launch"])
def test_failures_become_verdicts(candidate, expected):
    v = sandbox.run_job(job(candidate), LIMITS)
    assert not v["passed"] and v["failure_code"] == expected, v["message"]


def test_a_hanging_candidate_is_killed_at_its_time_limit():
    v = sandbox.run_job(job(P.HANG), sandbox.Limits(timeout_s=8, memory_mb=8192))
    assert v["failure_code"] == codes.TIMEOUT and not v["passed"]


def test_a_loop_that_never_ends_is_caught_long_before_the_time_limit():
    import time

    t0 = time.perf_counter()
    v = sandbox.run_job(job(P.HANG, forward_timeout_s=2), sandbox.Limits(timeout_s=60))
    assert v["failure_code"] == codes.TIMEOUT and "own Python outside Triton" in v["message"]
    assert time.perf_counter() - t0 < 30


def test_lenient_mode_accepts_partial_conversions_and_lists_the_ops():
    v = sandbox.run_job(job(P.TORCH_OPS, lenient=True), LIMITS)
    assert v["passed"], v["message"]
    assert {"mul", "add", "sub"} <= set(v["torch_ops"])


def test_the_sandbox_sees_no_tokens(monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_secret")
    monkeypatch.setenv("HF_TOKEN", "hf_secret")
    leak = P.PROBLEM.replace("def get_init_inputs():", "import os\nraise RuntimeError("
                             "'env=' + str(sorted(k for k in os.environ if 'TOKEN' in k)) + "
                             "' cwd=' + os.getcwd())\n\ndef get_init_inputs():")
    v = sandbox.run_job(job(P.HONEST, problem=leak), LIMITS)
    assert v["failure_code"] == codes.REFERENCE_ERROR
    assert "env=[]" in v["message"] and "kcorpus-sandbox-" in v["message"]
    env = sandbox.scrubbed_env(sandbox.Path("/tmp/x"), "cpu")
    assert env["TRITON_CACHE_DIR"] == "/tmp/x/triton" and env["TRITON_INTERPRET"] == "1"
    assert not any("TOKEN" in k for k in env) and os.environ["GITHUB_TOKEN"] == "ghp_secret"


def test_weights_are_perturbed_so_ignoring_them_fails():
    ignores_weight = P.variant("tl.maximum(x * w, 0.0)", "tl.maximum(x * 1.0, 0.0)")
    v = sandbox.run_job(job(ignores_weight), LIMITS)
    assert v["failure_code"] == codes.MISMATCH


# -- the stage over a catalog ------------------------------------------------------------------

def _seed_catalog(cat: Catalog, candidates: dict[str, str]) -> None:
    problem = {name: None for name in schema.table("problems").column_names}
    problem.update(problem_id="p1", source_id="s1", origin_path="m.py", entry_point="Model",
                   code=P.PROBLEM, inputs_origin="defined", op_types=["elementwise"],
                   degenerate_flags=[])
    cat.insert_new("problems", schema.table("problems").to_arrow([problem]))
    rows = []
    for cid, code in candidates.items():
        row = {name: None for name in schema.table("candidates").column_names}
        row.update(candidate_id=cid, problem_id="p1", code=code, completion=code,
                   backend="replay", model="m", turn=0)
        rows.append(row)
    cat.insert_new("candidates", schema.table("candidates").to_arrow(rows))


def test_crashing_and_hanging_candidates_fail_while_the_stage_goes_on(tmp_path):
    with Catalog(tmp_path / "c.duckdb") as cat:
        _seed_catalog(cat, {"honest": P.HONEST, "segfault": P.SEGFAULT, "hang": P.HANG,
                            "nokernel": "print('hello')\n"})
        cfg = VerifyConfig(device="cpu", trials=3, timeout_s=10, workers=2)
        counts = verify(cat, cfg)
        assert counts == {"verdicts": 4, "passed": 1}
        got = {r["candidate_id"]: r for r in cat.rows("SELECT * FROM verdicts")}
        assert got["honest"]["passed"] and got["honest"]["interpreter"]
        assert got["segfault"]["failure_code"] == codes.CRASH
        assert got["hang"]["failure_code"] == codes.TIMEOUT
        assert got["nokernel"]["failure_code"] == codes.NO_MODELNEW
        assert {r["verifier_version"] for r in got.values()} == {codes.VERIFIER_VERSION}
        assert verify(cat, cfg) == {"verdicts": 0, "passed": 0}  # nothing left to do


def test_ablation_leaves_the_candidates_weights_as_they_were():
    """The ghost launches poison every tensor argument, weights included; they are put back, so
    the checks after the ablation (and timing on a GPU) see the candidate as it was."""
    import torch

    from kcorpus.verify import instrument

    counter = instrument.LaunchCounter()
    weight, scratch = torch.randn(8), torch.randn(4, dtype=torch.float64)
    before = weight.clone(), scratch.clone()

    class Kernel:
        fn = test_ablation_leaves_the_candidates_weights_as_they_were

    counter._poison(Kernel(), (weight, scratch, 3), {})
    assert weight.isnan().all() and scratch.isnan().all()
    counter.restore()
    assert torch.equal(weight, before[0]) and torch.equal(scratch, before[1])


def test_redraws_keep_what_get_inputs_guarantees():
    """A redraw is used only where it keeps the problem's domain: rotary tables that never
    change are never redrawn, probabilities stay in [0, 1], integer labels stay integers."""
    import torch

    from kcorpus.verify import correctness

    def rotary_inputs():
        pos = torch.arange(16).float()[:, None] * torch.rand(1, 4)
        freqs = torch.arange(8).float()[None, :] / 8
        angles = torch.cat([freqs, freqs], dim=-1) * 3.0
        return [torch.randn(2, 16, 16), angles.cos().expand(16, 16), angles.sin().expand(16, 16), pos]

    domain = correctness.infer_domain(rotary_inputs, seed=1)
    assert "fixed" in domain.props[1] and "fixed" in domain.props[2] and "unit" in domain.props[1]
    assert "fixed" not in domain.props[0]
    usable, skipped = correctness.usable_distributions(rotary_inputs, 2, domain)
    redrawn = correctness.draw_inputs(rotary_inputs, 5, "uniform", domain)
    assert torch.equal(redrawn[1], rotary_inputs()[1])  # the table is kept as given
    assert usable == ["given", "scaled", "offset"]  # the positions are never negative:
    assert skipped == {"uniform": "input 3 would be negative; get_inputs() never makes it so"}

    def probability_inputs():
        return [torch.softmax(torch.randn(4, 10), -1), torch.randint(0, 10, (4,)).float()]

    domain = correctness.infer_domain(probability_inputs, seed=1)
    assert {"nonneg", "unit"} <= domain.props[0] and "integral" in domain.props[1]
    usable, skipped = correctness.usable_distributions(probability_inputs, 2, domain)
    assert usable == ["given"] and set(skipped) == {"scaled", "uniform", "offset"}


def test_inputs_are_drawn_on_the_device_unless_get_inputs_needs_the_host():
    """On a GPU, get_inputs() runs under the device (gigabytes drawn there, not on one CPU
    thread); one that needs the host (NumPy here) is drawn on the CPU and moved, from then on
    without trying the device again. The meta device stands in for a GPU."""
    import numpy as np
    import torch

    from kcorpus.verify import correctness

    seen = []

    def on_any_device():
        seen.append(torch.empty(0).device.type)
        return [torch.randn(4, 8), 3]

    def needs_numpy():
        seen.append(torch.empty(0).device.type)
        return [torch.from_numpy(np.ones((4, 8), dtype=np.float32) * torch.rand(1).numpy())]

    xs = correctness.draw_inputs(on_any_device, 1, "scaled", device="meta")
    assert seen == ["meta"] and xs[0].device.type == "meta" and xs[1] == 3
    seen.clear()
    for _ in range(2):
        ys = correctness.draw_inputs(needs_numpy, 1, "given", device="meta")
        assert ys[0].device.type == "meta" and ys[0].shape == (4, 8)
    assert seen == ["meta", "cpu", "cpu"]  # tried on the device once, then on the host


def test_a_resized_batch_is_whole_rows_shared_by_every_tensor_of_that_batch():
    import torch

    from kcorpus.verify import correctness

    x = torch.arange(12.0).reshape(4, 3)
    y = x * 10  # a function of x, row by row
    rx, ry, scalar = correctness.resize_batch([x, y, 2.0], seed=3)
    assert rx.shape[0] == ry.shape[0] == correctness.odd_size(4) and scalar == 2.0
    assert torch.equal(ry, rx * 10)  # the relation between the tensors holds
    assert all(any(torch.equal(row, r) for r in x) for row in rx)
    # from 8 rows up the batch shrinks: a GPU-sized problem must not outgrow memory or int32
    assert [correctness.odd_size(b) for b in (8, 128, 4096)] == [5, 125, 4093]


def test_kcorpus_verify_prints_the_sandbox_and_the_ablation(tmp_path):
    import json

    from tests.conftest import run_cli

    (tmp_path / "problem.py").write_text(P.PROBLEM)
    (tmp_path / "candidate.md").write_text("Here it is:\n```python\n" + P.HONEST + "```\n")
    out = json.loads(run_cli("verify", str(tmp_path / "problem.py"), str(tmp_path / "candidate.md"),
                             "--device", "cpu", "--json").stdout)
    assert out["passed"] and out["stage"] == "provenance"
    assert out["verifier_version"] == codes.VERIFIER_VERSION
    assert out["sandbox"] in ("landlock+netns", "landlock", "netns")
    assert json.loads(out["ablation"])["own_kernels"] == ["scale_relu"]


@pytest.mark.parametrize("candidate, expected", [
    ("", codes.NO_CODE), ("Sorry, I cannot help with that.\n", codes.NO_CODE),
    ("```python\ndef broken(:\n```\n", codes.PARSE_ERROR),
    (P.HEADER + P.KERNEL, codes.NO_MODELNEW)])
def test_kcorpus_verify_answers_what_the_static_checks_decide_without_a_sandbox(
        tmp_path, monkeypatch, candidate, expected):
    from kcorpus.verify.single import verify_files

    def no_fork_server(*a, **kw):
        raise AssertionError("the fork server was started for a statically decided candidate")

    monkeypatch.setattr(sandbox, "run_jobs", no_fork_server)
    (tmp_path / "problem.py").write_text(P.PROBLEM)
    (tmp_path / "candidate.md").write_text(candidate)
    out = verify_files(tmp_path / "problem.py", tmp_path / "candidate.md", device="cpu")
    assert (out["passed"], out["stage"], out["failure_code"]) == (False, "static", expected)
    assert out["message"] and out["gpu_arch"] == "cpu" and out["torch_version"]


def test_kcorpus_verify_runs_what_the_static_checks_pass(tmp_path, monkeypatch):
    from kcorpus.verify.single import verify_files

    ran = []
    monkeypatch.setattr(sandbox, "run_jobs", lambda jobs, *a: ran.extend(jobs) or [
        {"id": jobs[0]["id"], "passed": True, "stage": "provenance"}])
    (tmp_path / "problem.py").write_text(P.PROBLEM)
    (tmp_path / "candidate.py").write_text(P.HONEST)
    assert verify_files(tmp_path / "problem.py", tmp_path / "candidate.py", device="cpu")["passed"]
    assert [j["candidate_code"].strip() for j in ran] == [P.HONEST.strip()]
