"""The mine stage: git and local sources into `sources`, `problems`, `kernels` and `rejects`.

Every test mines real git repositories (or directories) made on the spot into a real DuckDB
catalog, with a pipeline config written as YAML. Mined code is never imported here: a canonical
problem is only ever run in a subprocess.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from kcorpus.catalog import Catalog
from kcorpus.config import load_config
from kcorpus.mine.stage import mine
from kcorpus.mine.licenses import detect_license
from tests.conftest import git, make_git_repo, write_pipeline

MIT = """MIT License

Copyright (c) 2024 Example Labs

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.
"""

GPL3 = """                    GNU GENERAL PUBLIC LICENSE
                       Version 3, 29 June 2007

 Copyright (C) 2007 Free Software Foundation, Inc. <https://fsf.org/>
 Everyone is permitted to copy and distribute verbatim copies
 of this license document, but changing it is not allowed.

                            Preamble

  The GNU General Public License is a free, copyleft license for
software and other kinds of works.
"""

# The head and the closing paragraph of the GPL v2 text: the text names the Library GPL at its end.
GPL2 = """                    GNU GENERAL PUBLIC LICENSE
                       Version 2, June 1991

 Copyright (C) 1989, 1991 Free Software Foundation, Inc.,
 51 Franklin Street, Fifth Floor, Boston, MA 02110-1301 USA
 Everyone is permitted to copy and distribute verbatim copies
 of this license document, but changing it is not allowed.

This General Public License does not permit incorporating your program into
proprietary programs.  If your program is a subroutine library, you may
consider it more useful to permit linking proprietary applications with the
library.  If this is what you want to do, use the GNU Lesser General
Public License instead of this License.
"""

# The head of the MPL 2.0 text and its definition of "Secondary License", which names the AGPL.
MPL2 = """Mozilla Public License Version 2.0
==================================

1. Definitions
--------------

1.12. "Secondary License"
    means either the GNU General Public License, Version 2.0, the GNU
    Lesser General Public License, Version 2.1, the GNU Affero General
    Public License, Version 3.0, or any later versions of those
    licenses.
"""

BSD3 = """Copyright (c) 2024, Example Labs
All rights reserved.

Redistribution and use in source and binary forms, with or without
modification, are permitted provided that the following conditions are met:

1. Redistributions of source code must retain the above copyright notice, this
   list of conditions and the following disclaimer.

2. Redistributions in binary form must reproduce the above copyright notice,
   this list of conditions and the following disclaimer in the documentation
   and/or other materials provided with the distribution.

3. Neither the name of the copyright holder nor the names of its
   contributors may be used to endorse or promote products derived from
   this software without specific prior written permission.
"""

CC0 = """Creative Commons Legal Code

CC0 1.0 Universal

    CREATIVE COMMONS CORPORATION IS NOT A LAW FIRM AND DOES NOT PROVIDE
    LEGAL SERVICES.
