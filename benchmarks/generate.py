"""A synthetic catalogue and outlooks of realistic size, for the validate benchmark and tests.

Factor files look like the shipped ones (description, scale, weight); each partnership folder
holds a baseline estimating ``per_scenario`` factors with evidence and variants that extend it
with shifts and replacements, with probabilities that sum to 1.
"""

from __future__ import annotations

from pathlib import Path

SCHEMA_LINE = "# yaml-language-server: $schema={}\n"


def factor_text(i: int) -> str:
    kind = "risk" if i % 2 == 0 else "opportunity"
    return (
        f"id: f{i:05d}\n"
        f"name: Synthetic factor {i}\n"
        f"kind: {kind}\n"
        f"group: group{i % 7}\n"
        "about: pair\n"
        "description: >-\n"
        "  A synthetic factor for benchmarking. It has a description of realistic length, a\n"
        "  scale with a unit, a direction and a default weight, like the shipped factors.\n"
        "scale:\n"
        "  min: 0\n"
        "  max: 10\n"
        "  unit: expert score (0-10)\n"
        f"higher_means: {'more' if i % 5 else 'less'}\n"
        f"weight: {1 + i % 4}\n"
    )


def estimate_text(factor: int, low: int, as_of_year: int) -> str:
    return (
        f"  f{factor:05d}:\n"
        f"    low: {low}\n"
        f"    mode: {low + 2}\n"
        f"    high: {low + 4}\n"
        "    distribution: pert\n"
        "    confidence: medium\n"
        "    evidence:\n"
        f"      - source: Synthetic source {factor}\n"
        f"        date: {as_of_year - 1}-06-01\n"
        "        grade: B2\n"
        "        note: >-\n"
        "          A note of realistic length that says why the estimate is what it is.\n"
        f"      - source: Second synthetic source {factor}\n"
        f"        date: {as_of_year - 1}-09-15\n"
        "        grade: A1\n"
    )


def generate(root: Path, n_factors: int = 5000, n_scenarios: int = 500,
             per_folder: int = 10, per_scenario: int = 20) -> Path:
    """Write ``root/factors`` and ``root/scenarios``; return ``root``."""
    factors = root / "factors"
    factors.mkdir(parents=True, exist_ok=True)
    for i in range(n_factors):
        (factors / f"f{i:05d}.yaml").write_text(factor_text(i), encoding="utf-8")
    n_folders = max(1, n_scenarios // per_folder)
    for p in range(n_folders):
        folder = root / "scenarios" / f"partnership-{p:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        count = min(per_folder, n_scenarios - p * per_folder)
        used = [(p * per_scenario + k) % n_factors for k in range(per_scenario)]
        lines = [f"id: baseline\ntitle: Baseline {p}\npartnership: partnership-{p:03d}\n"
                 "parties: [A, B]\nas_of: 2026-03-15\n"
                 f"probability: {1 - (count - 1) * 0.05:.2f}\n"
                 "model:\n  aggregation: arithmetic\n  risk_share: 0.5\nfactors:\n"]
        lines += [estimate_text(f, 2 + f % 4, 2026) for f in used]
        (folder / "baseline.yaml").write_text("".join(lines), encoding="utf-8")
        for v in range(1, count):
            body = [f"id: variant-{v}\ntitle: Variant {v}\nextends: baseline\n"
                    "probability: 0.05\nfactors:\n"]
            for f in used[1 + v % 3::3]:
                body.append(f"  f{f:05d}:\n    shift: 1\n    confidence: low\n    evidence:\n"
                            f"      - source: Variant source {v}\n        date: 2026-01-10\n")
            body.append(estimate_text(used[0], 1, 2026))
            (folder / f"variant-{v}.yaml").write_text("".join(body), encoding="utf-8")
    return root
