"""The ``riskengine`` command: a thin shell over the Python API.

Heavy modules (numpy, pandas, scipy, rich) are imported inside the command handlers, so
``riskengine --help`` and ``riskengine validate`` start fast.

Exit codes: 0 success; 1 the input has problems; 2 usage error (bad flag, missing file, an
output that cannot be written); 3 an internal error (a bug: please report it). A reader that goes
away (``riskengine validate | head``) ends the command quietly with 0.
"""

from __future__ import annotations

import argparse
import codecs
import functools
import os
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from riskengine import __version__
from riskengine.fileio import OutputError
from riskengine.problems import InputError

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3
EXIT_GATE = EXIT_PROBLEMS  # riskengine diff: a --fail-on gate tripped
# `run` scores this many scenarios as one matrix, then writes their records (5,000 files:
# all of a share's at once held 40 MB more at the peak, for no more speed)
RECORDS_AT_ONCE = 256


class UsageError(Exception):
    """A mistake in how the command was called: exit 2 with a one-line message."""


# ---------------------------------------------------------------------------------------------
# shared helpers


def _console(stderr: bool = False, soft_wrap: bool = False) -> Any:
    from rich.console import Console

    class QuietConsole(Console):
        def on_broken_pipe(self) -> None:
            # rich's own handler exits with 1 ("the input has problems"); let main() decide
            raise BrokenPipeError

    return QuietConsole(stderr=stderr, highlight=False, soft_wrap=soft_wrap,
                        width=None if sys.stdout.isatty() else 120)


def _existing(paths: Sequence[str]) -> list[Path]:
    missing = [p for p in paths if not Path(p).exists()]
    if missing:
        raise UsageError(f"no such file or folder: {', '.join(missing)}")
    return [Path(p) for p in paths]


def load_inputs(args: argparse.Namespace, paths: Sequence[str]) -> list[Any]:
    """Scenarios named on the command line (files or folders), each checked against its own
    project's catalogue (or ``--factors``)."""
    return load_projects(args, paths).scenarios


def load_projects(args: argparse.Namespace, paths: Sequence[str], warm_from: int = 0,
                  each: Callable[[Any, Any], Any] | None = None,
                  alone: Callable[[Any, Any], Any] | None = None,
                  each_of_all: Callable[[Any, Any], Any] | None = None) -> Any:
    """The scenarios at ``paths`` with the catalogue and trees each was read with
    (:class:`riskengine.loading.Loaded`), or ``each(scenario, catalogue)`` of every one
    (:func:`riskengine.loading.apply_project_scenarios`, with its ``alone`` and
    ``each_of_all``). ``warm_from``:
    from this many files (a command that will share its work out), the workers' fork server
    starts now, importing the engine on another core while this one reads."""
    from riskengine.loading import (
        UnknownTree,
        apply_project_scenarios,
        list_scenario_files,
        load_project_scenarios,
    )

    listed = list_scenario_files(_existing(paths))  # listed once, for the loaders too
    if not listed.files:
        raise UsageError(f"no scenario files (*.yaml) in {', '.join(paths)}")
    if warm_from and len(listed.files) >= warm_from:
        from riskengine.executors import makes_workers, warm_workers

        if makes_workers(args.executor, args.jobs):
            warm_workers()
    if args.factors is not None and not Path(args.factors).is_dir():
        raise UsageError(f"--factors {args.factors}: no such folder")
    tree = getattr(args, "tree", None)
    try:
        if each is not None or each_of_all is not None:
            return apply_project_scenarios(listed, each, args.factors, tree,
                                           jobs=_loading_jobs(args), alone=alone,
                                           each_of_all=each_of_all)
        return load_project_scenarios(listed, args.factors, tree, jobs=_loading_jobs(args))
    except UnknownTree as exc:
        raise UsageError(f"--tree {tree}: {exc}") from None


def _loading_jobs(args: argparse.Namespace) -> int | None:
    """Processes reading the files: --jobs (default every core), one with --executor local
    (a Dask cluster's workers cannot see local files; reading stays on this machine)."""
    return 1 if getattr(args, "executor", None) == "local" else getattr(args, "jobs", None)


def emit(args: argparse.Namespace, text: str) -> None:
    """Print ``text``, or write it atomically to ``--output`` when given."""
    output = getattr(args, "output", None)
    if output:
        from riskengine.fileio import write_atomic

        write_atomic(output, text)
    else:
        sys.stdout.write(text)


def present(args: argparse.Namespace, record: Any, markdown: Callable[[Any], str],
            show: Callable[[Any, Any], None], csv: Callable[[Any], str] | None = None) -> None:
    """Every command's output: JSON or CSV when asked, Markdown when asked or when writing a
    file, else rich tables on the terminal."""
    from riskengine import reporting

    if args.format == "json":
        emit(args, reporting.to_json(record))
    elif args.format == "csv" and csv is not None:
        emit(args, csv(record))
    elif args.format == "markdown" or args.output:
        emit(args, markdown(record))
    else:
        show(record, _console())


