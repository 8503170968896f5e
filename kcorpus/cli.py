"""The `kcorpus` command line.

Every error, whatever the command, is one plain `error: ...` text on stderr (never read as rich
markup: a message holding `[/x]` prints as written) and exit code 2, without a traceback
(`KCORPUS_TRACEBACK=1` shows it): `main` is that boundary. Data that reaches a table or a line of
output is printed as text too.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from kcorpus import progress
from kcorpus.catalog import Catalog, CatalogError, CatalogLockedError
from kcorpus.config import ConfigError, load_config
from kcorpus.stages import catalog_path, progress_path

# offline by default: Prefect's local server must not try to phone home
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Build, verify and publish PyTorch-to-Triton training corpora.")
out = Console()
err = Console(stderr=True)

# click's usage errors (typer raises those of its own copy of click in newer versions)
USAGE_ERROR = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")

WorkdirOpt = typer.Option(Path(os.environ.get("KCORPUS_WORKDIR", ".kcorpus")), "--workdir",
                          "-w", help="where the catalog and releases live (env KCORPUS_WORKDIR)")


LogFormatOpt = typer.Option(os.environ.get("KCORPUS_LOG_FORMAT", "human"), "--log-format",
                            help="human, or json: one JSON object per line on stderr (time, "
                                 "level, stage, event, counts)")


def _fail(message: str, code: int = 2) -> None:
    _print_error(message)
    raise typer.Exit(code)


def _said(line: str, code: int) -> None:
    """End with one plain line (a JSON object with --log-format json) and exit code `code`."""
    from kcorpus import logs

    logs.event("WARNING", None, line, human=line)
    sys.stdout.flush()
    # everything was closed and reported; Prefect's exit handlers would only add seconds
    os._exit(code)


def _log_format(fmt: str) -> None:
    from kcorpus import logs

    try:
        logs.configure(fmt)
    except ValueError as e:
        _fail(str(e))


def _print_error(message: str) -> None:
    err.print(Text.assemble(("error:", "red"), " ", message), highlight=False, soft_wrap=True)


def _row(*cells) -> list[Text]:
    return [Text(str(c)) for c in cells]


@app.command()
def rebuild(pipeline: Path = typer.Argument(..., help="pipeline config (pipelines/*.yaml)"),
            workdir: Path = WorkdirOpt,
            refresh_cache: bool = typer.Option(False, "--refresh-cache",
                                               help="run dedup and publish even if their "
                                                    "inputs are unchanged"),
            as_json: bool = typer.Option(False, "--json", help="print one JSON object, "
                                         "{stage: counts}, instead of the table"),
            log_format: str = LogFormatOpt) -> None:
    """Run every stage of PIPELINE (mine, synth, verify, dedup, publish) as a Prefect flow.
    SIGTERM or SIGINT stops it cleanly within 10 s (exit 143 or 130); run it again to resume."""
    _log_format(log_format)
    try:
        cfg = load_config(pipeline)
        Catalog(catalog_path(workdir)).close()  # a locked or foreign catalog fails here, clearly
    except (ConfigError, CatalogError) as e:
        _fail(str(e))
    from flows import stoppable

    try:
        results = stoppable.rebuild(str(pipeline), str(workdir.resolve()), refresh_cache)
    except stoppable.RebuildStopped as e:
        _said(e.line, e.code)
    except stoppable.api_server.ApiGone as e:
        _fail(str(e), 1)
    if as_json:
        sys.stdout.write(json.dumps(results, default=str) + "\n")
        return
    table = Table(title=f"rebuild {cfg.name}")
    for col in ("stage", "count", "value"):
        table.add_column(col)
    for stage, counts in results.items():
        for key, value in counts.items():
            table.add_row(*_row(stage, key, value))
    out.print(table)


@app.command()
def serve(pipeline: Path = typer.Argument(..., help="pipeline config with a `schedule:`"),
          workdir: Path = WorkdirOpt, log_format: str = LogFormatOpt) -> None:
    """Rebuild on the pipeline's cron schedule until stopped (SIGTERM or SIGINT: as for
    rebuild). Teams with a Prefect server can deploy the project's deployment file instead."""
    _log_format(log_format)
    try:
        load_config(pipeline)
        from flows import stoppable
        from flows.rebuild import deployment

        deployment(str(pipeline), str(workdir))  # a config without a schedule fails here
    except (ConfigError, ValueError) as e:
        _fail(str(e))
    try:
        stoppable.serve(str(pipeline), str(workdir.resolve()))
    except stoppable.RebuildStopped as e:
        _said(e.line, e.code)
    except stoppable.api_server.ApiGone as e:
        _fail(str(e), 1)


