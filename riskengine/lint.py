"""Quality checks on valid files: the warnings of ``riskengine validate`` (codes RE6xx).

Errors (RE0xx–RE5xx) mean a file cannot be scored; these mean it can, but a reviewer should
look: an estimate with no source, an estimate whose newest source is too old for the scenario's
date, a source newer than that date, high confidence resting on one source, no stated
confidence, a catalogue factor that nothing uses. Each is reported at the line of the entry or
evidence item concerned.
"""

from __future__ import annotations

from collections.abc import Collection

from riskengine.loading import ESTIMATE_KEYS, Catalogue
from riskengine.models import Scenario, ScenarioFile
from riskengine.problems import Problem, display_path
from riskengine.yamlio import Document

SETS_ESTIMATE = (*ESTIMATE_KEYS, "shift")


def scenario_warnings(file: ScenarioFile, doc: Document, scenario: Scenario,
                      max_evidence_age: int | None = None) -> list[Problem]:
    """Warnings about the entries written in one scenario file (not those it inherits)."""
    problems: list[Problem] = []
    as_of = scenario.as_of
    for factor_id, entry in file.factors.items():
        base = ("factors", factor_id)
        sets_estimate = any(getattr(entry, key) is not None for key in SETS_ESTIMATE)
        evidence = entry.evidence or []
        if sets_estimate and not evidence:
            problems.append(doc.problem(base, f"the estimate of {factor_id!r} cites no evidence",
                                        "RE601", "warning"))
        if sets_estimate and entry.confidence is None:
            problems.append(doc.problem(base, f"the estimate of {factor_id!r} states no "
                                        "confidence", "RE605", "warning"))
        if entry.confidence == "high" and len({item.source for item in evidence}) == 1:
            problems.append(doc.problem((*base, "confidence"), "confidence is high but the "
                                        "estimate rests on a single source", "RE604", "warning"))
        if as_of is None:
            continue
        for i, item in enumerate(evidence):
            if item.date > as_of:
                problems.append(doc.problem((*base, "evidence", i, "date"), f"evidence dated "
                                            f"{item.date} is later than the scenario's as_of "
                                            f"{as_of}", "RE603", "warning"))
        if max_evidence_age is not None and evidence:
            # An estimate is as fresh as its newest source: old sources beside a recent one
            # are history, not staleness, so the judgement is one per estimate.
            newest = max(range(len(evidence)), key=lambda i: evidence[i].date)
            age = (as_of - evidence[newest].date).days
            if age > max_evidence_age:
                problems.append(doc.problem(
                    (*base, "evidence", newest, "date"), f"the newest evidence for "
                    f"{factor_id!r}, dated {evidence[newest].date}, is {age:,} days older than "
                    f"as_of {as_of} (limit {max_evidence_age:,})", "RE602", "warning"))
    return problems


def unused_factor_warnings(catalogue: Catalogue, used: Collection[str]) -> list[Problem]:
    """A warning at each catalogue factor whose id is not in ``used``."""
    return [Problem(display_path(catalogue.paths[factor_id]),
                    *catalogue.position(factor_id), "id",
                    f"factor {factor_id!r} is not used by any scenario checked", "RE606",
                    "warning")
            for factor_id in sorted(catalogue.paths) if factor_id not in used]
