"""The command line as a user or a CI job meets it: `main(argv)` in-process, and a subprocess
where the process itself is the point."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import CLI_ENV, ROOT, Runner, write


def test_run_json_matches_contract(project: Path, cli: Runner) -> None:
    proc = cli("run", "scenarios/demo/base.yaml", "--format", "json", cwd=project)
    assert proc.returncode == 0, proc.stderr
    [record] = json.loads(proc.stdout)
    assert record["scenario"] == "base" and record["partnership"] == "demo"
    assert record["stability"] == pytest.approx(57.5) and record["band"] == "fragile"
    assert {"id", "kind", "value", "normalised", "weight", "contribution"} <= set(
        record["factors"][0])


def test_run_text_csv_markdown(project: Path, cli: Runner) -> None:
    text = cli("run", "scenarios/demo", cwd=project)
    assert text.returncode == 0 and "S = 57.5" in text.stdout and "fragile" in text.stdout
    assert "Traceback" not in text.stderr
    rows = list(csv.DictReader(io.StringIO(cli("run", "scenarios/demo", "--format", "csv",
                                               cwd=project).stdout)))
    factors = [r for r in rows if r["kind"] != "node"]
    assert len(factors) == 8 and {r["scenario"] for r in rows} == {"base", "up"}
    # each scenario's tree nodes follow its factors: the root and its risk and opportunity
    assert [r["factor"] for r in rows if r["kind"] == "node"] == [
        "stability", "risk", "opportunity"] * 2
    markdown = cli("run", "scenarios/demo", "--format", "markdown", cwd=project).stdout
    assert "| demo/up | 71.2 |" in markdown or "| demo/up | 71.3 |" in markdown


def test_run_writes_output_atomically(project: Path, cli: Runner) -> None:
    out = project / "out.json"
    proc = cli("run", "scenarios/demo", "--format", "json", "-o", str(out), cwd=project)
    assert proc.returncode == 0 and proc.stdout == ""
    assert len(json.loads(out.read_text())) == 2
    assert [p.name for p in project.iterdir() if p.name.startswith(".out")] == []


def test_failed_run_writes_no_output(project: Path, cli: Runner) -> None:
    write(project / "scenarios/demo/base.yaml", "id: base\ntitle: [\n")
    out = project / "out.json"
    proc = cli("run", "scenarios/demo", "--format", "json", "-o", str(out), cwd=project)
    assert proc.returncode == 1 and not out.exists()


BROKEN = {
    "syntax error": ("scenarios/demo/up.yaml", "id: up\ntitle: Up\nfactors: {r_a: [1, 2}\n",
                     "scenarios/demo/up.yaml:3:", "RE001"),
    "unknown key": ("scenarios/demo/up.yaml", "id: up\ntitle: Up\nextends: base\nfactors:\n"
                    "  r_a: {mdoe: 3}\n", "scenarios/demo/up.yaml:5:9: factors.r_a.mdoe: "
                    "unknown key 'mdoe' (did you mean 'mode'?)", "RE101"),
    "unknown factor": ("scenarios/demo/up.yaml", "id: up\ntitle: Up\nextends: base\nfactors:\n"
                       "  nope: {value: 3}\n", "scenarios/demo/up.yaml:5:3: factors.nope: "
                       "unknown factor 'nope'", "RE301"),
    "outside scale": ("scenarios/demo/up.yaml", "id: up\ntitle: Up\nextends: base\nfactors:\n"
                      "  o_a: {value: 9}\n", "scenarios/demo/up.yaml:5:9: factors.o_a.value: "
                      "value 9 is outside the scale 0..4", "RE302"),
    "cycle": ("scenarios/demo/base.yaml", "id: base\ntitle: B\nextends: up\n",
              "extends: inheritance cycle", "RE402"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
@pytest.mark.parametrize("command", ["run", "validate"])
def test_broken_files_exit_1_with_location(project: Path, cli: Runner, case: str,
                                           command: str) -> None:
    relpath, body, expected, code = BROKEN[case]
    target = project / relpath
    write(target, body)
    before = target.read_bytes()
    args = ("run", "scenarios/demo") if command == "run" else ("validate", "factors",
                                                                 "scenarios")
    proc = cli(*args, cwd=project)
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    output = proc.stdout + proc.stderr
    assert expected in output and f"[{code}]" in output, output
    assert "Traceback" not in output
    assert target.read_bytes() == before


def test_validate_clean_and_json(project: Path, cli: Runner) -> None:
    proc = cli("validate", cwd=project)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    write(project / "scenarios/demo/up.yaml", "id: up\ntitle: Up\nextends: base\nfactors:\n"
          "  o_a: {value: 9}\n  zz: {value: 1}\n")
    report = json.loads(cli("validate", "--format", "json", cwd=project).stdout)
    assert [p["code"] for p in report["problems"]] == ["RE302", "RE301"]
    assert report["problems"][0]["line"] == 5 and report["errors"] == 2


def test_usage_errors_exit_2(project: Path, cli: Runner) -> None:
    for args in (("run",), ("run", "missing.yaml"), ("run", "scenarios", "--format", "pdf"),
                 ("validate", "nowhere"), ("bogus",), ("run", "scenarios", "--factors", "x")):
        proc = cli(*args, cwd=project)
        assert proc.returncode == 2, (args, proc.stderr)
        assert "Traceback" not in proc.stderr


def test_schema_and_version(cli: Runner) -> None:
    schema = json.loads(cli("schema", "factor").stdout)
    assert schema["additionalProperties"] is False and "scale" in schema["properties"]
    assert cli("--version").stdout.startswith("riskengine ")


@pytest.mark.parametrize(("args", "unused"), [
    (["--help"], ("scipy", "pandas")), (["validate", "factors", "scenarios"], ("scipy", "pandas")),
    # nothing to print: no console made, so not even rich
    (["validate", "--quiet", "factors", "scenarios"], ("scipy", "pandas", "rich.console"))])
def test_help_and_validate_import_neither_scipy_nor_pandas(args: list[str],
                                                            unused: tuple[str, ...]) -> None:
    # main(), not the module as __main__: that leaves by os._exit, before the probe's check
    probe = ("import sys\nfrom riskengine.cli import main\n"
             "try:\n    print('EXIT', main(sys.argv[1:]))\n"
             "except SystemExit as exit:\n    print('EXIT', exit.code)\n"
             f"heavy = [m for m in {unused!r} if m in sys.modules]\n"
             "print('HEAVY', heavy)\n")
    proc = subprocess.run([sys.executable, "-c", probe, *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert "HEAVY []" in proc.stdout, proc.stdout + proc.stderr
    assert "EXIT 0" in proc.stdout, proc.stdout + proc.stderr


def test_the_command_leaves_with_its_exit_code_and_every_byte(
        tmp_path: Path, cli: Runner, cli_subprocess: Runner) -> None:
    """The `riskengine` command leaves by os._exit, skipping the interpreter's teardown
    (cli.entry): what it printed must still all arrive through a pipe, and its exit code
    must be main's."""
    for argv in (("schema", "scenario"), ("run", "scenarios", "--format", "csv")):
        program, in_process = cli_subprocess(*argv, cwd=ROOT), cli(*argv, cwd=ROOT)
        assert program.returncode == in_process.returncode == 0
        assert program.stdout == in_process.stdout and len(program.stdout) > 10_000
    bad = tmp_path / "factors" / "bad.yaml"
    bad.parent.mkdir()
    bad.write_text("id: bad\nname: [\n", encoding="utf-8")
    invalid = cli_subprocess("validate", str(bad))
    assert invalid.returncode == 1 and "bad.yaml:3" in invalid.stdout
    assert cli_subprocess("run", "--no-such-flag").returncode == 2