@app.command()
def status(workdir: Path = WorkdirOpt,
           as_json: bool = typer.Option(False, "--json", help="one JSON object")) -> None:
    """Row counts of every catalog table and the list of releases; while a rebuild holds the
    catalog, the stage it is running and how far it is."""
    try:
        with Catalog(catalog_path(workdir), read_only=True) as cat:
            counts = cat.counts()
            releases = cat.rows("SELECT version, target, location AS path, created_at "
                                "FROM releases ORDER BY created_at")
    except CatalogLockedError as e:
        return _running(workdir, str(e), as_json)
    except CatalogError as e:
        _fail(str(e))
    if as_json:
        print(json.dumps({"catalog": str(catalog_path(workdir)), "tables": counts,
                          "releases": releases}, default=str))
        return
    table = Table(title=str(catalog_path(workdir)))
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, n in counts.items():
        table.add_row(*_row(name, n))
    out.print(table)
    for r in releases:
        out.print(Text(f"release {r['version']} ({r['target']}): {r['path']}"), soft_wrap=True)


def _running(workdir: Path, locked: str, as_json: bool) -> None:
    """What `status` says while the catalog is locked: the writer's progress file."""
    snap = progress.read(progress_path(workdir))
    if snap is None:
        _fail(locked)
    if as_json:
        print(json.dumps({"catalog": str(catalog_path(workdir)), "running": snap}, default=str))
        return
    print(f"a rebuild is running (process {snap.get('pid')}): {progress.describe(snap)} "
          f"[{snap.get('state')}, updated {snap.get('updated_at')}]")


@app.command()
def query(workdir: Path = WorkdirOpt,
          release: str | None = typer.Option(None, help="release directory, or "
                                                        "hf://datasets/ORG/NAME@VERSION (pulled "
                                                        "first); default: the latest local"),
          config: str = typer.Option("pairs", help="pairs, problems, attempts or kernels"),
          op: str | None = typer.Option(None, help="op type, e.g. softmax"),
          arch: str | None = typer.Option(None, help="architecture, e.g. sm_90 or cpu"),
          min_speedup: float | None = typer.Option(None, help="keep rows at least this fast"),
          speedup_over: str = typer.Option("eager", help="eager or compile: the baseline for "
                                                         "--min-speedup"),
          sql: str | None = typer.Option(None, "--sql", help="an extra SQL condition on the "
                                                             "config's columns"),
          limit: int = typer.Option(20, help="rows to show (0: all)"),
          fmt: str = typer.Option("table", "--format", help="table, json (JSON lines) or parquet"),
          out_file: Path | None = typer.Option(None, "--out", help="file for --format parquet"),
          as_json: bool = typer.Option(False, "--json", help="same as --format json")) -> None:
    """Rows of a published release, filtered by op type, architecture and speedup."""
    from kcorpus.query import QueryError, query_release

    fmt = "json" if as_json else fmt
    if fmt not in ("table", "json", "parquet") or (fmt == "parquet" and out_file is None):
        _fail("--format must be table, json or parquet (parquet needs --out FILE)")
    try:
        path = _release_path(release, workdir)
        rows = query_release(path, config, op=op, arch=arch, limit=limit, min_speedup=min_speedup,
                             speedup_over=speedup_over, where=sql)
    except (QueryError, CatalogError, ValueError, OSError) as e:
        _fail(str(e))
    if fmt == "parquet":
        import pyarrow.parquet as pq

        pq.write_table(rows, out_file, compression="zstd")
        out.print(Text(f"{rows.num_rows} rows -> {out_file}"), soft_wrap=True)
        return
    if fmt == "json":
        for r in rows.to_pylist():
            sys.stdout.write(json.dumps(r, default=str) + "\n")
        return
    _print_rows(rows.to_pylist(), f"{path.name}/{config}: {rows.num_rows} rows")


