"""Set up a local virtual environment and run the project's jobs, with nothing but Python 3.11+.

    python3 tasks.py demo    # install riskengine in .venv, validate and score the shipped example
    python3 tasks.py test    # install with test extras, run ruff, mypy and the whole test suite
    python3 tasks.py bench   # install with benchmark extras, run the benchmarks

The environment is rebuilt only when pyproject.toml or the extras asked for change.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
EXTRAS = {"demo": "", "test": "test", "bench": "test,bench"}


def run(*args: str | Path, env: dict[str, str] | None = None) -> None:
    print("+", " ".join(str(a) for a in args), flush=True)
    code = subprocess.call([str(a) for a in args], cwd=ROOT, env=env)
    if code:
        sys.exit(code)


def ensure_env(extras: str) -> None:
    """Create .venv and install riskengine (editable) with ``extras`` unless already done."""
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()[:16]
    stamp = VENV / f".installed-{digest}-{extras.replace(',', '-') or 'base'}"
    if stamp.exists():
        return
    if not (BIN / "python").exists():
        print(f"+ creating {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
        run(BIN / "python", "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    target = f".[{extras}]" if extras else "."
    run(BIN / "python", "-m", "pip", "install", "--quiet", "-e", target)
    stamp.touch()


def demo() -> None:
    ensure_env(EXTRAS["demo"])
    run(BIN / "riskengine", "validate", "factors", "scenarios")
    run(BIN / "riskengine", "run", "scenarios/japan-turkey/baseline.yaml")
    run(BIN / "python", "examples/api_demo.py")
    run(BIN / "riskengine", "report", "scenarios", "-o", "report.html")
    run(BIN / "riskengine", "export", "scenarios", "-o", "estimates.xlsx")
    print(f"\nthe report:    {ROOT / 'report.html'}\n"
          f"the estimates: {ROOT / 'estimates.xlsx'} (edit, then `riskengine import "
          "estimates.xlsx`)")


def test() -> None:
    ensure_env(EXTRAS["test"])
    run(BIN / "ruff", "check", "riskengine", "tests", "benchmarks", "examples", "tasks.py")
    run(BIN / "python", "-m", "mypy")
    # The suite starts the CLI in a few dozen subprocesses and worker processes: compiled
    # once here, they do not each compile the package from source where the environment
    # forbids writing bytecode (PYTHONDONTWRITEBYTECODE), and pytest may keep its rewritten
    # test modules for the second worker.
    run(BIN / "python", "-m", "compileall", "-q", "riskengine")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    run(BIN / "python", "-m", "pytest", *sys.argv[2:], env=env)


def bench() -> None:
    ensure_env(EXTRAS["bench"])
    for script in sorted((ROOT / "benchmarks").glob("bench_*.py")):
        run(BIN / "python", script)


JOBS = {"demo": demo, "test": test, "bench": bench}

if __name__ == "__main__":
    if sys.version_info[:2] < (3, 11):  # noqa: UP036 - this script is run by whatever python3 is
        sys.exit(f"riskengine needs Python >= 3.11; this is {sys.version.split()[0]}")
    if len(sys.argv) < 2 or sys.argv[1] not in JOBS:
        sys.exit(f"usage: python3 tasks.py {{{'|'.join(JOBS)}}} [pytest args]")
    JOBS[sys.argv[1]]()
