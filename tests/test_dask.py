"""A real Dask cluster runs the same work as this process, to the last digit: a comparison
whose runs are cut into stream blocks, exact laws by partnership, a sweep in batches and the
command's `--executor dask://HOST:PORT`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from riskengine import cli
from riskengine.compare import compare
from riskengine.executors import executor
from riskengine.loading import load_scenarios
from riskengine.models import Scenario
from riskengine.parallel import sweep
from riskengine.simulation import STREAM_BLOCK

ROOT = Path(__file__).resolve().parents[1]
N = STREAM_BLOCK + 1_000  # two stream blocks, the second one partial: blocks on the workers


@pytest.fixture(scope="module")
def shipped() -> list[Scenario]:
    return load_scenarios(ROOT / "scenarios")


def test_dask_cluster_gives_the_same_numbers(shipped: list[Scenario],
                                             capsys: pytest.CaptureFixture[str],
                                             share_small: None) -> None:
    distributed = pytest.importorskip(
        "distributed", reason="Dask is not installed: pip install 'riskengine[dask]'")
    # two partnerships: each one's run is a task of the cluster
    group = [s for s in shipped if s.partnership in ("japan-turkey", "japan-uk")]
    want = compare(group, n=N, seed=5, method="mc").to_dict()
    # exact laws and the pairs within each partnership, a partnership a task
    linear = [s.model_copy(update={"correlations": ()}) for s in group]
    exact = compare(linear, n=N, seed=5).to_dict()
    rows = sweep(shipped, n=2_000, seed=5, method="mc")
    # Workers as threads of this process, talking TCP: every task and result still crosses
    # the wire serialised, as on a remote cluster, without starting two interpreters
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  protocol="tcp://", host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        address = cluster.scheduler_address.removeprefix("tcp://")
        with executor(f"dask://{address}") as dask:
            assert dask is not None
            assert compare(group, n=N, seed=5, method="mc", executor=dask).to_dict() == want
            assert compare(linear, n=N, seed=5, executor=dask).to_dict() == exact
            assert sweep(shipped, n=2_000, seed=5, method="mc", executor=dask, batch=3) == rows
        assert cli.main(["sweep", str(ROOT / "scenarios"), "--simulate", "2000", "--seed",
                         "5", "--method", "mc", "--format", "json", "-q", "--executor",
                         f"dask://{address}"]) == 0
        assert json.loads(capsys.readouterr().out) == [r.to_dict() for r in rows]
