"""The faster paths of loading and of common-random-number runs give the old results exactly:
memoised inheritance chains, each distinct shared estimate drawn once, shared percentile work.
"""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskengine.loading import (
    LOADING_GC_THRESHOLD,
    ScenarioReader,
    _fold,
    gc_relaxed,
    load_catalogue,
    load_scenarios,
    scenario_paths,
)
from riskengine.models import Correlation, Distribution, Estimate, Factor, Kind, Scale, Scenario
from riskengine.simulation import (
    STREAM_BLOCK,
    StreamSpec,
    _members,
    _score_into,
    _UniformSource,
    correlate,
    n_blocks,
    run_members,
)

ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------------------------------------
# loading


def write_chain(root: Path, length: int) -> Path:
    """A catalogue of three factors and a chain of ``length`` scenarios, each extending the
    one before with a shift, a replacement or a new setting."""
    factors = root / "factors"
    factors.mkdir(parents=True)
    for i, kind in enumerate(("risk", "opportunity", "risk")):
        (factors / f"f{i}.yaml").write_text(
            f"id: f{i}\nname: F{i}\nkind: {kind}\ndescription: d\n"
            "scale: {min: 0, max: 100, unit: u}\nhigher_means: more\nweight: 1\n",
            encoding="utf-8")
    folder = root / "scenarios" / "p"
    folder.mkdir(parents=True)
    (folder / "s000.yaml").write_text(
        "id: s000\ntitle: Root\npartnership: p\nparties: [A, B]\nas_of: 2026-01-01\n"
        "model: {aggregation: arithmetic, risk_share: 0.5}\nfactors:\n"
        "  f0: {low: 10, mode: 20, high: 30, confidence: high}\n"
        "  f1: {value: 40}\n  f2: {low: 5, high: 15, distribution: uniform}\n",
        encoding="utf-8")
    for k in range(1, length):
        body = [f"id: s{k:03d}\ntitle: Link {k}\nextends: s{k - 1:03d}\n"]
        if k % 3 == 0:
            body.append("model: {risk_share: 0.4}\n")
        body.append("factors:\n")
        body.append(["  f0: {shift: 0.25}\n", "  f1: {value: " + str(40 + k % 7) + "}\n",
                     "  f2: {shift: 0.1, confidence: low}\n"][k % 3])
        (folder / f"s{k:03d}.yaml").write_text("".join(body), encoding="utf-8")
    return root


def test_memoised_chains_give_the_scenarios_of_a_full_fold(tmp_path: Path) -> None:
    root = write_chain(tmp_path, 40)
    catalogue = load_catalogue(root / "factors")
    files = scenario_paths([root / "scenarios"])
    # the leaf first: its fold leaves every ancestor's for the files that follow
    reader = ScenarioReader(catalogue)
    memoised = [reader.resolve(f) for f in reversed(files)][::-1]
    assert len(reader.folds) == len(files)
    for file, (scenario, problems) in zip(files, memoised, strict=True):
        fresh = ScenarioReader(catalogue)
        chain, found = fresh.chain(file)
        assert not found and not problems
        assert scenario == _fold(chain, catalogue)[0]  # the whole chain folded anew
    last = memoised[-1][0]
    assert last is not None
    by_id = {e.factor.id: e for e in last.estimates}
    assert by_id["f0"].low == pytest.approx(10 + 0.25 * 13)
    assert by_id["f2"].confidence == "low"
    assert last.model.risk_share == 0.4
    assert load_scenarios(root / "scenarios", catalogue) == [s for s, _ in memoised]
    # a path given as text is the same file as its Path: resolved once, the same result
    assert reader.resolve(str(files[3])) is reader.resolve(files[3])


