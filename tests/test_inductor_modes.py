"""Which Inductor modes a problem gets: the template mode only where Inductor has a Triton
template for one of the ops the problem's probe saw (matmuls, convolutions)."""

from __future__ import annotations

import pytest

from kcorpus.synth.inductor import _differs


@pytest.mark.parametrize("ops, modes", [
    (["relu", "add"], ["default"]),                      # pointwise: the same code twice
    (["addmm", "relu"], ["default", "triton_templates"]),
    (["convolution"], ["default", "triton_templates"]),
    (["aten::bmm"], ["default", "triton_templates"]),
    ([], ["default", "triton_templates"]),               # not probed: both, to be safe
])
def test_template_mode_only_where_a_template_applies(ops, modes):
    problem = {"problem_id": "p", "aten_ops": ops}
    assert [m for m in ("default", "triton_templates") if _differs(problem, m)] == modes
