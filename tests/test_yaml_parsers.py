"""Both YAML parsers: libyaml (ruamel.yaml.clib) and ruamel's pure-Python one, which is used for
text libyaml cannot take safely (long lines, deep brackets) and on machines without the
compiled extension. Every shipped file and every hostile case goes through both."""

from __future__ import annotations

from pathlib import Path

import pytest

from riskengine import yamlio
from riskengine.cli import main
from riskengine.problems import InputError
from riskengine.yamlio import read_yaml

from .conftest import ROOT, write
from .test_hostile import HOSTILE

SHIPPED = sorted([*ROOT.glob("factors/*.yaml"), *ROOT.glob("scenarios/*/*.yaml")])


@pytest.fixture(params=["libyaml", "pure"])
def parser(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "pure":
        monkeypatch.setenv(yamlio.PURE_ENV, "1")
    else:
        if not yamlio._has_libyaml():
            pytest.skip("ruamel.yaml.clib is not installed")
        monkeypatch.delenv(yamlio.PURE_ENV, raising=False)
    return str(request.param)


def test_the_switch_picks_the_parser(parser: str) -> None:
    assert yamlio._use_libyaml() is (parser == "libyaml")


@pytest.mark.parametrize("path", SHIPPED, ids=[str(p.relative_to(ROOT)) for p in SHIPPED])
def test_shipped_files_read_the_same_with_both_parsers(path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(yamlio.PURE_ENV, raising=False)
    doc = read_yaml(path)
    monkeypatch.setenv(yamlio.PURE_ENV, "1")
    pure = read_yaml(path)
    assert doc.data == pure.data
    assert doc.positions == pure.positions


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
    path = write(tmp_path / "x.yaml", "id: r_a\nname: [unclosed\n")
    with pytest.raises(InputError) as caught:
        read_yaml(path)
    (problem,) = caught.value.problems
    assert (problem.line, problem.col, problem.code) == (3, 1, "RE001")
    assert problem.message.startswith("YAML syntax error: while parsing a flow sequence")
