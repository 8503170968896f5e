"""The problems stage: run every new problem's reference in the sandbox once and keep the verdict
in `probes`. Nondeterministic and degenerate problems (outputs near zero, outputs that do not
move with the inputs or the weights) get no candidates and are not published.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from kcorpus import schema
from kcorpus.catalog import Catalog
from kcorpus.config import VerifyConfig
from kcorpus.progress import bar
from kcorpus.verify import sandbox


def check_problems(catalog: Catalog, cfg: VerifyConfig) -> dict[str, int]:
    todo = catalog.rows("SELECT problem_id, code FROM problems p WHERE NOT EXISTS "
                        "(SELECT 1 FROM probes r WHERE r.problem_id = p.problem_id) "
                        "ORDER BY problem_id")
    jobs = [{"kind": "probe", "id": r["problem_id"], "programs": [r["code"]], "device": "cpu"}
            for r in todo]
    limits = sandbox.Limits(cfg.timeout_s, cfg.memory_mb, cfg.workers)
    rows = []
    with bar("problems", total=len(jobs)) as progress:
        for answer in (sandbox.run_jobs(jobs, limits, "cpu") if jobs else []):
            rows.append(probe_row(answer))
            progress.advance()
    added = catalog.insert_new("probes", schema.table("probes").to_arrow(rows))
    return {"probed": added, "ok": sum(r["ok"] for r in rows)}


def probe_row(answer: dict) -> dict:
    ok = answer.get("ok") is not None
    tried = answer.get("tried") or []
    flags = sorted({f for t in tried for f in t.get("flags", [])} |
                   ({"error"} if any("error" in t for t in tried) else set()))
    if "failure_code" in answer:  # the sandbox itself reported: crash, timeout
        flags, tried = ["error"], [{"error": f"{answer['failure_code']}: {answer['message']}"}]
    return {"problem_id": answer["id"], "ok": ok, "flags": [] if ok else flags,
            "input_signature": answer.get("input_signature"),
            "message": "" if ok else json.dumps(tried)[:2000], "probed_at": datetime.now(UTC)}
