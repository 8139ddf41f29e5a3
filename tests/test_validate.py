"""``riskengine validate``: one broken file per check, with its exact message and location."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import pytest

from riskengine.problems import CODES
from riskengine.validation import validate

from .conftest import ROOT, Runner, factor_yaml, write

BASE = "scenarios/demo/base.yaml"
UP = "scenarios/demo/up.yaml"


def base_with(factors_block: str, header: str = "") -> str:
    """The fixture's base scenario with its factors replaced."""
    return ("id: base\ntitle: Base case\npartnership: demo\nas_of: 2025-09-03\n"
            "probability: 0.75\n" + header + "factors:\n" + factors_block)


GOOD_REST = ("  r_b: {value: 6, confidence: low, evidence: [{source: T, date: 2025-09-01}]}\n"
             "  o_a: {low: 1, mode: 2, high: 3, confidence: low, evidence: [{source: T, date: "
             "2025-09-01}]}\n"
             "  o_b: {value: 5, confidence: low, evidence: [{source: T, date: 2025-09-01}]}\n")
EVIDENCE = "    confidence: medium\n    evidence: [{source: S, date: 2025-09-01}]\n"

TREE = "models/t.yaml"
# the base's first estimate on one line, for a trailing comment at column 80
R_A = "  r_a: {value: 2, confidence: low, evidence: [{source: S, date: 2025-09-01}]}"


def commented(comment: str) -> dict[str, str]:
    """The base scenario with ``comment`` after its first estimate (line 7)."""
    return {BASE: base_with(f"{R_A}  {comment}\n" + GOOD_REST)}


def tree_with(children: str, root_extra: str = "") -> str:
    """A tree over the fixture's factors with its root's children replaced."""
    return ("id: t\nname: T\ndescription: A test tree.\nroot:\n  id: top\n" + root_extra
            + "  children:\n" + children)


TREE_CHILDREN = ("    - id: pol\n      children:\n        - {factor: r_a, weight: 2}\n"
                 "        - {factor: o_a}\n    - {factor: r_b}\n    - {factor: o_b}\n")
WITH_TREE = {TREE: tree_with(TREE_CHILDREN),
             BASE: base_with("  r_a: {value: 2, confidence: low, evidence: [{source: S, "
                             "date: 2025-09-01}]}\n" + GOOD_REST, header="tree: t\n")}


