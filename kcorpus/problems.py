"""The problems stage: probe every new problem's reference in the sandbox once and keep the
verdict in `probes`. The probe (verify/probe.py) counts ops, FLOPs and bytes under fake tensors
and runs for real only the value checks: on the GPU when the pipeline has one, else on the CPU
within `verify.probe`'s budget, cutting the batch where that fits it. A problem no cut fits is
kept as `too_large_for_cpu` (its candidates wait for a GPU), and a run on a GPU probes it again.

Nondeterministic and degenerate problems (outputs near zero, outputs that do not move with the
inputs or the weights) get no candidates and are not published. Modules whose file gave no
inputs (`guesses`) are tried with each guessed program in turn: the first sound one becomes a
problem (`inputs_origin: inferred`). Where none is, the errors that name the input wanted (a
convolution's channels, a linear layer's features...) give repaired programs, tried in a
further probe (mine/repair.py), in the same server as soon as its answer is in; a module none
of them fits becomes a reject. A sound problem's op labels, level, FLOPs and bytes then come
from what its forward ran (optypes.aten_op_types), replacing the static labels of mining time.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

from kcorpus import optypes, schema
from kcorpus.catalog import Catalog
from kcorpus.config import VerifyConfig
from kcorpus.progress import bar
from kcorpus.ids import code_id
from kcorpus.mine import repair
from kcorpus.rejects import reject_row
from kcorpus.verify import sandbox


# problems never probed, and on a GPU those the CPU found too large to check
TODO_SQL = """
SELECT problem_id AS id, [code] AS programs, source_id FROM problems p
WHERE NOT EXISTS (SELECT 1 FROM probes r WHERE r.problem_id = p.problem_id
                  AND (r.checked_on IS DISTINCT FROM '' OR ? = 'cpu'))
