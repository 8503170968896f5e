"""The GitHub client and the `github` source, against a local HTTP server replaying responses.

GitHub's API cannot be reached from here, so the real client (urllib, real HTTP) talks to a
server on localhost that replays responses shaped as GitHub's REST API (version 2022-11-28)
documents them: repository metadata, commits, search pages, rate-limit answers (403 with
`X-RateLimit-Remaining: 0`, 429 with `Retry-After`, the secondary-limit message) and 304 Not
Modified for conditional requests. Clone URLs point at git repositories the tests create.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from kcorpus.catalog import Catalog
from kcorpus.config import load_config
from kcorpus.mine.github import GitHubClient, GitHubError
from kcorpus.mine.stage import mine
from tests.conftest import make_git_repo, write_pipeline

TOKEN = "ghp_" + "x" * 36

MODEL = '''import torch
import torch.nn as nn


class Scale(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.w = nn.Parameter(torch.ones(n))

    def forward(self, x):
        return x * self.w


def get_inputs():
    return [torch.randn(4, 8)]


def get_init_inputs():
    return [8]
'''


class Replay:
    """Routes: path (with query) -> list of (status, headers, body); the last one repeats."""

    def __init__(self):
        self.routes: dict[str, list[tuple[int, dict, object]]] = {}
        self.seen: list[tuple[str, dict]] = []

    def add(self, path: str, *responses: tuple[int, dict, object]) -> None:
        self.routes[path] = list(responses)

    def answer(self, path: str, headers: dict) -> tuple[int, dict, object]:
        self.seen.append((path, headers))
        queue = self.routes.get(path) or self.routes.get(path.split("?")[0])
        if not queue:
            return 404, {}, {"message": "Not Found"}
        status, hdrs, body = queue.pop(0) if len(queue) > 1 else queue[0]
        etag = hdrs.get("ETag")
        if etag and headers.get("If-None-Match") == etag:
            return 304, {"ETag": etag}, None
        return status, hdrs, body


@pytest.fixture
def server():
    replay = Replay()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            status, headers, body = replay.answer(self.path, dict(self.headers))
            data = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, str(v))
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    replay.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield replay
    httpd.shutdown()


def _repo_body(name: str, clone_url: str, stars: int = 1234, spdx: str | None = "Apache-2.0"):
    return {"full_name": name, "clone_url": clone_url, "default_branch": "main",
            "stargazers_count": stars, "fork": False,
            "license": {"key": (spdx or "").lower(), "spdx_id": spdx} if spdx else None}


def test_metadata_commits_and_the_token(server, tmp_path):
    server.add("/repos/org/models", (200, {"ETag": '"a1"'}, _repo_body("org/models", "x")))
    server.add("/repos/org/models/commits/main", (200, {}, {"sha": "f" * 40}))
    client = GitHubClient(server.url, token=TOKEN)
    assert client.repo("org/models")["stargazers_count"] == 1234
    assert client.commit_sha("org/models", "main") == "f" * 40
    assert server.seen[0][1]["Authorization"] == f"Bearer {TOKEN}"
    with pytest.raises(GitHubError) as err:
        client.repo("org/absent")
    assert "404" in str(err.value) and TOKEN not in str(err.value)
    with pytest.raises(GitHubError, match="not a GitHub repository name"):
        client.repo("../../etc")


def test_primary_rate_limit_waits_until_the_reset(server):
    reset = int(time.time()) + 30
    server.add("/repos/org/models",
               (403, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)},
                {"message": "API rate limit exceeded"}),
               (200, {}, _repo_body("org/models", "x")))
    waits: list[float] = []
    client = GitHubClient(server.url, token="", sleep=waits.append)
    assert client.repo("org/models")["full_name"] == "org/models"
    assert len(waits) == 1 and 25 <= waits[0] <= 32


def test_retry_after_and_secondary_limits_back_off(server):
    server.add("/repos/org/a", (429, {"Retry-After": "7"}, {"message": "slow down"}),
               (200, {}, _repo_body("org/a", "x")))
    server.add("/repos/org/b", (403, {}, {"message": "You have exceeded a secondary rate limit"}),
               (403, {}, {"message": "You have exceeded a secondary rate limit"}),
               (200, {}, _repo_body("org/b", "x")))
    waits: list[float] = []
    client = GitHubClient(server.url, token="", sleep=waits.append)
    client.repo("org/a")
    client.repo("org/b")
    assert waits == [7.0, 60.0, 120.0]


def test_a_wait_past_the_cap_fails_clearly(server):
    reset = int(time.time()) + 3600
    server.add("/repos/org/models", (403, {"X-RateLimit-Remaining": "0",
                                           "X-RateLimit-Reset": str(reset)}, {"message": "x"}))
    client = GitHubClient(server.url, token="", max_wait_s=60, sleep=lambda s: None)
    with pytest.raises(GitHubError, match="rate limited for .* more than max_wait_s=60"):
        client.repo("org/models")


def test_conditional_requests_reuse_the_stored_body(server, tmp_path):
    server.add("/repos/org/models", (200, {"ETag": '"v1"'}, _repo_body("org/models", "x", 10)))
    first = GitHubClient(server.url, token="", cache_dir=tmp_path).get("/repos/org/models")
    again = GitHubClient(server.url, token="", cache_dir=tmp_path).get("/repos/org/models")
    assert not first.from_cache and again.from_cache and again.body == first.body
    assert server.seen[1][1]["If-None-Match"] == '"v1"'


def test_search_pages_until_the_limit(server):
    items = [_repo_body(f"org/r{i}", "x", 1000 - i) for i in range(150)]
    server.add("/search/repositories?q=topic%3Apytorch&sort=stars&order=desc&per_page=100&page=1",
               (200, {}, {"total_count": 150, "items": items[:100]}))
    server.add("/search/repositories?q=topic%3Apytorch&sort=stars&order=desc&per_page=20&page=2",
               (200, {}, {"total_count": 150, "items": items[100:120]}))
    found = GitHubClient(server.url, token="").search_repositories("topic:pytorch", 120)
    assert [r["full_name"] for r in found] == [f"org/r{i}" for i in range(120)]


def test_github_source_is_mined_at_the_pinned_commit_and_rebuilds_download_nothing(
        server, tmp_path, monkeypatch):
    sha = make_git_repo(tmp_path / "remote", {"LICENSE": "MIT License\n", "m/scale.py": MODEL})
    url = (tmp_path / "remote").as_uri()
    server.add("/repos/org/models", (200, {"ETag": '"r"'}, _repo_body("org/models", url, 77)))
    server.add("/repos/org/models/commits/main", (200, {"ETag": '"c"'}, {"sha": sha}))
    server.add("/repos/org/broken", (500, {}, {"message": "boom"}))
    cfg = load_config(write_pipeline(tmp_path / "p.yaml", f"""
