"""Verification. `worker.py` and the modules it imports (codes, static, checks) use only the
standard library, torch and triton, so GPU nodes need nothing else; keep this file empty."""
