"""`kind: hf`: a local Parquet "Stack" of a few hundred rows from several synthetic repositories.

The dataset is real Parquet in the Stack's layout (`data/Python/train-0000N-of-00002.parquet`),
its rows shuffled so that every repository is spread over both files, read by `datasets` in
streaming mode exactly as a Hub dataset would be, with no network. Mined code is never imported
here: a file whose import would write a marker is mined, and the marker stays absent.
"""

from __future__ import annotations

import random

import pyarrow as pa
import pyarrow.parquet as pq
from tests.test_mine import SIMPLE, config, run_mine
from tests.test_mine_kernels import HELPERS

LAYERS = '''import torch
import torch.nn as nn


class Scale(nn.Module):
    def __init__(self, s):
        super().__init__()
        self.s = s

    def forward(self, x):
        return x * self.s
'''

NET = '''import torch
import torch.nn as nn

from .layers import Scale


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = Scale(3.0)

    def forward(self, x):
        return torch.relu(self.scale(x))


def get_inputs():
    return [torch.randn(4, 8)]


def get_init_inputs():
    return []
'''

KERNEL = '''import torch
import triton
import triton.language as tl

from kern.helpers import program_id

FACTOR: tl.constexpr = {factor}


@triton.jit
def mul_kernel_{i}(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offs = program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    tl.store(out_ptr + offs, tl.load(x_ptr + offs, mask=mask) * FACTOR, mask=mask)
'''

RUNS_CODE = '''import os
import torch
import torch.nn as nn

open("{marker}", "w").write("imported")
os.system("touch {marker}.sh")


class Model(nn.Module):
    def forward(self, x):
        return x + 1


def get_inputs():
    return [torch.randn(3)]
'''


def stack_rows(marker: str) -> list[dict]:
    def row(repo, path, content, license, commit="c0ffee"):
        return {"repo_name": repo, "path": path, "content": content,
                "detected_licenses": license, "revision_id": commit}

    rows = [row("org/models", f"nets/simple_{i}.py", SIMPLE.format(scale=float(i)), ["MIT"])
            for i in range(120)]
    rows += [row("org/models", "pkg/__init__.py", "", ["MIT"]),
             row("org/models", "pkg/layers.py", LAYERS, ["MIT"]),
             row("org/models", "pkg/net.py", NET, ["MIT"])]
    rows += [row("org/kern", f"kern/ops/mul_{i}.py", KERNEL.format(factor=i + 1, i=i),
                 ["Apache-2.0"], "beef") for i in range(30)]
    rows += [row("org/kern", "kern/__init__.py", "", ["Apache-2.0"], "beef"),
             row("org/kern", "kern/helpers.py", HELPERS, ["Apache-2.0"], "beef")]
    rows += [row("org/gpl", f"m_{i}.py", SIMPLE.format(scale=100.0 + i), ["GPL-3.0"])
             for i in range(40)]
    rows += [row("org/nolicense", f"m_{i}.py", SIMPLE.format(scale=200.0 + i), [])
             for i in range(40)]
    junk = {"py2.py": 'print "hello"\n', "blob.py": "\x7fELF\x00\x01\x00",
            "deep.py": "X = " + "(" * 3000 + ")" * 3000 + "\n",
            "huge.py": SIMPLE.format(scale=9.0) + "# pad\n" * 100_000,
            "README.md": "# not python\n", "runs_code.py": RUNS_CODE.format(marker=marker),
            "../escape.py": SIMPLE.format(scale=5.0), "/abs.py": SIMPLE.format(scale=6.0)}
    rows += [row("org/junk", p, c, ["MIT"]) for p, c in junk.items()]
    rows += [row("org/junk", f"notes_{i}.py", f"x_{i} = {i}\n", ["MIT"]) for i in range(20)]
    random.Random(0).shuffle(rows)
    return rows


def write_stack(root, rows: list[dict]) -> None:
    out = root / "data" / "Python"
    out.mkdir(parents=True, exist_ok=True)
    half = len(rows) // 2
    for i, part in enumerate((rows[:half], rows[half:])):
        pq.write_table(pa.Table.from_pylist(part), out / f"train-0000{i}-of-00002.parquet")


