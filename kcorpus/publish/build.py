"""The rows of each published config, from the catalog (one query per config).

`pairs` keeps one row per near-dedup cluster (exact where no near cluster is recorded) and
architecture: the verified candidate that is fastest, then from the most-starred source. Only
verdicts of the current verifier count. Items that match an evaluation set (`contamination`)
are left out of `pairs` and `problems`; `attempts` keeps them, for analysis.
"""

from __future__ import annotations

import pyarrow as pa

from kcorpus import schema
from kcorpus.catalog import Catalog
from kcorpus.verify.codes import VERIFIER_VERSION

SYSTEM_PROMPT = ("You are an expert GPU kernel engineer. Rewrite the given PyTorch program as "
                 "`ModelNew`, a torch.nn.Module with the same constructor and forward "
                 "signature whose computation runs in Triton kernels.")
USER_PROMPT = "Write a Triton implementation of this PyTorch program:\n\n```python\n{code}```"
ASSISTANT = "```python\n{code}```"

_PROVENANCE = ("s.repo_name, s.url AS repo_url, s.commit_sha AS sha, s.stars, s.license, "
               "p.origin_path")
_OP_TYPE = "coalesce(p.op_types[1], 'unknown') AS op_type"

PAIRS_SQL = f"""
WITH ranked AS (
  SELECT c.candidate_id AS pair_id, c.problem_id, p.code AS python_code, c.code AS triton_code,
    p.entry_point, {_PROVENANCE}, [s.license] AS licenses, {_OP_TYPE}, p.op_types, p.level,
    v.gpu_arch AS arch, v.gpu_name, v.interpreter, v.speedup_eager, v.speedup_compile,
    v.candidate_ms, p.bytes_moved / (v.candidate_ms * 1e6) AS achieved_gb_per_s,
    p.flops / (v.candidate_ms * 1e9) AS achieved_tflop_per_s,
    v.verifier_version, c.backend, c.model, c.sampling, v.torch_ops,
    coalesce(n.cluster_id, d.cluster_id) AS cluster_id,
    row_number() OVER (PARTITION BY coalesce(n.cluster_id, d.cluster_id), v.gpu_arch
      ORDER BY v.speedup_eager DESC NULLS LAST, s.stars DESC NULLS LAST, c.candidate_id) AS rank
  FROM candidates c
  JOIN verdicts v ON v.candidate_id = c.candidate_id AND v.passed AND v.verifier_version = $vv
  JOIN problems p ON p.problem_id = c.problem_id
  JOIN sources s ON s.source_id = p.source_id
  JOIN dedup d ON d.item_id = c.candidate_id AND d.method = 'exact'
  LEFT JOIN dedup n ON n.item_id = c.candidate_id AND n.method = 'near'
  WHERE NOT EXISTS (SELECT 1 FROM contamination x WHERE x.item_id IN (c.candidate_id,
    c.problem_id))
)
SELECT * EXCLUDE (rank) FROM ranked WHERE rank = 1
"""

PROBLEMS_SQL = f"""
WITH ranked AS (
  SELECT p.problem_id, p.code, p.entry_point, p.inputs_origin,
    coalesce(r.input_signature, p.input_signature) AS input_signature, {_OP_TYPE},
    p.op_types, p.level, p.flops, p.bytes_moved, {_PROVENANCE},
    row_number() OVER (PARTITION BY d.cluster_id ORDER BY s.stars DESC NULLS LAST,
      p.problem_id) AS rank
  FROM problems p
  JOIN sources s ON s.source_id = p.source_id
  JOIN dedup d ON d.item_id = p.problem_id AND d.method = 'exact'
  JOIN probes r ON r.problem_id = p.problem_id AND r.ok
  WHERE NOT EXISTS (SELECT 1 FROM contamination x WHERE x.item_id = p.problem_id)
),
timed AS (
  SELECT c.problem_id, v.gpu_arch AS arch, any_value(v.gpu_name) AS gpu_name,
    median(v.eager_ms) AS eager_ms, median(v.compile_ms) AS compile_ms
  FROM verdicts v JOIN candidates c USING (candidate_id)
  WHERE v.eager_ms IS NOT NULL GROUP BY ALL
),
baselines AS (
  SELECT problem_id, list({{'arch': arch, 'gpu_name': gpu_name, 'eager_ms': eager_ms,
                           'compile_ms': compile_ms}} ORDER BY arch) AS baselines
  FROM timed GROUP BY problem_id
)
SELECT r.* EXCLUDE (rank), coalesce(b.baselines, []) AS baselines
FROM ranked r LEFT JOIN baselines b USING (problem_id) WHERE rank = 1
"""

ATTEMPTS_SQL = f"""
SELECT c.candidate_id, c.problem_id, c.code AS triton_code, c.completion, c.backend, c.model,
  c.prompt_template, c.turn, c.parent_candidate_id, {_OP_TYPE}, v.gpu_arch AS arch, v.passed,
  v.stage, v.failure_code, v.message, v.torch_ops, v.interpreter, v.sandbox, v.speedup_eager,
  v.verifier_version, s.repo_name, s.license
FROM candidates c
JOIN verdicts v ON v.candidate_id = c.candidate_id AND v.verifier_version = $vv
JOIN problems p ON p.problem_id = c.problem_id
JOIN sources s ON s.source_id = p.source_id
"""

KERNELS_SQL = f"""
WITH ranked AS (
  SELECT k.kernel_id, k.name, k.code, k.decorators, k.launchers,
    coalesce(k.standalone, true) AS standalone, coalesce(k.needs, '') AS needs,
    coalesce(k.launch_site, '') AS launch_site, coalesce(k.wrappers, []) AS wrappers,
    k.line_start, k.line_end, {_PROVENANCE.replace(
      'p.origin_path', 'k.origin_path')},
    row_number() OVER (PARTITION BY d.cluster_id ORDER BY coalesce(k.standalone, true) DESC,
      s.stars DESC NULLS LAST, k.kernel_id) AS rank
  FROM kernels k
  JOIN sources s ON s.source_id = k.source_id
  JOIN dedup d ON d.item_id = k.kernel_id AND d.method = 'exact'
)
SELECT * EXCLUDE (rank) FROM ranked WHERE rank = 1
"""

QUERIES = {"pairs": PAIRS_SQL, "problems": PROBLEMS_SQL, "attempts": ATTEMPTS_SQL,
           "kernels": KERNELS_SQL}


def build_config(catalog: Catalog, name: str) -> pa.Table:
    rec = schema.config(name)
    sql = QUERIES[name]
    rows = catalog.sql(sql, {"vv": VERIFIER_VERSION} if "$vv" in sql else None)
    if name == "pairs":
        rows = rows.append_column("messages", pa.array(
            [_messages(p, t) for p, t in zip(rows["python_code"].to_pylist(),
                                             rows["triton_code"].to_pylist())]))
    table = rows.select(rec.column_names).cast(rec.arrow_schema())
    keys = [(k, "ascending") for k in (*rec.sort_by, rec.column_names[0])]
    return table.sort_by(keys)


def _messages(python_code: str, triton_code: str) -> list[dict]:
    return [{"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": USER_PROMPT.format(code=python_code)},
            {"role": "assistant", "content": ASSISTANT.format(code=triton_code)}]