def _release_path(release: str | None, workdir: Path) -> Path:
    from kcorpus.query import latest_release

    if release is None:
        return latest_release(catalog_path(workdir))
    if release.startswith("hf://"):
        from kcorpus.publish.hub import pull as hub_pull

        return hub_pull(release, workdir / "pulled")
    return Path(release)


def _print_rows(rows: list[dict], title: str) -> None:
    table = Table(title=Text(title))
    cols = [c for c in ("pair_id", "candidate_id", "problem_id", "kernel_id", "entry_point",
                        "name", "op_type", "arch", "passed", "failure_code", "repo_name",
                        "origin_path", "speedup_eager", "speedup_compile") if rows and c in rows[0]]
    for c in cols:
        table.add_column(c)
    for r in rows:
        table.add_row(*_row(*(str(r[c])[:40] for c in cols)))
    out.print(table)


@app.command()
def pull(repo: str = typer.Argument(..., help="ORG/NAME@VERSION (a tag), or ORG/NAME for the "
                                               "latest"),
         dest: Path = typer.Option(Path(".kcorpus/pulled"), help="where releases go"),
         endpoint: str | None = typer.Option(None, help="Hub endpoint; default HF_ENDPOINT"),
         token_env: str = typer.Option("HF_TOKEN", help="variable holding the token")) -> None:
    """Download a published release from the Hub; query it with --release PATH."""
    from kcorpus.publish.hub import pull as hub_pull

    try:
        path = hub_pull(repo, dest, endpoint, token_env)
    except Exception as e:  # noqa: BLE001  (the Hub's errors name the repo and revision)
        _fail(f"pull {repo}: {type(e).__name__}: {e}")
    sys.stdout.write(f"{path}\n")  # plain: scripts read it


@app.command("verify")
def verify_pair(problem: Path = typer.Argument(..., help="reference program (KernelBench form)"),
                candidate: Path = typer.Argument(..., help="Triton program defining ModelNew "
                                                 "(or a completion holding it)"),
                device: str = typer.Option("auto", help="cpu, cuda or auto"),
                lenient: bool = typer.Option(False, help="accept partial conversions"),
                trials: int = typer.Option(5, min=1, help="correctness trials"),
                timeout: float = typer.Option(120.0, help="seconds before the candidate is killed"),
                as_json: bool = typer.Option(False, "--json", help="one JSON object")) -> None:
    """One verdict for one pair of files, by the pipeline's own verifier.

    Exit code 0 whenever a verdict was produced, pass or fail (usable as an RL reward)."""
    from kcorpus.verify.single import verify_files

    try:
        verdict = verify_files(problem, candidate, device=device, lenient=lenient, trials=trials,
                               timeout_s=timeout)
    except (OSError, ValueError, RuntimeError) as e:
        _fail(str(e))
    if as_json:
        print(json.dumps(verdict, default=str))
        return
    status = ("PASS", "green") if verdict["passed"] else (f"FAIL {verdict['failure_code']}", "red")
    out.print(Text.assemble(status, f" at stage {verdict['stage']}: "
                                    f"{verdict['message'] or 'all checks passed'}"), soft_wrap=True)
    for key in ("gpu_arch", "interpreter", "trials", "torch_ops", "eager_ms", "compile_ms",
                "candidate_ms", "speedup_eager", "speedup_compile", "flags"):
        if verdict.get(key) not in (None, [], ""):
            out.print(Text(f"  {key}: {verdict[key]}"), soft_wrap=True)


