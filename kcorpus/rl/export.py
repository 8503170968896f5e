"""`kcorpus export FORMAT RELEASE --out DIR`: a release in the format a trainer loads as it is.

- `verl`: `DIR/train.parquet`, one row per problem, with verl's columns: `data_source`
  ("kcorpus/<release>"), `prompt` (a chat list: the system and user messages of the pairs'
  `messages`), `ability` ("triton-kernels"), `reward_model` ({style: "rule", ground_truth: the
  reference program}), `extra_info` ({split, index, problem_id}). Score it with
  `kcorpus.rl.verl.compute_score`, which asks the reward service.
- `openrlhf`: `DIR/train.jsonl`, {"input": the user prompt, "label": problem_id}; the service's
  `/v1/openrlhf` endpoint (started with `--release RELEASE`) takes the labels back.
- `trl`: `DIR/train.jsonl` from the pairs, conversational prompt-completion:
  {"prompt": [system, user], "completion": [assistant]}.
- `kernelbench`: the problems as KernelBench files, `DIR/level{1,2,3}/{N}_{Name}.py` (level 1
  single ops, 2 fusions, 3 models), so KernelBench's own scripts run them.

RELEASE is a release directory (`releases/NAME/vN` or `latest`).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from kcorpus.publish.build import SYSTEM_PROMPT, USER_PROMPT

FORMATS = ("verl", "openrlhf", "trl", "kernelbench")
LEVELS = {"single_op": 1, "fusion": 2, "model": 3}


def read_config(release: Path, config: str) -> list[dict]:
    files = sorted(Path(release).glob(f"{config}/*.parquet"))
    if not files:
        raise ValueError(f"{release}: no {config}/*.parquet here (a release directory?)")
    rows = [r for f in files for r in pq.read_table(f).to_pylist()]
    if not rows:
        raise ValueError(f"{release}: its {config} config has no rows: nothing to export")
    return rows


def prompt(code: str) -> list[dict]:
    return [{"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": USER_PROMPT.format(code=code)}]


def export(fmt: str, release: Path, out: Path) -> dict:
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}: one of {', '.join(FORMATS)}")
    out.mkdir(parents=True, exist_ok=True)
    name = _release_name(release)
    if fmt == "trl":
        return _trl(read_config(release, "pairs"), out)
    problems = read_config(release, "problems")
    return {"verl": _verl, "openrlhf": _openrlhf, "kernelbench": _kernelbench}[fmt](
        problems, out, name)


def _verl(problems: list[dict], out: Path, name: str) -> dict:
    rows = [{"data_source": f"kcorpus/{name}", "prompt": prompt(p["code"]),
             "ability": "triton-kernels",
             "reward_model": {"style": "rule", "ground_truth": p["code"]},
             "extra_info": {"split": "train", "index": i, "problem_id": p["problem_id"]}}
            for i, p in enumerate(problems)]
    pq.write_table(pa.Table.from_pylist(rows), out / "train.parquet")
    return {"format": "verl", "rows": len(rows), "files": ["train.parquet"]}


def _openrlhf(problems: list[dict], out: Path, name: str) -> dict:
    with open(out / "train.jsonl", "w") as f:
        for p in problems:
            f.write(json.dumps({"input": USER_PROMPT.format(code=p["code"]),
                                "label": p["problem_id"]}) + "\n")
    return {"format": "openrlhf", "rows": len(problems), "files": ["train.jsonl"]}


def _trl(pairs: list[dict], out: Path) -> dict:
    with open(out / "train.jsonl", "w") as f:
        for p in pairs:
            messages = p["messages"]
            f.write(json.dumps({"prompt": messages[:-1], "completion": messages[-1:]}) + "\n")
    return {"format": "trl", "rows": len(pairs), "files": ["train.jsonl"]}


def _kernelbench(problems: list[dict], out: Path, name: str) -> dict:
    files, counts = [], {}
    for p in sorted(problems, key=lambda r: (LEVELS.get(r["level"], 3), r["problem_id"])):
        level = LEVELS.get(p["level"], 3)
        counts[level] = counts.get(level, 0) + 1
        stem = _name(p)
        path = out / f"level{level}" / f"{counts[level]}_{stem}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(p["code"])
        files.append(str(path.relative_to(out)))
    return {"format": "kernelbench", "rows": len(files), "files": files[:5],
            "levels": {f"level{k}": v for k, v in sorted(counts.items())}}


def _name(problem: dict) -> str:
    """`19_ReLU.py` keeps `ReLU`; a mined `models/layer_norm.py` with entry point `LayerNorm`
    becomes `layer_norm_LayerNorm`."""
    stem = re.sub(r"^\d+_", "", Path(problem.get("origin_path") or "").stem)
    entry = problem.get("entry_point") or "Model"
    name = stem if entry == "Model" and stem else "_".join(filter(None, (stem, entry)))
    return re.sub(r"\W+", "_", name).strip("_") or "Model"


def _release_name(release: Path) -> str:
    manifest = Path(release) / "manifest.json"
    if manifest.is_file():
        m = json.loads(manifest.read_text())
        return f"{m.get('name', 'release')}@{m.get('version', '')}".rstrip("@")
    return Path(release).resolve().name
