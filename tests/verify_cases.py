"""Loading the verifier's file-based test sets: `tests/data/verify_cases/` (candidates written
for the tests, cheats and awkward honest ones) and `tests/data/realworld/` (kernels copied from
public repositories). Each candidate file opens with `# key: value` header lines; `expect` is
PASS or failure codes separated by `|`, `device` is `any` or `gpu`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DATA = Path(__file__).parent / "data"
CASES = DATA / "verify_cases"
REALWORLD = DATA / "realworld"


@dataclass(frozen=True)
class Case:
    name: str
    problem: str
    candidate: str
    expect: frozenset[str]  # "" for PASS
    device: str
    kind: str
    lenient: bool = False  # torch ops allowed (recorded): upstream code with a torch epilogue

    @property
    def honest(self) -> bool:
        return self.expect == frozenset({""})

    def job(self, device: str, seed: int = 11) -> dict:
        return {"id": self.name, "problem_code": self.problem, "candidate_code": self.candidate,
                "device": device, "trials": 5, "seed": seed, "lenient": self.lenient}


def header(code: str) -> dict[str, str]:
    out = {}
    for line in code.splitlines():
        if not line.startswith("#"):
            break
        key, sep, value = line[1:].partition(":")
        if sep and key.strip().isidentifier():
            out.setdefault(key.strip().lower(), value.split("(")[0].strip())
    return out


def _expect(value: str) -> frozenset[str]:
    return frozenset("" if v.strip() == "PASS" else v.strip() for v in value.split("|"))


def written_cases() -> list[Case]:
    problems = {p.stem: p.read_text() for p in (CASES / "problems").glob("*.py")}
    out = []
    for path in sorted(CASES.glob("*.py")):
        code = path.read_text()
        h = header(code)
        out.append(Case(path.stem, problems[h["problem"]], code, _expect(h["expect"]),
                        h.get("device", "any"), h.get("class", "")))
    return out


def realworld_cases() -> list[Case]:
    out = []
    for d in sorted(p for p in REALWORLD.iterdir() if (p / "candidate.py").exists()):
        code = (d / "candidate.py").read_text()
        h = header(code)
        out.append(Case(d.name, (d / "problem.py").read_text(), code, _expect(h.get("expect", "PASS")),
                        h.get("device", "any"), "realworld", h.get("lenient", "") == "true"))
    return out