# (code, {file: content}, the exact finding expected)
CASES: list[tuple[str, dict[str, str], str]] = [
    ("RE001", {"factors/r_a.yaml": "id: r_a\nname: [unclosed\n"},
     "factors/r_a.yaml:3:1: YAML syntax error: while parsing a flow sequence did not find "
     "expected ',' or ']' (started at line 2) [RE001]"),
    ("RE001", {"factors/r_a.yaml": "   \n"}, "factors/r_a.yaml:1:1: empty file [RE001]"),
    ("RE002", {"factors/r_a.yaml": "a: " + "x" * 1_000_001},
     "factors/r_a.yaml: file larger than the 1,000,000-byte limit [RE002]"),
    ("RE003", {"factors/r_a.yaml": "id: !!python/object/apply:os.system ['true']\n"},
     "factors/r_a.yaml:1:5: id: tag 'tag:yaml.org,2002:python/object/apply:os.system' is not "
     "allowed [RE003]"),
    ("RE004", {"factors/r_a.yaml": factor_yaml("r_a") + "weight: 2\n"},
     "factors/r_a.yaml:12:1: weight: duplicate key 'weight' (first at line 11) [RE004]"),
    ("RE101", {"factors/r_a.yaml": factor_yaml("r_a") + "wieght: 2\n"},
     "factors/r_a.yaml:12:1: wieght: unknown key 'wieght' (did you mean 'weight'?) [RE101]"),
    ("RE102", {"factors/r_a.yaml": factor_yaml("r_a").replace("weight: 1", "weight: heavy")},
     "factors/r_a.yaml:11:1: weight: Input should be a valid number (got 'heavy') [RE102]"),
    ("RE102", {"factors/r_a.yaml": "- a\n- b\n"},
     "factors/r_a.yaml:1:1: expected a mapping of keys, found list [RE102]"),
    ("RE102", {"factors/r_a.yaml": factor_yaml("r_a").replace("weight: 1", "weight: .nan")},
     "factors/r_a.yaml:11:9: weight: .nan is not a finite number [RE102]"),
    ("RE103", {"factors/r_a.yaml": factor_yaml("r_a").replace("kind: risk\n", "")},
     "factors/r_a.yaml:1:1: kind: required field is missing [RE103]"),
    ("RE201", {"factors/r_a.yaml": factor_yaml("r_x")},
     "factors/r_a.yaml:1:1: id: id 'r_x' does not match the file name 'r_a.yaml' [RE201]"),
    ("RE202", {"factors/more/r_a.yaml": factor_yaml("r_a")},
     "factors/r_a.yaml:1:1: id: factor id 'r_a' is already defined in "
     "factors/more/r_a.yaml [RE202]"),
    ("RE301", {BASE: base_with("  r_aa: {value: 1}\n" + GOOD_REST)},
     "scenarios/demo/base.yaml:7:3: factors.r_aa: unknown factor 'r_aa' (did you mean "
     "'r_a'?) [RE301]"),
    ("RE302", {BASE: base_with("  r_a:\n    low: 2\n    mode: 4\n    high: 11\n" + EVIDENCE
                               + GOOD_REST)},
     "scenarios/demo/base.yaml:10:5: factors.r_a.high: high 11 is outside the scale 0..10 "
     "(score) [RE302]"),
    ("RE303", {BASE: base_with("  r_a:\n    low: 5\n    mode: 4\n    high: 7\n" + EVIDENCE
                               + GOOD_REST)},
     "scenarios/demo/base.yaml:9:5: factors.r_a.mode: estimate must satisfy low <= mode <= "
     "high (got 5, 4, 7) [RE303]"),
    ("RE304", {BASE: base_with("  r_a:\n    low: 2\n    high: 7\n" + EVIDENCE + GOOD_REST)},
     "scenarios/demo/base.yaml:7:3: factors.r_a: estimate needs mode (or a single value) "
     "[RE304]"),
    ("RE305", {BASE: base_with("  r_a: {value: 2, weight: 0, confidence: low, evidence: "
                               "[{source: S, date: 2025-09-01}]}\n" + GOOD_REST.replace(
                                   "r_b: {value: 6,", "r_b: {value: 6, weight: 0,"))},
     "scenarios/demo/base.yaml:6:1: factors: the risk factors' weights sum to 0; at least one "
     "must be positive [RE305]"),
    ("RE306", {BASE: base_with(GOOD_REST.split("\n", 1)[1]), UP: "id: up\ntitle: Up\n"
               "extends: base\nprobability: 0.25\nfactors: {}\n"},
     "scenarios/demo/base.yaml:6:1: factors: the scenario uses no risk factor; it needs at "
     "least one of each kind [RE306]"),
    ("RE401", {UP: "id: up\ntitle: Up\nextends: bsae\nprobability: 0.25\n"},
     "scenarios/demo/up.yaml:3:1: extends: parent scenario 'bsae' not found in "
     "scenarios/demo (did you mean 'base'?) [RE401]"),
    ("RE402", {UP: "id: up\ntitle: Up\nextends: up\nprobability: 0.25\n"},
     "scenarios/demo/up.yaml:3:1: extends: inheritance cycle: up -> up [RE402]"),
    ("RE403", {UP: "id: up\ntitle: Up\nextends: base\nprobability: 0.25\nfactors:\n"
               "  r_a: {shift: 5, confidence: low, evidence: [{source: S, date: 2025-09-02}]}\n"},
     "scenarios/demo/up.yaml:6:9: factors.r_a.shift: shift +5 moves high to 12, outside the "
     "scale 0..10 [RE403]"),
    ("RE404", {UP: "id: up\ntitle: Up\nextends: base\nprobability: 0.25\nfactors:\n"
               "  r_c: {shift: 1}\n"},
     "scenarios/demo/up.yaml:6:9: factors.r_c.shift: shift needs a parent estimate of 'r_c' "
     "to move [RE404]"),
    ("RE501", {UP: "id: up\ntitle: Up\nextends: base\nprobability: 0.35\n"},
     "scenarios/demo/base.yaml: probability: probabilities sum to 1.1, not 1 "
     "(scenarios/demo/base.yaml, scenarios/demo/up.yaml) [RE501]"),
    ("RE502", {UP: "id: up\ntitle: Up\nextends: base\npartnership: other\nprobability: 0.25\n"},
     "scenarios/demo/base.yaml: partnership: one outlook mixes partnerships demo, other "
     "(scenarios/demo/base.yaml, scenarios/demo/up.yaml) [RE502]"),
    ("RE701", {TREE: tree_with(TREE_CHILDREN.replace("factor: r_a,", "factor: r_aa,"))},
     "models/t.yaml:9:12: root.children[0].children[0].factor: unknown factor 'r_aa' "
     "(did you mean 'r_a'?) [RE701]"),
    ("RE702", {TREE: tree_with(TREE_CHILDREN.replace("id: pol", "id: top"))},
     "models/t.yaml:7:7: root.children[0].id: node 'top' is inside a node of the same id: "
     "a tree cannot contain itself [RE702]"),
    ("RE702", {TREE: tree_with(TREE_CHILDREN + "    - id: pol\n      children: "
                               "[{factor: r_c}]\n")},
     "models/t.yaml:13:7: root.children[3].id: node id 'pol' is already used at "
     "models/t.yaml:7 [RE702]"),
    ("RE703", {TREE: tree_with(TREE_CHILDREN + "    - id: empty\n      children: []\n")},
     "models/t.yaml:14:7: root.children[3].children: a node needs at least one child [RE703]"),
    ("RE704", {TREE: tree_with(TREE_CHILDREN.replace("factor: r_a, weight: 2",
                                                     "factor: r_a, weight: 0"))},
     "models/t.yaml:9:25: root.children[0].children[0].weight: Input should be greater than 0 "
     "(got 0) [RE704]"),
    ("RE705", {TREE: tree_with(TREE_CHILDREN + "    - {factor: r_a}\n")},
     "models/t.yaml:13:8: root.children[3].factor: factor 'r_a' is already used at line 9; "
     "a factor may hang from one node only [RE705]"),
    ("RE706", {**WITH_TREE, BASE: WITH_TREE[BASE].replace("tree: t", "tree: tt")},
     "scenarios/demo/base.yaml:6:1: tree: unknown tree 'tt': no tt.yaml in models/ (did you "
     "mean 't'?) [RE706]"),
    ("RE707", {**WITH_TREE, TREE: tree_with(TREE_CHILDREN.replace(
        "      children:", "      min_coverage: 1\n      children:").replace(
        "factor: o_a}", "factor: r_c}")), "factors/r_c.yaml": factor_yaml("r_c")},
     "scenarios/demo/base.yaml:6:1: tree: tree 't': node 'pol' has 67% of its children's "
     "weight present, below its min_coverage 100% (missing: r_c) [RE707]"),
    ("RE708", {**WITH_TREE, TREE: tree_with(TREE_CHILDREN.replace(
        "{factor: o_b}", "{factor: o_b, normalise: minmax}"))},
     "scenarios/demo/base.yaml:6:1: tree: factor 'o_b' takes one value (5) across "
     "population 'demo (scenarios/demo, tree t)': there is no spread to normalise over [RE708]"),
    ("RE709", {**WITH_TREE, TREE: tree_with(TREE_CHILDREN.replace(
        "    - {factor: o_b}\n", ""))},
     "scenarios/demo/base.yaml:11:3: factors.o_b: factor 'o_b' is not in tree 't', so it "
     "does not count [RE709]"),
    ("RE801", {"riskengine.toml": "tree = \"pillars\"\n[validate]\nmax-evidence-age = -1\n"},
     "riskengine.toml:3:1: validate.max-evidence-age: Input should be greater than or equal "
     "to 0 [RE801]"),
    ("RE802", {"riskengine.toml": "# the catalogue\nfactors = \"../elsewhere\"\n"},
     "riskengine.toml:2:1: factors: '../elsewhere' lies outside the project folder . [RE802]"),
    ("RE803", {"riskengine.toml": "[validate]\nignore = [\n"},
     "riskengine.toml:3:1: not valid TOML: Invalid value [RE803]"),
    ("RE601", {}, "scenarios/demo/up.yaml:6:3: factors.r_a: the estimate of 'r_a' cites no "
     "evidence [RE601]"),
    ("RE602", {}, "scenarios/demo/base.yaml:16:59: factors.r_b.evidence[0].date: the newest "
     "evidence for 'r_b', dated 2025-09-01, is 2 days older than as_of 2025-09-03 (limit 1) "
     "[RE602]"),
    ("RE603", {BASE: base_with("  r_a: {value: 2, confidence: low, evidence: [{source: S, "
                               "date: 2025-10-01}]}\n" + GOOD_REST)},
     "scenarios/demo/base.yaml:7:59: factors.r_a.evidence[0].date: evidence dated 2025-10-01 "
     "is later than the scenario's as_of 2025-09-03 [RE603]"),
    ("RE604", {BASE: base_with("  r_a: {value: 2, confidence: high, evidence: [{source: S, "
                               "date: 2025-09-01}]}\n" + GOOD_REST)},
     "scenarios/demo/base.yaml:7:19: factors.r_a.confidence: confidence is high but the "
     "estimate rests on a single source [RE604]"),
    ("RE605", {}, "scenarios/demo/up.yaml:6:3: factors.r_a: the estimate of 'r_a' states no "
     "confidence [RE605]"),
    ("RE606", {"factors/r_c.yaml": factor_yaml("r_c")},
     "factors/r_c.yaml:1:1: id: factor 'r_c' is not used by any scenario checked [RE606]"),
    ("RE611", commented("# riskengine: ignore"),
     "scenarios/demo/base.yaml:7:80: `ignore` without codes would silence every finding; name "
     "them, e.g. ignore[RE602] [RE611]"),
    ("RE611", commented("# riskengine: ignore-file[]"),
     "scenarios/demo/base.yaml:7:80: `ignore-file` without codes would silence every finding; "
     "name them, e.g. ignore-file[RE602] [RE611]"),
    ("RE612", commented("# riskengine: ignore[RE604]"),
     "scenarios/demo/base.yaml:7:80: suppression `ignore[RE604]` matches no finding on this "
     "line [RE612]"),
    ("RE612", commented("# riskengine: ignore[RE604, RE602] the source is the latest there is"),
     "scenarios/demo/base.yaml:7:80: RE604 in suppression `ignore[RE604, RE602]` matches no "
     "finding on this line [RE612]"),
    ("RE613", commented("# riskengine: ignore[RE6O2]"),
     "scenarios/demo/base.yaml:7:80: unknown rule code 'RE6O2' in `ignore[RE6O2]` [RE613]"),
    ("RE614", commented("#riskengine: ignroe[RE602]"),
     "scenarios/demo/base.yaml:7:80: comment 'riskengine: ignroe[RE602]' is not a suppression "
     "[RE614]"),
]


