"""The openai backend against a local HTTP server replaying an OpenAI-compatible server.

No hosted API can be reached from here, so the real client (httpx, real HTTP) talks to a server
on localhost that replays responses shaped as `vllm serve` (OpenAI chat completions) answers
them: a `chat.completion` object, vLLM's error object for a bad request, a hosted API's 429
with `Retry-After`, 5xx answers, and a response slower than the client's timeout. The synth,
verify and refine stages then run on top of it: a wrong first answer, the verifier's feedback
in the second prompt, a correct second answer linked to its parent; and the reverse direction.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from kcorpus.catalog import Catalog
from kcorpus.config import OpenAIBackend as OpenAISpec
from kcorpus.config import load_config
from kcorpus.stages import STAGES
from kcorpus.synth.chat import Request
from kcorpus.synth.openai_api import OpenAIBackend
from tests.conftest import make_git_repo, write_pipeline
from tests.test_synth import MIT, PROBLEM, PROGRAM

KEY = "sk-test-" + "k" * 24


def completion(text: str, n: int = 1) -> dict:
    """A chat completion as vLLM's OpenAI-compatible server returns it."""
    return {"id": "chatcmpl-7c1e2b9f", "object": "chat.completion", "created": 1764130000,
            "model": "Qwen/Qwen2.5-Coder-7B-Instruct",
            "choices": [{"index": i, "message": {"role": "assistant", "content": f"{text}",
                                                 "tool_calls": []},
                         "logprobs": None, "finish_reason": "stop", "stop_reason": None}
                        for i in range(n)],
            "usage": {"prompt_tokens": 612, "total_tokens": 900, "completion_tokens": 288}}


BAD_REQUEST = {"object": "error", "message": "This model's maximum context length is 4096 tokens.",
               "type": "BadRequestError", "param": None, "code": 400}
RATE_LIMITED = {"error": {"message": "Rate limit reached for requests", "type": "requests",
                          "code": "rate_limit_exceeded"}}


class Script:
    """Answers by the first rule whose marker is in the request; each rule is a queue of
    (status, headers, body, delay_s) whose last entry repeats."""

    def __init__(self):
        self.rules: list[tuple[str, list]] = []
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        self.active = self.peak = 0
        self.lock = threading.Lock()

    def on(self, marker: str, *answers) -> None:
        self.rules.append((marker, list(answers)))

    def answer(self, body: dict):
        text = json.dumps(body["messages"][-1])
        for marker, queue in self.rules:
            if marker in text:
                return queue.pop(0) if len(queue) > 1 else queue[0]
        return 404, {}, {"object": "error", "message": "no rule"}, 0


@pytest.fixture
def server():
    script = Script()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with script.lock:
                script.requests.append(body)
                script.headers.append(dict(self.headers))
                script.active += 1
                script.peak = max(script.peak, script.active)
            try:
                status, headers, answer, delay = script.answer(body)
                time.sleep(delay)
                data = json.dumps(answer).encode()
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client timed out and left
            finally:
                with script.lock:
                    script.active -= 1

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    script.url = f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    yield script
    httpd.shutdown()


def _spec(url: str, **kw) -> OpenAISpec:
    return OpenAISpec.model_validate({"kind": "openai", "base_url": url, "model": "coder-7b",
                                      "api_key_env": "KC_TEST_KEY", "backoff_s": 0.01, **kw})


def test_retries_timeouts_errors_and_the_key(server, monkeypatch):
    monkeypatch.setenv("KC_TEST_KEY", KEY)
    ok = (200, {}, completion("```python\nprint('ok')\n```", n=2), 0)
    server.on("op_a", (429, {"Retry-After": "0"}, RATE_LIMITED, 0), ok)
    server.on("op_b", (503, {}, {"object": "error", "message": "overloaded"}, 0), ok)
    server.on("op_c", (200, {}, completion("late"), 2.0), ok)  # the first answer comes too late
    server.on("op_d", (400, {}, BAD_REQUEST, 0))
    server.on("op_e", (500, {}, {"object": "error", "message": "internal"}, 0))
    backend = OpenAIBackend(_spec(server.url, concurrency=2, timeout_s=0.5, max_retries=2,
                                  sampling={"n": 2, "temperature": 0.5, "max_tokens": 64}))
    problems = [{"problem_id": f"p_{x}", "code": f"# op_{x}\n"} for x in "abcde"]
    completions, rejects = backend.generate(problems)

    assert sorted({c.problem_id for c in completions}) == ["p_a", "p_b", "p_c"]
    assert len(completions) == 6 and all(c.text == "```python\nprint('ok')\n```" for c in completions)
    c = completions[0]
    assert (c.backend, c.model, c.prompt_template, c.turn) == ("openai", "coder-7b", "triton_v1", 0)
    assert len(c.prompt_hash) == 16 and c.sampling["n"] == 2 and c.sampling["temperature"] == 0.5
    failed = {r["path"]: r for r in rejects}
    assert set(failed) == {"p_d", "p_e"} and all(r["reason"] == "generation_failed"
                                                  for r in rejects)
    assert "HTTP 400" in failed["p_d"]["detail"] and "maximum context" in failed["p_d"]["detail"]
    assert "gave up after 3 attempts: HTTP 500" in failed["p_e"]["detail"]
    per = {x: sum(f"op_{x}" in json.dumps(r["messages"][-1]) for r in server.requests)
           for x in "abcde"}
    assert per == {"a": 2, "b": 2, "c": 2, "d": 1, "e": 3}  # 400 is not retried
    body = server.requests[0]
    assert body["model"] == "coder-7b" and body["n"] == 2 and body["max_tokens"] == 64
    assert [m["role"] for m in body["messages"]][:2] == ["system", "user"]
    assert all(h["Authorization"] == f"Bearer {KEY}" for h in server.headers)
    assert KEY not in json.dumps(rejects) and server.peak <= 2


