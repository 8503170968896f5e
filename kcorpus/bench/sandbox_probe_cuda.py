"""On a GPU node: which isolation step a CUDA context survives, one forked child per variant
(the parent never touches CUDA). Run: python3 -m kcorpus.bench.sandbox_probe_cuda"""

from __future__ import annotations

import os
import sys

from kcorpus.verify import isolation


def _variants() -> dict:
    base_read = isolation._existing(isolation._interpreter_roots() + isolation.SYSTEM_READ)
    pid = "/proc/self"
    work = ["/tmp", "/dev"]
    out = {"none": None, "landlock": (base_read, work)}
    for extra in (pid, "/proc", "/sys", "/run", "/var", "/root", "/usr", "/etc", "/opt"):
        out[f"read_all+write {extra}"] = (["/"], work + [extra])
    out["read_all+write all"] = (["/"], ["/"])
    return out


def _child(variant) -> None:
    import torch

    if variant == "netns":
        isolation._unshare_network()
    elif variant is not None:
        os.environ["HOME"] = "/tmp"
        read, write = variant
        read = read + [f"/proc/{os.getpid()}"]
        write = [f"/proc/{os.getpid()}" if w == "/proc/self" else w for w in write]
        ok = isolation._landlock(isolation._existing(read), isolation._existing(write))
        if not ok:
            print("landlock not applied", flush=True)
    x = torch.ones(4, device="cuda")
    print("ok", float((x * 2).sum()), flush=True)


def main() -> int:
    for name, variant in _variants().items():
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            os.dup2(w, 1)
            os.dup2(w, 2)
            try:
                _child(variant)
            except BaseException as e:  # noqa: BLE001
                print("FAIL", type(e).__name__, str(e)[:200], flush=True)
            os._exit(0)
        os.close(w)
        out = b""
        while chunk := os.read(r, 65536):
            out += chunk
        os.waitpid(pid, 0)
        print(f"{name:28s} {out.decode(errors='replace').strip().splitlines()[-1:]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
