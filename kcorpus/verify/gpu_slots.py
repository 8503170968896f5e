"""A Prefect global concurrency limit per GPU, so that flows sharing a GPU take turns on it.

Every unit of work that runs candidates or references on a GPU (a verify stage's fork server, a
Ray verification batch, the Inductor backend's worker) holds one slot of the limit named for
that GPU's UUID while it runs. Two rebuilds on one machine, or a rebuild and a one-off
verification, then never time kernels on the same GPU at once, whichever process or Ray node
they run in. The limit is created on first use with `verify.gpu_slots` slots (1: exclusive);
a limit an operator already set on the server (`prefect gcl update`) is left as it is.
On the CPU nothing is held: the interpreter's results carry no timing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

PREFIX = "kcorpus-gpu-"


def limit_names(device: str) -> list[str]:
    """The limit of the GPU this process would use (CUDA device 0 of those visible to it)."""
    if device != "cuda":
        return []
    import torch

    if not torch.cuda.is_available():
        return []
    return [PREFIX + str(torch.cuda.get_device_properties(0).uuid)]


@contextmanager
def hold(names: list[str], slots: int = 1, timeout_s: float | None = None) -> Iterator[None]:
    """Hold one slot of each named limit for the duration (creating missing limits)."""
    if not names:
        yield
        return
    from prefect.concurrency.sync import concurrency

    ensure_limits(names, slots)
    with concurrency(names, occupy=1, timeout_seconds=timeout_s, strict=True):
        yield


@contextmanager
def hold_gpu(device: str, slots: int = 1) -> Iterator[None]:
    with hold(limit_names(device), slots):
        yield


def ensure_limits(names: list[str], slots: int) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        for name in names:
            try:
                client.read_global_concurrency_limit_by_name(name)
            except ObjectNotFound:
                try:
                    client.create_global_concurrency_limit(
                        GlobalConcurrencyLimitCreate(name=name, limit=slots))
                except Exception as e:
                    # Another holder created it first: a 409, or a 500 where the server's
                    # SQLite reports the unique name. Only a limit still missing is an error.
                    try:
                        client.read_global_concurrency_limit_by_name(name)
                    except ObjectNotFound:
                        raise e from None