@contextmanager
def progress_bar(args: argparse.Namespace, label: str, total: int
                 ) -> Iterator[Callable[[int], None]]:
    """A rich progress bar on a terminal; nothing when piped, in CI logs or with --quiet."""
    if args.quiet or not sys.stderr.isatty():
        yield lambda _: None
        return
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TimeRemainingColumn

    with Progress("[progress.description]{task.description}", BarColumn(), TaskProgressColumn(),
                  TimeRemainingColumn(), console=_console(stderr=True), transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda done: bar.advance(task, done)


def _check_output(args: argparse.Namespace) -> None:
    """Fail before the work, not after it, on an output that cannot be a file or that would
    replace a file riskengine reads."""
    output = getattr(args, "output", None)
    if not output:
        return
    if os.path.isdir(output):
        raise UsageError(f"--output {output}: is a folder")
    if not os.path.isdir(os.path.dirname(os.path.realpath(output))):
        raise UsageError(f"--output {output}: folder does not exist")
    if os.path.isfile(output):
        # What riskengine reads: scenario, factor and tree files, and a project's settings. An
        # output is never written over one, so a slip of `-o` (or a hostile line in a CI
        # script) cannot replace a scenario with a report: as gcc refuses `-o` naming its input.
        from riskengine.files import YAML_SUFFIXES
        from riskengine.project import CONFIG_NAME, PYPROJECT

        for name in (os.path.basename(output), os.path.basename(os.path.realpath(output))):
            if name.lower().endswith(YAML_SUFFIXES) or name in (CONFIG_NAME, PYPROJECT):
                raise UsageError(f"--output {output}: is an existing {name} that riskengine "
                                 "reads (a scenario, factor, tree or settings file); outputs "
                                 "never replace one: choose another name")


# ---------------------------------------------------------------------------------------------
# commands


def cmd_run(args: argparse.Namespace) -> int:
    from riskengine import reporting
    from riskengine.reliability import reliability
    from riskengine.scoring import score_many

    _check_output(args)
    grading: dict[int, Any] = {}  # estimates shared by a family of scenarios, graded once

    def records(scenarios: list[Any], catalogue: Any) -> Iterator[dict[str, Any]]:
        # scored together, score_many's matrices over a few hundred scenarios at a time: a
        # record is written out before the next is made, so they are not all held at once
        for start in range(0, len(scenarios), RECORDS_AT_ONCE):
            some = scenarios[start:start + RECORDS_AT_ONCE]
            for scenario, result in zip(some, score_many(some), strict=True):
                yield result.to_dict() | {
                    "reliability": reliability(scenario, catalogue, grading).to_dict()}

    def record(scenario: Any, catalogue: Any) -> dict[str, Any]:
        return next(records([scenario], catalogue))

    if not args.simulate:
        # The records are all the command needs: made where the scenarios are loaded, on
        # every core for a large set of files, and written there too, a piece a record, in
        # the format asked (5,000 records took 1.5 s to send back and dump here). Only a
        # terminal's coloured tables are drawn here.
        terminal = _console() if args.format == "text" and not args.output else None
        plain_width = None if terminal is None or terminal.color_system is not None \
            or terminal.options.ascii_only else terminal.width
        writer = reporting.run_writer("markdown" if args.format == "text" and args.output
                                      else args.format, plain_width)
        if writer is None:
            reporting.print_run(load_projects(args, args.scenarios,
                                              each_of_all=lambda s, c: list(records(s, c))),
                                terminal)
            return EXIT_OK
        emit(args, writer.join(load_projects(
            args, args.scenarios,
            each_of_all=lambda s, c: [writer.piece(r) for r in records(s, c)])))
        return EXIT_OK
    from riskengine.parallel import SweepSettings, simulation_of, simulations
    from riskengine.simulation import STREAM_BLOCK

    settings = SweepSettings(args.simulate, args.seed, args.sampler, args.method,
                             args.chunk_size)

    def paired(scenario: Any, catalogue: Any) -> tuple[Any, dict[str, Any]]:
        return scenario, record(scenario, catalogue)

    def simulated(scenario: Any, catalogue: Any) -> Any:
        # A scenario whose simulation fails is handed back to be simulated here, where the
        # error is reported with its own type, as without shares.
        try:
            found = simulation_of(scenario, settings)
        except Exception:  # raised again, typed, when simulated here
            return paired(scenario, catalogue)
        return record(scenario, catalogue) | {"simulation": found}

    # A project loaded in forked shares simulates each scenario where it was loaded, on every
    # core, instead of sending scenarios back to a pool (5,000 files, --simulate 1 --method mc:
    # 12.5 s -> 9.8 s).
    # Only for the default process pool and one stream block a scenario: a Dask cluster, or
    # blocks to spread out, get the scenarios.
    here = args.executor == "process" and args.simulate <= STREAM_BLOCK
    found = load_projects(args, args.scenarios, each=simulated if here else paired,
                          alone=paired)
    pending = [i for i, item in enumerate(found) if isinstance(item, tuple)]
    if pending:
        with progress_bar(args, "simulating", args.simulate * len(pending)) as advance, \
                _pool(args) as pool:
            done = simulations([found[i][0] for i in pending], args.simulate, seed=args.seed,
                               sampler=args.sampler, method=args.method,
                               chunk_size=args.chunk_size, executor=pool, progress=advance)
        for i, simulation in zip(pending, done, strict=True):
            found[i] = found[i][1] | {"simulation": simulation}
    present(args, found, reporting.run_markdown, reporting.print_run, reporting.run_csv)
    return EXIT_OK


def cmd_outlook(args: argparse.Namespace) -> int:
    from riskengine import reporting
    from riskengine.outlook import outlook

    _check_output(args)
    scenarios = load_inputs(args, [args.folder])
    with progress_bar(args, "simulating", args.simulate * len(scenarios)) as advance, \
            _pool(args) as pool:
        result = outlook(scenarios, n=args.simulate, seed=args.seed, sampler=args.sampler,
                         progress=advance, method=args.method, executor=pool).to_dict()
    present(args, result, reporting.outlook_markdown, reporting.print_outlook)
    return EXIT_OK


def cmd_sensitivity(args: argparse.Namespace) -> int:
    from riskengine import reporting
    from riskengine.sensitivity import analytic_unavailable, sensitivity

    _check_output(args)
    scenarios = load_inputs(args, args.scenarios)
    if args.sobol == "analytic":
        for scenario in scenarios:
            reason = analytic_unavailable(scenario)
            if reason:
                raise UsageError(f"--sobol analytic: {scenario.key} {reason}; use --sobol "
                                 "estimate or auto")
    from riskengine.executors import ordered

    with progress_bar(args, "analysing", len(scenarios)) as advance, _pool(args) as pool:
        # one scenario per work item: each is analysed exactly as it would be alone
        results = [r.to_dict() for r in ordered(
            pool if len(scenarios) > 1 else None, sensitivity, scenarios, args.n, args.seed,
            args.concentration, args.sobol, progress=advance)]
    present(args, results, reporting.sensitivity_markdown, reporting.print_sensitivities)
    return EXIT_OK


def cmd_compare(args: argparse.Namespace) -> int:
    from riskengine import reporting
    from riskengine.compare import compare

    _check_output(args)
    if args.format == "xlsx" and not args.output:
        raise UsageError("--format xlsx writes a file: give -o FILE.xlsx")
    from riskengine.compare import SHARE_LAWS_FROM

    loaded = load_projects(args, args.paths, warm_from=SHARE_LAWS_FROM)
    scenarios = loaded.scenarios
    with progress_bar(args, "simulating", args.simulate * len(scenarios)) as advance, \
            _pool(args) as pool:
        # the command writes summaries only: no per-draw outputs held for charts
        comparison = compare(scenarios, n=args.simulate, seed=args.seed, sampler=args.sampler,
                             progress=advance, method=args.method, pairs=args.pairs,
                             executor=pool, catalogue=loaded.catalogue_of, keep_draws=False)
    if args.format == "xlsx":
        from riskengine.fileio import write_atomic

        write_atomic(args.output, excel_bytes(comparison))
    else:
        present(args, comparison.to_dict(), reporting.compare_markdown,
                reporting.print_compare, reporting.compare_csv)
    return EXIT_OK


def cmd_sweep(args: argparse.Namespace) -> int:
    from riskengine.parallel import print_sweep, sweep, sweep_csv, sweep_markdown

    _check_output(args)
    scenarios = load_inputs(args, args.paths)
    with progress_bar(args, "sweeping", len(scenarios)) as advance, _pool(args) as pool:
        rows = sweep(scenarios, n=args.simulate, seed=args.seed, sampler=args.sampler,
                     method=args.method, executor=pool, progress=advance)
    present(args, [r.to_dict() for r in rows], sweep_markdown, print_sweep, sweep_csv)
    return EXIT_OK


@contextmanager
def _pool(args: argparse.Namespace) -> Iterator[Any]:
    """The executor of --executor and --jobs (None: this process), made only when first used,
    so a run too small to split never starts workers."""
    from riskengine.executors import ExecutorError, executor

    try:
        context = executor(args.executor, args.jobs)
        pool = context.__enter__()
    except ExecutorError as exc:
        raise UsageError(str(exc)) from None
    try:
        yield pool
    finally:
        context.__exit__(None, None, None)


def excel_bytes(comparison: Any) -> bytes:
    """The comparison as a workbook: the scenario ranking (the same columns as CSV and
    :meth:`Comparison.to_frame`), the pairwise probabilities, and, when any partnership has
    an outlook, the partnership ranking and its pairwise probabilities."""
    import io

    try:
        import openpyxl  # noqa: F401
    except ImportError:
        raise UsageError("xlsx output needs openpyxl: pip install 'riskengine[xlsx]'") from None
    import pandas as pd

    from riskengine.reporting import cell

    def text_safe(frame: Any) -> Any:
        # openpyxl stores a string starting with "=" as a live formula: every label and text
        # cell gets the same neutralising as CSV; numbers are left alone.
        def safe(value: Any) -> Any:
            return cell(value) if isinstance(value, str) else value

        return frame.rename(index=safe, columns=safe).map(safe)

    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        # reset_index: the index columns are written as plain headers, so the sheet's header
        # row is the columns of every other format
        text_safe(comparison.to_frame().reset_index()).to_excel(
            writer, sheet_name="ranking", index=False)
        text_safe(comparison.pairs_frame()).to_excel(writer, sheet_name="P(row beats column)")
        if comparison.outlooks:
            text_safe(comparison.outlooks_frame().reset_index()).to_excel(
                writer, sheet_name="partnerships", index=False)
            if len(comparison.outlooks) > 1:
                text_safe(comparison.outlook_pairs_frame()).to_excel(
                    writer, sheet_name="P(partnership beats)")
    return buffer.getvalue()


def cmd_report(args: argparse.Namespace) -> int:
    from riskengine.fileio import write_atomic
    from riskengine.report import build_report

    _check_output(args)
    loaded = load_projects(args, args.paths)
    scenarios = loaded.scenarios
    # the projects' other trees are shown beside the scenarios' own
    alternatives = list({id(t): t for group in loaded.groups
                         for t in group.trees.trees.values()}.values())
    with progress_bar(args, "simulating", args.simulate * len(scenarios)) as advance, \
            _pool(args) as pool:
        text = build_report(scenarios, n=args.simulate, seed=args.seed, title=args.title,
                            sobol_n=args.sobol_n, catalogues=loaded.catalogues,
                            progress=advance, alternatives=alternatives, executor=pool)
    write_atomic(args.output, text)
    if not args.quiet:
        print(f"wrote {args.output} ({len(text.encode()):,} bytes)", file=sys.stderr)
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    from riskengine.sheets import SheetUsageError, export_estimates, sheet_kind

    _check_output(args)
    try:
        sheet_kind(args.output)
        _existing(args.paths)
        if args.factors is not None and not Path(args.factors).is_dir():
            raise UsageError(f"--factors {args.factors}: no such folder")
        book = export_estimates(args.paths, args.output, args.factors)
    except SheetUsageError as exc:
        raise UsageError(str(exc)) from None
    if not args.quiet:
        rows = ", ".join(f"{len(rows)} {name}" for name, rows in book.tables.items())
        print(f"wrote {args.output} ({rows})", file=sys.stderr)
    return EXIT_OK


def cmd_import(args: argparse.Namespace) -> int:
    from riskengine.sheets import SheetUsageError, import_estimates

    _existing([args.sheet])
    try:
        result = import_estimates(args.sheet, args.into, check=args.check)
    except (SheetUsageError, OutputError) as exc:
        raise UsageError(str(exc)) from None
    if not args.quiet:
        from riskengine.problems import display_path

        for path in result.written:
            print(f"{'would write' if args.check else 'wrote'} {display_path(path)}",
                  file=sys.stderr)
        print(result.summary(), file=sys.stderr)
    return EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    from riskengine import findings
    from riskengine.validation import validate

    _check_output(args)
    paths = args.paths or _project_paths()
    if not paths:
        raise UsageError("nothing to validate: give paths, or run inside a project "
                         "(riskengine.toml, or factors/ and scenarios/)")
    _existing(paths)
    if args.factors is not None and not Path(args.factors).is_dir():
        raise UsageError(f"--factors {args.factors}: no such folder")
    try:
        result = validate(paths, args.factors, max_evidence_age=args.max_evidence_age,
                          select=_codes(args.select), ignore=_codes(args.ignore),
                          strict=args.strict, jobs=args.jobs,
                          # the grades show in JSON and in the text's table, nowhere else
                          grades=args.format == "json" or (
                              args.format == "text" and not args.output and not args.quiet
                              and not args.statistics))
    except ValueError as exc:  # an unknown rule code in --select/--ignore
        raise UsageError(str(exc)) from None
    if args.format == "text" and not args.output:
        if args.quiet and not args.statistics and not result.problems:
            return EXIT_OK  # nothing to say, and no console to make (rich's import: 35 ms)
        # soft_wrap: a finding stays on one line, whole, for grep and CI logs
        findings.print_text(result, _console(soft_wrap=True), quiet=args.quiet,
                            statistics=args.statistics)
    else:
        plain = findings.statistics_text if args.statistics else _plain_findings
        render = {"json": findings.to_json, "github": findings.to_github,
                  "sarif": findings.to_sarif, "text": plain}[args.format]
        emit(args, render(result))
        if args.statistics and args.format in ("github", "sarif") and not args.quiet:
            print(findings.statistics_text(result), end="", file=sys.stderr)
        if not args.quiet:
            print(findings.summary_line(result), file=sys.stderr)
    return EXIT_PROBLEMS if result.errors else EXIT_OK


def _project_paths() -> list[str]:
    """The folders of the project around the working folder (its config's, or the layout's)."""
    from riskengine.problems import display_path
    from riskengine.project import check_project

    project, _ = check_project(Path.cwd())  # validate reports a broken config itself
    folders = [project.factors_dir, project.models_dir, project.scenarios_dir]
    found = [display_path(f) for f in folders if f.is_dir()]
    if not found and project.config_path is not None:
        return [display_path(project.config_path)]  # a project with only its config so far
    return found


def cmd_init(args: argparse.Namespace) -> int:
    from riskengine.problems import display_path
    from riskengine.scaffold import ScaffoldError, init_project

    try:
        created = init_project(args.folder, partnership=args.partnership,
                               parties=tuple(args.parties), catalogue=args.catalogue)
    except ScaffoldError as exc:
        raise UsageError(str(exc)) from None
    if not args.quiet:
        root = display_path(created.root)
        print(f"created {root}/ ({len(created.files)} files). Next:\n"
              f"  cd {root}\n  riskengine validate\n"
              f"  riskengine run scenarios/{args.partnership}/\n"
              f"  riskengine new scenario NAME --extends baseline", file=sys.stderr)
    return EXIT_OK


def cmd_new(args: argparse.Namespace) -> int:
    from riskengine.problems import display_path
    from riskengine.scaffold import ScaffoldError, new_scenario

    try:
        created = new_scenario(args.name, partnership=args.partnership,
                               extends=None if args.extends == "" else args.extends,
                               title=args.title, start=args.project)
    except ScaffoldError as exc:
        raise UsageError(str(exc)) from None
    if not args.quiet:
        print(f"created {display_path(created.files[0])}", file=sys.stderr)
    return EXIT_OK


def _plain_findings(result: Any) -> str:
    from riskengine.reporting import printable

    return "".join(f"{printable(str(p))}\n" for p in result.problems)


def _codes(values: list[str] | None) -> list[str] | None:
    """``--select RE1,RE3 --select RE601`` as one list of selectors."""
    if values is None:
        return None
    return [code for value in values for code in value.split(",")]


def cmd_diff(args: argparse.Namespace) -> int:
    from riskengine import reporting
    from riskengine.diff import GitError, diff_git, diff_paths

    _check_output(args)
    gates = _diff_gates(args)
    if args.git is not None:
        if len(args.paths) > 1:
            raise UsageError("with --git give at most one PATH (the folder to compare)")
        try:
            result = diff_git(args.git, args.paths[0] if args.paths else ".")
        except GitError as exc:
            raise UsageError(f"--git {args.git}: {exc}") from None
        for skipped in result.skipped:
            print(f"riskengine diff: warning: skipped {reporting.printable(skipped)}",
                  file=sys.stderr)
    else:
        if len(args.paths) != 2:
            raise UsageError("give OLD and NEW folders, or --git REV [PATH]")
        for folder in args.paths:
            if not Path(folder).is_dir():
                raise UsageError(f"{folder}: no such folder")
        result = diff_paths(*args.paths)
    tripped = result.check(gates)
    # the output is written whether or not a gate trips: CI posts it either way
    if args.format == "json":
        emit(args, reporting.to_json(result.to_dict()))
    elif args.format == "markdown" or args.output:
        emit(args, reporting.diff_markdown(result))
    else:
        reporting.print_diff(result, _console())
    if tripped:
        sys.stdout.flush()
        print(f"riskengine diff: {reporting.printable(reporting.gate_summary(result))}",
              file=sys.stderr)
        return EXIT_GATE
    return EXIT_OK


DIFF_GATES = ("band-change",)


def _diff_gates(args: argparse.Namespace) -> Any:
    """--fail-on and --fail-on-delta as :class:`riskengine.diff.Gates`; a one-line usage error
    for anything else (argparse's own would print the whole usage first)."""
    import math

    from riskengine.diff import Gates

    names = [name.strip() for value in args.fail_on or [] for name in value.split(",")]
    for name in names:
        if name not in DIFF_GATES:
            raise UsageError(f"--fail-on {name[:40]!r}: expected one of "
                             f"{', '.join(DIFF_GATES)}")
    limit = None
    if args.fail_on_delta is not None:
        text = args.fail_on_delta
        try:
            limit = float(text)
        except ValueError:
            raise UsageError(f"--fail-on-delta {text[:40]!r}: expected a number of points, "
                             "e.g. 2.5") from None
        if not (math.isfinite(limit) and limit >= 0):
            raise UsageError(f"--fail-on-delta {text[:40]}: must be a finite number >= 0")
    return Gates(band_change="band-change" in names, max_delta=limit)


def cmd_schema(args: argparse.Namespace) -> int:
    import json

    from riskengine.models import json_schema

    sys.stdout.write(json.dumps(json_schema(args.kind), indent=2, ensure_ascii=False) + "\n")
    return EXIT_OK


# ---------------------------------------------------------------------------------------------
# the parser


def _add_tree(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tree", metavar="ID",
                        help="score with this tree of the project (models/ID.yaml) instead of "
                             "each scenario's own; 'default' for MODEL.md's formula")


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--factors", metavar="DIR",
                        help="factor catalogue folder (default: the nearest factors/ above the "
                             "scenario, then ./factors)")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="no progress bars or summaries")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="riskengine",
        description="Score the stability of bilateral partnerships from factor and scenario "
                    "files.",
        epilog="Exit codes: 0 success, 1 input problems, 2 usage error, 3 internal error.")
    parser.add_argument("--version", action="version", version=f"riskengine {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    commands: list[tuple[str, str, Callable[[argparse.ArgumentParser], None],
                         Callable[[argparse.Namespace], int]]] = [
        ("run", "score scenarios: stability, risk, opportunity, band, contributions",
         _args_run, cmd_run),
        ("outlook", "the probability-weighted outlook of one partnership's scenarios",
         _args_outlook, cmd_outlook),
        ("compare", "scenarios and partnerships side by side, with P(A beats B)",
         _args_compare, cmd_compare),
        ("report", "a self-contained HTML report with charts, for a client", _args_report,
         cmd_report),
        ("sensitivity", "tornado, Sobol indices, weight robustness and breakpoints",
         _args_sensitivity, cmd_sensitivity),
        ("sweep", "score and simulate many scenarios (a portfolio), one row each",
         _args_sweep, cmd_sweep),
        ("validate", "check factor and scenario files (for CI)", _args_validate, cmd_validate),
        ("diff", "how a change to factor or scenario files moves the scores", _args_diff,
         cmd_diff),
        ("export", "write scenarios' estimates and evidence to a spreadsheet (xlsx or CSV)",
         _args_export, cmd_export),
        ("import", "turn an edited spreadsheet from export back into scenario files",
         _args_import, cmd_import),
        ("schema", "print the JSON Schema of factor, scenario or tree files", _args_schema,
         cmd_schema),
        ("init", "start a project: config, catalogue, one partnership with a baseline",
         _args_init, cmd_init),
        ("new", "add a file to the project (new scenario NAME)", _args_new, cmd_new),
    ]
    for name, help_text, add_args, handler in commands:
        command = sub.add_parser(name, help=help_text, description=help_text[0].upper()
                                 + help_text[1:] + ".")
        add_args(command)
        # by name, looked up when the command runs: the parser is built once a process
        command.set_defaults(handler=handler.__name__)
    return parser


