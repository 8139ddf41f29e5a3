"""The shipped example content: valid, and its scores reproducible by hand from the files."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from .conftest import ROOT, Runner, score_by_hand

PARTNERSHIPS = sorted(p for p in (ROOT / "scenarios").iterdir() if p.is_dir())


def test_validate_passes_on_shipped_content(cli: Runner) -> None:
    proc = cli("validate", "factors", "scenarios", cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _by_hand(scenario_file: Path) -> float:
    return score_by_hand(scenario_file, ROOT / "factors")


@pytest.mark.parametrize("partnership", PARTNERSHIPS, ids=lambda p: p.name)
def test_json_scores_agree_with_hand_computation(cli: Runner, partnership: Path) -> None:
    proc = cli("run", str(partnership), "--format", "json", cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    records = json.loads(proc.stdout)
    assert len(records) >= 3
    for record in records:
        assert record["model"]["aggregation"] == "arithmetic"
        expected = _by_hand(partnership / f"{record['scenario']}.yaml")
        assert abs(record["stability"] - expected) < 1e-9
        total = math.fsum(f["contribution"] for f in record["factors"])
        assert abs(total - (record["stability"] - 100 * record["model"]["risk_share"])) < 1e-9


@pytest.mark.parametrize("partnership", PARTNERSHIPS, ids=lambda p: p.name)
def test_outlook_probabilities_sum_to_one(partnership: Path) -> None:
    yaml = YAML(typ="safe")
    probabilities = [yaml.load(f.read_text())["probability"]
                     for f in sorted(partnership.glob("*.yaml"))]
    assert math.fsum(probabilities) == pytest.approx(1.0, abs=1e-9)


def test_every_shipped_estimate_has_dated_evidence_and_confidence() -> None:
    yaml = YAML(typ="safe")
    for baseline in (ROOT / "scenarios").glob("*/baseline.yaml"):
        for fid, entry in yaml.load(baseline.read_text())["factors"].items():
            assert entry.get("confidence"), (baseline, fid)
            assert entry.get("evidence") and all(e.get("source") and e.get("date")
                                                 for e in entry["evidence"]), (baseline, fid)
