"""A verdict as a scalar reward for RL (`Shaping`), the same wherever the verifier answers.

    reward = cheat                      the verifier caught a cheat (CHEATS below)
           = 0                          nothing ran: no program, a static or compile failure
           = compiled                   it ran but is wrong (correctness, a crash, a timeout)
           = correct                    correct; untimed (the CPU interpreter)
           = correct + speedup_weight * clip(log2(speedup_eager), -speedup_cap, speedup_cap)
                                        correct and timed on a GPU

With the defaults: 0 / 0.1 / 1.0, and 1.5 for a kernel twice as fast as eager PyTorch, 0.5 for
one half as fast, never above 1 + 0.5 * 2 = 2.0 (a 4x speedup) nor below 0 for a correct one.
Verdicts flagged `speedup_over_10x` (an implausible speedup, held for audit) get `correct` only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from kcorpus.verify import codes

CHEATS = {codes.FORBIDDEN_IMPORT, codes.FORBIDDEN_CALL, codes.USES_REFERENCE, codes.PATCHING,
          codes.SIDE_STREAM, codes.INPUT_MUTATION, codes.OUTPUT_ALIAS, codes.NOT_A_TENSOR,
          codes.HOST_COMPUTE, codes.KERNEL_NOT_USED, codes.SANDBOX_VIOLATION}
NOT_RUN_STAGES = {"static", "compile"}
RAN_CODES = {codes.CRASH, codes.TIMEOUT, codes.OOM, codes.RUNTIME_ERROR, codes.AUTOTUNE_TIMEOUT}


@dataclass(frozen=True)
class Shaping:
    cheat: float = 0.0
    compiled: float = 0.1
    correct: float = 1.0
    speedup_weight: float = 0.5
    speedup_cap: float = 2.0  # in log2: at most 4x either way counts

    @classmethod
    def of(cls, d: dict | None) -> Shaping:
        unknown = set(d or {}) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"reward shaping: unknown keys {sorted(unknown)}")
        return cls(**{k: float(v) for k, v in (d or {}).items()})


def reward(verdict: dict, shaping: Shaping = Shaping()) -> float:
    code = verdict.get("failure_code") or ""
    if verdict.get("passed"):
        speedup = verdict.get("speedup_eager")
        if not speedup or "speedup_over_10x" in (verdict.get("flags") or []):
            return shaping.correct
        gain = max(-shaping.speedup_cap, min(shaping.speedup_cap, math.log2(speedup)))
        return shaping.correct + shaping.speedup_weight * gain
    if code in CHEATS:
        return shaping.cheat
    if verdict.get("stage") in NOT_RUN_STAGES and code not in RAN_CODES:
        return 0.0
    return shaping.compiled
