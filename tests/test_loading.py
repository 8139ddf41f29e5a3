"""Loading factor and scenario files: validation, positions of errors, inheritance."""

from __future__ import annotations

from pathlib import Path

import pytest

import riskengine as re
from riskengine.loading import load_catalogue, load_scenario, load_scenarios
from riskengine.problems import InputError

from .conftest import factor_yaml, write


def problems_of(func, *args) -> list[str]:
    with pytest.raises(InputError) as info:
        func(*args)
    return [str(p) for p in info.value.problems]


def test_catalogue_loads_every_factor(project: Path) -> None:
    catalogue = load_catalogue(project / "factors")
    assert sorted(catalogue) == ["o_a", "o_b", "r_a", "r_b"]
    assert catalogue["o_a"].scale.max == 4
    assert catalogue["r_b"].higher_means == "less"


def test_inheritance_applies_shift_and_partial_override(project: Path) -> None:
    up = load_scenario(project / "scenarios/demo/up.yaml")
    r_a = up.estimate("r_a")
    assert (r_a.low, r_a.mode, r_a.high) == (0, 2, 5)  # parent 2/4/7 shifted by -2
    o_a = up.estimate("o_a")
    assert (o_a.low, o_a.mode, o_a.high) == (1, 3, 3)  # only mode replaced
    assert up.partnership == "demo" and up.as_of is not None
    assert up.as_of.isoformat() == "2025-09-03"
    assert up.probability == 0.25  # a probability is never inherited
    assert up.estimate("o_b").point == 6  # uniform: midpoint


def test_value_replaces_three_point_estimate(project: Path) -> None:
    write(project / "scenarios/demo/fixed.yaml", """
        id: fixed
        title: Fixed
        extends: base
        factors:
          r_a: {value: 5}
          r_b: {low: 2, mode: 3, high: 4}
        """)
    fixed = load_scenario(project / "scenarios/demo/fixed.yaml")
    assert fixed.estimate("r_a").fixed and fixed.estimate("r_a").point == 5
    r_b = fixed.estimate("r_b")
    assert not r_b.fixed and (r_b.low, r_b.mode, r_b.high) == (2, 3, 4)


def test_weight_override(project: Path) -> None:
    write(project / "scenarios/demo/w.yaml", """
        id: w
        title: W
        extends: base
        factors:
          r_a: {weight: 0}
        """)
    assert load_scenario(project / "scenarios/demo/w.yaml").estimate("r_a").weight == 0


def test_yaml_12_keeps_norway_a_string(project: Path) -> None:
    write(project / "factors/no_flag.yaml", factor_yaml("no_flag").replace(
        "name: No Flag", "name: NO"))
    assert load_catalogue(project / "factors")["no_flag"].name == "NO"


@pytest.mark.parametrize(("body", "expected"), [
    # libyaml words the rest of the message differently from the pure parser.
    ("id: r_a\nname: [unclosed\n", "r_a.yaml:3:1: YAML syntax error: while parsing a flow "
     "sequence"),
    ("id: r_a\nid: r_a\n", "r_a.yaml:2:1: id: duplicate key 'id' (first at line 1) [RE004]"),
    ("- a\n- b\n", "r_a.yaml:1:1: expected a mapping of keys, found list [RE102]"),
    ("id: r_a\nname: X\n", "r_a.yaml:1:1: kind: required field is missing [RE103]"),
    ("!!python/object/apply:os.system ['echo hi']\n", "[RE003]"),
    ("", "r_a.yaml:1:1: empty file [RE001]"),
])
def test_broken_factor_files(project: Path, body: str, expected: str) -> None:
    (project / "factors/r_a.yaml").write_text(body)
    messages = problems_of(load_catalogue, project / "factors")
    assert any(expected in m for m in messages), messages


