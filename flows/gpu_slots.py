"""The GPU's turns as a Prefect global concurrency limit (installed into kcorpus.verify.gpu_slots
when the flows are imported).

The limit is named for the GPU's UUID (`kcorpus-gpu-<UUID>`) and created on first use with
`verify.gpu_slots` slots (1: exclusive); a limit an operator already set on the server (`prefect
gcl update`) is left as it is. Two rebuilds on one machine, a rebuild and a one-off
verification, or Ray workers on several nodes reporting to one server then never time kernels on
the same GPU at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from kcorpus.verify import gpu_slots


@contextmanager
def prefect_slots(names: list[str], slots: int = 1,
                  timeout_s: float | None = None) -> Iterator[None]:
    """Hold one slot of each named Prefect limit for the duration (creating missing limits)."""
    from prefect.concurrency.sync import concurrency

    ensure_limits(names, slots)
    with concurrency(names, occupy=1, timeout_seconds=timeout_s, strict=True):
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


def install() -> None:
    gpu_slots.install(prefect_slots)
