"""How every bench ends: one `key  value` line per result, then the result as one JSON line."""

from __future__ import annotations

import json


def print_result(result: dict) -> None:
    width = max(len(k) for k in result)
    for k, v in result.items():
        print(f"{k:<{width}}  {v}")
    print(json.dumps(result))