@app.command("export")
def export_release(fmt: str = typer.Argument(..., metavar="FORMAT",
                                             help="verl, openrlhf, trl or kernelbench"),
                   release: Path = typer.Argument(..., help="a release directory"),
                   out_dir: Path = typer.Option(..., "--out", help="where the files go"),
                   as_json: bool = typer.Option(False, "--json", help="one JSON object")) -> None:
    """A release in a trainer's own format (kcorpus/rl/export.py)."""
    from kcorpus.rl.export import export

    try:
        done = export(fmt, release, out_dir)
    except (ValueError, OSError) as e:
        _fail(str(e))
    if as_json:
        print(json.dumps(done))
        return
    out.print(Text(f"{done['format']}: {done['rows']} rows in {out_dir}"), soft_wrap=True)


@app.command("serve-verifier")
def serve_verifier(host: str = typer.Option("127.0.0.1", help="address to listen on"),
                   port: int = typer.Option(8765, help="port to listen on"),
                   device: str = typer.Option("auto", help="cpu, cuda or auto"),
                   workers: int = typer.Option(2, min=1, help="candidates checked at once"),
                   queue: int = typer.Option(64, min=1, help="candidates in flight at most; "
                                             "more get 429"),
                   token_env: str = typer.Option(None, help="variable holding the bearer token"),
                   release: Path = typer.Option(None, help="a release directory: requests may "
                                                "name its problems by problem_id"),
                   trials: int = typer.Option(5, min=1, help="correctness trials"),
                   timeout: float = typer.Option(120.0, help="seconds before a candidate is "
                                                 "killed"),
                   reward_json: str = typer.Option(None, "--reward", help="reward shaping as "
                                                   'JSON, e.g. {"compiled": 0.2}'),
                   catalog: Path = typer.Option(None, help="append every verdict to this "
                                                "catalog (RL rollouts as data)"),
                   log_format: str = LogFormatOpt) -> None:
    """The verifier as an HTTP reward service (POST /v1/verify, /v1/verify/batch,
    /v1/openrlhf; GET /healthz); see kcorpus/rl/service.py. SIGTERM or SIGINT answers what
    is in flight (503 where no verdict is ready) and exits 143 or 130."""
    _log_format(log_format)
    from kcorpus.rl import serving
    from kcorpus.rl.reward import Shaping
    from kcorpus.rl.service import (ServiceConfig, create_app, load_release_problems,
                                    token_from_env)
    from kcorpus.verify.stage import resolve_device

    try:
        cfg = ServiceConfig(device=resolve_device(device)[0], workers=workers, queue=queue,
                            timeout_s=timeout, trials=trials, token=token_from_env(token_env),
                            problems=load_release_problems(release) if release else {},
                            shaping=Shaping.of(_json_option("--reward", reward_json)),
                            catalog=catalog)
        app_ = create_app(cfg)  # a locked or foreign catalog fails here, clearly
    except (ValueError, RuntimeError, OSError) as e:
        _fail(str(e))
    stopped = serving.serve(app_, host, port)
    if stopped is not None:
        _said(stopped[1], stopped[0])


def _json_option(name: str, text: str | None):
    try:
        return json.loads(text) if text else None
    except json.JSONDecodeError as e:
        raise ValueError(f"{name}: not JSON ({e}): {text}") from None


bench = typer.Typer(help="Benchmarks: each prints a table, then one JSON line.")
app.add_typer(bench, name="bench")
_PASS_THROUGH = {"allow_extra_args": True, "ignore_unknown_options": True}


@bench.command("verify", context_settings=_PASS_THROUGH)
def bench_verify(ctx: typer.Context) -> None:
    """Candidates per minute: the fork-server pool beside a fresh process per candidate.

    Options: --device cuda|cpu --parallel N --timeout S --trials N --timing-trials N --hangs N
    --no-baseline --out FILE"""
    from kcorpus.bench.verify import main as bench_main

    raise typer.Exit(bench_main(ctx.args))


@bench.command("mine", context_settings=_PASS_THROUGH)
def bench_mine(ctx: typer.Context) -> None:
    """Files/s of extraction beside bare ast.parse, and the yield.

    Options: PATH... --workers N --trials (run the guessed programs and count runnable)"""
    from kcorpus.bench.mine import main as bench_main

    raise typer.Exit(bench_main(ctx.args))


