"""How every bench ends: one `key  value` line per result, then the result as one JSON line."""

from __future__ import annotations

import json
import resource


def print_result(result: dict) -> None:
    width = max(len(k) for k in result)
    for k, v in result.items():
        print(f"{k:<{width}}  {v}")
    print(json.dumps(result))


def peak_rss_mb() -> float:
    """The largest resident set so far of this process or any child it waited for, in MB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return round(max(own, kids) / 1024, 1)  # Linux reports KiB
