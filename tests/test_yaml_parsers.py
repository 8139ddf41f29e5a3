"""The YAML parsers: yaml-rs (the fast one, for text it reads as ruamel does), libyaml
(ruamel.yaml.clib) and ruamel's pure-Python one, which is used for text libyaml cannot take
safely (long lines, deep brackets) and on machines without the compiled extension. Every shipped
file and every hostile case goes through each; the fast parser is compared with ruamel on
generated documents and scalars."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from riskengine import yamlio
from riskengine.cli import main
from riskengine.problems import InputError, Problem
from riskengine.yamlio import read_yaml

from .conftest import ROOT, write
from .test_hostile import HOSTILE

SHIPPED = sorted([*ROOT.glob("factors/*.yaml"), *ROOT.glob("scenarios/*/*.yaml")])


def _choose(parser: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(yamlio.PURE_ENV, raising=False)
    monkeypatch.delenv(yamlio.RUAMEL_ENV, raising=False)
    if parser == "pure":
        monkeypatch.setenv(yamlio.PURE_ENV, "1")
    elif parser == "libyaml":
        monkeypatch.setenv(yamlio.RUAMEL_ENV, "1")


@pytest.fixture(params=["fast", "libyaml", "pure"])
def parser(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "fast" and not yamlio._has_fast():
        pytest.skip("yaml-rs is not installed")
    if request.param == "libyaml" and not yamlio._has_libyaml():
        pytest.skip("ruamel.yaml.clib is not installed")
    _choose(str(request.param), monkeypatch)
    return str(request.param)


def test_the_switch_picks_the_parser(parser: str) -> None:
    assert yamlio._use_fast() is (parser == "fast")
    assert yamlio._use_libyaml() is (parser != "pure")


@pytest.mark.parametrize("path", SHIPPED, ids=[str(p.relative_to(ROOT)) for p in SHIPPED])
def test_shipped_files_read_the_same_with_each_parser(path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    read = {}
    for parser in ("fast", "libyaml", "pure"):
        _choose(parser, monkeypatch)
        read[parser] = read_yaml(path)
    if yamlio._has_fast():
        assert read["fast"].text is not None, "a shipped file went past the fast parser"
    assert read["fast"].data == read["libyaml"].data == read["pure"].data
    assert read["fast"].positions == read["libyaml"].positions == read["pure"].positions
    assert read["fast"].text is None  # found once, then the text is let go


# ---------------------------------------------------------------------------------------------
# the fast parser against ruamel


def _outcome(path: Path, parser: str, monkeypatch: pytest.MonkeyPatch) -> object:
    """What reading ``path`` gives: the data and every key's position, or the findings."""
    _choose(parser, monkeypatch)
    try:
        doc = read_yaml(path)
    except InputError as exc:
        return [(p.line, p.col, p.code, p.message) for p in exc.problems]
    return repr(doc.data), doc.positions  # repr: 1, 1.0 and True differ, so do -0.0 and 0.0