def test_factor_errors_point_at_the_key(project: Path) -> None:
    text = factor_yaml("r_a").replace("weight: 1", "weight: -1")
    text = text.replace("unit: score", "unit: score\n  colour: red")
    (project / "factors/r_a.yaml").write_text(text)
    messages = problems_of(load_catalogue, project / "factors")
    lines = text.splitlines()
    weight_line = next(n for n, line in enumerate(lines, 1) if line.startswith("weight"))
    colour_line = next(n for n, line in enumerate(lines, 1) if "colour" in line)
    assert any(f"r_a.yaml:{weight_line}:1: weight: Input should be greater than or equal to 0"
               in m for m in messages), messages
    assert any(f"r_a.yaml:{colour_line}:3: scale.colour: unknown key 'colour'" in m
               for m in messages), messages


def test_id_must_equal_stem(project: Path) -> None:
    (project / "factors/r_a.yaml").write_text(factor_yaml("r_z"))
    assert problems_of(load_catalogue, project / "factors") == [
        f"{(project / 'factors/r_a.yaml')}:1:1: id: id 'r_z' does not match the file name "
        "'r_a.yaml' [RE201]"]


def test_duplicate_ids_across_subfolders(project: Path) -> None:
    write(project / "factors/more/r_a.yaml", factor_yaml("r_a"))
    messages = problems_of(load_catalogue, project / "factors")
    assert any("factor id 'r_a' is already defined" in m and "[RE202]" in m for m in messages)


def scenario_problems(project: Path, body: str, name: str = "bad") -> list[str]:
    path = write(project / f"scenarios/demo/{name}.yaml", body)
    return problems_of(load_scenario, path, load_catalogue(project / "factors"))


def test_unknown_factor_with_suggestion(project: Path) -> None:
    messages = scenario_problems(project, """
        id: bad
        title: Bad
        extends: base
        factors:
          r_aa: {value: 3}
        """)
    assert messages == [f"{project}/scenarios/demo/bad.yaml:5:3: factors.r_aa: unknown factor "
                        "'r_aa' (did you mean 'r_a'?) [RE301]"]


def test_estimate_outside_scale_points_at_the_value(project: Path) -> None:
    messages = scenario_problems(project, """
        id: bad
        title: Bad
        extends: base
        factors:
          o_a:
            high: 5
        """)
    assert messages == [f"{project}/scenarios/demo/bad.yaml:6:5: factors.o_a.high: high 5 is "
                        "outside the scale 0..4 (score) [RE302]"]


def test_unordered_estimate(project: Path) -> None:
    messages = scenario_problems(project, """
        id: bad
        title: Bad
        extends: base
        factors:
          r_a: {mode: 8}
        """)
    assert messages == [f"{project}/scenarios/demo/bad.yaml:5:9: factors.r_a.mode: estimate "
                        "must satisfy low <= mode <= high (got 2, 8, 7) [RE303]"]


def test_shift_outside_scale(project: Path) -> None:
    messages = scenario_problems(project, """
        id: bad
        title: Bad
        extends: base
        factors:
          r_a: {shift: 4}
        """)
    assert messages == [f"{project}/scenarios/demo/bad.yaml:5:9: factors.r_a.shift: shift +4 "
                        "moves high to 11, outside the scale 0..10 [RE403]"]


def test_missing_parent_and_cycle(project: Path) -> None:
    messages = scenario_problems(project, "id: bad\ntitle: Bad\nextends: bsae\n")
    assert messages == [f"{project}/scenarios/demo/bad.yaml:3:1: extends: parent scenario "
                        "'bsae' not found in "
                        f"{project}/scenarios/demo (did you mean 'base'?) [RE401]"]
    write(project / "scenarios/demo/a.yaml", "id: a\ntitle: A\nextends: b\n")
    write(project / "scenarios/demo/b.yaml", "id: b\ntitle: B\nextends: a\n")
    messages = problems_of(load_scenario, project / "scenarios/demo/a.yaml",
                           load_catalogue(project / "factors"))
    assert messages == [f"{project}/scenarios/demo/b.yaml:3:1: extends: inheritance cycle: "
                        "a -> b -> a [RE402]"]


