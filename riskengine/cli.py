"""The ``riskengine`` command: a thin shell over the Python API.

Heavy modules (numpy, pandas, scipy, rich) are imported inside the command handlers, so
``riskengine --help`` and ``riskengine validate`` start fast.

Exit codes: 0 success; 1 the input has problems; 2 usage error (bad flag, missing file);
3 an internal error (a bug: please report it).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from riskengine import __version__
from riskengine.problems import InputError

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3


class UsageError(Exception):
    """A mistake in how the command was called: exit 2 with a one-line message."""


# ---------------------------------------------------------------------------------------------
# shared helpers


def _console(stderr: bool = False) -> Any:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=False,
                   width=None if sys.stdout.isatty() else 120)


def _existing(paths: Sequence[str]) -> list[Path]:
    missing = [p for p in paths if not Path(p).exists()]
    if missing:
        raise UsageError(f"no such file or folder: {', '.join(missing)}")
    return [Path(p) for p in paths]


def _catalogue(args: argparse.Namespace, near: Path | None) -> Any:
    from riskengine.loading import find_factors_dir, load_catalogue

    if args.factors is not None and not Path(args.factors).is_dir():
        raise UsageError(f"--factors {args.factors}: no such folder")
    return load_catalogue(args.factors or find_factors_dir(near))


def load_inputs(args: argparse.Namespace, paths: Sequence[str]) -> list[Any]:
    """Scenarios named on the command line (files or folders), checked against the catalogue."""
    from riskengine.loading import load_scenarios, scenario_paths

    files = scenario_paths(_existing(paths))
    if not files:
        raise UsageError(f"no scenario files (*.yaml) in {', '.join(paths)}")
    return load_scenarios(files, _catalogue(args, files[0]))


def emit(args: argparse.Namespace, text: str) -> None:
    """Print ``text``, or write it atomically to ``--output`` when given."""
    output = getattr(args, "output", None)
    if output:
        from riskengine.fileio import write_atomic

        write_atomic(output, text)
    else:
        sys.stdout.write(text)


def _check_output(args: argparse.Namespace) -> None:
    output = getattr(args, "output", None)
    if output and not Path(output).resolve().parent.is_dir():
        raise UsageError(f"--output {output}: folder does not exist")


# ---------------------------------------------------------------------------------------------
# commands


def cmd_run(args: argparse.Namespace) -> int:
    from riskengine import reporting
    from riskengine.scoring import score

    _check_output(args)
    scenarios = load_inputs(args, args.scenarios)
    records = [score(s).to_dict() for s in scenarios]
    if args.format == "json":
        emit(args, reporting.to_json(records))
    elif args.format == "csv":
        emit(args, reporting.run_csv(records))
    elif args.format == "markdown" or args.output:
        emit(args, reporting.run_markdown(records))
    else:
        reporting.print_run(records, _console())
    return EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    from riskengine.validation import validate_paths

    paths = args.paths or [p for p in ("factors", "scenarios") if Path(p).exists()]
    if not paths:
        raise UsageError("nothing to validate: give paths, or run where factors/ and "
                         "scenarios/ are")
    _existing(paths)
    if args.factors is not None and not Path(args.factors).is_dir():
        raise UsageError(f"--factors {args.factors}: no such folder")
    problems = validate_paths(paths, args.factors)
    errors = [p for p in problems if p.severity == "error"]
    if args.format == "json":
        import json

        sys.stdout.write(json.dumps({
            "problems": [{"path": p.path, "line": p.line, "col": p.col, "field": p.field,
                          "code": p.code, "severity": p.severity, "message": p.message,
                          "hint": p.hint} for p in problems],
            "errors": len(errors), "warnings": len(problems) - len(errors)}, indent=2) + "\n")
    else:
        for p in problems:
            print(p)
        if not args.quiet:
            summary = (f"{len(errors)} error(s), {len(problems) - len(errors)} warning(s)"
                       if problems else "all files valid")
            print(summary, file=sys.stderr)
    return EXIT_PROBLEMS if errors else EXIT_OK


def cmd_schema(args: argparse.Namespace) -> int:
    import json

    from riskengine.models import FactorFile, ScenarioFile

    model = FactorFile if args.kind == "factor" else ScenarioFile
    sys.stdout.write(json.dumps(model.model_json_schema(), indent=2) + "\n")
    return EXIT_OK


# ---------------------------------------------------------------------------------------------
# the parser


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
        ("validate", "check factor and scenario files (for CI)", _args_validate, cmd_validate),
        ("schema", "print the JSON Schema of factor or scenario files", _args_schema,
         cmd_schema),
    ]
    for name, help_text, add_args, handler in commands:
        command = sub.add_parser(name, help=help_text, description=help_text[0].upper()
                                 + help_text[1:] + ".")
        add_args(command)
        command.set_defaults(handler=handler)
    return parser


def _args_run(p: argparse.ArgumentParser) -> None:
    p.add_argument("scenarios", nargs="+", metavar="SCENARIO",
                   help="scenario files or folders of them")
    p.add_argument("--format", choices=("text", "json", "csv", "markdown"), default="text")
    p.add_argument("-o", "--output", metavar="FILE",
                   help="write to FILE (atomically) instead of standard output")
    _add_common(p)


def _args_validate(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="*", metavar="PATH",
                   help="files or folders (default: ./factors and ./scenarios)")
    p.add_argument("--format", choices=("text", "json"), default="text")
    _add_common(p)


def _args_schema(p: argparse.ArgumentParser) -> None:
    p.add_argument("kind", choices=("factor", "scenario"))


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except InputError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return EXIT_PROBLEMS
    except UsageError as exc:
        print(f"riskengine {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("riskengine: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader (e.g. `head`) went away; nothing more to say.
        sys.stderr.close()
        return EXIT_OK
    except Exception as exc:  # a bug, not bad input: say so in one line unless debugging
        if os.environ.get("RISKENGINE_DEBUG"):
            raise
        print(f"riskengine {args.command}: internal error: {type(exc).__name__}: {exc} "
              "(set RISKENGINE_DEBUG=1 for the traceback)", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
