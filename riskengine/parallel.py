"""The portfolio sweep: many scenarios (or a parameter grid) scored and simulated on every core.

Work is cut into stream blocks (:func:`riskengine.simulation.run_members`) or into scenarios
(:func:`sweep`), and every partial result is combined in a fixed order, so the numbers are the
same to the last digit with one worker, a process pool or a Dask cluster
(:mod:`riskengine.executors` makes them). The worker functions are top-level functions of
importable modules, so a pool can pickle them by name; a Dask worker needs riskengine
installed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from riskengine.executors import default_jobs, ordered
from riskengine.models import Scenario

if TYPE_CHECKING:
    from riskengine.simulation import Simulation

# ---------------------------------------------------------------------------------------------
# the portfolio sweep


@dataclass(frozen=True)
class SweepRow:
    """One scenario of a sweep: its deterministic score and the summary of its simulation."""

    partnership: str
    scenario: str
    stability: float
    risk_index: float | None  # None for a tree without risk and opportunity nodes
    opportunity_index: float | None
    band: str
    method: str
    mean: float
    std: float
    p5: float
    p50: float
    p95: float
    band_probabilities: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return {"partnership": self.partnership, "scenario": self.scenario,
                "stability": self.stability, "risk_index": self.risk_index,
                "opportunity_index": self.opportunity_index, "band": self.band,
                "simulation": {"method": self.method, "mean": self.mean, "std": self.std,
                               "p5": self.p5, "p50": self.p50, "p95": self.p95,
                               "band_probabilities": dict(self.band_probabilities)}}

    def flat(self) -> dict[str, Any]:
        """The CSV row: one column per figure, ``P_<band>`` for the band probabilities."""
        return {"partnership": self.partnership, "scenario": self.scenario,
                "stability": self.stability, "risk_index": self.risk_index,
                "opportunity_index": self.opportunity_index, "band": self.band,
                "method": self.method, "mean": self.mean, "std": self.std, "p5": self.p5,
                "p50": self.p50, "p95": self.p95,
                **{f"P_{band}": p for band, p in self.band_probabilities.items()}}


@dataclass(frozen=True)
class SweepSettings:
    n: int
    seed: int
    sampler: str
    method: str
    chunk_size: int = 65_536  # rows scored at once (memory only: the numbers are the same)


def sweep_batch(batch: Sequence[Scenario], settings: SweepSettings) -> list[SweepRow]:
    """Worker: score and simulate a batch of scenarios, each exactly as ``run --simulate``
    does (top level: picklable)."""
    from riskengine.scoring import score_many

    rows = []
    for scenario, result in zip(batch, score_many(batch), strict=True):
        sim = _simulate(scenario, settings)
        s = sim.stats.moments[0]
        rows.append(SweepRow(scenario.partnership, scenario.id, result.stability,
                             result.risk_index, result.opportunity_index, result.band,
                             sim.method, s["mean"], s["std"], s["p5"], s["p50"], s["p95"],
                             dict(sim.stats.band_probabilities)))
    return rows


def sweep(scenarios: Sequence[Scenario], n: int = 10_000, seed: int = 0,
          sampler: str = "random", method: str = "auto", executor: Executor | None = None,
          batch: int | None = None, progress: Callable[[int], None] | None = None,
          ) -> list[SweepRow]:
    """Score and simulate many scenarios (a portfolio), one row each, in the given order.

    Each scenario is simulated on its own with ``seed``, as ``riskengine run --simulate``
    would, so a row does not depend on the other scenarios, on the batching or on the
    executor. ``batch``: scenarios per work item (default: about four items per core).
    """
    from riskengine.simulation import choose_method

    choose_method([], method)  # type: ignore[arg-type]  # an unknown method fails here, once
    batches = _batches(scenarios, batch)
    settings = SweepSettings(n, seed, sampler, method)
    parts = ordered(executor if len(batches) > 1 else None, sweep_batch, batches, settings,
                    progress=None if progress is None else _scaled(progress, batches))
    return [row for part in parts for row in part]


#: ``run --simulate`` shares whole scenarios out from this many scenarios when each is at
#: most one stream block of draws (sharing one scenario's blocks gains nothing there): a
#: scenario's exact law or small simulation is milliseconds of work, its pickle a tenth of that.
RUN_SHARE_FROM = 32


def simulations(scenarios: Sequence[Scenario], n: int, seed: int = 0,
                sampler: str = "random", method: str = "auto", chunk_size: int = 65_536,
                executor: Executor | None = None,
                progress: Callable[[int], None] | None = None) -> list[dict[str, Any]]:
    """Each scenario's ``simulate(...).to_dict()`` as ``riskengine run --simulate`` shows it,
    in order: the scenarios shared out in batches when there are many small ones (a
    scenario's numbers depend on nothing but itself and the seed), else one by one with
    each one's stream blocks shared out."""
    from riskengine.simulation import STREAM_BLOCK, choose_method, simulate

    choose_method([], method)  # type: ignore[arg-type]  # an unknown method fails here, once
    if executor is not None and len(scenarios) >= RUN_SHARE_FROM and n <= STREAM_BLOCK:
        batches = _batches(scenarios)
        settings = SweepSettings(n, seed, sampler, method, chunk_size)
        parts = ordered(executor, simulation_batch, batches, settings,
                        progress=None if progress is None else _scaled(
                            lambda k: progress(k * n), batches))
        return [record for part in parts for record in part]
    return [simulate(s, n, seed=seed, sampler=sampler,  # type: ignore[arg-type]
                     chunk_size=chunk_size, progress=progress,
                     method=method, executor=executor).to_dict()  # type: ignore[arg-type]
            for s in scenarios]


def simulation_batch(batch: Sequence[Scenario], settings: SweepSettings
                     ) -> list[dict[str, Any]]:
    """Worker: ``simulate(...).to_dict()`` of each scenario of a batch (top level:
    picklable)."""
    return [simulation_of(s, settings) for s in batch]


def _batches(scenarios: Sequence[Scenario], batch: int | None = None
             ) -> list[tuple[Scenario, ...]]:
    """``scenarios`` in batches of ``batch`` (default: about four work items per core)."""
    if batch is None:
        batch = max(1, math.ceil(len(scenarios) / (4 * default_jobs())))
    return [tuple(scenarios[i:i + batch]) for i in range(0, len(scenarios), batch)]


def simulation_of(scenario: Scenario, settings: SweepSettings) -> dict[str, Any]:
    """One item of :func:`simulations`: ``simulate(...).to_dict()`` as ``run --simulate``
    shows it, computed in this process (the same numbers wherever it runs)."""
    return _simulate(scenario, settings).to_dict()


def _simulate(scenario: Scenario, settings: SweepSettings) -> Simulation:
    """``simulate`` of one scenario as ``run --simulate`` makes it, in this process."""
    from riskengine.simulation import simulate

    return simulate(scenario, settings.n, seed=settings.seed,
                    sampler=settings.sampler,  # type: ignore[arg-type]
                    chunk_size=settings.chunk_size,
                    method=settings.method)  # type: ignore[arg-type]


def _scaled(progress: Callable[[int], None], batches: Sequence[Sequence[Scenario]]
            ) -> Callable[[int], None]:
    sizes = iter([len(b) for b in batches])
    return lambda _: progress(next(sizes))


# ---------------------------------------------------------------------------------------------
# the sweep's outputs

SWEEP_HEADER = ("Scenario", "S", "R", "O", "Band", "mean", "p5", "p50", "p95", "P(band)")


def _sweep_cells(row: dict[str, Any]) -> list[str]:
    from riskengine.reporting import fmt

    sim = row["simulation"]
    odds = ", ".join(f"{band} {p:.0%}" for band, p in sim["band_probabilities"].items())
    return [f"{row['partnership']}/{row['scenario']}", fmt(row["stability"]),
            fmt(row["risk_index"], 3), fmt(row["opportunity_index"], 3), row["band"],
            fmt(sim["mean"]), fmt(sim["p5"]), fmt(sim["p50"]), fmt(sim["p95"]), odds]


def sweep_csv(rows: Sequence[dict[str, Any]]) -> str:
    """One row per scenario; user text made safe for spreadsheets (reporting.cell)."""
    import csv
    import io

    from riskengine.reporting import cell

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    bands = list(dict.fromkeys(b for r in rows for b in r["simulation"]["band_probabilities"]))
    writer.writerow(["partnership", "scenario", "stability", "risk_index", "opportunity_index",
                     "band", "method", "mean", "std", "p5", "p50", "p95",
                     *(f"P_{cell(b)}" for b in bands)])
    for r in rows:
        sim = r["simulation"]
        writer.writerow([cell(r["partnership"]), cell(r["scenario"]), repr(r["stability"]),
                         "" if r["risk_index"] is None else repr(r["risk_index"]),
                         "" if r["opportunity_index"] is None else repr(r["opportunity_index"]),
                         cell(r["band"]), sim["method"], *(repr(sim[k]) for k in (
                             "mean", "std", "p5", "p50", "p95")),
                         *(repr(sim["band_probabilities"][b])
                           if b in sim["band_probabilities"] else "" for b in bands)])
    return out.getvalue()


def sweep_markdown(rows: Sequence[dict[str, Any]]) -> str:
    from riskengine.reporting import md

    lines = ["# Sweep", "", "| " + " | ".join(SWEEP_HEADER) + " |",
             "|:---|" + "---:|" * 3 + ":---|" + "---:|" * 4 + ":---|"]
    lines += ["| " + " | ".join(md(c) for c in _sweep_cells(r)) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def print_sweep(rows: Sequence[dict[str, Any]], console: Any) -> None:
    from riskengine.reporting import band_style, printable
    from riskengine.texttable import Column, Styled, print_table

    print_table(console, [Column(name, "left" if name in ("Scenario", "Band", "P(band)")
                                 else "right") for name in SWEEP_HEADER],
                [[Styled(printable(c), band_style(row["band"])) if i == 4 else printable(c)
                  for i, c in enumerate(_sweep_cells(row))] for row in rows],
                f"[bold]Sweep[/] — {len(rows)} scenarios")