"""

# An entry module that is not called Model, with everything canonicalisation must sort out.
MYNET = '''"""A two-block network."""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

HIDDEN = 32


def scaled(x, s):
    return x * s


def unused_helper():
    return 42


class Block(nn.Module):
    def __init__(self, dim):
        super(Block, self).__init__()
        self.fc = nn.Linear(dim, dim)

    def forward(self, x):
        return F.relu(self.fc(x))


class MyNet(nn.Module):
    """Two blocks, scaled."""

    def __init__(self, dim):
        super(MyNet, self).__init__()
        self.block = Block(dim)
        self.scale = 1.0 / math.sqrt(dim)

    def forward(self, x):
        return scaled(self.block(x), self.scale)


def get_inputs():
    return [torch.randn(4, HIDDEN)]


def get_init_inputs():
    return [HIDDEN]


print("side effect at import")

if __name__ == "__main__":
    net = MyNet(HIDDEN)
    print("main block ran", net(*get_inputs()).shape)
'''

# No get_init_inputs, and an entry module already called Model next to an unrelated one.
NO_INIT = '''import torch
import torch.nn as nn


class Other(nn.Module):
    def forward(self, x):
        return x


class Model(nn.Module):
    def forward(self, x):
        return torch.relu(x) * 2


def get_inputs():
    return [torch.randn(8, 8)]
'''

SIMPLE = '''import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self, scale):
        super().__init__()
        self.scale = scale

    def forward(self, x):
        return torch.tanh(x) * self.scale


def get_inputs():
    return [torch.randn(2, 3)]


def get_init_inputs():
    return [{scale}]
'''

KERNELS = '''"""Hand-written Triton kernels."""
import torch
import triton
import triton.language as tl


@triton.jit
def add_kernel(x_ptr, y_ptr, out_ptr, n_elements, BLOCK_SIZE: tl.constexpr):
    pid = tl.program_id(axis=0)
    offsets = pid * BLOCK_SIZE + tl.arange(0, BLOCK_SIZE)
    mask = offsets < n_elements
    x = tl.load(x_ptr + offsets, mask=mask)
    y = tl.load(y_ptr + offsets, mask=mask)
    tl.store(out_ptr + offsets, x + y, mask=mask)


def fused_add(x, y):
    out = torch.empty_like(x)
    n_elements = out.numel()
    grid = lambda meta: (triton.cdiv(n_elements, meta["BLOCK_SIZE"]),)
    add_kernel[grid](x, y, out, n_elements, BLOCK_SIZE=1024)
    return out


def add_inplace(x, y):
    add_kernel[(1,)](x, y, x, x.numel(), BLOCK_SIZE=1024)
    return x


@triton.autotune(
    configs=[
        triton.Config({"BLOCK_SIZE": 256}, num_warps=2),
        triton.Config({"BLOCK_SIZE": 1024}, num_warps=4),
    ],
    key=["n_elements"],
)
@triton.jit
def scaled_relu_kernel(x_ptr, out_ptr, alpha, n_elements, BLOCK_SIZE: tl.constexpr):
    pid = tl.program_id(axis=0)
    offsets = pid * BLOCK_SIZE + tl.arange(0, BLOCK_SIZE)
    mask = offsets < n_elements
    x = tl.load(x_ptr + offsets, mask=mask)
    tl.store(out_ptr + offsets, tl.maximum(alpha * x, 0.0), mask=mask)


def scaled_relu(x, alpha=1.0):
    out = torch.empty_like(x)
    n_elements = out.numel()
    grid = lambda meta: (triton.cdiv(n_elements, meta["BLOCK_SIZE"]),)
    scaled_relu_kernel[grid](x, out, alpha, n_elements)
    return out


def unrelated():
    return 1


if __name__ == "__main__":
    a = torch.randn(1000, device="cuda")
    print(fused_add(a, a))
'''

# Runs canonical problems in a fresh interpreter: builds Model(*get_init_inputs()) and calls it on
# get_inputs(); prints one JSON line per problem with the output's shape and what it printed.
RUNNER = r"""
import contextlib, io, json, sys
import torch
for code in json.load(sys.stdin):
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        ns = {"__name__": "kcorpus_problem"}
        exec(compile(code, "<problem>", "exec"), ns)
        model = ns["Model"](*ns["get_init_inputs"]())
        out = model(*ns["get_inputs"]())
    print(json.dumps({"shape": list(out.shape), "printed": printed.getvalue()}))
