"""Several jobs in one child of the fork server, for mined reference code only (standard
library only).

On a GPU every child starts a CUDA context of its own. On the H200 a problem's probe took
0.44-0.8 s alone (0.19 s of it CUDA's start-up) but about 3 s with 16 children at once, while
the cores stayed 61% idle and the GPU 82%: starting and tearing down contexts, not the probes,
bounded the problems stage at about 6 probes a second (RESULTS.md, session 15). A group runs
up to `size` jobs of one source in one child, one after another, and so starts one context for
them all. Jobs are grouped only within a source, whose reference code is one trust domain: a
module that changed the process's state changes what its own source's next probe sees, never
another repository's. Candidates are never grouped: each keeps a child of its own.

    run_shared(first, follow, run, size, key)

wraps `run(first, follow)` (stream.run_stream's shape): the first jobs go in groups, and
every answer comes back one per job, as if each had run alone. The child reports each job's
answer as it ends (worker.run_shared), and the server hands the answers on with the group's
own (pool.py). A group has each job's time limit and tuning budget, not their sum: the server
resets both at each answer. The job a group was running when it was killed for its time gets
that verdict. A job whose answer did not come back otherwise (the child crashed or ran out of
memory), or came back suspect (out of memory, with the memory of the jobs before it maybe
still held; or before a CUDA error, which poisons the context for every later job), runs again
alone, as a follow-up.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from kcorpus.verify import codes

KIND = "shared"


def groups(jobs: Iterable[dict], size: int, key: Callable[[dict], object]) -> Iterator[dict]:
    """The jobs with the same `key`, `size` at most to a group, in the order each key first
    comes; a lone job stays as is."""
    by_key: dict[object, list[dict]] = {}
    for job in jobs:
        by_key.setdefault(key(job), []).append(job)
    for same in by_key.values():
        for i in range(0, len(same), size):
            chunk = same[i:i + size]
            yield chunk[0] if len(chunk) == 1 else group_job(chunk)


def group_job(jobs: list[dict]) -> dict:
    mb = [j["memory_mb"] for j in jobs if j.get("memory_mb")]
    timeouts = [j["timeout_s"] for j in jobs if j.get("timeout_s")]
    return {"kind": KIND, "id": f"{KIND}:{jobs[0]['id']}+{len(jobs) - 1}", "jobs": jobs,
            "device": jobs[0].get("device", "cpu"), "memory_mb": max(mb) if mb else None,
            "timeout_s": max(timeouts) if timeouts else None}


def settle(group_answer: dict, jobs: list[dict]) -> tuple[list[dict], list[dict]]:
    """(answers, jobs to run again alone) from a group's answer. A group killed for its time
    (a hang, an endless autotune) gives the job it was running that verdict: alone it would
    only run out its time once more. Any other end of the child (a crash, out of memory) may
    come of the jobs before, so the jobs it left run again alone."""
    kept = {a["id"]: a for a in group_answer.get("answers") or [] if not a.get("retry")}
    reported = {a["id"] for a in group_answer.get("answers") or []}
    left = [j for j in jobs if j["id"] not in kept]
    running = next((j for j in jobs if j["id"] not in reported), None)
    if running is not None and group_answer.get("failure_code") in TIMED_OUT:
        verdict = {k: v for k, v in group_answer.items() if k not in ("kind", "answers", "id")}
        kept[running["id"]] = {"id": running["id"], **verdict, "shared_child": True}
        left.remove(running)
    return list(kept.values()), left


TIMED_OUT = (codes.TIMEOUT, codes.AUTOTUNE_TIMEOUT)  # a child killed for its time


def run_shared(first: Iterable[dict], follow: Callable[[dict], list[dict]], run,
               size: int, key: Callable[[dict], object]) -> Iterator[dict]:
    """Each job's answer (and its follow-ups'), with the first jobs run `size` to a child."""
    if size <= 1:
        yield from run(first, follow)
        return
    jobs_of: dict[str, list[dict]] = {}
    settled: dict[str, list[dict]] = {}

    def planned() -> Iterator[dict]:
        for job in groups(first, size, key):
            if job.get("kind") == KIND:
                jobs_of[job["id"]] = job["jobs"]
            yield job

    def follow_group(answer: dict) -> list[dict]:
        if answer.get("kind") != KIND:
            return follow(answer)
        answers, again = settle(answer, jobs_of.pop(answer["id"]))
        settled[answer["id"]] = answers
        return [f for a in answers for f in follow(a)] + again

    for answer in run(planned(), follow_group):
        if answer.get("kind") != KIND:
            yield answer
        else:
            yield from settled.pop(answer["id"])
