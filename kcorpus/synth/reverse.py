"""The reverse direction: a mined human Triton kernel in, a PyTorch reference for it out.

The model sees the kernel and its launcher (the `reverse_v1` template) and writes `Model`,
`get_inputs`, `get_init_inputs` and a `ModelNew` that calls the launcher. The reference becomes
a problem (`inputs_origin: reverse`, with the kernel's provenance), probed like any other; the
candidate is the kernel's own mined code followed by the model's `ModelNew` (and any helpers
it wrote), so the Triton in the pair is the human's. The verifier then decides whether the two
agree. A completion without the three parts, or whose reference itself uses Triton, is a reject.
"""

from __future__ import annotations

import ast

from kcorpus import optypes
from kcorpus.ids import code_id
from kcorpus.mine.extract import first_line, import_modules
from kcorpus.rejects import reject_row
from kcorpus.synth.backend import Completion
from kcorpus.synth.chat import ChatBackend, Request
from kcorpus.synth.parse import extract_program
from kcorpus.synth.prompts import load_template

REFERENCE_PARTS = {"Model", "get_inputs", "get_init_inputs"}


def pending_kernels(catalog, backend: ChatBackend, limit: int | None) -> list[dict]:
    """Of the first `limit` standalone kernels (by id; all when unset: a kernel that needs its
    repository cannot run beside a reference), those this backend has neither turned into a
    reverse problem nor failed to. Kernels mined before the flag existed count as standalone
    (they were kept only when their whole file imported cleanly)."""
    item = f"{backend.name}/{backend.model}/reverse"
    rows = catalog.rows(
        "SELECT k.*, EXISTS (SELECT 1 FROM problems p WHERE p.inputs_origin = 'reverse' AND "
        "p.source_id = k.source_id AND p.origin_path = k.origin_path AND p.entry_point = "
        "k.name) OR EXISTS (SELECT 1 FROM rejects r WHERE r.stage = 'synth' AND r.path = "
        "k.kernel_id AND r.item = ?) AS done FROM kernels k WHERE coalesce(k.standalone, true) "
        "ORDER BY k.kernel_id", [item])
    rows = rows if limit is None else rows[:limit]
    return [{k: v for k, v in r.items() if k != "done"} for r in rows if not r["done"]]


def reverse(catalog_rows: list[dict], backend: ChatBackend, template_ref: str
            ) -> tuple[list[dict], list[Completion], list[dict]]:
    """(problem rows, candidate completions, rejects) for the given kernel rows."""
    template = load_template(template_ref)
    requests = [Request(k["kernel_id"], template.chat(kernel=k["code"])) for k in catalog_rows]
    completions, rejects = backend.run(requests, template)
    by_id = {k["kernel_id"]: k for k in catalog_rows}
    problems, candidates = [], []
    for c in completions:
        kernel = by_id[c.problem_id]
        split = split_program(extract_program(c.text),
                              {kernel["name"], *kernel["launchers"], "triton", "tl"})
        if isinstance(split, str):
            rejects.append(reject_row("synth", kernel["source_id"], kernel["kernel_id"],
                                      f"{backend.name}/{backend.model}/reverse",
                                      "reverse_unusable", split))
            continue
        reference, wrapper = split
        problem = problem_row(kernel, reference)
        problems.append(problem)
        c.problem_id = problem["problem_id"]
        c.code = f"{kernel['code'].rstrip()}\n\n\n{wrapper}"
        candidates.append(c)
    return problems, candidates, rejects


def split_program(program: str, forbidden: set[str]) -> tuple[str, str] | str:
    """(the reference program, the ModelNew part), or why the program cannot be used. The
    reference may not name anything in `forbidden` (the kernel, its launchers, triton)."""
    try:
        tree = ast.parse(program)
    except (SyntaxError, ValueError, RecursionError):
        return "the completion holds no parsable program"
    named = {getattr(n, "name", None) for n in tree.body}
    missing = sorted((REFERENCE_PARTS | {"ModelNew"}) - named - {"get_init_inputs"})
    if missing:
        return f"the program does not define {', '.join(missing)}"
    lines = program.splitlines()
    ref, new = [], []
    for node in tree.body:
        text = "\n".join(lines[first_line(node) - 1: node.end_lineno])
        name = getattr(node, "name", None)
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            if "triton" not in import_modules(node):
                ref.append(text)
            new.append(text)
        elif name == "ModelNew":
            new.append(text)
        elif name in REFERENCE_PARTS:
            ref.append(text)
        else:  # helpers: the wrapper may need them; the reference must not use Triton anyway
            ref.append(text)
            new.append(text)
    reference = "\n\n\n".join(ref) + "\n"
    if "get_init_inputs" not in named:
        reference += "\n\ndef get_init_inputs():\n    return []\n"
    tree = ast.parse(reference)
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    used |= {m for n in ast.walk(tree) for m in import_modules(n)}
    if used & forbidden:
        return f"the reference uses {', '.join(sorted(used & forbidden))} itself"
    return reference, "\n\n\n".join(new) + "\n"


def problem_row(kernel: dict, reference: str) -> dict:
    cats = optypes.op_types(reference)
    return {"problem_id": code_id(reference), "source_id": kernel["source_id"],
            "origin_path": kernel["origin_path"], "line_start": kernel["line_start"],
            "line_end": kernel["line_end"], "entry_point": kernel["name"], "code": reference,
            "inputs_origin": "reverse", "op_types": cats, "level": optypes.level(cats, 1),
            "input_signature": None, "flops": None, "bytes_moved": None, "degenerate_flags": []}
