"""The Python API: typed results with to_frame(), exported lazily from the package."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT


def test_every_public_result_type_has_to_frame(tmp_path: Path) -> None:
    import pandas as pd

    import riskengine as rk

    catalogue = rk.load_catalogue(ROOT / "factors")
    group = rk.load_scenarios(ROOT / "scenarios/japan-uk", catalogue)
    copy = tmp_path / "copy"
    shutil.copytree(ROOT / "factors", copy / "factors")
    shutil.copytree(ROOT / "scenarios/japan-uk", copy / "scenarios/japan-uk")
    baseline = copy / "scenarios/japan-uk/baseline.yaml"
    baseline.write_text(baseline.read_text().replace("    mode: 0.5\n", "    mode: 0.6\n", 1))
    results = {
        rk.Result: rk.score(group[0]),
        rk.Simulation: rk.simulate(group[0], n=500),
        rk.Outlook: rk.outlook(group, n=500),
        rk.Sensitivity: rk.sensitivity(group[0], n=256),
        rk.Comparison: rk.compare(group, n=500, catalogue=catalogue),
        rk.Validation: rk.validate([ROOT / "scenarios/japan-uk"]),
        rk.Diff: rk.diff(ROOT / "scenarios/japan-uk", copy / "scenarios/japan-uk"),
    }
    for kind, result in results.items():
        assert isinstance(result, kind)
        frame = result.to_frame()
        assert isinstance(frame, pd.DataFrame), kind
        assert isinstance(result.to_dict(), dict), kind
    assert len(results[rk.Diff].to_frame()) >= 1  # the edited baseline moved
    assert results[rk.Comparison].outlooks_frame().index.tolist() == ["japan-uk"]


def test_exports_are_lazy_and_light() -> None:
    """The exports resolve, and naming them imports neither pandas nor scipy (the CLI's help
    and validate rely on that)."""
    probe = ("import sys, riskengine as rk\n"
             "names = ['Comparison', 'Outlook', 'validate', 'Validation', 'diff', 'Diff',\n"
             "         'diff_git', 'compare', 'outlook']\n"
             "missing = [n for n in names if n not in rk.__all__ or getattr(rk, n) is None]\n"
             "import riskengine.diff, riskengine.outlook\n"
             "assert callable(rk.diff) and callable(rk.outlook), (rk.diff, rk.outlook)\n"
             "heavy = [m for m in ('scipy', 'pandas') if m in sys.modules]\n"
             "print('MISSING', missing, 'HEAVY', heavy)\n")
    proc = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert "MISSING [] HEAVY []" in proc.stdout, proc.stdout + proc.stderr


def test_diff_export_is_the_folder_diff() -> None:
    import riskengine as rk
    from riskengine.diff import diff_paths

    assert rk.diff is diff_paths
    with pytest.raises(AttributeError):
        rk.no_such_name  # noqa: B018