@functools.cache
def _parser() -> argparse.ArgumentParser:
    """The parser, built once: building it takes 10 ms, and a notebook or a test suite calls
    :func:`main` hundreds of times in one process (parsing leaves it unchanged)."""
    return build_parser()


def _args_run(p: argparse.ArgumentParser) -> None:
    p.add_argument("scenarios", nargs="+", metavar="SCENARIO",
                   help="scenario files or folders of them")
    p.add_argument("--format", choices=("text", "json", "csv", "markdown"), default="text")
    _add_output(p)
    p.add_argument("--simulate", type=draws, metavar="N",
                   help="add a Monte Carlo simulation of N draws (at most 1,000,000,000)")
    _add_sampling(p)
    p.add_argument("--chunk-size", type=positive_int, default=65_536, metavar="ROWS",
                   help="rows scored at a time (memory; never changes the numbers)")
    _add_parallel(p)
    _add_tree(p)
    _add_common(p)


def _args_outlook(p: argparse.ArgumentParser) -> None:
    p.add_argument("folder", metavar="DIR", help="one partnership's folder of scenarios")
    p.add_argument("--format", choices=("text", "json", "markdown"), default="text")
    _add_output(p)
    p.add_argument("--simulate", type=draws, default=20_000, metavar="N",
                   help="draws per scenario (default 20000, at most 1,000,000,000)")
    _add_sampling(p)
    _add_parallel(p)
    _add_tree(p)
    _add_common(p)


