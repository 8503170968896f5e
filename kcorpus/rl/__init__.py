"""The verifier as an RL reward: shaping (reward.py), a long-lived sandbox (pool_client.py) and
the HTTP service (service.py)."""