ORDER BY problem_id"""
GUESSES_SQL = """
SELECT module_id AS id, programs, g.* FROM guesses g
WHERE NOT EXISTS (SELECT 1 FROM probes r WHERE r.problem_id = g.module_id)
ORDER BY module_id"""


def check_problems(catalog: Catalog, cfg: VerifyConfig) -> dict[str, int]:
    from kcorpus.verify.stage import resolve_device

    device = resolve_device(cfg.device)[0]
    problems = catalog.rows(TODO_SQL, [device])
    guesses = catalog.rows(GUESSES_SQL)
    budget = {"seconds": cfg.probe.seconds, "memory_mb": cfg.probe.memory_mb}
    jobs = [{"kind": "probe", "id": r["id"], "programs": r["programs"], "device": device,
             "budget": budget, "source_id": r["source_id"]} for r in problems + guesses]
    by_guess = {g["id"]: g for g in guesses}
    probes, inferred, rejects = [], [], []
    with bar(f"problems ({device})", total=len(jobs)) as progress:
        for answer in repairing(jobs, by_guess, lambda js, f: _answers(js, f, cfg, device)):
            probes.append(probe_row(answer))
            guess = by_guess.get(answer["id"])
            if guess is not None:
                _settle_guess(guess, answer, probes, inferred, rejects)
            progress.advance()
    with catalog.transaction():
        catalog.insert_new("problems", schema.table("problems").to_arrow(inferred))
        catalog.insert_new("rejects", schema.table("rejects").to_arrow(rejects))
        scalar = {p["problem_id"]: p.pop("scalar_output") for p in probes}
        catalog.con.execute("DELETE FROM probes WHERE list_contains(?, problem_id)",
                            [[p["problem_id"] for p in probes]])  # re-probed on a GPU
        added = catalog.insert_new("probes", schema.table("probes").to_arrow(probes))
        _label_from_aten(catalog, [p for p in probes if p["aten_ops"]], scalar)
    return {"probed": added, "ok": sum(r["ok"] for r in probes), "inferred": len(inferred),
            "too_large_for_cpu": sum("too_large_for_cpu" in r["flags"] for r in probes)}


def repairing(jobs: list[dict], guesses: dict[str, dict], run) -> Iterator[dict]:
    """The final answer of each of `jobs`. A guess that failed is probed again on the programs
    its errors ask for (repair.py), up to repair.ROUNDS more times, in the same server as a
    follow-up of its answer (`run(first, follow)`: stream.run_stream), so a repair waits for no
    round to end and starts no server of its own. Its final answer carries every program
    tried, and `guesses[id]["programs"]` the ones of its last job."""
    by_id = {j["id"]: j for j in jobs}
    rounds: dict[str, int] = {}
    superseded: set[str] = set()  # answers a repair followed: that repair's answer is final

    def follow(answer: dict) -> list[dict]:
        guess = guesses.get(answer["id"])
        done = rounds.get(answer["id"], 0)
        fixed = (_repairs(guess["programs"], answer.get("tried") or [])
                 if guess is not None and answer.get("ok") is None and done < repair.ROUNDS
                 else [])
        if not fixed:
            return []
        guess["tried_before"] = guess.get("tried_before", []) + answer["tried"]
        guess["programs"] = fixed
        rounds[answer["id"]] = done + 1
        superseded.add(answer["id"])
        return [{**by_id[answer["id"]], "programs": fixed}]

    for answer in run(jobs, follow):
        if answer["id"] in superseded:
            superseded.discard(answer["id"])
            continue
        guess = guesses.get(answer["id"])
        if guess is not None and guess.get("tried_before"):
            answer = {**answer, "tried": guess["tried_before"] + (answer.get("tried") or [])}
        yield answer


def _repairs(programs: list[str], tried: list[dict]) -> list[str]:
    fixed = (repair.repaired(programs[t["index"]], t["error"]) for t in tried if "error" in t)
    return [p for p in dict.fromkeys(fixed) if p is not None and p not in programs]


def _answers(first: list[dict], follow, cfg: VerifyConfig, device: str):
    if not first:
        return
    from kcorpus.verify import gpu_slots, shared_child, stream
    from kcorpus.verify.pool import LOOKAHEAD

    limits = sandbox.Limits.from_config(cfg, device)
    # fed as far ahead as the server reads for its admission by memory (pool.LOOKAHEAD): a
    # repair needs no hurry, and small probes go ahead of big ones that do not fit yet
    run = lambda jobs, fol: stream.run_stream(jobs, fol, limits, device,  # noqa: E731
                                              window=LOOKAHEAD * limits.parallel)
    # on a GPU, probes of one source share a child: one CUDA context for several
    size = cfg.probe.shared if device == "cuda" else 1
    with gpu_slots.hold_gpu(device, cfg.gpu_slots):
        yield from shared_child.run_shared(first, follow, run, size, key=lambda j: j["source_id"])


def _label_from_aten(catalog: Catalog, probes: list[dict], scalar: dict[str, bool]) -> None:
    """Replace the static op labels of probed problems with what their forward ran."""
    levels = {r["problem_id"]: r["level"] for r in catalog.rows(
        "SELECT problem_id, level FROM problems WHERE list_contains(?, problem_id)",
        [[p["problem_id"] for p in probes]])}
    for p in probes:
        if p["problem_id"] not in levels:
            continue
        catalog.con.execute(
            "UPDATE problems SET op_types = ?, level = ?, flops = ?, bytes_moved = ? "
            "WHERE problem_id = ?",
            [optypes.aten_op_types(p["aten_ops"], scalar[p["problem_id"]]), optypes.aten_level(
                p["aten_ops"], levels[p["problem_id"]]), p["flops"], p["bytes_moved"],
             p["problem_id"]])


def _settle_guess(guess: dict, answer: dict, probes: list, inferred: list, rejects: list) -> None:
    """A guessed module: a new problem from the winning program, or a reject with the reasons."""
    if answer.get("ok") is None:
        rejects.append(reject_row("problems", guess["source_id"], guess["origin_path"],
                                  guess["entry_point"], "not_runnable",
                                  f"no guessed inputs worked: {json.dumps(answer.get('tried'))}"))
        return
    code = guess["programs"][answer["ok"]]
    cats = optypes.op_types(code)
    row = {"problem_id": code_id(code), "source_id": guess["source_id"],
           "origin_path": guess["origin_path"], "line_start": guess["line_start"],
           "line_end": guess["line_end"], "entry_point": guess["entry_point"], "code": code,
           "inputs_origin": "inferred", "op_types": cats,
           "level": optypes.level(cats, guess["module_classes"]),
           "input_signature": answer.get("input_signature"), "flops": None,
           "bytes_moved": None, "degenerate_flags": []}
    inferred.append(row)
    probes.append({**probe_row(answer), "problem_id": row["problem_id"]})


def probe_row(answer: dict) -> dict:
    ok = answer.get("ok") is not None
    tried = answer.get("tried") or []
    flags = sorted({f for t in tried for f in t.get("flags", [])} |
                   ({"error"} if any("error" in t for t in tried) else set()))
    if "failure_code" in answer:  # the sandbox itself reported: crash, timeout
        flags, tried = ["error"], [{"error": f"{answer['failure_code']}: {answer['message']}"}]
    if ok:  # a winner too large to check on the CPU is kept, flagged, with its figures
        flags = [f for f in answer.get("flags") or [] if f == "too_large_for_cpu"]
    cut, figures = answer.get("checked_inputs"), answer.get("figures")
    return {"problem_id": answer["id"], "ok": ok, "flags": flags,
            "input_signature": answer.get("input_signature"),
            "aten_ops": answer.get("aten_ops") or [], "flops": answer.get("flops"),
            "bytes_moved": answer.get("bytes_moved"),
            "scalar_output": bool(answer.get("scalar_output")),
            "message": answer.get("note", "") if ok else json.dumps(tried)[:2000],
            "checked_on": answer.get("checked_on", "") if ok else None,
            "checked_inputs": json.dumps(cut) if cut else None,
            "figures": json.dumps(figures) if figures else None,
            "seconds": answer.get("seconds"), "probed_at": datetime.now(UTC)}
