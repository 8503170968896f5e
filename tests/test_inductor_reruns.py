"""A time-boxed corpus run goes on in the next run from the catalog. An Inductor job that gave no
program is not compiled again when it would fail again (Inductor's own error, a timeout under a
limit as long as the current one), and is when the failure was the machine's (out of memory, a
killed child) or the limit or torch changed. On the H200, recompiling them took a third of a
run's slots (RESULTS.md, session 14).

The rejects are the backend's own (`InductorBackend._completion` on answers shaped as the fork
server sends them), stored in a real catalog and read back by the synth stage's rerun."""

from __future__ import annotations

import json
from types import SimpleNamespace

from kcorpus.catalog import Catalog
from kcorpus.synth.inductor import InductorBackend, template
from kcorpus.synth.stage import _inductor
from tests.conftest import table_rows

ANSWERS = {  # problem id: what its compile answered
    "inductor_error": {"code": None, "error": "InductorError: LoweringException: ...",
                       "failure_code": None},
    "unsupported": {"code": None, "error": "Unsupported: call_method UserDefinedObjectVariable",
                    "failure_code": None},
    "timed_out": {"failure_code": "TIMEOUT", "message": "no verdict within 240s; killed"},
    "oom_code": {"failure_code": "OOM", "message": "CUDA out of memory"},
    "oom_text": {"code": None, "error": "RuntimeError: CUDA out of memory. Tried to allocate",
                 "failure_code": None},
    "killed": {"failure_code": "KILLED", "message": "killed by signal 9"},
}


class _Rerun:
    """The next run's backend: it records which jobs the stage tells it are done."""

    def __init__(self, model: str):
        self.model, self.answers, self.left, self.done = model, [], 0, None

    def generate(self, problems, done, verifier):
        self.done = set(done)
        return [], []


def _first_run(tmp_path, timeout_s: float) -> tuple[Catalog, str]:
    backend = InductorBackend(SimpleNamespace(modes=["default", "triton_templates"],
                                              timeout_s=timeout_s))
    rows = [backend._completion({"problem_id": pid, "code": "x = 1\n"}, mode,
                                {"id": json.dumps([pid, mode]), **answer})
            for pid, answer in ANSWERS.items() for mode in ("default", "triton_templates")]
    cat = Catalog(tmp_path / "c.duckdb")
    cat.insert_new("rejects", table_rows("rejects", rows))
    return cat, backend.model


def _rerun(cat: Catalog, model: str, timeout_s: float) -> set[tuple[str, str]]:
    cfg = SimpleNamespace(verify=None)
    spec = SimpleNamespace(timeout_s=timeout_s, verify_as_made=False)
    rerun = _Rerun(model)
    _inductor(cat, cfg, spec, rerun, [], {"candidates": 0, "rejects": 0})
    return rerun.done


def _both_modes(*pids: str) -> set[tuple[str, str]]:
    return {(p, template(m)) for p in pids for m in ("default", "triton_templates")}


def test_a_rerun_leaves_out_what_would_fail_again_and_retries_what_the_machine_failed(tmp_path):
    cat, model = _first_run(tmp_path, timeout_s=240)
    with cat:
        reasons = {r["path"]: r["reason"] for r in cat.rows("SELECT path, reason FROM rejects")}
        assert reasons == {"inductor_error": "inductor_failed", "unsupported": "inductor_failed",
                           "timed_out": "inductor_timeout", "oom_code": "inductor_crashed",
                           "oom_text": "inductor_crashed", "killed": "inductor_crashed"}
        assert _rerun(cat, model, 240) == _both_modes("inductor_error", "unsupported", "timed_out")
        # a longer limit tries the timed-out jobs again; a shorter one does not
        assert _rerun(cat, model, 480) == _both_modes("inductor_error", "unsupported")
        assert _rerun(cat, model, 120) == _both_modes("inductor_error", "unsupported", "timed_out")
        # another torch makes other code: nothing it has not tried is settled
        assert _rerun(cat, "torch-0.0.0", 240) == set()
