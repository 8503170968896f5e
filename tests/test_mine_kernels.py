"""Mined Triton kernels: each JIT function kept with its closure, flagged standalone or needs_repo.

A real git repository laid out like FlagGems (a package whose kernels import the package's own
wrappers, a kernel file that imports what the allowlist refuses) is mined into a real catalog;
the standalone flag comes from a real sandboxed child that loads each closure under Triton's
interpreter. Nothing mined runs in this process: a marker file its module code would write
stays absent.
"""

from __future__ import annotations

from tests.conftest import make_git_repo
from tests.test_mine import MIT, config, file_url, run_mine

HELPERS = '''import triton
import triton.language as tl


@triton.jit
def program_id(axis):
    return tl.program_id(axis).to(tl.int64)
'''

LIBENTRY = '''import functools
import concurrent.futures


def libentry():
    def wrap(fn):
        return functools.wraps(fn)(fn)
    return wrap
'''

# a file that, imported whole, would need `concurrent` and `packaging` (neither allowed)
OPS = '''import concurrent.futures
import packaging.version
import torch
import triton
import triton.language as tl

from gems.utils import libentry
from gems.utils import helpers as tle

SCALE: tl.constexpr = 2.0
POOL = concurrent.futures.ThreadPoolExecutor(1)
PKG = packaging.version.parse("1.0")


@triton.jit
def _twice(x):
    return x * SCALE


@libentry()
@triton.heuristics({"EVEN": lambda args: args["n"] % args["BLOCK"] == 0})
@triton.jit
def scale_kernel(x_ptr, out_ptr, n, BLOCK: tl.constexpr, EVEN: tl.constexpr):
    pid = tle.program_id(0)
    offs = pid * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    tl.store(out_ptr + offs, _twice(tl.load(x_ptr + offs, mask=mask)), mask=mask)


def scale(x):
    out = torch.empty_like(x)
    POOL.submit(print, PKG)
    scale_kernel[(triton.cdiv(x.numel(), 64),)](x, out, x.numel(), BLOCK=64)
    return out


@triton.jit
def versioned_kernel(x_ptr, V: tl.constexpr = PKG):
    tl.store(x_ptr, V)


MARK = open("{marker}", "w")


@triton.jit
def side_effect_kernel(x_ptr, M: tl.constexpr = MARK):
    tl.store(x_ptr, 1)
'''

# names that resolve in the file's AST but fail when loaded: `tl.no_such` at module level
BROKEN = '''import triton
import triton.language as tl

BAD = tl.no_such_constant


@triton.jit
def broken_kernel(x_ptr):
    tl.store(x_ptr, BAD)
'''


def test_every_jit_function_is_kept_with_its_closure_and_flag(tmp_path, catalog):
    repo, marker = tmp_path / "gems", tmp_path / "outside" / "ran"
    marker.parent.mkdir()
    make_git_repo(repo, {"LICENSE": MIT, "src/gems/__init__.py": "",
                         "src/gems/utils/__init__.py": "from .libentry import libentry\n",
                         "src/gems/utils/libentry.py": LIBENTRY,
                         "src/gems/utils/helpers.py": HELPERS,
                         "src/gems/ops/scale.py": OPS.replace("{marker}", str(marker)),
                         "src/gems/ops/broken.py": BROKEN})
    cfg = config(tmp_path, [{"kind": "git", "url": file_url(repo)}])

    counts = run_mine(catalog, cfg, tmp_path)

    rows = catalog.rows("SELECT k.*, s.license, s.commit_sha FROM kernels k "
                        "JOIN sources s USING (source_id)")
    kernels = {k["name"]: k for k in rows}
    # every JIT function of the repository, helpers included
    assert set(kernels) == {"program_id", "_twice", "scale_kernel", "versioned_kernel",
                            "side_effect_kernel", "broken_kernel"}
    assert counts["kernels"] == 6
    k = kernels["scale_kernel"]
    assert k["standalone"] is True and k["needs"] == ""
    assert k["wrappers"] == ["libentry"] and k["decorators"] == ["heuristics", "jit"]
    assert "@triton.heuristics(" in k["code"] and "libentry" not in k["code"]
    # the closure: the JIT helper, the constant, the helper module's JIT function (inlined)
    assert "def _twice(x):" in k["code"] and "SCALE: tl.constexpr = 2.0" in k["code"]
    assert "def program_id(axis):" in k["code"]
    assert "concurrent" not in k["code"] and "packaging" not in k["code"]
    # the launcher needs what the sandbox refuses: kept as the launch site, not in the code
    assert k["launchers"] == ["scale"] and "def scale(x):" in k["launch_site"]
    assert (k["origin_path"], k["license"]) == ("src/gems/ops/scale.py", "MIT")
    assert OPS.splitlines()[k["line_start"] - 1] == "@triton.heuristics({\"EVEN\": lambda args: " \
        "args[\"n\"] % args[\"BLOCK\"] == 0})"
    assert len(k["commit_sha"]) == 40
    # needs_repo, each with why: an import the policy refuses, a name that fails to load
    v = kernels["versioned_kernel"]
    assert v["standalone"] is False and "packaging" in v["needs"]
    assert "PKG = packaging.version.parse" in v["code"]
    b = kernels["broken_kernel"]
    assert b["standalone"] is False and b["needs"].startswith("kernel_check: ")
    assert "no_such_constant" in b["needs"]
    # module code that writes outside ran only in the sandbox, which refused the write
    s = kernels["side_effect_kernel"]
    assert s["standalone"] is False and "Permission" in s["needs"], s["needs"]
    assert not marker.exists()


def test_jit_functions_of_other_compilers_are_not_triton_kernels(tmp_path):
    """CUTLASS's CuTe DSL (`@cute.jit`, as Liger-Kernel's cutedsl ops use it) and numba's `jit`
    share the decorator's name; only Triton's are kernels (aliases and `from triton import jit`
    included)."""
    from kcorpus.mine.per_file import mine_tree

    files = {
        "cute_ops.py": "import cutlass.cute as cute\n\n\n@cute.jit\ndef host(x):\n    return x\n",
        "numba_ops.py": "from numba import jit\n\n\n@jit\ndef f(x):\n    return x\n",
        "tr_ops.py": ("import triton as tr\nfrom triton import jit\nimport triton.language as tl\n\n\n"
                      "@tr.jit\ndef a(X):\n    tl.store(X, 1)\n\n\n"
                      "@jit\ndef b(X):\n    tl.store(X, 2)\n"),
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    kernels = {r.path: [k["name"] for k in r.kernels]
               for r in mine_tree(tmp_path, "s", 1 << 20, {"torch", "triton"}, 1)}
    assert kernels == {"cute_ops.py": [], "numba_ops.py": [], "tr_ops.py": ["a", "b"]}