def _same_with_fast_and_ruamel(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert _outcome(path, "fast", monkeypatch) == _outcome(path, "libyaml", monkeypatch), \
        path.read_text(encoding="utf-8")


needs_fast = pytest.mark.skipif(not yamlio._has_fast(), reason="yaml-rs is not installed")
# the differential tests' examples (their first run found `_0`, a number to yaml-rs and text
# to the core schema); RISKENGINE_LONG_FUZZ=1 searches far longer
DIFFERENTIAL_EXAMPLES = 4_000 if os.environ.get("RISKENGINE_LONG_FUZZ") else 100

# Scalars in plain, quoted and block styles, with what tends to tell YAML readers apart.
SNIPPETS = [
    "plain text", "'single ''quoted'''", '"double \\"quoted\\" \\u00e9 \\x41 \\t tab"',
    "1", "-2", "+3", "0", "-0", "012", "0o17", "0x1F", "1.5", "-0.0", ".5", "1.", "1e3",
    "1E-3", "6.8523015e+5", "true", "False", "TRUE", "null", "~", "", "NO", "yes", "on",
    "2026-01-10", "2026-01-10T10:00:00Z", "12:30", "1_000", "0b101", "0X1F", ".inf", ".NaN",
    ".Nan", "1e400", "9" * 40, "R&D and M&A", "a * b", "wow!", "x: y", "'1'", '"true"',
    "Ünïcödé ş ğ 日本", "emoji 🛰", "trailing   ", "- dash", "#not a comment", "a #comment",
    "|\n  literal\n   kept", "|-\n  chomped", "|+\n  kept\n", ">\n  folded\n  text\n\n  para",
    ">-\n  folded", "[a, b, 'c d']", "{k: v, n: 1}", "[]", "{}", "[1, [2, [3]]]",
    "multi\n  line\n  plain", '"multi\n  line\n\n  quoted"', "'it''s\n  folded'",
    "&anchor value", "*alias", "!!str 5", "!custom x", "\u00a0nbsp", "back\\slash",
    '"\\N\\_\\L\\P"', "'  spaced  '", "a\u0085b",
]
KEYS = ["id", "two words", "with-dash", "under_score", "'quoted key'", '"dq key"', "1", "true",
        "null", "ké", "x y z", "? explicit"]


@needs_fast
@settings(max_examples=DIFFERENTIAL_EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(entries=st.lists(st.tuples(st.sampled_from(KEYS), st.sampled_from(SNIPPETS),
                                  st.sampled_from(["", "  # note", "   "])),
                        min_size=1, max_size=8),
       nest=st.sampled_from(["", "outer:\n", "- "]), newline=st.sampled_from(["\n", "\r\n"]))
def test_fast_parser_reads_documents_as_ruamel_does(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, entries: list[tuple[str, str, str]],
        nest: str, newline: str) -> None:
    """Same data and positions, or the same findings: either yaml-rs reads what ruamel reads,
    or the text goes to ruamel. A divergence here means _fast_refused or _plain needs a rule."""
    indent = "  " if nest else ""
    lines = ["outer:"] if nest == "outer:\n" else []
    for i, (key, value, tail) in enumerate(entries):
        lead = "- " if nest == "- " and i == 0 else indent
        first, *rest = value.split("\n")
        lines.append(f"{lead}{key}: {first}{tail if not rest else ''}")
        lines.extend(f"{indent}{line}" if line else "" for line in rest)
    path = tmp_path / "doc.yaml"
    path.write_bytes((newline.join(lines) + newline).encode())
    _same_with_fast_and_ruamel(path, monkeypatch)


@needs_fast
@settings(max_examples=DIFFERENTIAL_EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(scalar=st.text(alphabet="0123456789+-._eExXoObBnNaAfFiItTrRuUlLsS~ ", min_size=1,
                      max_size=8),
       where=st.sampled_from(["a: {}\n", "- {}\n", "{}: 1\n", "a: [{}, x]\n"]))
def test_fast_parser_resolves_plain_scalars_as_the_core_schema(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scalar: str, where: str) -> None:
    path = tmp_path / "doc.yaml"
    path.write_text(where.format(scalar), encoding="utf-8")
    _same_with_fast_and_ruamel(path, monkeypatch)


@needs_fast
@pytest.mark.parametrize(("text", "why"), [
    ("a: 1_000\n", "underscores"), ("a: 0X1F\n", "0X"), ("a: [0b101]\n", "0b"),
    ("a: &x 1\nb: *x\n", "alias"), ("a: !!str 5\n", "tag"), ("a: !x 5\n", "local tag"),
    ("%YAML 1.2\n---\na: 1\n", "directive"), ("a: 1\n---\nb: 2\n", "two documents"),
    ("a:\t1\n", "tab"), ("a: x\u2028y\n", "line separator"),
    # characters YAML does not allow in a stream: ruamel refuses them, yaml-rs read them
    ("a: red \x1b[31mtext\n", "escape"), ("a: b\x7fc\n", "DEL"), ("a: b\x9fc\n", "C1"),
    ("a: b\x0cc\n", "form feed"), ("a: b\ufffec\n", "non-character"),
    ("1: x\n", "number key"), ("true: x\n", "bool key"), ("~: x\n", "null key"),
    ("a: .Nan\n", "not finite"), ("a: 1e400\n", "overflow"),
    ("a: " + "9" * 5000 + "\n", "long int"), ("a: 1\na: 2\n", "duplicate"),
    ("a: [1, 2\n", "syntax"), ("# only a comment\n", "empty"),
    ("a:\n" + "".join(" " * (i + 1) + "b:\n" for i in range(40)) + " " * 41 + "c: 1\n",
     "deep lines"), ("a: " + "[" * 60 + "]" * 60 + "\n", "deep brackets"),
])
def test_text_the_fast_parser_does_not_read_goes_to_ruamel(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, why: str) -> None:
    assert yamlio._fast_data(text, "x") is yamlio._NOT_PLAIN, why
    path = tmp_path / "doc.yaml"
    path.write_text(text, encoding="utf-8")
    _same_with_fast_and_ruamel(path, monkeypatch)


def _the_refusal(path: Path) -> Problem:
    """The one problem reading ``path`` raises."""
    with pytest.raises(InputError) as caught:
        read_yaml(path)
    (problem,) = caught.value.problems
    return problem


def test_a_forbidden_character_is_located_alike_by_each_parser(
        tmp_path: Path, parser: str) -> None:
    """libyaml counts its offset in bytes of UTF-8, the pure reader in characters: the line
    and column are the same, after text of several bytes a character."""
    problem = _the_refusal(write(tmp_path / "x.yaml", "id: ké\nname: 日本 \x7f\n"))
    assert (problem.line, problem.col, problem.code) == (2, 10, "RE001")
    assert problem.message.startswith("unacceptable character #x007f")


@needs_fast
def test_positions_of_a_fast_read_file_are_found_when_asked(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path / "x.yaml", "id: a\nfactors:\n  f:\n    low: 1\n")
    _choose("fast", monkeypatch)
    doc = read_yaml(path)
    assert doc.text is not None  # nothing composed yet
    assert doc.position(("factors", "f", "low")) == (4, 5)
    assert doc.text is None


@needs_fast
def test_a_file_ruamel_cannot_place_keeps_its_data(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Should ruamel refuse a text yaml-rs read, findings lose their line, not the file its
    data (none is known: this stands in for one)."""
    path = write(tmp_path / "x.yaml", "a: 1\n")
    _choose("fast", monkeypatch)
    doc = read_yaml(path)
    doc._text = "a: [\n"  # what ruamel would refuse
    assert doc.data == {"a": 1} and doc.position(("a",)) == (None, None)


@pytest.mark.parametrize(("name", "content", "expected"), HOSTILE,
                         ids=[name for name, _, _ in HOSTILE])
def test_hostile_files_give_the_same_code_with_both_parsers(
        tmp_path: Path, parser: str, name: str, content: bytes, expected: str) -> None:
    from riskengine.loading import Factor, _parse  # type: ignore[attr-defined]

    path = tmp_path / "r_a.yaml"
    path.write_bytes(content)
    _, _, problems = _parse(path, Factor)
    assert problems, name
    assert expected.rsplit("[", 1)[1].rstrip("]") in {p.code for p in problems}
    assert all("\n" not in p.message for p in problems)


def test_shipped_project_validates_with_the_pure_parser(
        parser: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(ROOT)
    assert main(["validate", "factors", "scenarios", "--format", "json", "-q"]) == 0
    assert '"errors": 0' in capsys.readouterr().out


def test_a_long_pasted_line_in_a_block_file_loads(
        project: Path, parser: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    # Over the 2,000 characters that send a file to the pure parser.
    base = project / "scenarios/demo/base.yaml"
    text = base.read_text().replace("title: Base case\n",
                                    "title: Base case\ndescription: " + "word " * 1_000 + "\n")
    write(base, text)
    monkeypatch.chdir(project)
    for command in (["run", "scenarios/demo", "--format", "json"], ["validate", "-q"],
                    ["compare", "scenarios/demo", "--simulate", "200", "--format", "json"]):
        assert main(command) == 0, capsys.readouterr().err
    assert read_yaml(base).data["description"].startswith("word word")


def test_a_yaml_11_directive_is_still_read_as_12(tmp_path: Path, parser: str) -> None:
    path = write(tmp_path / "x.yaml", "%YAML 1.1\n---\na: yes\nb: 012\n")
    assert read_yaml(path).data == {"a": "yes", "b": 12}


def test_syntax_errors_are_located_with_both_parsers(tmp_path: Path, parser: str) -> None:
    problem = _the_refusal(write(tmp_path / "x.yaml", "id: r_a\nname: [unclosed\n"))
    assert (problem.line, problem.col, problem.code) == (3, 1, "RE001")
    assert problem.message.startswith("YAML syntax error: while parsing a flow sequence")