def _args_compare(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="+", metavar="PATH",
                   help="scenario files or folders (a partnership folder, or scenarios/)")
    p.add_argument("--format", choices=("text", "json", "csv", "markdown", "xlsx"),
                   default="text")
    _add_output(p)
    p.add_argument("--simulate", type=draws, default=20_000, metavar="N",
                   help="draws per scenario (default 20000, at most 1,000,000,000)")
    p.add_argument("--pairs", choices=("default", "all"), default="default",
                   help="P(A beats B) for the pairs within each partnership and between "
                        "partnerships' baselines (default), or for every pair (all)")
    _add_sampling(p)
    _add_parallel(p)
    _add_tree(p)
    _add_common(p)


def _args_report(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="+", metavar="PATH", help="scenario files or folders")
    p.add_argument("-o", "--output", required=True, metavar="FILE",
                   help="the HTML file to write (atomically)")
    p.add_argument("--title", default="Partnership stability report")
    p.add_argument("--simulate", type=draws, default=20_000, metavar="N",
                   help="draws per scenario (default 20000)")
    p.add_argument("--seed", type=seed, default=0, help="random seed (default 0)")
    _add_tree(p)
    p.add_argument("--sobol-n", type=sobol_n, default=2048, metavar="N",
                   help="Sobol base sample size for the drivers section (default 2048; a "
                        "power of two from 64)")
    _add_parallel(p)
    _add_common(p)