@pytest.mark.parametrize("broken", [False, True])
def test_a_long_chain_walks_extends_a_linear_number_of_times(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, broken: bool) -> None:
    """Each file of a chain looks up its parent a bounded number of times, whole or broken at
    the root: a cycle check that walked to the root from every file made a chain of 1,000 take
    6.8 s (500,000 lookups)."""
    length = 120
    root = write_chain(tmp_path, length)
    if broken:  # the root cannot be scored: every file's chain is broken
        root_file = root / "scenarios" / "p" / "s000.yaml"
        root_file.write_text(root_file.read_text(encoding="utf-8").replace(
            "f1: {value: 40}", "f1: {value: 400}"), encoding="utf-8")
    calls = 0
    lookup = ScenarioReader.parent_path

    def counted(self: ScenarioReader, parsed: Any) -> Path | None:
        nonlocal calls
        calls += 1
        return lookup(self, parsed)

    monkeypatch.setattr(ScenarioReader, "parent_path", counted)
    catalogue = load_catalogue(root / "factors")
    reader = ScenarioReader(catalogue)
    for file in scenario_paths([root / "scenarios"]):
        reader.resolve(file)
    assert calls <= 8 * length


def test_a_broken_chain_is_still_worded_by_the_full_walk(tmp_path: Path) -> None:
    root = write_chain(tmp_path, 4)
    folder = root / "scenarios" / "p"
    (folder / "s000.yaml").write_text((folder / "s000.yaml").read_text(encoding="utf-8")
                                      + "extends: s003\n", encoding="utf-8")
    reader = ScenarioReader(load_catalogue(root / "factors"))
    scenario, problems = reader.resolve(folder / "s002.yaml")
    assert scenario is None
    assert [p.code for p in problems] == ["RE402"]
    assert "inheritance cycle: s002 -> s001 -> s000 -> s003 -> s002" in problems[0].message
    assert not reader.folds  # nothing of a broken chain is kept


def test_scenario_paths_keep_order_without_repeats(tmp_path: Path) -> None:
    root = write_chain(tmp_path, 3)
    folder = root / "scenarios" / "p"
    got = scenario_paths([folder / "s002.yaml", folder, folder / "s000.yaml"])
    assert got == [folder / "s002.yaml", folder / "s000.yaml", folder / "s001.yaml"]


_SEGMENT = st.text(alphabet="aB-. 0_\u00e9", min_size=1, max_size=3).filter(
    lambda t: t not in (".", ".."))


@given(st.lists(st.lists(_SEGMENT, min_size=1, max_size=3), max_size=12), st.booleans())
def test_yaml_files_order_is_the_order_of_paths(parts: list[list[str]], rooted: bool) -> None:
    """The sort key of yaml_files orders paths as Path's own comparison does, part by part
    (``a/b`` before ``a-b``), rooted or relative."""
    from riskengine.files import _path_order

    paths = [Path("/" if rooted else "", *segments) for segments in parts]
    assert sorted(paths, key=_path_order) == sorted(paths)


