"""GitHub's REST API, as the miner needs it: repository search, repository metadata, commits.

- Auth: `GITHUB_TOKEN` from the environment when set (sent as a Bearer token, never logged or
  put in an error message).
- Rate limits: a 403/429 with `X-RateLimit-Remaining: 0` waits until `X-RateLimit-Reset`; a
  `Retry-After` header is obeyed; secondary limits and 5xx answers back off exponentially.
  Waits are capped by `max_wait_s`; past it the call fails with `GitHubError`.
- Conditional requests: each GET remembers its ETag and body under `cache_dir`; the next GET
  sends `If-None-Match`, and a 304 (which GitHub does not count against the rate limit) returns
  the stored body, so a scheduled rebuild re-downloads nothing unchanged.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

API = "https://api.github.com"


class GitHubError(RuntimeError):
    """A GitHub API call failed for good."""


@dataclass
class Response:
    status: int
    body: object
    headers: dict[str, str]
    from_cache: bool = False


class GitHubClient:
    def __init__(self, base_url: str = API, token: str | None = None,
                 cache_dir: Path | None = None, max_retries: int = 6, max_wait_s: float = 900.0,
                 timeout_s: float = 30.0, sleep: Callable[[float], None] | None = None):
        self.base_url = base_url.rstrip("/")
        self._token = token if token is not None else os.environ.get("GITHUB_TOKEN")
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.max_retries, self.max_wait_s, self.timeout_s = max_retries, max_wait_s, timeout_s
        self.sleep = sleep or (lambda seconds: _sleep(seconds))  # looked up when called
        self.requests = 0  # answers received, 304s included

    # -- the calls the miner makes ---------------------------------------------------------------
    def repo(self, full_name: str) -> dict:
        return self.get(f"/repos/{_check_name(full_name)}").body

    def commit_sha(self, full_name: str, ref: str) -> str:
        body = self.get(f"/repos/{_check_name(full_name)}/commits/{urllib.parse.quote(ref)}").body
        return body["sha"]

    def search_repositories(self, query: str, limit: int) -> list[dict]:
        """Repositories matching `query`, most stars first, at most `limit`."""
        out: list[dict] = []
        page = 1
        while len(out) < limit:
            per_page = min(100, limit - len(out))
            body = self.get("/search/repositories", {"q": query, "sort": "stars", "order": "desc",
                                                     "per_page": per_page, "page": page}).body
            items = body.get("items", [])
            out += items
            if len(items) < per_page:
                break
            page += 1
        return out[:limit]

    # -- HTTP ------------------------------------------------------------------------------------
    def get(self, path: str, params: dict | None = None) -> Response:
        url = self.base_url + path + ("?" + urllib.parse.urlencode(params) if params else "")
        cached = self._cached(url)
        for attempt in range(self.max_retries + 1):
            resp = self._send(url, cached)
            self.requests += 1
            if resp.status == 304 and cached is not None:
                return Response(200, cached["body"], resp.headers, from_cache=True)
            if resp.status < 300:
                self._store(url, resp)
                return resp
            wait = self._wait_for(resp, attempt)
            if wait is None or attempt == self.max_retries:
                raise GitHubError(f"GET {path}: HTTP {resp.status}: {_message(resp)}")
            if wait > self.max_wait_s:
                raise GitHubError(f"GET {path}: rate limited for {wait:.0f}s, more than "
                                  f"max_wait_s={self.max_wait_s:.0f}")
            self.sleep(wait)
        raise AssertionError("unreachable")

    def _send(self, url: str, cached: dict | None) -> Response:
        headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28",
                   "User-Agent": "kcorpus"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        if cached is not None:
            headers["If-None-Match"] = cached["etag"]
        req = urllib.request.Request(url, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as r:
                return Response(r.status, _json(r.read()), dict(r.headers))
        except urllib.error.HTTPError as e:
            return Response(e.code, _json(e.read()), dict(e.headers or {}))
        except (urllib.error.URLError, TimeoutError, ConnectionError) as e:
            return Response(599, {"message": f"network error: {getattr(e, 'reason', e)}"}, {})

    def _wait_for(self, resp: Response, attempt: int) -> float | None:
        """Seconds to wait before retrying, or None when retrying cannot help."""
        h = {k.lower(): v for k, v in resp.headers.items()}
        if "retry-after" in h:
            return float(h["retry-after"])
        if resp.status in (403, 429) and h.get("x-ratelimit-remaining") == "0":
            return max(0.0, float(h.get("x-ratelimit-reset", time.time())) - time.time()) + 1.0
        if resp.status in (403, 429) and "secondary rate limit" in _message(resp).lower():
            return min(60.0 * 2 ** attempt, self.max_wait_s)
        if resp.status >= 500:
            return min(2.0 ** attempt, 60.0)
        return None

    # -- ETag cache ------------------------------------------------------------------------------
    def _cache_path(self, url: str) -> Path | None:
        if self.cache_dir is None:
            return None
        key = hashlib.sha256((url + "\0" + ("auth" if self._token else "anon")).encode())
        return self.cache_dir / f"{key.hexdigest()[:32]}.json"

    def _cached(self, url: str) -> dict | None:
        p = self._cache_path(url)
        if p is None or not p.is_file():
            return None
        try:
            return json.loads(p.read_text())
        except json.JSONDecodeError:
            return None

    def _store(self, url: str, resp: Response) -> None:
        p = self._cache_path(url)
        etag = {k.lower(): v for k, v in resp.headers.items()}.get("etag")
        if p is None or not etag:
            return
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_suffix(".tmp")
        tmp.write_text(json.dumps({"etag": etag, "body": resp.body}))
        tmp.replace(p)


def _sleep(seconds: float) -> None:
    time.sleep(seconds)


def _json(data: bytes):
    try:
        return json.loads(data) if data else {}
    except json.JSONDecodeError:
        return {"message": data[:200].decode(errors="replace")}


def _message(resp: Response) -> str:
    return str(resp.body.get("message", "")) if isinstance(resp.body, dict) else ""


def _check_name(full_name: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}", full_name):
        raise GitHubError(f"not a GitHub repository name: {full_name!r} (expected owner/name)")
    return full_name