def stack_config(tmp_path, stack):
    return config(tmp_path, [{"kind": "hf", "dataset": str(stack), "data_dir": "data/Python",
                              "split": "train",
                              "columns": {"content": "content", "path": "path",
                                          "repo": "repo_name", "license": "detected_licenses",
                                          "commit": "revision_id"}}],
                  "mine: {max_file_bytes: 200000}\n")


def test_a_local_parquet_stack_is_mined_by_repository_and_rebuilt_incrementally(tmp_path, catalog):
    marker = tmp_path / "outside" / "imported"
    marker.parent.mkdir()
    rows = stack_rows(str(marker))
    assert len(rows) > 250
    write_stack(tmp_path / "stack", rows)
    cfg = stack_config(tmp_path, tmp_path / "stack")

    first = run_mine(catalog, cfg, tmp_path)

    sources = {s["repo_name"]: s for s in catalog.rows("SELECT * FROM sources")}
    assert set(sources) == {"org/models", "org/kern", "org/gpl", "org/nolicense", "org/junk"}
    assert all(s["kind"] == "hf" for s in sources.values())
    assert sources["org/kern"]["commit_sha"] == "beef"
    assert (sources["org/kern"]["license"], sources["org/gpl"]["license_class"],
            sources["org/nolicense"]["license"]) == ("Apache-2.0", "copyleft", "none")
    by_repo = {r["repo_name"]: r["n"] for r in catalog.rows(
        "SELECT s.repo_name, count(*) AS n FROM problems p JOIN sources s USING (source_id) "
        "GROUP BY 1")}
    # 120 simple modules and the net whose sibling import resolved, and the module whose import
    # runs code (a problem: the problems stage probes it in the sandbox); none from GPL or
    # unlicensed repositories
    assert by_repo == {"org/models": 121, "org/junk": 1}
    [net] = catalog.rows("SELECT code FROM problems WHERE origin_path = 'pkg/net.py'")
    assert "class Scale(nn.Module):" in net["code"] and "from .layers" not in net["code"]
    # kernels: each with the helper from its sibling module, flagged standalone by the sandbox
    kernels = catalog.rows("SELECT k.*, s.license FROM kernels k JOIN sources s USING (source_id)"
                           " WHERE k.name LIKE 'mul_kernel_%'")
    assert len(kernels) == 30
    assert all(k["standalone"] and "def program_id(axis):" in k["code"] for k in kernels)
    assert {k["license"] for k in kernels} == {"Apache-2.0"}
    # rejects, each with its reason; the file whose import runs code never ran
    rejects = {(r["repo_name"], r["path"]): r["reason"] for r in catalog.rows(
        "SELECT s.repo_name, r.path, r.reason FROM rejects r JOIN sources s USING (source_id)")}
    assert rejects[("org/gpl", "")] == "license_excluded"
    assert rejects[("org/nolicense", "")] == "license_excluded"
    junk = {p: why for (repo, p), why in rejects.items() if repo == "org/junk"}
    assert junk["py2.py"] == "syntax_error" and junk["blob.py"] == "binary"
    assert junk["huge.py"] == "too_large" and junk["deep.py"] in ("too_deep", "syntax_error")
    assert junk["../escape.py"] == "bad_path" and junk["/abs.py"] == "bad_path"
    assert junk["notes_0.py"] == "no_modules" and "README.md" not in junk
    assert not marker.exists() and not marker.with_suffix(".sh").exists()
    assert first["files"] == 123 + 32 + 5 + 20  # the GPL and unlicensed repositories unread

    before = catalog.counts()
    again = run_mine(catalog, cfg, tmp_path)
    assert again == {"sources": 0, "files": 0, "problems": 0, "guesses": 0, "kernels": 0,
                     "rejects": 0}
    assert catalog.counts() == before

    # one new row: only its repository is mined again, and only the new module is new
    rows.append({"repo_name": "org/models", "path": "nets/new.py",
                 "content": SIMPLE.format(scale=777.0), "detected_licenses": ["MIT"],
                 "revision_id": "c0ffee"})
    write_stack(tmp_path / "stack", rows)
    third = run_mine(catalog, cfg, tmp_path)
    assert third["sources"] == 1 and third["problems"] == 1 and third["kernels"] == 0
