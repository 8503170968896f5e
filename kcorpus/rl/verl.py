"""verl's custom reward function, scored by the reward service (`kcorpus serve-verifier`).

In verl's config: `custom_reward_function: {path: <site-packages>/kcorpus/rl/verl.py, name:
compute_score}`, with KCORPUS_VERIFIER_URL (default http://127.0.0.1:8765) and, when the
service has `--token-env`, KCORPUS_VERIFIER_TOKEN set where the reward workers run. The rows of
`kcorpus export verl` carry the reference program as `ground_truth`.
"""

from __future__ import annotations

import os

import httpx


def compute_score(data_source: str, solution_str: str, ground_truth: str,
                  extra_info: dict | None = None) -> float:
    """The service's reward for `solution_str` (a completion) against `ground_truth` (the
    reference program, or a problem_id of the release the service was started with)."""
    url = os.environ.get("KCORPUS_VERIFIER_URL", "http://127.0.0.1:8765").rstrip("/")
    token = os.environ.get("KCORPUS_VERIFIER_TOKEN")
    key = "problem_code" if "class Model" in ground_truth else "problem_id"
    r = httpx.post(f"{url}/v1/verify", json={key: ground_truth, "candidate": solution_str},
                   headers={"Authorization": f"Bearer {token}"} if token else {}, timeout=900)
    r.raise_for_status()
    return float(r.json()["reward"])