def test_a_folder_given_twice_is_classified_alike(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """validate tells factor, tree and scenario files apart once per folder as written: the
    same files given under two spellings are checked as the same kinds."""
    from riskengine.validation import _groups

    for name in ("factors/a.yaml", "factors/sub/b.yaml", "models/t.yaml", "scenarios/p/s.yaml"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("id: x\n")
    (tmp_path / "riskengine.toml").write_text("")
    monkeypatch.chdir(tmp_path)
    files = [Path(n) for n in ("factors/a.yaml", "factors/sub/b.yaml", "models/t.yaml",
                               "scenarios/p/s.yaml")]
    files += [tmp_path / f for f in files]
    (group,), problems = _groups(files, None)
    assert problems == []
    assert group.factor_files == [files[0], files[1], files[4], files[5]]
    assert group.tree_files == [files[2], files[6]]
    assert group.scenario_files == [files[3], files[7]]


def test_gc_relaxed_restores_the_thresholds() -> None:
    before = gc.get_threshold()
    with gc_relaxed():
        assert gc.get_threshold() == LOADING_GC_THRESHOLD
        with gc_relaxed():  # nested: the outer one restores
            assert gc.get_threshold() == LOADING_GC_THRESHOLD
        assert gc.get_threshold() == LOADING_GC_THRESHOLD
    assert gc.get_threshold() == before
    with pytest.raises(RuntimeError), gc_relaxed():
        raise RuntimeError
    assert gc.get_threshold() == before
    gc.set_threshold(100_000, 5, 5)
    try:
        with gc_relaxed():
            assert gc.get_threshold() == (100_000, 5, 5)  # a caller's larger choice stays
    finally:
        gc.set_threshold(*before)


# ---------------------------------------------------------------------------------------------
# shared columns of a common-random-numbers run


def factor(fid: str, kind: Kind) -> Factor:
    return Factor(id=fid, name=fid, kind=kind, description="d",
                  scale=Scale(min=0, max=10, unit="u"), higher_means="more", weight=1)


KINDS: dict[str, Kind] = {"a": "risk", "b": "opportunity", "c": "risk", "d": "opportunity",
                          "e": "risk"}
F = {fid: factor(fid, kind) for fid, kind in KINDS.items()}


def estimate(fid: str, dist: Distribution, low: float, mode: float, high: float,
             fixed: bool = False) -> Estimate:
    return Estimate(factor=F[fid], low=low, mode=mode, high=high, distribution=dist,
                    weight=1, fixed=fixed)


def variants() -> list[Scenario]:
    """Scenarios sharing some estimates exactly and changing others, every distribution,
    a fixed value, and copulas that move shared factors in some members only."""
    base = [estimate("a", "pert", 1, 3, 8), estimate("b", "triangular", 2, 5, 9),
            estimate("c", "uniform", 0, 2, 4), estimate("d", "pert", 4, 7, 7.5),
            estimate("e", "pert", 6, 6, 6, fixed=True)]
    out = [Scenario(id="baseline", title="B", partnership="p", estimates=tuple(base))]
    changes = [{}, {"a": estimate("a", "pert", 2, 3, 8)},
               {"b": estimate("b", "triangular", 2, 5, 10), "c": estimate("c", "uniform", 1, 2, 4)},
               {"d": estimate("d", "pert", 4, 7, 7.5)}]
    for k, change in enumerate(changes):
        made = tuple(change.get(e.factor.id, e) for e in base)
        corr = (Correlation(factors=["a", "b"], rho=0.6),) if k % 2 else ()
        out.append(Scenario(id=f"v{k}", title=f"V{k}", partnership="p", estimates=made,
                            correlations=corr))
    return out


def reference_stream(scenarios: list[Scenario], n: int, seed: int, sampler: str
                     ) -> list[list[np.ndarray]]:
    """The former per-member path: each member's uniforms through its own copula and its
    whole inverse CDF, no sharing."""
    members, sources = _members(scenarios, True, sampler)  # type: ignore[arg-type]
    source = _UniformSource(sources[0], seed, sampler)  # type: ignore[arg-type]
    blocks = []
    for block in range(n_blocks(n)):
        rows = min(STREAM_BLOCK, n - block * STREAM_BLOCK)
        source.start_block(block)
        u = source.take(rows)
        outs = []
        for member in members:
            out = np.empty((3, rows))
            raw = member.marginals.ppf(correlate(u[:, member.cols], member.copula))
            _score_into(out, raw, member.arrays)
            outs.append(out)
        blocks.append(outs)
    return blocks


@pytest.mark.parametrize("sampler", ["random", "sobol"])
def test_shared_columns_give_the_draws_of_each_member_alone(sampler: str) -> None:
    scenarios = variants()
    n = STREAM_BLOCK + 1000  # two blocks, the second partial
    spec = StreamSpec.of(scenarios, n, 5, sampler, True, 4096)  # type: ignore[arg-type]
    got = list(spec.stream())
    want = reference_stream(scenarios, n, 5, sampler)
    assert len(got) == len(want)
    for got_block, want_block in zip(got, want, strict=True):
        for g, w in zip(got_block, want_block, strict=True):
            assert np.array_equal(g, w)
    # the same estimate under the same uniforms is the same numbers: v0 is the baseline
    assert np.array_equal(got[0][0], got[0][1])


def test_shipped_comparison_runs_match_the_reference() -> None:
    scenarios = load_scenarios(ROOT / "scenarios" / "japan-turkey")
    spec = StreamSpec.of(scenarios, 3000, 11, "random", True, 1 << 16)
    for g, w in zip(next(iter(spec.stream())), reference_stream(scenarios, 3000, 11,
                                                                 "random")[0], strict=True):
        assert np.array_equal(g, w)


def test_percentiles_with_shared_work_equal_numpy() -> None:
    scenarios = variants()
    n = 30_001
    result, arrays_of = run_members(scenarios, n, 2, "random", True)
    for m, summary in enumerate(result.summaries):
        values = arrays_of(m)
        for j, moments in enumerate(summary.moments):
            want = np.percentile(values[j], (5, 50, 95), method="inverted_cdf")
            assert [moments["p5"], moments["p50"], moments["p95"]] == list(want)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["", "a", "a/b", ".hid", "c"]),
                          st.sampled_from(["s.yaml", "t.yml", ".h.yaml", "n.txt", "u.YAML"])),
                max_size=10))
