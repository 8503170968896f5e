"""Jobs sampled from a rebuild's catalog, for kcorpus.bench.child_costs to profile one by one.

    python -m kcorpus.bench.sample_jobs CATALOG OUT.jsonl [--n 6] [--seed 3] [--device cuda]

Draws up to N of each kind the fork server runs in a corpus rebuild, as the stages build them:
`probe` (a sound problem's reference, checked on the device: problems.check_problems), `inductor`
(a problem and mode that gave an Inductor candidate: synth/inductor.py) and verification (a
candidate that passed: verify.stage.Verifications.job). Sampling is seeded, so a rerun on
another machine profiles the same jobs. One JSON job per line in OUT.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

from kcorpus.catalog import Catalog
from kcorpus.config import VerifyConfig
from kcorpus.verify import admission

_PROBED = ("SELECT p.problem_id, p.code, pr.figures FROM problems p JOIN probes pr "
           "USING (problem_id) WHERE pr.ok AND pr.checked_on = ? ORDER BY p.problem_id")
_MADE = ("SELECT c.problem_id, c.prompt_template, p.code, pr.figures FROM candidates c "
         "JOIN problems p USING (problem_id) LEFT JOIN probes pr USING (problem_id) "
         "WHERE c.backend = 'inductor' ORDER BY c.candidate_id")
_PASSED = ("SELECT DISTINCT c.candidate_id, c.code, c.backend, p.code AS problem_code, "
           "pr.checked_on, pr.checked_inputs, pr.figures, pr.bytes_moved FROM candidates c "
           "JOIN verdicts v USING (candidate_id) JOIN problems p USING (problem_id) "
           "LEFT JOIN probes pr USING (problem_id) WHERE v.passed ORDER BY c.candidate_id")


def sample(catalog: Catalog, n: int, seed: int, cfg: VerifyConfig, timeout_s: float = 240.0
           ) -> list[dict]:
    from kcorpus.verify.stage import Verifications

    rng = random.Random(seed)
    device = cfg.device if cfg.device != "auto" else "cuda"
    pick = lambda rows: rng.sample(rows, min(n, len(rows)))  # noqa: E731
    budget = {"seconds": cfg.probe.seconds, "memory_mb": cfg.probe.memory_mb}
    jobs = [{"kind": "probe", "id": r["problem_id"], "programs": [r["code"]], "device": device,
             "budget": budget} for r in pick(catalog.rows(_PROBED, [device]))]
    for r in pick(catalog.rows(_MADE)):
        mode = r["prompt_template"].removeprefix("inductor:")
        jobs.append({"kind": "inductor", "id": json.dumps([r["problem_id"], mode]),
                     "problem_code": r["code"], "mode": mode, "seed": 0, "timeout_s": timeout_s,
                     "memory_mb": admission.inductor_mb(r["figures"], mode != "default")})
    verifier = Verifications(catalog, cfg, batch=0)
    jobs += [j for r in pick(catalog.rows(_PASSED)) if (j := verifier.job(r)) is not None]
    return jobs


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("catalog", type=Path)
    p.add_argument("out", type=Path)
    p.add_argument("--n", type=int, default=6, help="jobs of each kind")
    p.add_argument("--seed", type=int, default=3)
    p.add_argument("--device", default="cuda", choices=("cpu", "cuda"))
    a = p.parse_args(argv)
    if not a.catalog.is_file():
        print(f"error: {a.catalog}: no such catalog", file=sys.stderr)
        return 2
    try:
        with Catalog(a.catalog, read_only=True) as cat:
            jobs = sample(cat, a.n, a.seed, VerifyConfig(device=a.device))
    except RuntimeError as e:  # --device cuda where no GPU is visible
        print(f"error: {e}", file=sys.stderr)
        return 2
    a.out.write_text("".join(json.dumps(j) + "\n" for j in jobs))
    kinds = [j.get("kind", "verify") for j in jobs]
    print(json.dumps({k: kinds.count(k) for k in ("probe", "inductor", "verify")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
