"""The library knows no Prefect (DESIGN.md): what is Prefect's lives in flows/."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT


def test_nothing_under_kcorpus_names_prefect():
    hits = [f"{p.relative_to(ROOT)}:{i}" for p in sorted((ROOT / "kcorpus").rglob("*"))
            if p.is_file() and p.suffix != ".pyc"
            for i, line in enumerate(p.read_text(errors="replace").splitlines(), 1)
            if "prefect" in line]
    assert hits == []


def test_importing_the_stages_loads_no_prefect():
    code = ("import sys, kcorpus.stages, kcorpus.cli, kcorpus.verify.stage; "
            "print(any(m == 'prefect' or m.startswith('prefect.') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.stdout.strip() == "False", out.stderr[-2000:]