@bench.command("problems", context_settings=_PASS_THROUGH)
def bench_problems(ctx: typer.Context) -> None:
    """Probe jobs/min and peak child memory of the problems stage, beside the probe before the
    shape pass (bounded), with their op-type labels compared.

    Options: PATH... --workers N --baseline-limit S --timeout S --memory-mb M --budget-s S
    --budget-mb M --max-jobs N"""
    from kcorpus.bench.problems import main as bench_main

    raise typer.Exit(bench_main(ctx.args))


@bench.command("verify-vs-kernelbench", context_settings=_PASS_THROUGH)
def bench_verify_vs_kernelbench(ctx: typer.Context) -> None:
    """(GPU) The same candidates through our fork server and KernelBench's harness.

    Options: --kernelbench DIR --parallel N --timeout S --out FILE; --release DIR checks that
    release's KernelBench export through the same harness instead"""
    from kcorpus.bench.kernelbench_compare import main as bench_main

    raise typer.Exit(bench_main(ctx.args))


@bench.command("serve", context_settings=_PASS_THROUGH)
def bench_serve(ctx: typer.Context) -> None:
    """Evaluations/min through the reward service beside a fresh process per candidate.

    Options: --device cpu|cuda --workers N --requests N --clients N --queue N --baseline N"""
    from kcorpus.bench.serve import main as bench_main

    raise typer.Exit(bench_main(ctx.args))


@bench.command("dedup", context_settings=_PASS_THROUGH)
def bench_dedup(ctx: typer.Context) -> None:
    """Near dedup of a synthetic corpus with planted copies, beside datasketch.

    Options: --rows N --datasketch-rows N --workers N --threshold T"""
    from kcorpus.bench.dedup import main as bench_main

    raise typer.Exit(bench_main(ctx.args))


@bench.command("query", context_settings=_PASS_THROUGH)
def bench_query(ctx: typer.Context) -> None:
    """Filter a million-row release by op type and arch, beside pandas reading it whole.

    Options: --rows N --op OP --arch ARCH --repeat N"""
    from kcorpus.bench.query import main as bench_main

    raise typer.Exit(bench_main(ctx.args))


@bench.command("rebuild", context_settings=_PASS_THROUGH)
def bench_rebuild(ctx: typer.Context) -> None:
    """A full rebuild of N sources, then the rebuild after one more source.

    Options: --sources N --ephemeral"""
    from flows.bench_rebuild import main as bench_main

    raise typer.Exit(bench_main(ctx.args))


@bench.command("inductor", context_settings=_PASS_THROUGH)
def bench_inductor(ctx: typer.Context) -> None:
    """Inductor candidates for a problem set, verified on the GPU (needs CUDA).

    Options: [PATH...] --modes default triton_templates --parallel N --timeout S --out FILE"""
    from kcorpus.bench.inductor import main as bench_main

    raise typer.Exit(bench_main(ctx.args))


@bench.command("scaleout", context_settings=_PASS_THROUGH)
def bench_scaleout(ctx: typer.Context) -> None:
    """Verification throughput on 1 GPU beside 2, one batch per GPU (needs CUDA GPUs).

    Options: --gpus 1,2 --dispatch ray|local --batch N --repeat N --parallel N --out FILE"""
    from kcorpus.bench.scaleout import main as bench_main

    raise typer.Exit(bench_main(ctx.args))


def main(argv: list[str] | None = None) -> None:
    """The `kcorpus` script: the commands, with every error printed by `_print_error`."""
    try:
        code = app(args=argv, prog_name="kcorpus", standalone_mode=False)
    except USAGE_ERROR as e:  # a bad option or argument: the usage, then the error
        if type(e).__name__ == "NoArgsIsHelpError":
            e.show()  # the help
        else:
            if getattr(e, "ctx", None) is not None:
                err.print(Text(e.ctx.get_usage()), highlight=False, soft_wrap=True)
            _print_error(e.format_message())
        code = 2
    except typer.Abort:
        code = 130
    except Exception as e:  # noqa: BLE001 - the one place every other error is printed
        if os.environ.get("KCORPUS_TRACEBACK"):
            raise
        _print_error(f"{type(e).__name__}: {e}")
        code = 2
    sys.exit(code if isinstance(code, int) else 0)