def test_incomplete_estimate_and_missing_kind(project: Path) -> None:
    messages = scenario_problems(project, """
        id: bad
        title: Bad
        factors:
          r_a: {low: 1, high: 3}
        """)
    assert messages == [f"{project}/scenarios/demo/bad.yaml:4:3: factors.r_a: estimate needs "
                        "mode (or a single value) [RE304]"]
    messages = scenario_problems(project, """
        id: bad
        title: Bad
        factors:
          r_a: {value: 1}
        """)
    assert messages == [f"{project}/scenarios/demo/bad.yaml:3:1: factors: the scenario uses no "
                        "opportunity factor; it needs at least one of each kind [RE306]"]


def test_zero_total_weight(project: Path) -> None:
    messages = scenario_problems(project, """
        id: bad
        title: Bad
        extends: base
        factors:
          o_a: {weight: 0}
          o_b: {weight: 0}
        """)
    assert messages == [f"{project}/scenarios/demo/bad.yaml:4:1: factors: the opportunity "
                        "factors' weights sum to 0; at least one must be positive [RE305]"]


def test_all_problems_reported_not_just_first(project: Path) -> None:
    messages = scenario_problems(project, """
        id: bad
        title: Bad
        extends: base
        factors:
          r_a: {high: 11}
          o_a: {low: -1}
          zz: {value: 1}
        """)
    assert len(messages) == 3


def test_nan_and_strings_for_numbers_are_rejected(project: Path) -> None:
    messages = scenario_problems(project, """
        id: bad
        title: Bad
        extends: base
        factors:
          r_a: {high: .nan}
        """)
    assert any(":5:15: factors.r_a.high: .nan is not a finite number [RE102]" in m
               for m in messages)
    messages = scenario_problems(project, """
        id: bad
        title: Bad
        extends: base
        factors:
          o_a: {low: "1"}
        """)
    assert any(":5:9: factors.o_a.low: Input should be a valid number (got '1') [RE102]" in m
               for m in messages), messages


def test_load_scenarios_folder_and_public_api(project: Path) -> None:
    catalogue = re.load_catalogue(project / "factors")
    scenarios = load_scenarios([project / "scenarios/demo"], catalogue)
    assert [s.id for s in scenarios] == ["base", "up"]
    assert re.score(scenarios[0]).scenario == "base"


def _same_fields(built: object, validated: object, where: str) -> None:
    """Equal values of the same types, field by field, all the way down."""
    from pydantic import BaseModel

    assert type(built) is type(validated), where
    if isinstance(built, BaseModel):
        assert isinstance(validated, BaseModel)
        for name in type(built).model_fields:
            _same_fields(getattr(built, name), getattr(validated, name), f"{where}.{name}")
    elif isinstance(built, tuple | list):
        assert isinstance(validated, tuple | list) and len(built) == len(validated), where
        for i, (a, b) in enumerate(zip(built, validated, strict=True)):
            _same_fields(a, b, f"{where}[{i}]")
    else:
        assert built == validated, where


def test_loaded_scenarios_are_what_validating_their_fields_makes(
        tmp_path: Path, project: Path) -> None:
    """The loader builds estimates and scenarios under a context that skips the checks it
    made itself at the files' lines: what it builds is what validating the fields makes,
    types included, for the shipped project, the examples, a generated one and the test
    project (inheritance, shifts, uniform midpoints, fixed values)."""
    from benchmarks.generate import generate
    from riskengine.loading import load_project_scenarios
    from riskengine.models import Scenario

    root = Path(__file__).resolve().parent.parent
    generated = generate(tmp_path / "g", n_factors=30, n_scenarios=20, per_folder=10,
                         per_scenario=6)
    folders = [root / "scenarios", root / "examples/korea-poland", generated / "scenarios",
               project / "scenarios"]
    loaded = [s for folder in folders for s in load_project_scenarios([folder]).scenarios]
    for index in ("asem-2018", "inform-2021"):  # trees and populations: a few of each
        loaded += load_project_scenarios([root / "examples" / index]).scenarios[:8]
    assert len(loaded) > 50
    for scenario in loaded:
        _same_fields(scenario, Scenario.model_validate(scenario.model_dump()), scenario.key)
