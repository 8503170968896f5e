"""Every command, given a bad input of each kind, prints one plain `error:` text naming it, with
exit code 2 and no traceback (kcorpus/cli.py: `main`). Data in a message is printed as written:
rich would read `[@VERSION]` as markup and drop it, and raise MarkupError on `[/x]`.

The commands run in this process, through the script's own entry point, so the cases stay fast;
tests/test_config.py runs the script itself once for a bad config.
"""

from __future__ import annotations

import pytest

from kcorpus import cli

MARKUP = "[@VERSION][/x]"

PIPELINES = {
    "bad_yaml.yaml": "name: [unclosed\n",
    "markup.yaml": f"name: '{MARKUP}'\nsources: [{{kind: local, path: .}}]\n",
    "lax.yaml": "name: a\nsources: [{kind: local, path: .}]\nverify: {lenient: 'yes'}\n",
    "unrelated.yaml": "name: a\nsources: [{kind: local, path: .}]\n"
                      "dedup: {near: {bands: 16, rows: 8}}\n",
    "no_schedule.yaml": "name: a\nsources: [{kind: local, path: .}]\n",
}

# (command line, what the error must say); {d} is a directory holding the files above
CASES = {
    "rebuild: no such file": (["rebuild", "{d}/absent.yaml"], "absent.yaml: pipeline config not found"),
    "rebuild: not YAML": (["rebuild", "{d}/bad_yaml.yaml"], "bad_yaml.yaml: not valid YAML"),
    "rebuild: markup in a value": (["rebuild", "{d}/markup.yaml"], f"(got '{MARKUP}')"),
    "rebuild: a lax type": (["rebuild", "{d}/lax.yaml"], "verify.lenient: Input should be a valid boolean"),
    "rebuild: related keys": (["rebuild", "{d}/unrelated.yaml"], "bands * rows must equal num_perm"),
    "rebuild: no argument": (["rebuild"], "Missing argument"),
    "serve: no such file": (["serve", "{d}/absent.yaml"], "absent.yaml: pipeline config not found"),
    "serve: no schedule": (["serve", "{d}/no_schedule.yaml"], "no_schedule.yaml: no schedule"),
    "status: no catalog": (["status", "--workdir", "{d}/empty"], "no catalog here"),
    "status: not a catalog": (["status", "--workdir", "{d}/garbage"], "cannot open the catalog"),
    "status: unknown option": (["status", "--bogus"], "No such option: --bogus"),
    "query: nothing published": (["query", "--workdir", "{d}/empty"], "no catalog here"),
    "query: markup in a path": (["query", "--release", "{d}/" + MARKUP],
                                f"{MARKUP}: no Parquet files for config 'pairs'"),
    "query: unknown config": (["query", "--release", "{d}", "--config", MARKUP],
                              f"unknown config '{MARKUP}'"),
    "query: bad format": (["query", "--format", "xml"], "--format must be table, json or parquet"),
    "query: bad number": (["query", "--limit", "many"], "Invalid value for '--limit'"),
    "pull: bad repo id": (["pull", f"not a repo{MARKUP}"], f"pull not a repo{MARKUP}"),
    "verify: no such file": (["verify", "{d}/problem.py", "{d}/absent.py"],
                             "absent.py: candidate file not found"),
    "verify: not UTF-8": (["verify", "{d}/problem.py", "{d}/latin1.py"], "latin1.py: candidate file "
                                                                          "is not UTF-8"),
    "verify: bad device": (["verify", "{d}/problem.py", "{d}/problem.py", "--device", "tpu"],
                           "device 'tpu': expected cpu, cuda or auto"),
    "verify: bad trials": (["verify", "{d}/problem.py", "{d}/problem.py", "--trials", "0"],
                           "Invalid value for '--trials'"),
    "export: unknown format": (["export", MARKUP, "{d}", "--out", "{d}/o"],
                               f"unknown export format '{MARKUP}'"),
    "export: not a release": (["export", "verl", "{d}/empty", "--out", "{d}/o"],
                              "no problems/*.parquet here"),
    "serve-verifier: reward not JSON": (["serve-verifier", "--device", "cpu", "--reward", "{"],
                                        "--reward: not JSON"),
    "serve-verifier: reward key": (["serve-verifier", "--device", "cpu", "--reward",
                                    f'{{"{MARKUP}": 1}}'], f"unknown keys ['{MARKUP}']"),
    "serve-verifier: not a release": (["serve-verifier", "--device", "cpu", "--release",
                                       "{d}/empty"], "no problems/*.parquet here"),
    "serve-verifier: bad device": (["serve-verifier", "--device", "tpu"], "device 'tpu'"),
    "bench: unknown option": (["bench", "dedup", "--bogus"], "unrecognized arguments: --bogus"),
    "bench: bad number": (["bench", "query", "--rows", "many"], "invalid int value: 'many'"),
}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad-inputs")
    for name, text in PIPELINES.items():
        (d / name).write_text(text)
    (d / "empty").mkdir()
    (d / "garbage").mkdir()
    (d / "garbage" / "catalog.duckdb").write_text("not a database\n")
    (d / "problem.py").write_text("import torch\n")
    (d / "latin1.py").write_bytes("caf\xe9 = 1\n".encode("latin-1"))
    return d


def _main(capsys, argv: list[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as done:
        cli.main(argv)
    captured = capsys.readouterr()
    return done.value.code, captured.out, captured.err


@pytest.mark.parametrize("case", list(CASES))
def test_each_command_reports_a_bad_input_as_plain_text(inputs, capsys, case):
    argv, said = CASES[case]
    code, out, err = _main(capsys, [a.replace("{d}", str(inputs)) for a in argv])
    assert code == 2, (case, out, err)
    assert said in err, (case, err)
    assert "Traceback" not in err + out and "╭" not in err, (case, err)


def test_an_unexpected_error_is_one_plain_line_too(capsys, monkeypatch, tmp_path):
    import kcorpus.query

    def broken(*a, **kw):
        raise KeyError(f"column {MARKUP}")

    monkeypatch.setattr(kcorpus.query, "query_release", broken)
    code, _, err = _main(capsys, ["query", "--release", str(tmp_path)])
    assert code == 2 and err.strip() == f"error: KeyError: 'column {MARKUP}'"

    monkeypatch.setenv("KCORPUS_TRACEBACK", "1")  # for whoever debugs it
    with pytest.raises(KeyError):
        cli.main(["query", "--release", str(tmp_path)])


def test_data_in_tables_and_lines_prints_as_written(capsys):
    cli._print_rows([{"name": MARKUP, "entry_point": "[bold]Model"}], f"pairs {MARKUP}")
    out = capsys.readouterr().out
    assert out.count(MARKUP) == 2 and "[bold]Model" in out