"""


def run_problems(codes: list[str], cwd: Path) -> list[dict]:
    proc = subprocess.run([sys.executable, "-c", RUNNER], input=json.dumps(codes), cwd=cwd,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return [json.loads(line) for line in proc.stdout.splitlines()]


def config(tmp_path: Path, sources: list[dict], extra: str = "", name: str = "pipeline.yaml"):
    body = "name: test-corpus\nsources:\n" + "".join(f"  - {json.dumps(s)}\n" for s in sources)
    return load_config(write_pipeline(tmp_path / "pipelines" / name, body + extra))


def file_url(path: Path) -> str:
    return path.resolve().as_uri()


@pytest.fixture
def catalog(tmp_path):
    cat = Catalog(tmp_path / "catalog.duckdb")
    yield cat
    cat.close()


def run_mine(catalog: Catalog, cfg, tmp_path: Path) -> dict[str, int]:
    return mine(catalog, cfg, tmp_path / "work")


def rejects_by_path(catalog: Catalog) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for r in catalog.rows("SELECT * FROM rejects ORDER BY path, item"):
        out.setdefault(r["path"], []).append(r)
    return out


# -- sources -----------------------------------------------------------------------------------

def test_git_source_is_cloned_and_recorded_with_its_commit_and_license(tmp_path, catalog):
    repo = tmp_path / "org" / "models"
    sha = make_git_repo(repo, {"LICENSE": MIT, "nets/simple.py": SIMPLE.format(scale=2.0),
                               "nets/mynet.py": MYNET})
    cfg = config(tmp_path, [{"kind": "git", "url": file_url(repo)}])

    counts = run_mine(catalog, cfg, tmp_path)

    [src] = catalog.rows("SELECT * FROM sources")
    assert src["kind"] == "git" and src["url"] == file_url(repo)
    assert src["commit_sha"] == sha
    assert src["repo_name"] == "org/models"
    assert (src["license"], src["license_class"]) == ("MIT", "permissive")
    problems = catalog.rows("SELECT * FROM problems ORDER BY origin_path")
    assert [p["origin_path"] for p in problems] == ["nets/mynet.py", "nets/simple.py"]
    assert all(p["source_id"] == src["source_id"] for p in problems)
    assert counts["sources"] == 1 and counts["problems"] == 2 and counts["files"] == 2


def test_git_source_pinned_to_an_older_commit_mines_that_commit(tmp_path, catalog):
    repo = tmp_path / "pinned"
    first = make_git_repo(repo, {"LICENSE": MIT, "simple.py": SIMPLE.format(scale=2.0)})
    (repo / "simple.py").write_text(SIMPLE.format(scale=3.0))
    (repo / "mynet.py").write_text(MYNET)
    git(repo, "commit", "-qam", "second")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "third")
    assert git(repo, "rev-parse", "HEAD") != first
    cfg = config(tmp_path, [{"kind": "git", "url": file_url(repo), "ref": first}])

    run_mine(catalog, cfg, tmp_path)

    [src] = catalog.rows("SELECT commit_sha FROM sources")
    assert src["commit_sha"] == first
    [p] = catalog.rows("SELECT origin_path, code FROM problems")
    assert p["origin_path"] == "simple.py" and "return [2.0]" in p["code"]


def test_local_source_is_mined_with_a_content_hash_as_commit(tmp_path, catalog):
    d = tmp_path / "local-models"
    (d / "pkg").mkdir(parents=True)
    (d / "LICENSE").write_text(BSD3)
    (d / "pkg" / "simple.py").write_text(SIMPLE.format(scale=2.0))
    cfg = config(tmp_path, [{"kind": "local", "path": "../local-models", "name": "labs/local"}])

    run_mine(catalog, cfg, tmp_path)

    [src] = catalog.rows("SELECT * FROM sources")
    assert src["kind"] == "local" and src["url"] == str(d.resolve())
    assert src["repo_name"] == "labs/local"
    assert re.fullmatch(r"[0-9a-f]{64}", src["commit_sha"])
    assert (src["license"], src["license_class"]) == ("BSD-3-Clause", "permissive")
    [p] = catalog.rows("SELECT origin_path, entry_point, source_id FROM problems")
    assert p == {"origin_path": "pkg/simple.py", "entry_point": "Model",
                 "source_id": src["source_id"]}


def test_a_git_url_that_does_not_exist_is_a_reject_and_other_sources_are_mined(tmp_path, catalog):
    good = tmp_path / "good"
    make_git_repo(good, {"LICENSE": MIT, "simple.py": SIMPLE.format(scale=2.0)})
    local = tmp_path / "dir"
    local.mkdir()
    (local / "LICENSE").write_text(MIT)
    (local / "mynet.py").write_text(MYNET)
    missing = file_url(tmp_path / "no-such-repo")
    cfg = config(tmp_path, [{"kind": "git", "url": missing, "clone_timeout_s": 60},
                            {"kind": "git", "url": file_url(good)},
                            {"kind": "local", "path": str(local)}])

    counts = run_mine(catalog, cfg, tmp_path)

    [rej] = catalog.rows("SELECT * FROM rejects")
    assert rej["reason"] == "fetch_failed" and rej["path"] == missing
    assert "git clone failed" in rej["detail"]
    assert sorted(r["kind"] for r in catalog.rows("SELECT kind FROM sources")) == ["git", "local"]
    assert catalog.count("problems") == 2 and counts["problems"] == 2
    # the failure is recorded once however often the stage runs
    assert run_mine(catalog, cfg, tmp_path)["rejects"] == 0
    assert catalog.count("rejects") == 1


# -- canonical problems ------------------------------------------------------------------------

def test_entry_module_is_canonicalised_to_a_runnable_model(tmp_path, catalog):
    repo = tmp_path / "repo"
    make_git_repo(repo, {"LICENSE": MIT, "mynet.py": MYNET, "no_init.py": NO_INIT})
    cfg = config(tmp_path, [{"kind": "git", "url": file_url(repo)}])

    run_mine(catalog, cfg, tmp_path)

    probs = {p["origin_path"]: p for p in catalog.rows("SELECT * FROM problems")}
    mynet, no_init = probs["mynet.py"], probs["no_init.py"]

    code = mynet["code"]
    assert mynet["entry_point"] == "MyNet"
    lines = MYNET.splitlines()
    assert lines[mynet["line_start"] - 1] == "class MyNet(nn.Module):"
    assert lines[mynet["line_end"] - 1] == "        return scaled(self.block(x), self.scale)"
    assert re.search(r"^class Model\(nn\.Module\):", code, re.M)
    assert "super(Model, self).__init__()" in code
    assert not re.search(r"\bMyNet\b", code)
    # helpers, constants, the helper module and the imports it needs are kept
    for kept in ("HIDDEN = 32", "def scaled(x, s):", "class Block(nn.Module):", "import math",
                 "import torch.nn.functional as F", "def get_inputs():",
                 "def get_init_inputs():"):
        assert kept in code, kept
    # unrelated functions, top-level side effects and the main block are dropped
    for dropped in ("unused_helper", "side effect", "__main__", "main block ran"):
        assert dropped not in code, dropped
    assert mynet["inputs_origin"] == "defined"

    assert no_init["entry_point"] == "Model"
    assert "class Model(nn.Module):" in no_init["code"]
    assert "class Other" not in no_init["code"]
    assert re.search(r"def get_init_inputs\(\):\n    return \[\]", no_init["code"])
    # the module that is not the entry point is recorded as dropped, and why
    [other] = catalog.rows("SELECT * FROM rejects WHERE path = 'no_init.py'")
    assert (other["item"], other["reason"]) == ("Other", "not_entry")
    # a helper module the entry point uses is part of the problem, not a reject
    assert not catalog.rows("SELECT * FROM rejects WHERE path = 'mynet.py'")

    results = run_problems([code, no_init["code"]], tmp_path)
    assert results[0] == {"shape": [4, 32], "printed": ""}
    assert results[1] == {"shape": [8, 8], "printed": ""}


# -- rejects -----------------------------------------------------------------------------------

def test_files_that_cannot_be_mined_are_rejects_with_reasons(tmp_path, catalog):
    outside = tmp_path / "outside.py"
    outside.write_text(SIMPLE.format(scale=5.0))
    repo = tmp_path / "messy"
    repo.mkdir()
    os.symlink(outside, repo / "escape.py")
    big_model = SIMPLE.format(scale=1.0) + "\n# padding\n" * 6000
    files: dict[str, str | bytes] = {
        "LICENSE": MIT,
        "good.py": SIMPLE.format(scale=2.0),
        "no_inputs.py": "import torch.nn as nn\n\n\nclass Lonely(nn.Module):\n"
                        "    def forward(self, x):\n        return x\n",
        "bad_import.py": "import scipy.special\nimport torch\nimport torch.nn as nn\n\n\n"
                         "class Model(nn.Module):\n    def forward(self, x):\n"
                         "        return torch.from_numpy(scipy.special.expit(x.numpy()))\n\n\n"
                         "def get_inputs():\n    return [torch.randn(3)]\n",
        "pkg/relative.py": "import torch\nimport torch.nn as nn\nfrom .layers import helper\n\n\n"
                           "class Model(nn.Module):\n    def forward(self, x):\n"
                           "        return helper(x)\n\n\n"
                           "def get_inputs():\n    return [torch.randn(3)]\n",
        "latin1.py": "# caf\u00e9\nX = 1\n".encode("latin-1"),
        "big.py": big_model,
        "blob.py": b"\x7fELF\x02\x01\x01\x00\x00\x00",
        "py2.py": 'print "hello"\n',
        "deep_parens.py": "X = " + "(" * 2000 + ")" * 2000 + "\n",
        "deep_brackets.py": "X = " + "[" * 2000 + "]" * 2000 + "\n",
        "deep_sum.py": "X = " + " + ".join(["1"] * 5000) + "\n",
        # parses, but is too deep for what comes after parsing
        "deep_model.py": SIMPLE.format(scale="SCALE") + "\n\nSCALE = "
                         + " + ".join(["1"] * 800) + "\n",
        "readme_snippet.py": "x = 1\n",
    }
    make_git_repo(repo, files)
    assert 50_000 < len(big_model) < 100_000
    cfg = config(tmp_path, [{"kind": "git", "url": file_url(repo)}],
                 "mine: {max_file_bytes: 50000}\n")

    counts = run_mine(catalog, cfg, tmp_path)

    rejects = rejects_by_path(catalog)
    reasons = {path: [(r["item"], r["reason"]) for r in rows] for path, rows in rejects.items()}
    assert "no_inputs.py" not in reasons  # no inputs: guessed, tried by the problems stage
    [guess] = catalog.rows("SELECT entry_point, programs FROM guesses "
                           "WHERE origin_path = 'no_inputs.py'")
    assert guess["entry_point"] == "Lonely" and "def get_inputs" in guess["programs"][0]
    assert reasons["bad_import.py"] == [("Model", "import_not_allowed")]
    assert "scipy" in rejects["bad_import.py"][0]["detail"]
    assert reasons["pkg/relative.py"] == [("Model", "import_unresolved")]  # no such file
    assert reasons["latin1.py"] == [("", "not_utf8")]
    assert reasons["big.py"] == [("", "too_large")]
    assert reasons["blob.py"] == [("", "binary")]
    assert reasons["py2.py"] == [("", "syntax_error")]
    assert "line 1" in rejects["py2.py"][0]["detail"]
    assert reasons["escape.py"] == [("", "symlink_outside")]
    for deep in ("deep_parens.py", "deep_brackets.py", "deep_sum.py"):
        assert reasons[deep] in ([("", "too_deep")], [("", "syntax_error")]), deep
    assert reasons["readme_snippet.py"] == [("", "no_modules")]
    assert all(r["stage"] == "mine" for rows in rejects.values() for r in rows)
    [src] = catalog.rows("SELECT source_id FROM sources")
    assert all(r["source_id"] == src["source_id"] for rows in rejects.values() for r in rows)
    # the stage went on: the good file is a problem, and the outside file was never read
    problems = {p["origin_path"]: p["code"] for p in catalog.rows("SELECT * FROM problems")}
    assert "return [2.0]" in problems.pop("good.py")
    # parses, but is too deep to analyse: a reject, or a problem where the interpreter copes
    if "deep_model.py" in reasons:
        assert reasons["deep_model.py"] == [("", "too_deep")]
    else:
        assert "SCALE = 1 + 1" in problems.pop("deep_model.py")
    assert problems == {}
    py_files = [p for p in files if p.endswith(".py")] + ["escape.py"]
    assert counts["files"] == len(py_files)


# -- licenses ----------------------------------------------------------------------------------

def test_copyleft_repository_is_excluded_by_default(tmp_path, catalog):
    repo = tmp_path / "gpl"
    make_git_repo(repo, {"LICENSE": GPL3, "simple.py": SIMPLE.format(scale=2.0)})
    cfg = config(tmp_path, [{"kind": "git", "url": file_url(repo)}])

    run_mine(catalog, cfg, tmp_path)

    [src] = catalog.rows("SELECT * FROM sources")
    assert (src["license"], src["license_class"]) == ("GPL-3.0", "copyleft")
    [rej] = catalog.rows("SELECT * FROM rejects")
    assert rej["reason"] == "license_excluded" and rej["source_id"] == src["source_id"]
    assert "GPL-3.0" in rej["detail"]
    assert catalog.count("problems") == 0 and catalog.count("kernels") == 0


def test_copyleft_repository_is_mined_when_the_policy_allows_it(tmp_path, catalog):
    repo = tmp_path / "gpl"
    make_git_repo(repo, {"LICENSE": GPL3, "simple.py": SIMPLE.format(scale=2.0),
                         "kernels.py": KERNELS})
    strict = config(tmp_path, [{"kind": "git", "url": file_url(repo)}], name="strict.yaml")
    run_mine(catalog, strict, tmp_path)
    assert catalog.count("problems") == 0

    # the same source at the same commit, under a policy that now allows it, is mined
    lenient = config(tmp_path, [{"kind": "git", "url": file_url(repo)}],
                     "license_policy: {allow_copyleft: true}\n", name="lenient.yaml")
    counts = run_mine(catalog, lenient, tmp_path)

    assert counts["problems"] == 1 and counts["kernels"] == 2
    assert catalog.count("sources") == 1
    assert not catalog.rows("SELECT * FROM rejects WHERE reason = 'license_excluded'")
    # and a fresh catalog mines it at once
    with Catalog(tmp_path / "fresh.duckdb") as fresh:
        assert mine(fresh, lenient, tmp_path / "work2")["problems"] == 1


def test_repository_without_a_license_needs_allow_unknown(tmp_path, catalog):
    repo = tmp_path / "nolicense"
    make_git_repo(repo, {"simple.py": SIMPLE.format(scale=2.0)})
    cfg = config(tmp_path, [{"kind": "git", "url": file_url(repo)}], name="default.yaml")

    run_mine(catalog, cfg, tmp_path)

    [src] = catalog.rows("SELECT license, license_class FROM sources")
    assert src == {"license": "none", "license_class": "none"}
    assert [r["reason"] for r in catalog.rows("SELECT reason FROM rejects")] == ["license_excluded"]
    assert catalog.count("problems") == 0

    with Catalog(tmp_path / "unknown-ok.duckdb") as other:
        allow = config(tmp_path, [{"kind": "git", "url": file_url(repo)}],
                       "license_policy: {allow_unknown: true}\n", name="unknown.yaml")
        mine(other, allow, tmp_path / "work2")
        assert other.count("problems") == 1
        assert not other.rows("SELECT * FROM rejects")


def test_license_override_in_the_source_wins_over_detection(tmp_path, catalog):
    repo = tmp_path / "nolicense"
    make_git_repo(repo, {"simple.py": SIMPLE.format(scale=2.0)})
    cfg = config(tmp_path, [{"kind": "git", "url": file_url(repo), "license": "Apache-2.0"}])

    run_mine(catalog, cfg, tmp_path)

    [src] = catalog.rows("SELECT license, license_class FROM sources")
    assert src == {"license": "Apache-2.0", "license_class": "permissive"}
    assert catalog.count("problems") == 1


@pytest.mark.parametrize("text, spdx", [(MIT, "MIT"), (BSD3, "BSD-3-Clause"),
                                        (GPL3, "GPL-3.0"), (GPL2, "GPL-2.0"),
                                        (MPL2, "MPL-2.0"), (CC0, "CC0-1.0"),
                                        ("All rights reserved.\n", "unknown")])
def test_license_file_is_identified_by_its_own_title(tmp_path, text, spdx):
    (tmp_path / "LICENSE").write_text(text)
    assert detect_license(tmp_path) == spdx


# -- Triton kernels ----------------------------------------------------------------------------

def test_triton_kernels_are_recorded_with_their_launchers(tmp_path, catalog):
    repo = tmp_path / "kern"
    make_git_repo(repo, {"LICENSE": MIT, "ops/kernels.py": KERNELS})
    cfg = config(tmp_path, [{"kind": "git", "url": file_url(repo)}])

    counts = run_mine(catalog, cfg, tmp_path)

    kernels = {k["name"]: k for k in catalog.rows("SELECT * FROM kernels")}
    assert set(kernels) == {"add_kernel", "scaled_relu_kernel"} and counts["kernels"] == 2
    add, auto = kernels["add_kernel"], kernels["scaled_relu_kernel"]
    assert add["decorators"] == ["jit"]
    assert sorted(add["launchers"]) == ["add_inplace", "fused_add"]
    assert auto["decorators"] == ["autotune", "jit"]
    assert auto["launchers"] == ["scaled_relu"]
    for k in (add, auto):
        assert k["origin_path"] == "ops/kernels.py"
        assert "import triton.language as tl" in k["code"]
        assert "unrelated" not in k["code"] and "__main__" not in k["code"]
    assert "@triton.jit\ndef add_kernel(" in add["code"]
    assert "def fused_add(x, y):" in add["code"] and "def add_inplace(x, y):" in add["code"]
    assert "scaled_relu" not in add["code"]
    assert re.search(r"@triton\.autotune\(\n(.*\n)*@triton\.jit\ndef scaled_relu_kernel\(",
                     auto["code"])
    assert "def scaled_relu(x, alpha=1.0):" in auto["code"] and "add_kernel" not in auto["code"]
    lines = KERNELS.splitlines()
    assert lines[auto["line_start"] - 1] == "@triton.autotune("
    assert lines[add["line_start"] - 1] == "@triton.jit"
    # a file of kernels and no module is neither a problem nor a reject
    assert catalog.count("problems") == 0 and catalog.count("rejects") == 0


# -- idempotency -------------------------------------------------------------------------------

def test_mining_twice_adds_nothing_and_a_new_commit_adds_a_source(tmp_path, catalog):
    repo = tmp_path / "evolving"
    make_git_repo(repo, {"LICENSE": MIT, "simple.py": SIMPLE.format(scale=2.0),
                         "mynet.py": MYNET, "ops/kernels.py": KERNELS, "junk.py": "x = (\n"})
    cfg = config(tmp_path, [{"kind": "git", "url": file_url(repo)}])

    first = run_mine(catalog, cfg, tmp_path)
    before = catalog.counts()
    again = run_mine(catalog, cfg, tmp_path)

    assert first["problems"] == 2 and first["kernels"] == 2 and first["rejects"] == 1
    assert again == {"sources": 0, "files": 0, "problems": 0, "guesses": 0, "kernels": 0,
                     "rejects": 0}
    assert catalog.counts() == before

    (repo / "simple.py").write_text(SIMPLE.format(scale=7.0))
    git(repo, "commit", "-qam", "change the scale")
    new_sha = git(repo, "rev-parse", "HEAD")
    third = run_mine(catalog, cfg, tmp_path)

    shas = {r["commit_sha"] for r in catalog.rows("SELECT commit_sha FROM sources")}
    assert new_sha in shas and len(shas) == 2
    assert third["sources"] == 1
    # only the changed module is a new problem; unchanged code is one row whatever its commit
    assert third["problems"] == 1 and third["kernels"] == 0
    assert catalog.count("problems") == before["problems"] + 1
    [changed] = catalog.rows("SELECT p.code FROM problems p JOIN sources s USING (source_id) "
                             "WHERE s.commit_sha = ?", [new_sha])
    assert "return [7.0]" in changed["code"]


def test_local_source_is_mined_again_only_when_its_files_change(tmp_path, catalog):
    d = tmp_path / "dir"
    d.mkdir()
    (d / "LICENSE").write_text(MIT)
    (d / "simple.py").write_text(SIMPLE.format(scale=2.0))
    cfg = config(tmp_path, [{"kind": "local", "path": str(d)}])

    run_mine(catalog, cfg, tmp_path)
    assert run_mine(catalog, cfg, tmp_path)["sources"] == 0

    (d / "simple.py").write_text(SIMPLE.format(scale=4.0))
    counts = run_mine(catalog, cfg, tmp_path)
    assert counts["sources"] == 1 and counts["problems"] == 1
    assert catalog.count("sources") == 2 and catalog.count("problems") == 2


def test_a_large_tree_mined_by_a_pool_gives_the_rows_of_one_process(tmp_path):
    """From POOL_MIN_FILES files up, files are spread over worker processes; the rows, and
    their order, are those of mining them one by one (smaller trees stay in this process)."""
    from kcorpus.mine.per_file import POOL_MIN_FILES, mine_tree

    for i in range(POOL_MIN_FILES + 10):
        (tmp_path / f"m{i:03d}.py").write_text(
            "import torch\nimport torch.nn as nn\n\n\nclass Model(nn.Module):\n"
            f"    def forward(self, x):\n        return x * {i} + 1\n\n\n"
            "def get_inputs():\n    return [torch.randn(2, 8)]\n")

    def rows(workers: int) -> list:
        return [(r.path, [p["problem_id"] for p in r.problems])
                for r in mine_tree(tmp_path, "s", 1 << 20, {"torch"}, workers)]

    serial = rows(1)
    assert len(serial) == POOL_MIN_FILES + 10 and all(ids for _, ids in serial)
    assert rows(2) == serial