def test_only_a_process_leaving_without_teardown_keeps_what_it_is_done_with(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from riskengine import executors

    monkeypatch.setattr(executors, "_kept_to_exit", None)
    executors.keep_to_exit(["a parsed file"])
    assert executors._kept_to_exit is None  # the API, the tests: freed as usual
    executors.end_without_teardown()
    executors.keep_to_exit(kept := ["a parsed file"])
    assert executors._kept_to_exit == [kept]


def test_the_api_demo_runs(monkeypatch: pytest.MonkeyPatch,
                           capsys: pytest.CaptureFixture[str]) -> None:
    """The README's Python API as examples/api_demo.py uses it (the demo command runs it)."""
    import runpy

    monkeypatch.chdir(ROOT)
    runpy.run_path(str(ROOT / "examples" / "api_demo.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert "stability" in out and "Outlook: expected S" in out


def test_a_stream_that_cannot_show_unicode_gets_escapes_not_a_crash(cli: Runner,
                                                                    tmp_path: Path) -> None:
    """Standard output in ASCII (PYTHONIOENCODING=ascii, an old console): an em dash in a
    title, a β or an accented name used to fail the whole command (internal error, exit 3).
    Now what the stream cannot show is written as JSON escapes, a character beyond U+FFFF as
    its UTF-16 halves (backslashreplace's \\U0001f600 is not JSON), rich's ASCII boxes draw
    the tables, and JSON stays the same JSON."""
    assert cli("init", "proj", cwd=tmp_path).returncode == 0
    project = tmp_path / "proj"
    baseline = next((project / "scenarios").rglob("baseline.yaml"))
    text = baseline.read_text(encoding="utf-8")
    baseline.write_text("\n".join('title: "Dash \u2014 and \U0001f600"' if line.startswith(
        "title:") else line for line in text.splitlines()) + "\n", encoding="utf-8")
    env = {**os.environ, **CLI_ENV, "PYTHONIOENCODING": "ascii"}
    env.pop("RISKENGINE_DEBUG", None)
    found = {}
    for name, args in (("text", ("run", "scenarios")), ("validate", ("validate",)),
                       ("json", ("run", "scenarios", "--format", "json"))):
        proc = subprocess.run([sys.executable, "-m", "riskengine.cli", *args], cwd=project,
                              capture_output=True, env=env, timeout=120)
        assert proc.returncode == 0, (args, proc.stderr)
        assert proc.stdout.isascii() and proc.stderr.isascii()
        assert b"Traceback" not in proc.stderr
        found[name] = proc.stdout.decode()
    assert "Dash \\u2014 and \\ud83d\\ude00" in found["text"] and "-+-" in found["text"]
    assert "-+-" in found["validate"]
    expected = cli("run", "scenarios", "--format", "json", cwd=project).stdout
    assert json.loads(found["json"]) == json.loads(expected)
    assert json.loads(found["json"])[0]["title"] == "Dash \u2014 and \U0001f600"


def test_the_parser_is_built_once_and_runs_the_handler_of_the_moment(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """main() is called hundreds of times in one process by notebooks and this suite: the
    parser (10 ms to build) is built once, and names its handlers, so a handler replaced
    since (as a test does) is the one that runs."""
    from riskengine import cli

    assert cli._parser() is cli._parser()
    assert cli.main(["schema", "tree"]) == 0
    assert json.loads(capsys.readouterr().out)["title"]
    monkeypatch.setattr(cli, "cmd_schema", lambda args: 7)
    assert cli.main(["schema", "tree"]) == 7