def _args_sensitivity(p: argparse.ArgumentParser) -> None:
    p.add_argument("scenarios", nargs="+", metavar="SCENARIO")
    p.add_argument("--format", choices=("text", "json", "markdown"), default="text")
    _add_output(p)
    p.add_argument("--n", type=sobol_n, default=4096, metavar="N",
                   help="Sobol base sample size, a power of two from 64 to 65536 (default "
                        "4096; (d + 2) N evaluations)")
    p.add_argument("--seed", type=seed, default=0, help="random seed (default 0)")
    p.add_argument("--concentration", type=positive_float, default=50.0,
                   help="Dirichlet concentration of the weight perturbations (default 50; "
                        "larger means smaller perturbations)")
    p.add_argument("--sobol", choices=("auto", "analytic", "estimate"), default="auto",
                   help="auto: exact indices for the arithmetic model with independent "
                        "inputs, else estimated")
    _add_parallel(p)
    _add_tree(p)
    _add_common(p)


def _args_sweep(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="+", metavar="PATH", help="scenario files or folders")
    p.add_argument("--format", choices=("text", "json", "csv", "markdown"), default="text")
    _add_output(p)
    p.add_argument("--simulate", type=draws, default=10_000, metavar="N",
                   help="draws per scenario (default 10000, at most 1,000,000,000)")
    _add_sampling(p)
    _add_parallel(p)
    _add_tree(p)
    _add_common(p)


