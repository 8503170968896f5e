"""The `openai` backend: any OpenAI-compatible chat completions server (`vllm serve`, SGLang,
hosted APIs), through httpx.

Requests run concurrently, at most `concurrency` at a time. A request that times out, fails to
connect, or gets 408/409/429/5xx is retried up to `max_retries` times, waiting `Retry-After`
when the server sends it, else `backoff_s` doubled per retry (at most 60 s); other statuses fail
at once. The key comes from the environment variable `api_key_env` and is sent only in the
Authorization header: it never appears in errors, rejects or logs.
"""

from __future__ import annotations

import asyncio
import os

import httpx

from kcorpus.synth.chat import ChatBackend, GenerationError, Request

RETRY_STATUS = {408, 409, 429}
MAX_WAIT_S = 60.0


class OpenAIBackend(ChatBackend):
    name = "openai"

    def complete(self, requests: list[Request]) -> list[list[str] | GenerationError]:
        return asyncio.run(self._all(requests))

    async def _all(self, requests: list[Request]) -> list[list[str] | GenerationError]:
        key = os.environ.get(self.spec.api_key_env, "")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        limit = asyncio.Semaphore(self.spec.concurrency)
        async with httpx.AsyncClient(base_url=self.spec.base_url.rstrip("/"), headers=headers,
                                     timeout=self.spec.timeout_s) as client:
            return await asyncio.gather(*(self._one(client, limit, r) for r in requests))

    def _body(self, req: Request) -> dict:
        s = self.spec.sampling
        return {"model": self.model, "messages": req.messages, "n": s.n,
                "temperature": s.temperature, "top_p": s.top_p, "max_tokens": s.max_tokens,
                "seed": s.seed}

    async def _one(self, client: httpx.AsyncClient, limit: asyncio.Semaphore,
                   req: Request) -> list[str] | GenerationError:
        last = ""
        for attempt in range(self.spec.max_retries + 1):
            wait = min(self.spec.backoff_s * 2 ** attempt, MAX_WAIT_S)
            try:
                async with limit:
                    resp = await client.post("/chat/completions", json=self._body(req))
            except httpx.TimeoutException:
                last = f"timed out after {self.spec.timeout_s} s"
            except httpx.TransportError as e:
                last = f"{type(e).__name__}: {e}"
            else:
                if resp.status_code == 200:
                    return _texts(resp)
                last = f"HTTP {resp.status_code}: {resp.text[:300]}"
                if resp.status_code not in RETRY_STATUS and resp.status_code < 500:
                    return GenerationError(last)
                wait = _retry_after(resp, wait)
            if attempt < self.spec.max_retries:
                await asyncio.sleep(wait)
        return GenerationError(f"gave up after {self.spec.max_retries + 1} attempts: {last}")


def _texts(resp: httpx.Response) -> list[str] | GenerationError:
    try:
        choices = sorted(resp.json()["choices"], key=lambda c: c.get("index", 0))
        return [c["message"]["content"] or "" for c in choices]
    except (ValueError, KeyError, TypeError) as e:
        return GenerationError(f"unexpected response ({type(e).__name__}: {e}): {resp.text[:300]}")


def _retry_after(resp: httpx.Response, default: float) -> float:
    try:
        return min(max(float(resp.headers.get("retry-after", "")), 0.0), MAX_WAIT_S)
    except ValueError:
        return default
