"""Verification across a Ray cluster, through prefect-ray's RayTaskRunner: one task per GPU.
Importing it registers `verify.runner: ray` with the verify stage (stage.RUNNERS).

Pending jobs are cut into batches of `verify.ray.batch`. Each batch is a Prefect task that Ray
places where a GPU is free (`num_gpus=1`, so a cluster of G GPUs runs G batches at once; on the
CPU each task asks for `verify.ray.cpus_per_task` CPUs instead). Inside the task the batch goes
to the same sandboxed fork server as a local run, with `verify.workers` candidates at a time:
the Ray worker process never runs candidate code itself. Ray sets CUDA_VISIBLE_DEVICES for the
task, the sandbox passes it on, and the task holds the Prefect concurrency limit of that GPU
(gpu_slots.py) while it runs.

The workers report their task runs to the flow's Prefect API (its PREFECT_API_URL, passed in
Ray's runtime environment): a cluster beyond this machine needs a Prefect server its nodes can
reach, not the temporary one a lone process starts. Verdicts come back to the flow's process as
batches finish, in completion order; only that process writes the catalog (one writer). A batch
lost with its node is simply not yielded: its candidates stay pending for the next rebuild, as
after a local crash.

Batch size b trades balance against the fork server's start (imports of torch and triton,
about 3 s) paid once per batch. With N jobs of time t on G GPUs the run takes about N t / G,
and the last wave can leave G - 1 GPUs idle for up to b t: an idle share of (G - 1) b / N,
so b <= N / (5 G) keeps it under a fifth.
"""

from __future__ import annotations

from collections.abc import Iterator

from prefect import task
from prefect.cache_policies import NO_CACHE

from flows import gpu_slots as prefect_slots
from kcorpus.verify import batch, gpu_slots, sandbox, stage

prefect_slots.install()  # a Ray worker imports this module to run a batch: its turns are Prefect's


@task(name="kcorpus-verify-batch", cache_policy=NO_CACHE)
def verify_batch(jobs: list[dict], limits: sandbox.Limits, device: str, slots: int) -> dict:
    with gpu_slots.hold_gpu(device, slots):
        return batch.run_batch(jobs, limits, device)


def run_jobs(jobs: list[dict], limits: sandbox.Limits, device: str, cfg) -> Iterator[dict]:
    """Verdicts for `jobs` from a Ray cluster (`cfg` is a config.VerifyConfig)."""
    settings, slots = cfg.ray, cfg.gpu_slots
    from prefect.futures import as_completed

    try:
        from prefect_ray import RayTaskRunner
        from prefect_ray.context import remote_options
    except ImportError as e:
        raise RuntimeError("verify.runner is 'ray' but prefect-ray is not installed: "
                           "pip install 'kcorpus[ray]'") from e

    runner = RayTaskRunner(address=settings.address, init_kwargs=_init_kwargs(settings))
    resources = {"num_gpus": 1} if device == "cuda" else {"num_cpus": settings.cpus_per_task}
    with runner, remote_options(**resources):
        futures = [runner.submit(verify_batch, {"jobs": chunk, "limits": limits,
                                                "device": device, "slots": slots})
                   for chunk in batch.chunks(jobs, settings.batch)]
        for future in as_completed(futures):
            try:
                done = future.result()
            except Exception as e:  # the batch's worker or node died
                print(f"a verify batch failed ({type(e).__name__}: {e}); "
                      "its candidates stay pending for the next rebuild")
                continue
            print(f"Ray worker pid {done['pid']} on {done['host']} (GPUs [{done['gpus']}]) "
                  f"verified {len(done['verdicts'])} candidates in {done['seconds']} s")
            yield from done["verdicts"]


def _init_kwargs(settings) -> dict:
    """ray.init's arguments; the workers report their task runs to this flow's Prefect API."""
    from prefect.client.orchestration import get_client

    kwargs = dict(settings.init_kwargs)
    runtime_env = dict(kwargs.get("runtime_env") or {})
    env_vars = dict(runtime_env.get("env_vars") or {})
    if "PREFECT_API_URL" not in env_vars:  # else each worker would start a temporary server
        with get_client(sync_client=True) as client:
            env_vars["PREFECT_API_URL"] = str(client.api_url).rstrip("/")
    kwargs["runtime_env"] = {**runtime_env, "env_vars": env_vars}
    return kwargs


stage.RUNNERS["ray"] = run_jobs
