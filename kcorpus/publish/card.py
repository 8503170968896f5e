"""The dataset card (README.md) of a release, rendered from `cards/dataset_card.md.j2`."""

from __future__ import annotations

import jinja2
import pyarrow as pa
import yaml

from kcorpus import schema

CARD_DIR = schema.data_dir("cards")
DEFAULT_CONFIG = "pairs"


def yaml_header(data_files: dict[str, list[str]], license_ids: list[str],
                tables: dict[str, pa.Table], parquet_bytes: dict[str, int]) -> str:
    """The card's YAML: license, the configs with their data files, features and sizes.

    The sizes are what the Hub records too; `datasets` also keys its cache on them, so two
    releases with the same directory name but different rows do not share a cache entry.
    """
    configs, infos = [], []
    for name, files in data_files.items():
        entry = {"config_name": name, "data_files": [{"split": "train", "path": files}]}
        if name == DEFAULT_CONFIG:
            entry["default"] = True
        configs.append(entry)
        t = tables[name]
        infos.append({"config_name": name,
                      "features": schema.config(name).features_yaml(),
                      "splits": [{"name": "train", "num_bytes": t.nbytes,
                                  "num_examples": t.num_rows}],
                      "download_size": parquet_bytes[name], "dataset_size": t.nbytes})
    header = {"license": license_ids[0].lower() if len(license_ids) == 1 else "other",
              "tags": ["code", "triton", "gpu-kernels", "kcorpus"],
              "configs": configs, "dataset_info": infos}
    return yaml.safe_dump(header, sort_keys=False).strip()


def render(context: dict) -> str:
    env = jinja2.Environment(autoescape=False, undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=True)
    return env.from_string((CARD_DIR / "dataset_card.md.j2").read_text()).render(**context)


def statistics(tables: dict[str, pa.Table]) -> dict:
    import duckdb

    con = duckdb.connect()
    for name, t in tables.items():
        con.register(name, t)
    q = lambda sql: [dict(zip([d[0] for d in con.description], r))  # noqa: E731
                     for r in con.execute(sql).fetchall()]
    return {
        "by_op_arch": q("SELECT op_type, arch, count(*) AS n FROM pairs GROUP BY ALL ORDER BY ALL"),
        "verdict_counts": q("SELECT CASE WHEN passed THEN 'passed' ELSE failure_code END AS "
                            "result, count(*) AS n FROM attempts GROUP BY ALL ORDER BY n DESC, 1"),
        "licenses": q("SELECT license, count(DISTINCT repo_name) AS sources, "
                      "(SELECT count(*) FROM pairs WHERE list_contains(pairs.licenses, "
                      "a.license)) AS pairs FROM (SELECT license, repo_name FROM problems "
                      "UNION SELECT license, repo_name FROM kernels) a GROUP BY ALL ORDER BY 1"),
    }