def test_every_code_has_a_case() -> None:
    # RE9xx (spreadsheet import) have their table in tests/test_sheets.py
    assert {code for code, _, _ in CASES} == {c for c in CODES if not c.startswith("RE9")}


@pytest.mark.parametrize(("code", "files", "expected"), CASES,
                         ids=[f"{c}-{i}" for i, (c, _, _) in enumerate(CASES)])
def test_each_check_reports_exact_message_and_location(
        project: Path, monkeypatch: pytest.MonkeyPatch, code: str, files: dict[str, str],
        expected: str) -> None:
    monkeypatch.chdir(project)
    for name, text in files.items():
        target = project / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    found = validate(["factors", "scenarios"], max_evidence_age=1)
    messages = [str(p) for p in found.problems]
    assert expected in messages, "\n".join(messages)
    severity = next(p.severity for p in found.problems if str(p) == expected)
    assert severity == CODES[code][0]


# ---------------------------------------------------------------------------------------------
# selection, strictness and the machine formats


def test_select_ignore_and_strict(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(project)
    warned = validate(["factors", "scenarios"])
    assert {p.code for p in warned.problems} == {"RE601", "RE605"}
    assert not warned.errors
    assert {p.code for p in validate(["scenarios"], select=["RE601"]).problems} == {"RE601"}
    assert not validate(["scenarios"], ignore=["RE6"]).problems
    strict = validate(["scenarios"], strict=True)
    assert strict.errors and all(p.severity == "error" for p in strict.problems)
    with pytest.raises(ValueError, match="unknown rule code"):
        validate(["scenarios"], select=["RE99"])


def test_cli_strict_select_and_unknown_code(project: Path, cli: Runner) -> None:
    assert cli("validate", cwd=project).returncode == 0  # warnings only
    assert cli("validate", "--strict", cwd=project).returncode == 1
    assert cli("validate", "--strict", "--ignore", "RE601,RE605", cwd=project).returncode == 0
    bad = cli("validate", "--select", "RE9X", cwd=project)
    assert bad.returncode == 2 and "unknown rule code(s): RE9X" in bad.stderr
    assert "Traceback" not in bad.stderr
    assert cli("validate", "--max-evidence-age", "-3", cwd=project).returncode == 2


def test_text_output_groups_by_file_and_keeps_locations(project: Path, cli: Runner) -> None:
    proc = cli("validate", cwd=project)
    lines = proc.stdout.splitlines()
    header = lines.index("scenarios/demo/up.yaml (0 error(s), 4 warning(s))")
    assert lines[header + 1] == ("  scenarios/demo/up.yaml:6:3: factors.r_a: the estimate of "
                                 "'r_a' cites no evidence [RE601]")
    assert lines[header + 2] == "    warning; fix: cite at least one dated source"
    assert "Reliability" in proc.stdout
    assert lines[-1] == "6 file(s) checked: 0 error(s), 4 warning(s) — all files valid"


def test_github_annotations(project: Path, cli: Runner) -> None:
    write(project / "scenarios/demo/up.yaml", "id: up\ntitle: Up\nextends: base\n"
          "probability: 0.25\nfactors:\n  r_aa: {shift: 1}\n")
    proc = cli("validate", "--format", "github", "--select", "RE3,RE4", cwd=project)
    assert proc.returncode == 1
    assert proc.stdout.splitlines() == [
        "::error file=scenarios/demo/up.yaml,line=6,col=3,title=RE301 unknown factor::"
        "factors.r_aa: unknown factor 'r_aa' (did you mean 'r_a'?) (add the factor to the "
        "catalogue or fix the id)",
        "::error file=scenarios/demo/up.yaml,line=6,col=10,title=RE404 shift on an entry the "
        "parent lacks::factors.r_aa.shift: shift needs a parent estimate of 'r_aa' to move "
        "(give the estimate instead of a shift)",
    ]


def test_github_escapes_newlines_and_commas(project: Path, cli: Runner) -> None:
    write(project / "factors/r_a.yaml", "id: r_a\nname: [unclosed\n")
    out = cli("validate", "--format", "github", cwd=project).stdout
    error = next(line for line in out.splitlines() if "RE001" in line)
    assert error.startswith("::error file=factors/r_a.yaml,line=3,col=1,title=RE001 file "
                            "cannot be read or parsed as YAML::YAML syntax error")
    assert "%2C" not in error.split("::")[2]  # commas are escaped only in properties


def test_sarif_matches_the_published_schema(project: Path, cli: Runner) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    write(project / "factors/r_a.yaml", factor_yaml("r_a").replace("weight: 1", "weight: -1"))
    out = project / "findings.sarif"
    proc = cli("validate", "--format", "sarif", "-o", str(out), cwd=project)
    assert proc.returncode == 1
    log = json.loads(out.read_text())
    schema = json.loads((ROOT / "tests/data/sarif-2.1.0-rtm.5.json").read_text())
    jsonschema.Draft4Validator(schema).validate(log)
    run = log["runs"][0]
    assert log["version"] == "2.1.0" and run["tool"]["driver"]["name"] == "riskengine"
    rules = [r["id"] for r in run["tool"]["driver"]["rules"]]
    by_rule = {r["ruleId"]: r for r in run["results"]}
    error = by_rule["RE102"]
    assert error["level"] == "error" and rules[error["ruleIndex"]] == "RE102"
    where = error["locations"][0]["physicalLocation"]
    assert where == {"artifactLocation": {"uri": "factors/r_a.yaml", "uriBaseId": "%SRCROOT%"},
                     "region": {"startLine": 11, "startColumn": 1}}


def test_sarif_warnings_keep_exit_0(project: Path, cli: Runner) -> None:
    proc = cli("validate", "--format", "sarif", cwd=project)
    assert proc.returncode == 0
    results = json.loads(proc.stdout)["runs"][0]["results"]
    assert {r["ruleId"] for r in results} == {"RE601", "RE605"}
    assert {r["level"] for r in results} == {"warning"}


def test_json_output_lists_problems_and_grades(project: Path, cli: Runner) -> None:
    proc = cli("validate", "--format", "json", cwd=project)
    data = json.loads(proc.stdout)
    assert data["files"] == 6 and data["errors"] == 0 and data["warnings"] == 4
    first = data["problems"][0]
    assert set(first) == {"path", "line", "col", "field", "code", "severity", "message", "hint"}
    grades = {s["scenario"]: s["reliability"] for s in data["scenarios"]}
    assert set(grades) == {"demo/base", "demo/up"}
    assert grades["demo/base"]["grade"] in "ABCDE"


def test_findings_without_grades_are_the_findings(project: Path, cli: Runner,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Grades are left out where no output shows them (--quiet, github, sarif, a file of
    findings): the findings are the same, and the grades still show where they are asked."""
    monkeypatch.chdir(project)
    graded, bare = validate(["factors", "scenarios"]), validate(["factors", "scenarios"],
                                                                  grades=False)
    assert bare.problems == graded.problems and bare.files == graded.files
    assert bare.graded == [] and len(graded.graded) == 2
    assert "Reliability" in cli("validate", cwd=project).stdout
    assert "Reliability" not in cli("validate", "--quiet", cwd=project).stdout
    assert "demo/base" in cli("validate", "--format", "json", "--quiet", cwd=project).stdout


# ---------------------------------------------------------------------------------------------
# published schemas


@pytest.mark.parametrize("kind", ["factor", "scenario", "tree"])
def test_published_schema_has_not_drifted(kind: Literal["factor", "scenario", "tree"]) -> None:
    from riskengine.models import json_schema

    published = json.loads((ROOT / f"schemas/{kind}.schema.json").read_text())
    assert published == json_schema(kind), (
        f"schemas/{kind}.schema.json is stale: run "
        f"`riskengine schema {kind} > schemas/{kind}.schema.json`")


def test_shipped_files_name_and_satisfy_their_schema() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    from riskengine.yamlio import read_yaml

    examples = "examples/*/"
    for kind, pattern, line in (
            ("factor", "factors/*.yaml", "../schemas/factor.schema.json"),
            ("scenario", "scenarios/*/*.yaml", "../../schemas/scenario.schema.json"),
            ("tree", "models/*.yaml", "../schemas/tree.schema.json"),
            ("factor", examples + "factors/*.yaml", "../../../schemas/factor.schema.json"),
            ("scenario", examples + "scenarios/*/*.yaml",
             "../../../../schemas/scenario.schema.json"),
            ("tree", examples + "models/*.yaml", "../../../schemas/tree.schema.json")):
        schema = json.loads((ROOT / f"schemas/{kind}.schema.json").read_text())
        checker = jsonschema.Draft202012Validator(schema)
        files = sorted(ROOT.glob(pattern))
        assert files
        for file in files:
            first = file.read_text(encoding="utf-8").splitlines()[0]
            assert first == f"# yaml-language-server: $schema={line}", file
            checker.validate(read_yaml(file).data)


def test_reliability_by_hand(project: Path, cli: Runner) -> None:
    import riskengine as re
    from riskengine.reliability import reliability

    catalogue = re.load_catalogue(project / "factors")
    base = re.load_scenario(project / BASE, catalogue)
    rel = reliability(base, catalogue)
    # Importance: risks r_a 3/4, r_b 1/4 and opportunities o_a, o_b 1/2 each, halved per kind.
    precision = 0.375 * (1 - 5 / 10) + 0.125 * 1 + 0.25 * (1 - 2 / 4) + 0.25 * (1 - 6 / 10)
    assert (rel.coverage, rel.evidenced, rel.sources, rel.recency) == (1.0, 1.0, 0.5, 1.0)
    assert rel.precision == pytest.approx(precision)
    assert rel.score == pytest.approx((1 + 1 + 0.5 + 1 + precision) / 5) and rel.grade == "B"
    # `up` changes r_a and o_a without citing evidence: the base's evidence for the old
    # numbers does not carry over to the new ones, so only r_b and o_b count as evidenced.
    up = re.load_scenario(project / UP, catalogue)
    assert up.estimate("r_a").evidence == () and up.estimate("r_a").confidence is None
    assert up.estimate("r_b").evidence == base.estimate("r_b").evidence
    assert reliability(up, catalogue).evidenced == pytest.approx(0.125 + 0.25)
    record = json.loads(cli("run", BASE, "--format", "json", cwd=project).stdout)[0]
    assert record["reliability"]["grade"] == "B"
    assert record["reliability"]["score"] == pytest.approx(rel.score)


def test_reliability_with_a_shared_cache_grades_as_without(project: Path) -> None:
    """A cache shared over a family grades each scenario as a fresh call does: the child's
    unchanged estimates are the parent's objects (read from the cache), its changed ones new;
    an entry whose id now names another object is worked out again, not reused."""
    import riskengine as re
    from riskengine.reliability import _parts, reliability

    catalogue = re.load_catalogue(project / "factors")
    base, up = re.load_scenarios([project / BASE, project / UP], catalogue)
    shared = [e for e in up.estimates if any(e is b for b in base.estimates)]
    assert shared, "loading shares the estimates a child leaves alone"
    cache: dict = {}
    for scenario in (base, up, base):
        assert reliability(scenario, catalogue, cache) == reliability(scenario, catalogue)
    assert {id(e) for e in (*base.estimates, *up.estimates)} == set(cache)
    stale = up.estimates[0]
    cache = {id(e): (stale, _parts(stale)) for e in base.estimates}  # ids of other objects
    assert reliability(base, catalogue, cache) == reliability(base, catalogue)


def test_a_project_tree_named_on_the_command_line_is_read_once(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """`validate factors models scenarios` gives the trees that validate also finds beside the
    catalogue: the same file, not a tree id defined twice."""
    monkeypatch.chdir(ROOT)
    found = validate(["factors", "models", "scenarios"])
    assert not found.errors, [str(p) for p in found.errors]
