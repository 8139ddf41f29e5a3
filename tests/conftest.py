"""Shared fixtures: small catalogues and scenarios written to a temporary folder."""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import settings

ROOT = Path(__file__).resolve().parents[1]

# Property tests draw the same examples every run, so a red build reproduces and a green one
# stays green; RISKENGINE_LONG_FUZZ=1 draws new ones (and the fuzz tests run many more).
settings.register_profile("fixed", derandomize=True, deadline=None)
settings.register_profile("explore", derandomize=False, deadline=None)
settings.load_profile("explore" if os.environ.get("RISKENGINE_LONG_FUZZ") else "fixed")


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def factor_yaml(factor_id: str, kind: str = "risk", weight: float = 1, lo: float = 0,
                hi: float = 10, higher_means: str = "more", group: str = "general") -> str:
    return textwrap.dedent(f"""\
        id: {factor_id}
        name: {factor_id.replace('_', ' ').title()}
        kind: {kind}
        group: {group}
        description: Test factor {factor_id}.
        scale:
          min: {lo}
          max: {hi}
          unit: score
        higher_means: {higher_means}
        weight: {weight}
        """)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A folder with factors/ (two risks, two opportunities) and scenarios/demo/ (base, up)."""
    write(tmp_path / "factors/r_a.yaml", factor_yaml("r_a", "risk", 3))
    write(tmp_path / "factors/r_b.yaml", factor_yaml("r_b", "risk", 1, higher_means="less"))
    write(tmp_path / "factors/o_a.yaml", factor_yaml("o_a", "opportunity", 2, 0, 4))
    write(tmp_path / "factors/o_b.yaml", factor_yaml("o_b", "opportunity", 2))
    write(tmp_path / "scenarios/demo/base.yaml", """
        id: base
        title: Base case
        partnership: demo
        parties: [A, B]
        as_of: 2025-09-03
        probability: 0.75
        factors:
          r_a:
            low: 2
            mode: 4
            high: 7
            confidence: medium
            evidence:
              - source: Test source
                date: 2025-09-01
          r_b: {value: 6, confidence: low, evidence: [{source: T, date: 2025-09-01}]}
          o_a: {low: 1, mode: 2, high: 3, confidence: low,
                evidence: [{source: T, date: 2025-09-01}]}
          o_b: {low: 3, high: 9, distribution: uniform, confidence: low,
                evidence: [{source: T, date: 2025-09-01}]}
        """)
    write(tmp_path / "scenarios/demo/up.yaml", """
        id: up
        title: Things improve
        extends: base
        probability: 0.25
        factors:
          r_a: {shift: -2}
          o_a: {mode: 3}
        """)
    return tmp_path


Runner = Callable[..., subprocess.CompletedProcess[str]]

CLI_ENV = {"NO_COLOR": "1", "COLUMNS": "120"}


@pytest.fixture
def share_small(monkeypatch: pytest.MonkeyPatch) -> None:
    """compare shares out runs and laws only when a pool is worth starting: here always."""
    module = importlib.import_module("riskengine.compare")
    monkeypatch.setattr(module, "SHARE_RUNS_FROM", 0)
    monkeypatch.setattr(module, "SHARE_LAWS_FROM", 0)
    monkeypatch.setattr(module, "SIDE_PAIRS", 0)


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch) -> Runner:
    """Run the real ``riskengine`` command in-process: ``cli.main(argv)`` with its own working
    folder, environment and captured output, returned in the shape of a finished subprocess.

    A subprocess costs an interpreter start and the imports of numpy, scipy and pandas for every
    call; use :func:`cli_subprocess` only where the process itself is the point (pipes, signals,
    tracebacks, what gets imported)."""
    from riskengine.cli import main

    def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        out, err = io.StringIO(), io.StringIO()
        with monkeypatch.context() as patch:
            for key, value in CLI_ENV.items():
                patch.setenv(key, value)
            patch.delenv("RISKENGINE_DEBUG", raising=False)
            if cwd is not None:
                patch.chdir(cwd)
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    code = main(list(args))
                except SystemExit as exc:  # argparse: --help, --version, usage errors
                    code = exc.code if isinstance(exc.code, int) else 2
        return subprocess.CompletedProcess(["riskengine", *args], code, out.getvalue(),
                                           err.getvalue())

    return run


@pytest.fixture
def cli_subprocess() -> Runner:
    """Run the real ``riskengine`` program in a subprocess (as a user or CI would)."""

    def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, **CLI_ENV}
        env.pop("RISKENGINE_DEBUG", None)
        return subprocess.run([sys.executable, "-m", "riskengine.cli", *args], cwd=cwd,
                              capture_output=True, text=True, env=env, timeout=120)

    return run


def score_by_hand(scenario_file: Path, factors_dir: Path) -> float:
    """The arithmetic score recomputed from the raw YAML with plain Python, as a reader would:
    the ``extends`` chain folded, each factor normalised on its scale from ``factors_dir``."""
    from ruamel.yaml import YAML

    yaml = YAML(typ="safe")
    chain = [yaml.load(scenario_file.read_text())]
    while chain[-1].get("extends"):
        chain.append(yaml.load((scenario_file.parent / f"{chain[-1]['extends']}.yaml")
                               .read_text()))
    entries: dict[str, dict] = {}  # type: ignore[type-arg]
    for doc in reversed(chain):
        for fid, entry in doc.get("factors", {}).items():
            merged = entries.setdefault(fid, {})
            if "shift" in entry:
                for key in ("value", "low", "mode", "high"):
                    if key in merged:
                        merged[key] += entry["shift"]
            elif "value" in entry:
                for key in ("low", "mode", "high"):
                    merged.pop(key, None)
            elif any(k in entry for k in ("low", "mode", "high")):
                merged.pop("value", None)
            merged.update({k: v for k, v in entry.items() if k != "shift"})
    beta = chain[-1].get("model", {}).get("risk_share", 0.5)
    totals = {"risk": 0.0, "opportunity": 0.0}
    sums = {"risk": 0.0, "opportunity": 0.0}
    for fid, est in entries.items():
        factor = yaml.load((factors_dir / f"{fid}.yaml").read_text())
        if "value" in est:
            x = est["value"]
        elif est.get("distribution") == "uniform":
            x = (est["low"] + est["high"]) / 2
        else:
            x = est["mode"]
        lo, hi = factor["scale"]["min"], factor["scale"]["max"]
        s = min(max((x - lo) / (hi - lo), 0.0), 1.0)
        if factor["higher_means"] == "less":
            s = 1 - s
        weight = est.get("weight", factor["weight"])
        totals[factor["kind"]] += weight
        sums[factor["kind"]] += weight * s
    r = sums["risk"] / totals["risk"]
    o = sums["opportunity"] / totals["opportunity"]
    return 100 * (beta * (1 - r) + (1 - beta) * o)