def _add_parallel(p: argparse.ArgumentParser) -> None:
    p.add_argument("--jobs", type=jobs, metavar="N",
                   help="worker processes (default: every core); the numbers are the same "
                        "for any N")
    p.add_argument("--executor", default="process", metavar="WHERE",
                   help="process (default): a pool of --jobs processes; local: this process "
                        "only; dask://HOST:PORT: the workers of a Dask scheduler "
                        "(pip install 'riskengine[dask]')")


def _add_output(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--output", metavar="FILE",
                   help="write to FILE (atomically) instead of standard output")


def _add_sampling(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seed", type=seed, default=0, help="random seed (default 0)")
    p.add_argument("--sampler", choices=("random", "sobol"), default="random",
                   help="pseudo-random draws or scrambled Sobol points")
    p.add_argument("--method", choices=("auto", "exact", "mc"), default="auto",
                   help="auto: the exact law (FFT convolution) when the model is linear in "
                        "independent inputs, else Monte Carlo; exact: insist on it (exit 2 "
                        "when it does not apply); mc: always draw")


def _whole_number(text: str, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:  # also a number of more than 4300 digits
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text[:40]!r}"
                                         ) from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
    return value


def positive_int(text: str) -> int:
    return _whole_number(text, 1)


# Processes per core, at most: more only compete for the cores, and a typo (--jobs 1000) would
# start a thousand worker processes, or fork as many copies of a loaded project.
JOBS_PER_CORE = 4