def test_count_of_yaml_files_is_the_length_of_their_list(
        tmp_path_factory: pytest.TempPathFactory, files: list[tuple[str, str]]) -> None:
    """What validate asks of every folder (are its valid scenarios all of its files?) counts
    what yaml_files lists: hidden names and folders left out, subfolders included."""
    from riskengine.files import count_yaml_files, yaml_files

    root = tmp_path_factory.mktemp("count")
    for folder, name in files:
        (root / folder).mkdir(parents=True, exist_ok=True)
        (root / folder / name).write_text("id: x\n")
    assert count_yaml_files(root) == len(yaml_files(root))
    if files:
        one = root / files[0][0] / files[0][1]
        assert count_yaml_files(one) == len(yaml_files(one)) == 1


def test_files_listed_once_are_not_listed_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                 ) -> None:
    """The command lists its paths once (list_scenario_files) and the loaders take the list
    as it is: listing 5,000 files again cost the parent 0.11 s before any share began."""
    import riskengine.loading as loading

    root = write_chain(tmp_path, 3)
    listed = loading.list_scenario_files([root / "scenarios"])
    assert listed.files == tuple(scenario_paths([root / "scenarios"]))
    calls: list[object] = []
    real = loading._listing

    def counted(paths: Any) -> Any:
        calls.append(paths)
        return real(paths)

    monkeypatch.setattr(loading, "_listing", counted)
    scores = [s.id for s in loading.load_project_scenarios(listed).scenarios]
    assert calls == []
    assert scores == [s.id for s in loading.load_project_scenarios(root / "scenarios").scenarios]
    assert len(calls) == 1


def test_a_named_file_that_is_missing_is_still_found_missing(tmp_path: Path) -> None:
    """Files found by listing a folder are not checked again; a path named as a file is, and
    so is a project root's scenarios folder that is not there."""
    from riskengine.loading import list_scenario_files
    from riskengine.problems import InputError

    root = write_chain(tmp_path, 2)
    with pytest.raises(InputError) as missing:
        list_scenario_files([root / "scenarios", root / "scenarios" / "p" / "gone.yaml"])
    assert [(p.code, p.message) for p in missing.value.problems] == [
        ("RE001", "no such file or folder")]
    assert "gone.yaml" in missing.value.problems[0].path
    (root / "riskengine.toml").write_text("", encoding="utf-8")
    (root / "scenarios" / "p" / "s000.yaml").unlink()
    (root / "scenarios" / "p" / "s001.yaml").unlink()
    (root / "scenarios" / "p").rmdir()
    (root / "scenarios").rmdir()
    with pytest.raises(InputError) as no_folder:
        load_scenarios([root])
    assert [p.code for p in no_folder.value.problems] == ["RE001"]
