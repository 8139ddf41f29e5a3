"""Attacks on the real command's inputs and outputs (issue 11): each test is one class of bug
found by attacking the CLI, driven through ``riskengine.cli.main`` (or a subprocess where the
process is the point: pipes and hangs). Every test failed before its fix."""

from __future__ import annotations

import csv
import html
import io
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from riskengine import charts

from .conftest import Runner, write

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=cwd,
                          check=True, capture_output=True, text=True).stdout.strip()


def _commit_all(repo: Path) -> None:
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "start")


def _one_clean_line(proc: subprocess.CompletedProcess[str], code: int) -> str:
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


# ---------------------------------------------------------------------------------------------
# 1. a git revision is data, never an option of git


@needs_git
def test_diff_git_revision_cannot_be_an_option(project: Path, cli: Runner) -> None:
    _commit_all(project)
    victim = project / "victim.txt"
    victim.write_text("keep me\n")
    for rev in (f"--output={victim}", "--remote=ext::sh -c touch% pwned", "-h"):
        line = _one_clean_line(cli("diff", f"--git={rev}", cwd=project), 2)
        assert "must not start with '-'" in line
    assert victim.read_text() == "keep me\n" and not (project / "pwned").exists()
    # a blob is a revision git knows, but not a tree to compare
    blob = _git(project, "rev-parse", "HEAD:factors/r_a.yaml")
    line = _one_clean_line(cli("diff", "--git", blob, cwd=project), 2)
    assert f"--git {blob}: not a commit or tree" in line


# ---------------------------------------------------------------------------------------------
# 5. extracting the old revision: no symlink out of the tree, no catalogue from above it


@needs_git
def test_diff_git_symlink_escaping_the_revision_is_refused(project: Path, cli: Runner) -> None:
    (project / "scenarios/demo/evil.yaml").symlink_to("/etc/passwd")
    (project / "factors/up.yaml").symlink_to("../../outside.yaml")
    _commit_all(project)
    (project / "scenarios/demo/evil.yaml").unlink()
    (project / "factors/up.yaml").unlink()
    proc = cli("diff", "--git", "HEAD", "--format", "json", cwd=project)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
    assert ("skipped HEAD:factors/up.yaml: a symlink to ../../outside.yaml, outside the "
            "revision") in proc.stderr
    assert "skipped HEAD:scenarios/demo/evil.yaml: a symlink to /etc/passwd" in proc.stderr
    assert json.loads(proc.stdout)["shared_changes"] == []


@needs_git
def test_diff_git_never_takes_factors_from_above_the_extracted_revision(
        project: Path, tmp_path: Path, cli: Runner, monkeypatch: pytest.MonkeyPatch) -> None:
    # The repository holds only the scenarios; its catalogue is the project's factors/ outside
    # it. A factors/ above the temporary folder must never stand in for it.
    _commit_all(project / "scenarios")
    decoy = tmp_path / "tmp"
    write(decoy / "factors/r_a.yaml", "id: r_a\ntitle: [\n")
    monkeypatch.setattr(tempfile, "tempdir", str(decoy))
    proc = cli("diff", "--git", "HEAD", "--format", "json", cwd=project / "scenarios")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["shared_changes"] == [] and data["scenarios"] == []


# ---------------------------------------------------------------------------------------------
# 2. -o writes into what is there: never replaces a device, a pipe or a symlink


def test_output_keeps_mode_and_writes_through_symlinks(project: Path, cli: Runner) -> None:
    real = project / "real.json"
    real.write_text("old")
    real.chmod(0o640)
    link = project / "link.json"
    link.symlink_to("real.json")
    proc = cli("run", "scenarios/demo", "--format", "json", "-o", "link.json", cwd=project)
    assert proc.returncode == 0, proc.stderr
    assert link.is_symlink() and os.readlink(link) == "real.json"
    assert len(json.loads(real.read_text())) == 2
    assert stat.S_IMODE(real.stat().st_mode) == 0o640
    assert [p.name for p in project.iterdir() if p.name.endswith(".tmp")] == []