def jobs(text: str) -> int:
    value = _whole_number(text, 1)
    cores = os.cpu_count() or 1
    if value > JOBS_PER_CORE * cores:
        raise argparse.ArgumentTypeError(
            f"at most {JOBS_PER_CORE * cores} ({JOBS_PER_CORE} per core, {cores} here), got "
            f"{text[:40]}")
    return value


# Limits of the numeric flags. Draws: summaries are streamed, so memory does not grow with
# the number of draws (114 MB at 1e7 and at 2e7, bench_engine.py); time does, about 3 s per
# million draws of the shipped baseline, so the cap (about an hour) stops a typo from running
# for days. Seeds: numpy takes any non-negative integer; below 2**63 they stay exact in every
# JSON reader. Sobol: fewer than 64 base points give indices that mean nothing, scrambled
# Sobol points are balanced only in powers of two, and the estimate holds a few rows of
# 2 x factors + 4 numbers per point (the shipped baseline's at the cap: 184 MB peak, 2.2 s).
MAX_DRAWS = 1_000_000_000
SEED_LIMIT = 2**63
SOBOL_N = (64, 2**16)


def draws(text: str) -> int:
    value = _whole_number(text, 1)
    if value > MAX_DRAWS:
        raise argparse.ArgumentTypeError(f"at most {MAX_DRAWS:,} draws, got {value:,}")
    return value


def seed(text: str) -> int:
    value = _whole_number(text, 0)
    if value >= SEED_LIMIT:
        raise argparse.ArgumentTypeError(f"must be below 2**63, got {value}")
    return value


def sobol_n(text: str) -> int:
    value = _whole_number(text, SOBOL_N[0])
    if value > SOBOL_N[1]:
        raise argparse.ArgumentTypeError(f"at most {SOBOL_N[1]:,}, got {value:,}")
    if value & (value - 1):
        below = 1 << (value.bit_length() - 1)
        raise argparse.ArgumentTypeError(f"must be a power of two (Sobol points are balanced "
                                         f"only then), e.g. {below} or {below * 2}; got {value}")
    return value


def non_negative_int(text: str) -> int:
    return _whole_number(text, 0)


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive finite number, got {text}")
    return value


def _args_validate(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="*", metavar="PATH",
                   help="files or folders (default: ./factors and ./scenarios)")
    p.add_argument("--format", choices=("text", "json", "github", "sarif"), default="text",
                   help="text for people; json; github workflow annotations; SARIF 2.1.0 for "
                        "code scanning")
    _add_output(p)
    p.add_argument("--max-evidence-age", type=non_negative_int, metavar="DAYS",
                   help="warn (RE602) about estimates whose newest evidence is older than DAYS "
                        "at the scenario's as_of")
    p.add_argument("--select", action="append", metavar="CODES",
                   help="report only these codes or prefixes, comma-separated (e.g. RE3,RE601)")
    p.add_argument("--ignore", action="append", metavar="CODES",
                   help="do not report these codes or prefixes (e.g. RE606)")
    p.add_argument("--strict", action="store_true",
                   help="treat warnings as errors (exit 1 if any is reported)")
    p.add_argument("--statistics", action="store_true",
                   help="count findings per code, and those suppressed inline and by "
                        "per-file-ignores, instead of listing them (json: always included; "
                        "github/sarif: on stderr)")
    p.add_argument("--jobs", type=jobs, metavar="N",
                   help="processes reading the files of a large project (default: every core); "
                        "the findings are the same for any N")
    _add_common(p)


def _args_diff(p: argparse.ArgumentParser) -> None:
    p.epilog = ("Exit codes: 0 no gate tripped (or none asked for); 1 a gate tripped (the "
                "output is still written; stderr says what tripped in one line) or the input "
                "has problems; 2 usage error; 3 internal error.")
    p.add_argument("paths", nargs="*", metavar="PATH",
                   help="OLD and NEW folders (a project with factors/ and scenarios/, or a "
                        "scenarios folder; each side reads its own catalogue and trees); with "
                        "--git, the one folder to compare")
    p.add_argument("--git", metavar="REV",
                   help="compare PATH (default .) as of git revision REV with the working tree")
    p.add_argument("--format", choices=("text", "json", "markdown"), default="text",
                   help="markdown is ready to post as a pull-request comment")
    p.add_argument("--fail-on", action="append", metavar="GATE",
                   help="exit 1 when the gate trips: band-change (any scenario's or "
                        "partnership outlook's band changes)")
    p.add_argument("--fail-on-delta", metavar="X",
                   help="exit 1 when any scenario's |ΔS| is above X points (a finite number "
                        ">= 0)")
    _add_output(p)


def _args_export(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="+", metavar="PATH", help="scenario files or folders")
    p.add_argument("-o", "--output", required=True, metavar="FILE",
                   help="FILE.xlsx (a sheet per table) or FILE.csv (one table, a `table` "
                        "column), written atomically")
    _add_common(p)


def _args_import(p: argparse.ArgumentParser) -> None:
    p.add_argument("sheet", metavar="FILE", help="an xlsx or CSV file written by export")
    p.add_argument("--into", default=".", metavar="DIR",
                   help="the project to write into (default: the one at or above .); the "
                        "sheet's file paths are relative to its root")
    p.add_argument("--check", action="store_true",
                   help="validate and list what would be written; write nothing")
    p.add_argument("-q", "--quiet", action="store_true", help="no summary")


