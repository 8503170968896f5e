"""The publish stage: build every config, and write a new release only when the rows changed."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, UTC
from pathlib import Path

import pyarrow as pa

from kcorpus import __version__, schema
from kcorpus.catalog import Catalog
from kcorpus.config import PipelineConfig
from kcorpus.publish import card, hub, local, plot
from kcorpus.publish.build import build_config
from kcorpus.verify.codes import VERIFIER_VERSION


def release_root(cfg: PipelineConfig, workdir: Path) -> Path:
    return cfg.publish.path or (workdir / "releases" / cfg.name)


def content_hash(tables: dict[str, pa.Table]) -> str:
    h = hashlib.sha256()
    for name in sorted(tables):
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, tables[name].schema) as w:
            w.write_table(tables[name])
        h.update(name.encode() + b"\0" + sink.getvalue().to_pybytes())
    return h.hexdigest()[:32]


def publish(catalog: Catalog, cfg: PipelineConfig, workdir: Path) -> dict:
    tables = {name: build_config(catalog, name) for name in schema.configs()}
    digest = content_hash(tables)
    latest = catalog.rows("SELECT version, content_hash, location FROM releases "
                          "ORDER BY created_at DESC LIMIT 1")
    if latest and latest[0]["content_hash"] == digest:
        return {"version": latest[0]["version"], "location": latest[0]["location"], "new": False}
    root = release_root(cfg, workdir)
    orphan = _unrecorded_release(catalog, root, digest)
    version = orphan or _next_version(catalog, root)
    created = datetime.now(UTC)
    counts = {name: t.num_rows for name, t in tables.items()}
    sources = catalog.rows("SELECT repo_name, kind, url, commit_sha, license FROM sources "
                           "ORDER BY repo_name, commit_sha")
    excluded = catalog.rows("SELECT benchmark, method, count(DISTINCT item_id) AS n FROM "
                            "contamination GROUP BY ALL ORDER BY ALL")
    manifest = {"name": cfg.name, "version": version, "content_hash": digest,
                "config_hash": cfg.config_hash, "counts": counts, "kcorpus_version": __version__,
                "verifier_version": VERIFIER_VERSION, "created_at": created.isoformat(),
                "sources": sources, "decontamination": excluded}
    context = _card_context(cfg, tables, manifest, sources, root / version)
    svg = _speedup_plot(tables["pairs"], context)
    path = root / version
    if orphan is not None:
        local.point_latest(root, version)
    else:
        path = local.write_release(
            root, version, tables,
            lambda sizes: card.render({**context, "yaml_header": card.yaml_header(
                local.data_files(tables), sorted({s["license"] for s in sources}), tables,
                sizes)}),
            manifest, {"speedups.svg": svg} if svg else None)
    target, location, commit = "local", str(path), ""
    if cfg.publish.target == "hub":
        hub_target = hub.HubTarget.from_config(cfg.publish)
        try:
            commit = hub.push(hub_target, path, version, f"content hash {digest}")
        except BaseException:
            local.remove_release(root, version)  # the local copy is only the staging area
            raise
        target, location = "hub", f"{hub_target.url}@{version}"
    row = {"version": version, "content_hash": digest, "config_hash": cfg.config_hash,
           "counts": json.dumps(counts), "target": target, "location": location,
           "commit": commit, "tag": version if commit else "", "created_at": created}
    catalog.insert_new("releases", schema.table("releases").to_arrow([row]))
    return {"version": version, "location": location, "new": True, "counts": counts,
            "local_path": str(path)}


def _speedup_plot(pairs: pa.Table, context: dict) -> str | None:
    """The plot's SVG (None without timed pairs); sets the card's speedup summary."""
    by_arch: dict[str, list[float]] = {}
    for arch, s in zip(pairs.column("arch").to_pylist(), pairs.column("speedup_eager").to_pylist()):
        if s is not None and s > 0:
            by_arch.setdefault(arch, []).append(s)
    context["speedup_summary"] = [
        {"arch": a, "pairs": len(v), "geomean": round(plot.geometric_mean(v), 3),
         "faster": sum(x > 1 for x in v)} for a, v in sorted(by_arch.items())]
    return plot.speedup_svg(by_arch)


def _unrecorded_release(catalog: Catalog, root: Path, digest: str) -> str | None:
    """A release directory of this very content that the catalog does not list: a run killed
    between writing it and recording it. It is recorded now instead of written again."""
    recorded = {r["version"] for r in catalog.rows("SELECT version FROM releases")}
    if not root.is_dir():
        return None
    for path in sorted(root.iterdir()):
        manifest = path / "manifest.json"
        if (path.name in recorded or path.name.startswith(".") or path.is_symlink()
                or not manifest.is_file()):
            continue
        if json.loads(manifest.read_text()).get("content_hash") == digest:
            return path.name
    return None


def _next_version(catalog: Catalog, root: Path) -> str:
    used = [r["version"] for r in catalog.rows("SELECT version FROM releases")]
    if root.is_dir():
        used += [p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]
    numbers = [int(v[1:]) for v in used if v.startswith("v") and v[1:].isdigit()]
    return f"v{max(numbers, default=0) + 1}"


def _card_context(cfg, tables, manifest, sources, path: Path) -> dict:
    return {
        "name": cfg.publish.dataset_name or cfg.name,
        "description": cfg.description,
        "version": manifest["version"],
        "created_at": manifest["created_at"],
        "kcorpus_version": __version__,
        "verifier_version": VERIFIER_VERSION,
        "pipeline": cfg.name,
        "config_hash": cfg.config_hash,
        "configs": [{"name": n, "rows": t.num_rows, "default": n == card.DEFAULT_CONFIG,
                     "description": schema.config(n).description} for n, t in tables.items()],
        "sources": sources,
        "load_path": str(path),
        "hub_repo": (cfg.publish.repo or "").removeprefix("hf://datasets/")
        if cfg.publish.target == "hub" else "",
        "decontamination": manifest["decontamination"],
        **card.statistics(tables),
    }
