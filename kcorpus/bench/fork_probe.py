"""Which imports may a fork server do before forking CUDA children? (GPU nodes, stdlib+torch)

For each module: a fresh interpreter imports torch, triton and the module, forks, and the child
initialises CUDA and runs one op. Prints one line per module: ok, or the child's error.
"""

import subprocess
import sys

MODULES = ["torch._dynamo", "torch._inductor", "torch._inductor.codecache",
           "torch._inductor.compile_fx", "torch._inductor.async_compile", "triton.compiler.compiler"]

CHILD = """
import os, sys, importlib, torch, triton
importlib.import_module(sys.argv[1])
assert not torch.cuda.is_initialized()
pid = os.fork()
if pid == 0:
    try:
        torch.ones(4, device="cuda").sum().item()
        os._exit(0)
    except Exception as e:
        print(type(e).__name__, str(e)[:200], flush=True)
        os._exit(1)
_, status = os.waitpid(pid, 0)
print("ok" if status == 0 else "fail")
"""

for m in MODULES:
    out = subprocess.run([sys.executable, "-c", CHILD, m], capture_output=True, text=True, timeout=120)
    print(f"{m:36s} {(out.stdout.strip() or out.stderr.strip()[-200:]).replace(chr(10), ' | ')}")
