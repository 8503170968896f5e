"""Publishing to the Hub, against a local HTTP server replaying the Hub's responses.

The Hub cannot be reached from here, so the real client (huggingface_hub's HfApi, real HTTP)
talks to a server on localhost that answers as huggingface.co does for the calls one release
makes: `POST /api/repos/create`, `GET /api/datasets/ORG/NAME` (repo info with its head `sha`
and `siblings`), `POST /api/validate-yaml`, `POST .../preupload/main` (Parquet files go to LFS,
the rest inline), the Git LFS batch API and the upload it points to, the NDJSON commit, and
`POST .../tag/COMMIT`. The client is run with HF_HUB_DISABLE_XET: hf_xet's protocol needs
Hugging Face's storage servers, while the LFS path it falls back to is replayed here.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from huggingface_hub.errors import HfHubHTTPError

from kcorpus.catalog import Catalog
from kcorpus.config import load_config
from kcorpus.dedup import dedup
from kcorpus.publish.stage import publish
from kcorpus.verify import tricks as P
from tests.conftest import write_pipeline
from tests.test_publish_dedup import _seed

TOKEN = "hf_" + "t" * 34
HEAD = "a" * 40


class FakeHub:
    def __init__(self):
        self.head, self.files, self.tags, self.log, self.blobs = HEAD, {".gitattributes": b""}, {}, [], {}
        self.fail_commit = False
        self.snapshots = {HEAD: dict(self.files)}

    def handle(self, method: str, path: str, body: bytes, host: str):
        self.log.append((method, path))
        if method == "POST" and path == "/api/repos/create":
            return 409, {"error": "You already created this dataset repo", "url":
                         f"http://{host}/datasets/org/kernels"}
        if method == "GET" and path == "/api/datasets/org/kernels":
            return 200, {"id": "org/kernels", "author": "org", "sha": self.head, "private": False,
                         "disabled": False, "gated": False, "downloads": 0, "likes": 0,
                         "tags": [], "cardData": {}, "lastModified": "2026-11-26T00:00:00.000Z",
                         "createdAt": "2026-11-01T00:00:00.000Z",
                         "siblings": [{"rfilename": f} for f in sorted(self.files)]}
        if path == "/api/validate-yaml":
            return 200, {"errors": [], "warnings": []}
        if "/preupload/" in path:
            return 200, {"files": [{"path": f["path"], "shouldIgnore": False, "uploadMode":
                                    "lfs" if f["path"].endswith(".parquet") else "regular"}
                                   for f in json.loads(body)["files"]]}
        if path.endswith(".git/info/lfs/objects/batch"):
            return 200, {"transfer": "basic", "objects": [
                {"oid": o["oid"], "size": o["size"], "authenticated": True, "actions": {
                    "upload": {"href": f"http://{host}/lfs-upload/{o['oid']}",
                               "expires_at": "2099-01-01T00:00:00Z"}}}
                for o in json.loads(body)["objects"]]}
        if method == "PUT" and path.startswith("/lfs-upload/"):
            self.blobs[path.rsplit("/", 1)[1]] = body
            return 200, {}
        if method == "GET" and "/tree/" in path:  # recursive listing of a commit's files
            sha = path.split("/tree/")[1].split("/")[0]
            return 200, [{"type": "file", "path": f, "size": len(d),
                          "oid": hashlib.sha1(d).hexdigest()}
                         for f, d in sorted(self.snapshots[self.tags.get(sha, sha)].items())]
        if method == "GET" and "/revision/" in path:
            rev = path.split("/revision/")[1]
            sha = self.tags.get(rev, self.head if rev == "main" else rev)
            return 200, {"id": "org/kernels", "sha": sha, "private": False, "tags": [],
                         "lastModified": "2026-11-26T00:00:00.000Z", "downloads": 0,
                         "siblings": [{"rfilename": f} for f in sorted(self.snapshots[sha])]}
        if "/resolve/" in path:
            sha, _, name = path.split("/resolve/")[1].partition("/")
            data = self.snapshots[self.tags.get(sha, sha)].get(name)
            if data is None:
                return 404, {"error": "Entry not found"}
            return 200, data, {"X-Repo-Commit": self.tags.get(sha, sha),
                               "ETag": f'"{hashlib.sha256(data).hexdigest()}"'}
        if "/commit/main" in path:
            return self._commit(body, host)
        if "/tag/" in path:
            self.tags[json.loads(body)["tag"]] = path.rsplit("/", 1)[1]
            return 200, {}
        return 404, {"error": f"no route {method} {path}"}

    def _commit(self, body: bytes, host: str):
        lines = [json.loads(line) for line in body.decode().splitlines()]
        header = lines[0]["value"]
        if self.fail_commit:
            return 500, {"error": "Internal Error - We're working hard to fix this as soon as "
                                  "possible!"}
        if header.get("parentCommit") not in (None, self.head):
            return 412, {"error": "A commit has happened since. Please refresh and try again."}
        for line in lines[1:]:
            v = line["value"]
            if line["key"] == "file":
                self.files[v["path"]] = base64.b64decode(v["content"])
            elif line["key"] == "lfsFile":
                self.files[v["path"]] = self.blobs[v["oid"]]
            elif line["key"] == "deletedFile":
                self.files.pop(v["path"])
        self.head = hashlib.sha1(body).hexdigest()
        self.snapshots[self.head] = dict(self.files)
        return 200, {"success": True, "commitOid": self.head, "hookOutput": "",
                     "commitUrl": f"http://{host}/datasets/org/kernels/commit/{self.head}"}


@pytest.fixture
def hub(monkeypatch):
    import huggingface_hub.constants as hc

    monkeypatch.setattr(hc, "HF_HUB_DISABLE_XET", True)
    fake = FakeHub()
    seen_auth = []

    class Handler(BaseHTTPRequestHandler):
        def _serve(self):
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n) if n else b""
            seen_auth.append((self.command, self.headers.get("Authorization")))
            status, obj, *extra = fake.handle(self.command, self.path.split("?")[0], body,
                                              self.headers["Host"])
            data = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
            self.send_response(status)
            for k, v in (extra[0] if extra else {}).items():
                self.send_header(k, v)
            self.send_header("Content-Type", "application/octet-stream" if extra else
                             "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_HEAD = _serve

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    fake.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    fake.auth = seen_auth
    yield fake
    httpd.shutdown()


def _pipeline(tmp_path: Path, url: str) -> Path:
    (tmp_path / "repo").mkdir(exist_ok=True)
    return write_pipeline(tmp_path / "p.yaml", (
        "name: kernels\nsources:\n  - {kind: local, path: repo}\n"
        f"publish: {{target: hub, repo: 'hf://datasets/org/kernels', endpoint: '{url}', "
        "token_env: KC_HF_TOKEN}\n"))


def _release(cat, cfg, tmp_path: Path, candidates: dict[str, str]) -> dict:
    """Seed verified candidates, dedup, publish; the publish result."""
    _seed(cat, candidates, passed=set(candidates))
    dedup(cat)
    return publish(cat, cfg, tmp_path / "wd")


def test_a_release_is_one_commit_on_the_head_then_a_tag(tmp_path, hub, monkeypatch):
    monkeypatch.setenv("KC_HF_TOKEN", TOKEN)
    cfg = load_config(_pipeline(tmp_path, hub.url))
    with Catalog(tmp_path / "c.duckdb") as cat:
        first = _release(cat, cfg, tmp_path, {"a": P.HONEST})
        [row] = cat.rows("SELECT target, location, commit, tag FROM releases")
        assert publish(cat, cfg, tmp_path / "wd")["new"] is False  # unchanged: no request
    calls = [c for c in hub.log if not c[0] == "PUT"]
    assert [c[1].split("/")[-1] if "/tag/" in c[1] or "/commit/" in c[1] else c[1]
            for c in calls][:3] == ["/api/repos/create", "/api/datasets/org/kernels",
                                    "/api/validate-yaml"]
    assert calls[-2][1] == "/api/datasets/org/kernels/commit/main"
    assert calls[-1][1] == f"/api/datasets/org/kernels/tag/{hub.head}"
    assert hub.tags == {"v1": hub.head} and row["commit"] == hub.head and row["tag"] == "v1"
    assert (row["target"], row["location"]) == ("hub", "hf://datasets/org/kernels@v1")
    local = Path(first["local_path"])
    for f in local.rglob("*"):
        if f.is_file():  # every file arrived, byte for byte (Parquet through LFS)
            assert hub.files[f.relative_to(local).as_posix()] == f.read_bytes()
    assert any(p.endswith(".parquet") for p in hub.files) and len(hub.blobs) >= 4
    # the token goes to the API; the LFS uploads go to their pre-signed URLs without it
    assert {a for m, a in hub.auth if m != "PUT"} == {f"Bearer {TOKEN}"}
    assert {a for m, a in hub.auth if m == "PUT"} == {None}


def test_the_next_release_replaces_the_old_files_on_top_of_the_last_commit(tmp_path, hub,
                                                                            monkeypatch):
    monkeypatch.setenv("KC_HF_TOKEN", TOKEN)
    hub.files["pairs/train-00000-of-00009.parquet"] = b"an old shard"
    cfg = load_config(_pipeline(tmp_path, hub.url))
    with Catalog(tmp_path / "c.duckdb") as cat:
        _release(cat, cfg, tmp_path, {"a": P.HONEST})
        v1 = hub.head
        assert _release(cat, cfg, tmp_path, {"t": P.TWO_KERNELS})["version"] == "v2"
    assert "pairs/train-00000-of-00009.parquet" not in hub.files  # deleted by the first commit
    assert hub.tags["v1"] == v1 and hub.tags["v2"] == hub.head != v1
    assert json.loads(hub.files["manifest.json"])["version"] == "v2"


def test_a_push_that_fails_half_way_changes_nothing(tmp_path, hub, monkeypatch):
    monkeypatch.setenv("KC_HF_TOKEN", TOKEN)
    hub.fail_commit = True  # the uploads go through, the commit does not
    cfg = load_config(_pipeline(tmp_path, hub.url))
    with Catalog(tmp_path / "c.duckdb") as cat:
        _seed(cat, {"a": P.HONEST}, passed={"a"})
        dedup(cat)
        with pytest.raises(HfHubHTTPError) as err:  # the Hub's own error, for the flow's retries
            publish(cat, cfg, tmp_path / "wd")
        assert err.value.response.status_code == 500 and "Internal Error" in str(err.value)
        assert "org/kernels" in str(err.value)  # which repo the push was for
        assert TOKEN not in str(err.value)
        assert cat.count("releases") == 0
    assert hub.head == HEAD and hub.tags == {} and set(hub.files) == {".gitattributes"}
    root = tmp_path / "wd" / "releases" / "kernels"
    assert not (root / "v1").exists() and not (root / "latest").exists()


def test_hub_target_needs_a_repo(tmp_path):
    from kcorpus.config import ConfigError

    (tmp_path / "repo").mkdir()
    bad = write_pipeline(tmp_path / "p.yaml", "name: k\nsources:\n  - {kind: local, path: repo}\n"
                                              "publish: {target: hub}\n")
    with pytest.raises(ConfigError, match="publish.repo"):
        load_config(bad)


def test_pull_downloads_a_tagged_release_that_query_and_datasets_read(tmp_path, hub, monkeypatch):
    from tests.conftest import run_cli

    monkeypatch.setenv("KC_HF_TOKEN", TOKEN)
    cfg = load_config(_pipeline(tmp_path, hub.url))
    with Catalog(tmp_path / "c.duckdb") as cat:
        _release(cat, cfg, tmp_path, {"a": P.HONEST})
        _release(cat, cfg, tmp_path, {"t": P.TWO_KERNELS})  # v2 is the head; v1 keeps its tag
    proc = run_cli("pull", "org/kernels@v1", "--dest", str(tmp_path / "pulled"),
                   "--endpoint", hub.url, "--token-env", "KC_HF_TOKEN")
    path = Path(proc.stdout.strip().splitlines()[-1])
    assert path == tmp_path / "pulled" / "org" / "kernels" / "v1"
    assert json.loads((path / "manifest.json").read_text())["version"] == "v1"
    import datasets

    assert datasets.load_dataset(str(path), "pairs", split="train").num_rows == 1
    assert 'load_dataset("org/kernels", "pairs", split="train", revision="v1")' in (
        path / "README.md").read_text()
    out = run_cli("query", "--release", str(path), "--json", "--limit", "0").stdout
    assert len(out.strip().splitlines()) == 1
    monkeypatch.setenv("HF_ENDPOINT", hub.url)  # query pulls hf:// releases first
    out = run_cli("query", "--release", "hf://datasets/org/kernels@v2", "--json", "--limit", "0",
                  "--workdir", str(tmp_path / "wd2")).stdout
    assert len(out.strip().splitlines()) == 2
    missing = run_cli("pull", "org/kernels@v9", "--dest", str(tmp_path / "pulled"),
                      "--endpoint", hub.url, check=False)
    assert missing.returncode != 0 and "v9" in (missing.stdout + missing.stderr)