def test_without_a_key_no_authorization_header_is_sent(server, monkeypatch):
    monkeypatch.delenv("KC_TEST_KEY", raising=False)
    server.on("", (200, {}, completion("x"), 0))
    backend = OpenAIBackend(_spec(server.url))
    [result] = backend.complete([Request("p", [{"role": "user", "content": "hi"}])])
    assert result == ["x"] and "Authorization" not in server.headers[0]


PIPELINE = """name: llm
sources:
  - {{kind: git, url: {url}}}
synth:
  backends:
    - kind: openai
      base_url: {server}
      model: coder-7b
      api_key_env: KC_TEST_KEY
      backoff_s: 0.01
      refine_turns: 2
      reverse: true
verify:
  device: cpu
  trials: 2
"""

KERNEL = '''import torch
import triton
import triton.language as tl


@triton.jit
def double_kernel(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    i = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    tl.store(out_ptr + i, tl.load(x_ptr + i, mask=i < n) * 2.0, mask=i < n)


def double(x):
    out = torch.empty_like(x)
    double_kernel[(triton.cdiv(x.numel(), 128),)](x, out, x.numel(), BLOCK=128)
    return out
'''

REVERSE = '''```python
import torch
import torch.nn as nn


class Model(nn.Module):
    def forward(self, x):
        return x * 2.0


class ModelNew(nn.Module):
    def forward(self, x):
        return double(x.contiguous())


def get_inputs():
    return [torch.randn(1000)]
```'''


def test_refinement_turns_and_reverse_pairs_through_the_stages(server, tmp_path, monkeypatch):
    monkeypatch.setenv("KC_TEST_KEY", KEY)
    make_git_repo(tmp_path / "repo", {"LICENSE": MIT, "relu.py": PROBLEM.format(op="relu"),
                                      "kernels/double.py": KERNEL})
    wrong = PROGRAM.format(op="sigmoid").replace("sigmoid_kernel", "relu_kernel")
    right = "Fixed:\n```python\n" + PROGRAM.format(op="relu").replace(
        "tl.relu(tl.load(x_ptr + offs, mask=mask))",
        "tl.maximum(tl.load(x_ptr + offs, mask=mask), 0.0)") + "```"
    server.on("did not pass verification", (200, {}, completion(right), 0))
    server.on("torch.relu", (200, {}, completion(f"```python\n{wrong}```"), 0))
    server.on("double_kernel", (200, {}, completion(REVERSE), 0))
    server.on("x * 2.0", (200, {}, completion("```python\n" + PROGRAM.format(op="relu").replace(
        "tl.relu(tl.load(x_ptr + offs, mask=mask))", "tl.load(x_ptr + offs, mask=mask) * 2.0")
        + "```"), 0))  # the reverse pair's reference, prompted forward in the same run
    cfg = load_config(write_pipeline(tmp_path / "p.yaml", PIPELINE.format(
        url=(tmp_path / "repo").as_uri(), server=server.url)))
    with Catalog(tmp_path / "c.duckdb") as cat:
        for stage in ("mine", "problems", "synth", "verify", "refine"):
            STAGES[stage].run(cat, cfg, tmp_path / "wd")
        rows = cat.rows("SELECT c.candidate_id, c.turn, c.parent_candidate_id, c.code, "
                        "v.passed, v.failure_code, p.inputs_origin FROM candidates c "
                        "JOIN verdicts v USING (candidate_id) JOIN problems p USING (problem_id) "
                        "ORDER BY p.inputs_origin, c.turn, c.code")
        n_requests = len(server.requests)
        STAGES["synth"].run(cat, cfg, tmp_path / "wd")
        STAGES["refine"].run(cat, cfg, tmp_path / "wd")
        assert len(server.requests) == n_requests  # a rebuild prompts nothing again
    first, second, forward_of_reverse, rev = rows
    assert (first["turn"], first["passed"], first["failure_code"]) == (0, False, "MISMATCH")
    assert (second["turn"], second["parent_candidate_id"], second["passed"]) == (
        1, first["candidate_id"], True)
    feedback = [r for r in server.requests if "did not pass" in json.dumps(r["messages"])]
    assert len(feedback) == 1  # turn 2 is not asked for: turn 1 passed
    roles = [m["role"] for m in feedback[0]["messages"]]
    assert roles[-3:] == ["user", "assistant", "user"]
    assert "Failure MISMATCH" in feedback[0]["messages"][-1]["content"]
    assert forward_of_reverse["passed"] is True and "double_kernel" not in forward_of_reverse["code"]
    assert rev["inputs_origin"] == "reverse" and rev["passed"] is True
    assert rev["code"].startswith(KERNEL.rstrip()) and "class ModelNew" in rev["code"]


def test_reverse_completions_are_split_or_refused_with_a_reason():
    from kcorpus.synth.reverse import split_program

    program = REVERSE.strip("`\n").removeprefix("python\n")
    reference, wrapper = split_program(program, {"double", "double_kernel", "triton", "tl"})
    assert "class Model(" in reference and "ModelNew" not in reference
    assert "def get_init_inputs():\n    return []" in reference  # supplied when missing
    assert "class ModelNew(" in wrapper and "class Model(" not in wrapper
    assert split_program("import torch\n\n\nclass Model:\n    pass\n", set()) == (
        "the program does not define ModelNew, get_inputs")
    cheat = program.replace("return x * 2.0", "return double(x)")
    assert split_program(cheat, {"double", "double_kernel"}) == "the reference uses double itself"
    assert split_program("no code here", set()) == "the completion holds no parsable program"
