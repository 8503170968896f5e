"""`python -m kcorpus.wheelhouse OUT`: the wheels a GPU box without network needs to run kcorpus.

A GPU machine usually has torch, triton and the scientific stack but not DuckDB, Prefect or
pydantic, and often no network. This downloads (here, where PyPI is reachable) kcorpus's runtime
requirements with everything they need, for the target's Python and platform, pinned to the
versions installed in this environment wherever it has them (the versions the tests ran with),
then leaves out:

- what the target already has (`--have FILE`: one distribution name per line, `#` comments;
  on the box itself, `python3 -m pip list --format=freeze | cut -d= -f1` writes one);
- what a GPU rebuild never imports (`DROP`: `datasets` for Hub evaluation sets, `gguf` for the
  SmolLM2 backend, Prefect's notification and Docker integrations).

kcorpus's own wheel is built beside them. With `--part-mb N` the wheels are split into folders
`part1`, `part2`... of at most N MB each (a transfer limit per copy), kcorpus's wheel in the
last. On the box, one step installs them all:

    python3 -m pip install --no-index --no-deps --target SITE OUT/*.whl OUT/part*/*.whl
    export PYTHONPATH=SITE

(`--no-deps`: the resolution was done here). With `--pack`, the wheels are installed here
instead, for the target's Python and platform, into one folder packed as `OUT/site.tar.xz`
(about two thirds of the wheels' size: xz over the whole tree beats each wheel's zip), and the
wheels are removed; on the box, `tar xJf OUT/site.tar.xz -C SITE` is the whole install. The
last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

DROP = {"datasets", "gguf", "apprise", "docker"}
PLATFORMS = [f"manylinux_2_{n}_x86_64" for n in (17, 24, 27, 28, 31, 34, 35)] + [
    "manylinux2014_x86_64", "manylinux1_x86_64"]
ROOT = Path(__file__).resolve().parent.parent


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def wheel_name(path: Path) -> str:
    return norm(path.name.split("-")[0])


def runtime_requirements() -> list[str]:
    """kcorpus's own requirements (no extras), as its installed metadata lists them."""
    reqs = md.requires("kcorpus") or []
    return [r for r in reqs if "extra ==" not in r]


def constraints() -> str:
    """`name==version` for every distribution installed here (the tested versions)."""
    pins = {norm(d.metadata["Name"]): d.version for d in md.distributions() if d.metadata["Name"]}
    pins.pop("kcorpus", None)
    return "".join(f"{n}=={v}\n" for n, v in sorted(pins.items()) if "+" not in v)


def download(out: Path, python: str, requirements: list[str], skip: set[str]) -> list[Path]:
    wanted = [r for r in requirements if norm(re.split(r"[<>=!~ ;\[]", r)[0]) not in skip]
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        f.write(constraints())
    cmd = [sys.executable, "-m", "pip", "download", "-q", "--only-binary=:all:",
           "--python-version", python, "--implementation", "cp", "-c", f.name, "-d", str(out),
           *[a for p in PLATFORMS for a in ("--platform", p)], "--platform", "any", *wanted]
    subprocess.run(cmd, check=True)
    return sorted(out.glob("*.whl"))


def build_own(out: Path) -> Path:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "-w", str(out), str(ROOT)], check=True)
    return next(out.glob("kcorpus-*.whl"))


def split(wheels: list[Path], own: Path, out: Path, part_mb: float) -> dict[str, list[Path]]:
    """Folders of at most `part_mb` MB, biggest wheels first; kcorpus's own in the last."""
    parts: list[list[Path]] = [[]]
    sizes = [0.0]
    for w in sorted(wheels, key=lambda p: -p.stat().st_size):
        mb = w.stat().st_size / 2**20
        fit = next((i for i, s in enumerate(sizes) if s + mb <= part_mb), None)
        if fit is None:
            parts.append([])
            sizes.append(0.0)
            fit = len(parts) - 1
        parts[fit].append(w)
        sizes[fit] += mb
    parts[-1].append(own)
    placed = {}
    for i, files in enumerate(parts, 1):
        folder = out / f"part{i}"
        folder.mkdir(parents=True, exist_ok=True)
        placed[folder.name] = [Path(shutil.move(str(f), folder / f.name)) for f in files]
    return placed


def pack(wheels: list[Path], out: Path, python: str) -> Path:
    """The wheels installed for the target into one tree, packed as `out/site.tar.xz`."""
    with tempfile.TemporaryDirectory(prefix="kcorpus-site-") as site:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps",
                        "--no-compile", "--only-binary=:all:", "--python-version", python,
                        "--implementation", "cp", "--target", site,
                        *[a for p in PLATFORMS for a in ("--platform", p)],
                        *map(str, wheels)], check=True)
        packed = out / "site.tar.xz"
        with tarfile.open(packed, "w:xz", preset=6) as tar:
            tar.add(site, arcname=".")
    for w in wheels:
        w.unlink()
    return packed


def _have(path: Path | None) -> set[str]:
    if path is None:
        return set()
    lines = (ln.split("#")[0].strip() for ln in path.read_text().splitlines())
    return {norm(ln.split("==")[0]) for ln in lines if ln}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("out", type=Path)
    p.add_argument("--have", type=Path, help="distribution names the target already has")
    p.add_argument("--python", default="3.12", help="the target's Python version")
    p.add_argument("--part-mb", type=float, default=0, help="split into folders of this size")
    p.add_argument("--pack", action="store_true", help="install them into site.tar.xz instead")
    a = p.parse_args(argv)
    if a.have is not None and not a.have.is_file():
        print(f"error: {a.have}: no such file", file=sys.stderr)
        return 2
    have = _have(a.have) | {"torch", "triton"}
    a.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="kcorpus-wheels-") as tmp:
        got = download(Path(tmp), a.python, runtime_requirements(), have | DROP)
        kept = [w for w in got if wheel_name(w) not in have | DROP]
        staged = [Path(shutil.copy2(w, a.out / w.name)) for w in kept]
    own = build_own(a.out)
    if a.pack:
        packed = pack([*staged, own], a.out, a.python)
        print(json.dumps({"wheels": len(staged) + 1, "site": str(packed), "python": a.python,
                          "mb": round(packed.stat().st_size / 2**20, 1)}))
        return 0
    parts = split(staged, own, a.out, a.part_mb) if a.part_mb else {".": [*staged, own]}
    sizes = {k: round(sum(f.stat().st_size for f in v) / 2**20, 1) for k, v in parts.items()}
    for name, files in parts.items():
        print(f"{name:<7} {len(files):>3} wheels {sizes[name]:>6} MB")
    print(json.dumps({"wheels": sum(len(v) for v in parts.values()), "parts": sizes,
                      "mb": round(sum(sizes.values()), 1), "python": a.python,
                      "left_out": sorted(have & {wheel_name(w) for w in got}) + sorted(DROP)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