def _args_init(p: argparse.ArgumentParser) -> None:
    p.add_argument("folder", nargs="?", default=".", metavar="DIR",
                   help="a new or empty folder (default: the working folder)")
    p.add_argument("--partnership", default="my-partnership", metavar="SLUG",
                   help="the first partnership's folder name (default my-partnership)")
    p.add_argument("--parties", nargs=2, default=["Party A", "Party B"], metavar="NAME",
                   help="the two parties, the acquiring one first")
    p.add_argument("--catalogue", choices=("shipped", "minimal"), default="shipped",
                   help="start from riskengine's shipped factors and trees (default) or two "
                        "placeholder factors")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")


def _args_new(p: argparse.ArgumentParser) -> None:
    p.add_argument("kind", choices=("scenario",), help="what to add")
    p.add_argument("name", metavar="NAME", help="the scenario's id and file name")
    p.add_argument("--partnership", metavar="SLUG",
                   help="its partnership's folder (default: the project's only one)")
    p.add_argument("--extends", default="baseline", metavar="ID",
                   help="the scenario it varies (default baseline; '' for a standalone file)")
    p.add_argument("--title", help="its title (default: from NAME)")
    p.add_argument("--project", default=".", metavar="DIR",
                   help="a folder inside the project (default: the working folder)")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")


def _args_schema(p: argparse.ArgumentParser) -> None:
    p.add_argument("kind", choices=("factor", "scenario", "tree"))


def main(argv: Sequence[str] | None = None) -> int:
    _tolerant_streams()
    args = _parser().parse_args(argv)
    try:
        return _run(args)
    except BrokenPipeError:
        # The reader (e.g. `head`) went away, perhaps while a problem was being reported:
        # nothing more to say. Point standard output at /dev/null so the interpreter's last
        # flush at exit does not fail ("Exception ignored ... BrokenPipeError", exit 120).
        _discard_stdout()
        return EXIT_OK


def _run(args: argparse.Namespace) -> int:
    from riskengine.loading import gc_relaxed
    from riskengine.reporting import printable

    try:
        # the whole command, not loading alone: scoring, grading and writing thousands of
        # scenarios make as many small objects (validate of 5,000 files: 0.8 s of collections)
        with gc_relaxed():
            code = globals()[args.handler](args)
        sys.stdout.flush()  # a closed pipe shows here, where main can still handle it
        return code
    except InputError as exc:
        for problem in exc.problems:
            print(printable(str(problem)), file=sys.stderr)
        return EXIT_PROBLEMS
    except UsageError as exc:
        print(f"riskengine {args.command}: error: {printable(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except OutputError as exc:
        print(f"riskengine {args.command}: error: --output {printable(str(args.output))}: "
              f"{printable(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("riskengine: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        raise  # main's to handle, like one raised while printing the messages below
    except Exception as exc:  # a bug, not bad input: say so in one line unless debugging
        if getattr(exc, "usage_error", False):  # e.g. --method exact on a nonlinear model
            print(f"riskengine {args.command}: error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        if os.environ.get("RISKENGINE_DEBUG"):
            raise
        print(f"riskengine {args.command}: internal error: {type(exc).__name__}: "
              f"{printable(str(exc))} (set RISKENGINE_DEBUG=1 for the traceback)",
              file=sys.stderr)
        return EXIT_INTERNAL


def _tolerant_streams() -> None:
    """Standard output and error in an encoding that cannot show every character
    (``PYTHONIOENCODING=ascii``, an old Windows console): what it cannot show is written as
    a JSON escape (``\\u2014``) rather than failing the command. rich draws its tables in
    ASCII there, and texttable leaves them to rich."""
    for stream in (sys.stdout, sys.stderr):
        encoding = (getattr(stream, "encoding", None) or "").lower().replace("-", "")
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None and not encoding.startswith("utf"):
            codecs.register_error(_ESCAPE, _json_escapes)
            with suppress(OSError, ValueError):
                reconfigure(errors=_ESCAPE)


_ESCAPE = "riskengine.json-escape"


def _json_escapes(error: UnicodeError) -> tuple[str, int]:
    """What an encoding cannot write, as JSON writes it: ``\\uXXXX``, a character beyond
    U+FFFF as its two UTF-16 halves. Python's ``backslashreplace`` writes ``\\U0001f600``
    there, which is not JSON: a JSON output written to such a stream must still parse."""
    if not isinstance(error, UnicodeEncodeError):
        raise error
    units = []
    for char in error.object[error.start:error.end]:
        code = ord(char)
        if code > 0xFFFF:
            code -= 0x10000
            units += [0xD800 + (code >> 10), 0xDC00 + (code & 0x3FF)]
        else:
            units.append(code)
    return "".join(f"\\u{unit:04x}" for unit in units), error.end


def _discard_stdout() -> None:
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return  # not a real file (captured in tests): nothing will be flushed to a pipe
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


def entry() -> None:
    """The ``riskengine`` command: :func:`main`, then out of the process without the
    interpreter's teardown, which frees every object one by one (after validating 5,000
    files, 0.07 s for memory the system takes back at once). mypy leaves the same way. Only
    where nothing else could be waiting for the teardown: no thread but this one, and no
    Dask client with exit handlers of its own."""
    from riskengine.executors import end_without_teardown

    end_without_teardown()
    code = main()
    for stream in (sys.stdout, sys.stderr):
        # a reader gone, or the stream closed: nothing more can be said there
        with suppress(OSError, ValueError):
            stream.flush()
    if threading.active_count() == 1 and "distributed" not in sys.modules:
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    entry()