name: gh
sources:
  - kind: github
    api_url: {server.url}
    repos: [org/models, org/broken]
"""))
    import kcorpus.mine.github as gh

    waits: list[float] = []
    monkeypatch.setattr(gh, "_sleep", waits.append)  # the 500s back off without real waits
    with Catalog(tmp_path / "c.duckdb") as cat:
        counts = mine(cat, cfg, tmp_path / "wd")
        assert waits[:3] == [1.0, 2.0, 4.0]
        [src] = cat.rows("SELECT * FROM sources")
        assert (src["kind"], src["commit_sha"], src["stars"], src["license"]) == \
            ("github", sha, 77, "Apache-2.0")  # the API's license wins over the file's
        assert counts["problems"] == 1
        [bad] = cat.rows("SELECT path, reason, detail FROM rejects WHERE reason = 'fetch_failed'")
        assert bad["path"] == "org/broken" and "HTTP 500" in bad["detail"]
        before = len(server.seen)
        assert mine(cat, cfg, tmp_path / "wd")["problems"] == 0
    repeat = [(p, h.get("If-None-Match")) for p, h in server.seen[before:]
              if p.startswith("/repos/org/models")]
    assert repeat == [("/repos/org/models", '"r"'), ("/repos/org/models/commits/main", '"c"')]


def test_clone_of_a_pinned_commit_is_shallow_where_the_server_allows(tmp_path):
    from kcorpus.config import GitSource
    from kcorpus.mine.sources import _clone
    from tests.conftest import git

    first = make_git_repo(tmp_path / "remote", {"a.py": "x = 1\n"})
    (tmp_path / "remote" / "a.py").write_text("x = 2\n")
    git(tmp_path / "remote", "commit", "-qam", "second")
    git(tmp_path / "remote", "config", "uploadpack.allowReachableSHA1InWant", "true")
    root, commit = _clone(GitSource(kind="git", url=(tmp_path / "remote").as_uri(), ref=first),
                          tmp_path / "co")
    assert commit == first and (root / "a.py").read_text() == "x = 1\n"
    assert Path(root / ".git" / "shallow").is_file()