def test_output_to_a_character_device_writes_through(project: Path, cli: Runner) -> None:
    device = project / "null"
    try:
        os.mknod(device, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # a private /dev/null
    except (PermissionError, AttributeError):
        pytest.skip("creating a device node needs root")
    for args in (("run", "scenarios/demo", "--format", "json"), ("validate", "--format", "json")):
        proc = cli(*args, "-o", str(device), cwd=project)
        assert proc.returncode == 0, proc.stderr
        assert stat.S_ISCHR(os.lstat(device).st_mode)


def test_output_to_a_fifo_writes_through(project: Path, cli: Runner) -> None:
    fifo = project / "pipe"
    os.mkfifo(fifo)
    # A reader opened without blocking, so the command's open for writing finds it; the CSV
    # fits in the pipe's buffer, so nothing waits on anything.
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        proc = cli("run", "scenarios/demo", "--format", "csv", "-o", str(fifo), cwd=project)
        try:
            received = os.read(reader, 1 << 16)
        except BlockingIOError:
            received = b""
    finally:
        os.close(reader)
    assert proc.returncode == 0, proc.stderr
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert received.startswith(b"partnership,scenario,")


def test_output_through_a_link_to_standard_output(project: Path, tmp_path: Path) -> None:
    # /dev/stdout is such a link; this one is private, so a failure cannot break the machine's.
    link = tmp_path / "stdout"
    link.symlink_to("/proc/self/fd/1")
    proc = subprocess.run([sys.executable, "-m", "riskengine.cli", "run", "scenarios/demo",
                           "--format", "json", "-o", str(link)], cwd=project,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert len(json.loads(proc.stdout)) == 2 and link.is_symlink()


@pytest.mark.parametrize("target", ["folder", "file-as-folder", "read-only", "no-such-proc"])
def test_unwritable_output_is_one_clean_line(project: Path, cli: Runner, target: str) -> None:
    path = {"folder": str(project / "factors"),
            "file-as-folder": str(project / "factors/r_a.yaml/out.json"),
            "read-only": "/sys/riskengine-out.json",  # sysfs: refused even to root
            "no-such-proc": "/proc/riskengine/out.json"}[target]
    before = sorted(p.name for p in (project / "factors").iterdir())
    for args in (("run", "scenarios/demo", "--format", "json"), ("validate", "--format", "json"),
                 ("compare", "scenarios/demo", "--format", "xlsx", "--simulate", "50")):
        line = _one_clean_line(cli(*args, "-o", path, cwd=project), 2)
        assert line.startswith(f"riskengine {args[0]}: error: --output {path}: "), line
    assert sorted(p.name for p in (project / "factors").iterdir()) == before


def test_an_output_never_replaces_a_file_riskengine_reads(project: Path, cli: Runner) -> None:
    """`-o` naming a scenario, factor, tree or settings file (or a link to one) used to
    replace it with the command's output: the input was gone. Every command that writes a
    file refuses before any work, and the file keeps its bytes."""
    write(project / "riskengine.toml", "# this project's settings: the defaults\n")
    write(project / "models/t.yml", "id: t\nname: T\ndescription: A tree.\nroot:\n  id: top\n"
          "  children:\n    - {factor: r_a}\n    - {factor: r_b}\n    - {factor: o_a}\n"
          "    - {factor: o_b}\n")
    (project / "link.json").symlink_to("scenarios/demo/base.yaml")
    targets = ("scenarios/demo/base.yaml", "factors/r_a.yaml", "models/t.yml", "riskengine.toml",
               "link.json", "factors/../scenarios/demo/up.yaml")
    before = {t: (project / t).read_bytes() for t in targets}
    commands = (("run", "scenarios/demo", "--format", "json"), ("validate", "--format", "json"),
                ("compare", "scenarios/demo", "--simulate", "50"),
                ("outlook", "scenarios/demo", "--simulate", "50"),
                ("sensitivity", "scenarios/demo/base.yaml", "--n", "64"),
                ("sweep", "scenarios/demo", "--simulate", "50"),
                ("report", "scenarios/demo", "--simulate", "50"),
                ("export", "scenarios/demo"), ("diff", "scenarios/demo", "scenarios/demo"))
    for target in targets:
        for args in commands:
            line = _one_clean_line(cli(*args, "-o", target, cwd=project), 2)
            assert line.startswith(f"riskengine {args[0]}: error: --output {target}: is an "
                                   "existing "), line
            assert "outputs never replace one" in line
    assert {t: (project / t).read_bytes() for t in targets} == before
    # a new file of any name is written as before
    assert cli("run", "scenarios/demo", "--format", "json", "-o", "new.yaml",
               cwd=project).returncode == 0
    assert json.loads((project / "new.yaml").read_text())


def test_report_and_xlsx_outputs_keep_mode_and_links(project: Path, cli: Runner) -> None:
    pytest.importorskip("openpyxl")
    real = project / "book.xlsx"
    real.write_bytes(b"")
    real.chmod(0o600)
    proc = cli("compare", "scenarios/demo", "--format", "xlsx", "--simulate", "100", "-o",
               str(real), cwd=project)
    assert proc.returncode == 0, proc.stderr
    assert stat.S_IMODE(real.stat().st_mode) == 0o600 and real.stat().st_size > 0
    html_file = project / "r.html"
    html_file.write_text("")
    (project / "report.html").symlink_to("r.html")
    proc = cli("report", "scenarios/demo", "--simulate", "200", "-q", "-o", "report.html",
               cwd=project)
    assert proc.returncode == 0, proc.stderr
    assert (project / "report.html").is_symlink()
    assert html_file.read_text().startswith("<!DOCTYPE html>")


# ---------------------------------------------------------------------------------------------
# 3. user text in the HTML report and its charts

EVIL_NAME = 'x" onload="alert(1) $\\alpha$ <b> \x1b[2J'
SHOWN_NAME = EVIL_NAME.replace("\x1b", "\\x1b")  # HTML cannot hold ESC: shown as an escape


def _rename_partnership(project: Path, name: str) -> None:
    """The partnership of the demo scenarios becomes ``name``: their folder's name."""
    base = project / "scenarios/demo/base.yaml"
    base.write_text(base.read_text().replace("partnership: demo\n", ""))
    (project / "scenarios/demo").rename(project / "scenarios" / name)


def _evil_free_text(project: Path, name: str) -> None:
    """``name`` in every free-text field that reaches a report: the title, the parties and a
    factor's name (partnership and ids must be slugs, so a folder name cannot carry it)."""
    quoted = name.replace("\\", "\\\\").replace('"', '\\"').replace("\x1b", "\\e")
    base = project / "scenarios/demo/base.yaml"
    base.write_text(base.read_text().replace("title: Base case", f'title: "{quoted}"')
                    .replace("parties: [A, B]", f'parties: ["{quoted}", "B"]'))
    factor = project / "factors/r_a.yaml"
    factor.write_text(factor.read_text().replace("name: R A", f'name: "{quoted}"'))


class _Attributes(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()
        self.labels: list[str] = []

        self.svg_text: list[str] = []  # what the charts draw as text
        self._in_text = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.names |= {name for name, _ in attrs}
        self.labels += [v or "" for name, v in attrs if name == "aria-label"]
        self._in_text = tag == "text"

    def handle_endtag(self, tag: str) -> None:
        self._in_text = False

    def handle_data(self, data: str) -> None:
        if self._in_text:
            self.svg_text.append(data)


def test_report_escapes_names_in_attributes_and_charts(project: Path, cli: Runner) -> None:
    # the folder-name route is closed: a partnership must be a slug
    _rename_partnership(project, EVIL_NAME)
    proc = cli("report", "scenarios", "--simulate", "200", "-q", "-o",
               str(project / "r.html"), cwd=project)
    assert proc.returncode == 1 and "is not a partnership slug" in proc.stderr
    assert not (project / "r.html").exists()
    (project / "scenarios" / EVIL_NAME).rename(project / "scenarios/demo")
    base = project / "scenarios/demo/base.yaml"
    base.write_text(base.read_text().replace("title:", "partnership: demo\ntitle:", 1))
    # free text still reaches the report: titles, parties, factor names
    _evil_free_text(project, EVIL_NAME)
    out = project / "report.html"
    proc = cli("report", "scenarios", "--simulate", "200", "-q", "-o", str(out), cwd=project)
    assert proc.returncode == 0, proc.stderr
    text = out.read_text()
    parser = _Attributes()
    parser.feed(text)
    assert "onload" not in parser.names
    assert "\x1b" not in text
    assert "$ <b>" not in text  # the name's tag is text everywhere
    assert html.escape(SHOWN_NAME, quote=True) in text  # shown, escaped
    # a label that reaches a chart is drawn as the text it is ("$\\alpha$" is no maths)
    label = charts.tornado([EVIL_NAME], [40.0], [60.0], 50.0, EVIL_NAME)
    chart = _Attributes()
    chart.feed(label)
    assert "onload" not in chart.names and "\x1b" not in label
    assert html.escape(SHOWN_NAME, quote=True) in label  # whole in the title and tooltip
    drawn = html.unescape(re.sub(r"<title>.*?</title>|<[^>]+>", "", label))
    assert SHOWN_NAME[:30] in drawn  # drawn as text (clipped to the label column)


# ---------------------------------------------------------------------------------------------
# 4. spreadsheet formulas in user text

FORMULA = '=HYPERLINK("evil.example","click")'


def test_csv_and_xlsx_neutralise_formulas_but_keep_numbers(project: Path, cli: Runner) -> None:
    # a formula cannot become a partnership (slugs only) ...
    _rename_partnership(project, FORMULA)
    proc = cli("run", "scenarios", "--format", "csv", cwd=project)
    assert proc.returncode == 1 and "is not a partnership slug" in proc.stderr
    (project / "scenarios" / FORMULA).rename(project / "scenarios/demo")
    base = project / "scenarios/demo/base.yaml"
    base.write_text(base.read_text().replace("title:", "partnership: demo\ntitle:", 1))
    # ... and the writers neutralise text cells whatever reaches them
    from riskengine.reporting import run_csv

    record = json.loads(cli("run", "scenarios/demo/base.yaml", "--format", "json",
                            cwd=project).stdout)[0]
    record["partnership"] = FORMULA
    rows = list(csv.DictReader(io.StringIO(run_csv([record]))))
    assert {r["partnership"] for r in rows} == {"'" + FORMULA}
    assert any(float(r["contribution"]) < 0 for r in rows)  # negative numbers stay numbers
    assert all(not r["contribution"].startswith("'") for r in rows)
    proc = cli("compare", "scenarios", "--format", "csv", "--simulate", "100", cwd=project)
    assert proc.returncode == 0, proc.stderr
    openpyxl = pytest.importorskip("openpyxl")
    book = project / "c.xlsx"
    proc = cli("compare", "scenarios", "--format", "xlsx", "--simulate", "100", "-o", str(book),
               cwd=project)
    assert proc.returncode == 0, proc.stderr
    cells = [c for ws in openpyxl.load_workbook(book) for row in ws.iter_rows() for c in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    texts = [c.value for c in cells if isinstance(c.value, str)]
    assert not [t for t in texts if t[:1] in "=+-@"]
    assert any(isinstance(c.value, float) for c in cells)


# ---------------------------------------------------------------------------------------------
# 6. user text in terminal, Markdown and CI output

FORGED_KEY = "k\\n::error file=x::forged\\e[31m\\x9b2J"  # YAML escapes: LF, ESC and C1 CSI


def test_rich_markup_in_titles_is_text(project: Path, cli: Runner) -> None:
    base = project / "scenarios/demo/base.yaml"
    base.write_text(base.read_text().replace("title: Base case", 'title: "[/x] [red]hot[/red]"'))
    proc = cli("run", "scenarios/demo", cwd=project)
    assert proc.returncode == 0, proc.stderr
    assert "[/x] [red]hot[/red]" in proc.stdout


def test_markdown_user_text_cannot_add_headings(project: Path, cli: Runner,
                                                tmp_path: Path) -> None:
    base = project / "scenarios/demo/base.yaml"
    base.write_text(base.read_text().replace("title: Base case",
                                             'title: "Base\\n# Forged | `x` heading"'))
    proc = cli("run", "scenarios/demo", "--format", "markdown", cwd=project)
    assert proc.returncode == 0, proc.stderr
    assert not [line for line in proc.stdout.splitlines() if line.startswith("# ")]
    new = tmp_path / "new"
    shutil.copytree(project, new)
    factor = new / "factors/r_a.yaml"
    factor.write_text(factor.read_text().replace("name: R A", 'name: "A`\\n### Forged"'))
    proc = cli("diff", str(project), str(new), "--format", "markdown")
    assert proc.returncode == 0, proc.stderr
    headings = [line for line in proc.stdout.splitlines() if line.startswith("#")]
    assert len(headings) == 1 and headings[0].startswith("### riskengine: score changes")


@pytest.mark.parametrize("fmt", ["text", "plain-file", "github", "json", "sarif", "run"])
def test_findings_cannot_forge_workflow_commands_or_escapes(project: Path, cli: Runner,
                                                            fmt: str) -> None:
    up = project / "scenarios/demo/up.yaml"
    up.write_text(up.read_text() + f'  "{FORGED_KEY}": {{value: 1}}\n')
    if fmt == "run":
        proc = cli("run", "scenarios/demo", cwd=project)
        out = proc.stdout + proc.stderr
    elif fmt == "plain-file":
        proc = cli("validate", "-o", "found.txt", cwd=project)
        out = (project / "found.txt").read_text() + proc.stdout + proc.stderr
    else:
        proc = cli("validate", "--format", fmt, cwd=project)
        out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "\x1b" not in out and "\x9b" not in out
    assert not [line for line in out.splitlines() if line.lstrip().startswith("::error file=x")]
    assert "forged" in out  # reported, visibly


def test_a_file_name_cannot_forge_lines_or_escapes(project: Path, cli: Runner) -> None:
    """A file name is user text too: a scenario file named with a newline, a workflow
    command and ESC is reported by every format on one line, escaped."""
    (project / "scenarios/demo/x\n::error file=forged,line=1::pwned\x1b[31m.yaml").write_text(
        "id: x\ntitle: X\nextends: nothing\nfactors: {}\n")
    runs = [cli("validate", "--format", fmt, cwd=project) for fmt in ("text", "github", "json")]
    runs.append(cli("run", "scenarios/demo", cwd=project))
    for proc in runs:
        out = proc.stdout + proc.stderr
        assert proc.returncode == 1, out
        assert "\x1b" not in out and "pwned" in out  # reported, visibly
        # a workflow command is a line of its own that starts with `::`
        assert all(line.lstrip().startswith("::error file=scenarios/demo/x\\n%3A%3Aerror")
                   for line in out.splitlines()
                   if line.lstrip().startswith("::") and "pwned" in line)


# ---------------------------------------------------------------------------------------------
# 7. a closed pipe (`riskengine ... | head`) ends quietly with 0


@pytest.fixture
def big_project(project: Path) -> Path:
    """Enough output (scores, and warnings about missing evidence) to fill a pipe's 64 KiB
    buffer several times over."""
    for i in range(120):
        write(project / f"scenarios/p{i:03}/s.yaml", f"""
            id: s
            title: Scenario {i}
            probability: 1
            factors:
              r_a: {{value: {i % 10}}}
              r_b: {{value: 5}}
              o_a: {{value: 2}}
              o_b: {{value: 7}}
            """)
    return project


@pytest.mark.parametrize("args", [["run", "scenarios", "--format", "json"],
                                  ["run", "scenarios"],
                                  ["validate", "--format", "github"],
                                  ["validate"]])
def test_broken_pipe_exits_quietly(big_project: Path, args: list[str]) -> None:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "120"}
    env.pop("RISKENGINE_DEBUG", None)
    proc = subprocess.Popen([sys.executable, "-m", "riskengine.cli", *args], cwd=big_project,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                            # as a shell starts a pipeline: SIGPIPE ignored by Python itself
                            restore_signals=True)
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.read(1)
    proc.stdout.close()  # the reader goes away, as `head -c 1` does
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0, stderr
    assert stderr == "" or "checked" in stderr, stderr


# ---------------------------------------------------------------------------------------------
# 8. special files among the inputs


def _run_guarded(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    # A subprocess: opening a FIFO for reading blocks, and a hang must fail the test, not stall it.
    try:
        return subprocess.run([sys.executable, "-m", "riskengine.cli", *args], cwd=cwd,
                              capture_output=True, text=True, timeout=60,
                              env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200"})
    except subprocess.TimeoutExpired:
        pytest.fail(f"riskengine {' '.join(args)} hung on a FIFO")


def test_fifos_are_findings_never_opened(project: Path) -> None:
    os.mkfifo(project / "scenarios/demo/pipe.yaml")
    proc = _run_guarded(["validate", "factors", "scenarios"], project)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "scenarios/demo/pipe.yaml: not a regular file (a FIFO) [RE001]" in proc.stdout
    proc = _run_guarded(["run", "scenarios/demo/pipe.yaml"], project)
    assert proc.returncode == 1
    assert proc.stderr.strip() == ("scenarios/demo/pipe.yaml: not a regular file (a FIFO) "
                                   "[RE001]")
    shutil.rmtree(project / "factors")
    os.mkfifo(project / "factors")
    proc = _run_guarded(["validate", "factors", "scenarios"], project)
    assert proc.returncode == 1
    assert "factors: not a regular file (a FIFO) [RE001]" in proc.stdout


def test_unreadable_folder_is_a_finding(project: Path, cli: Runner,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    # As root nothing is unreadable, so the refusal is simulated where the folder is listed.
    write(project / "scenarios/secret/x.yaml", "id: x\ntitle: X\n")
    real_scandir = os.scandir
    locked = os.path.abspath(project / "scenarios/secret")

    def scandir(path: str | os.PathLike[str] = ".") -> object:
        if os.path.abspath(path) == locked:
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    proc = cli("validate", "factors", "scenarios", cwd=project)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "scenarios/secret: cannot read folder: Permission denied [RE001]" in proc.stdout



def test_a_folder_that_refuses_a_look_inside_is_a_finding(project: Path, cli: Runner,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    """Looking for a project's config or layout inside a folder the system will not let us
    into (as /proc/1/fdinfo is even for root) raised out of pathlib: exit 3. It now marks no
    project, and reading the folder reports why."""
    locked = project / "scenarios/secret"
    locked.mkdir()
    real_stat, real_scandir = Path.stat, os.scandir

    def refusing_stat(self: Path, *args: Any, **kwargs: Any) -> Any:
        if self != locked and locked in self.parents:
            raise PermissionError(13, "Permission denied", str(self))
        return real_stat(self, *args, **kwargs)

    def scandir(path: str | os.PathLike[str] = ".") -> object:
        if os.path.abspath(path) == str(locked):
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(Path, "stat", refusing_stat)
    monkeypatch.setattr(os, "scandir", scandir)
    for command in (("validate", str(locked)), ("run", str(locked))):
        proc = cli(*command, cwd=project)
        assert proc.returncode == 1, proc.stdout + proc.stderr
        assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
    proc = cli("validate", "scenarios/secret", cwd=project)
    assert "scenarios/secret: cannot read folder: Permission denied [RE001]" in proc.stdout
