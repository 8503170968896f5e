"""Guessed inputs repaired from the module's own error (kcorpus/mine/repair.py): each rule is
checked on the message PyTorch really raises, then by running the repaired program; and the
problems stage's repair round turns a module whose first guesses all fail into a problem, in
the real sandbox on the CPU."""

from __future__ import annotations


from kcorpus.mine.repair import repaired
from kcorpus.problems import repairing
from kcorpus.verify import sandbox, stream

HEADER = "import torch\nimport torch.nn as nn\n\n\n"


def _program(model: str, init: str, inputs: str) -> str:
    return (f"{HEADER}{model}\n\ndef get_init_inputs():\n    return [{init}]\n\n\n"
            f"def get_inputs():\n    return [{inputs}]\n")


CONV = "class Model(nn.Module):\n    def __init__(self, c):\n        super().__init__()\n        " \
       "self.conv = nn.Conv2d(3, c, 3)\n\n    def forward(self, x):\n        return self.conv(x)\n"
LINEAR = "class Model(nn.Module):\n    def __init__(self, c):\n        super().__init__()\n        " \
         "self.fc = nn.Linear(8, c)\n\n    def forward(self, x):\n        return self.fc(x)\n"
NORM = "class Model(nn.Module):\n    def __init__(self, c):\n        super().__init__()\n        " \
       "self.norm = nn.LayerNorm(64)\n\n    def forward(self, x):\n        return self.norm(x)\n"
STEM = "class Model(nn.Module):\n    def __init__(self, c):\n        super().__init__()\n        " \
       "self.pool = nn.MaxPool2d(2)\n        self.conv = nn.Conv2d(3, c, 3)\n\n" \
       "    def forward(self, x):\n        return self.conv(self.pool(x))\n"
PATCH = "class Model(nn.Module):\n    def __init__(self, c):\n        super().__init__()\n        " \
        "self.proj = nn.Conv2d(c, c, 4, 4)\n\n    def forward(self, x):\n        " \
        "assert x.shape[2] == 32, f\"Input height ({x.shape[2]}) doesn't match model (32).\"\n" \
        "        return self.proj(x)\n"
DEEP = "class Model(nn.Module):\n    def __init__(self, c):\n        super().__init__()\n        " \
       "self.down = nn.Conv2d(c, c, 3, 4, 1)\n        self.head = nn.Conv2d(c, c, 7)\n\n" \
       "    def forward(self, x):\n        return self.head(self.down(x))\n"
TOKENS = "class Model(nn.Module):\n    def __init__(self, c):\n        super().__init__()\n\n" \
         "    def forward(self, x):\n        B, N, C = x.shape\n        return x.mean(1) * C\n"


def _error(program: str) -> str | None:
    scope: dict = {}
    exec(compile(program, "<guess>", "exec"), scope)  # test-only: our own fixed programs
    try:
        scope["Model"](*scope["get_init_inputs"]())(*scope["get_inputs"]())
    except Exception as e:  # noqa: BLE001
        return f"{type(e).__name__}: {e}"
    return None


def test_each_rule_repairs_the_input_that_the_error_names():
    for model, bad, good in [(CONV, "torch.randn(2, 16, 16, 16)", "torch.randn(2, 3, 16, 16)"),
                             (LINEAR, "torch.randn(2, 5, 16)", "torch.randn(2, 5, 8)"),
                             (NORM, "torch.randn(2, 8, 16)", "torch.randn(2, 8, 64)"),
                             (STEM, "torch.randn(2, 16, 16, 16)", "torch.randn(2, 3, 16, 16)"),
                             (PATCH, "torch.randn(2, 16, 8, 8)", "torch.randn(2, 16, 32, 32)"),
                             (DEEP, "torch.randn(2, 16, 8, 8)", "torch.randn(2, 16, 32, 32)"),
                             (TOKENS, "torch.randn(2, 16, 16, 16)", "torch.randn(2, 16, 16)"),
                             (TOKENS, "torch.randn(2, 16)", "torch.randn(2, 8, 16)")]:
        program = _program(model, "16", bad)
        error = _error(program)
        assert error is not None
        fixed = repaired(program, error)
        assert fixed is not None and good in fixed, (error, fixed)
        assert fixed.startswith(program.split("def get_inputs")[0])  # the rest is untouched
        assert _error(fixed) is None


WINDOW = "class Model(nn.Module):\n    def __init__(self, c, window_size):\n        " \
         "super().__init__()\n        self.pool = nn.AvgPool2d(window_size[0])\n\n" \
         "    def forward(self, x):\n        return self.pool(x)\n"


def test_an_int_where_the_model_wanted_a_pair_becomes_one():
    program = _program(WINDOW, "16, 4", "torch.randn(2, 16, 8, 8)")
    error = _error(program)
    assert "'int' object is not subscriptable" in error
    fixed = repaired(program, error)
    assert fixed is not None and "return [16, (4, 4)]" in fixed  # the width stays an int
    assert _error(fixed) is None


def test_errors_that_name_no_input_give_no_repair():
    program = _program(CONV, "16", "torch.randn(2, 16, 16, 16)")
    assert repaired(program, "RuntimeError: CUDA error: device-side assert") is None
    assert repaired(program, "RuntimeError: expected input[9, 9] to have 3 channels") is None
    assert repaired("def get_inputs(:\n", "too many values to unpack (expected 3)") is None


def test_the_repair_round_makes_a_module_runnable_that_no_first_guess_fitted():
    """Both first guesses have 16 channels; the conv wants 3: the repair runs next, as a
    follow-up in the same server."""
    programs = [_program(CONV, "16", "torch.randn(2, 16, 16, 16)"),
                _program(CONV, "16", "torch.randn(2, 16, 8, 8)")]
    jobs = [{"kind": "probe", "id": "m1", "programs": programs, "device": "cpu"},
            {"kind": "probe", "id": "m2", "programs": [_program(CONV, "16", "None")],
             "device": "cpu"}]
    guesses = {j["id"]: {"programs": list(j["programs"])} for j in jobs}
    limits = sandbox.Limits(timeout_s=60, parallel=2)
    answers = {a["id"]: a for a in repairing(
        jobs, guesses, lambda js, follow: stream.run_stream(js, follow, limits, "cpu"))}
    assert set(answers) == {"m1", "m2"}
    won = guesses["m1"]["programs"][answers["m1"]["ok"]]
    assert "torch.randn(2, 3, 16, 16)" in won or "torch.randn(2, 3, 8, 8)" in won
    assert len(answers["m1"]["tried"]) == 2  # the first round's failures are kept
    assert answers["m2"]["ok"] is None  # nothing to repair: answered after one round
