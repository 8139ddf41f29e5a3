"""Hostile and malformed input: a clean, located error in bounded time, nothing executed or
changed. Each case runs the real command; the cases that could crash the interpreter itself
(deep nesting overflowing the C stack, an alias bomb exhausting memory) run it in a subprocess,
so such a crash fails the test instead of killing the test run."""

from __future__ import annotations

import hashlib
import os
import string
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from riskengine.loading import Factor, ScenarioFile, _parse  # type: ignore[attr-defined]
from riskengine.problems import InputError
from riskengine.yamlio import read_yaml

from .conftest import ROOT, Runner, factor_yaml

ALIAS_BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
    f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
    f"*{chr(97 + i)}]\n" for i in range(8))

HOSTILE: list[tuple[str, bytes, str]] = [
    ("alias-bomb", ALIAS_BOMB.encode(),
     # located at the anchored list the expansion went through when it passed the budget
     "factors/r_a.yaml:1:11: f[0][3][3][7][2][1]: document expands to more than 100000 values "
     "(alias bomb or oversized file) [RE002]"),
    ("deep-flow", b"a: " + b"[" * 100_000 + b"]" * 100_000 + b"\n",
     "factors/r_a.yaml:1:68: nesting deeper than 64 levels [RE002]"),
    ("deep-block", "".join(" " * i + "k:\n" for i in range(1_000)).encode(),
     "factors/r_a.yaml:66:66: nesting deeper than 64 levels [RE002]"),
    # one line of nested block sequences: the fast reader (yaml-rs, whose recursion no limit
    # guards) must never see it
    ("deep-compact-sequence", b"- " * 5_000 + b"x\n",
     "factors/r_a.yaml: nesting too deep [RE002]"),
    # a long run of `_`: the fast reader's check for numbers like 1_000 once took quadratic
    # time on it (40,000 in 32 s); cut into tokens it is linear
    ("underscore-run", b"a: " + b"_" * 60_000 + b"\n",
     "factors/r_a.yaml:1:1: a: unknown key 'a' [RE101]"),
    # a terminal escape: refused where it stands (ruamel's reader gave no line)
    ("control-character", b"id: r_a\nname: red \x1b[31m\n",
     "factors/r_a.yaml:2:11: unacceptable character #x001b: control characters are not "
     "allowed [RE001]"),
    ("huge", b"a: " + b"x" * 2_000_000 + b"\n",
     "factors/r_a.yaml: file larger than the 1,000,000-byte limit [RE002]"),
    ("binary", b"id: r_a\n\x00\x01\x02\x03",
     "factors/r_a.yaml:2: binary file (NUL byte) [RE001]"),
    ("latin-1", "id: r_a\nname: Caf\xe9\n".encode("latin-1"),
     "factors/r_a.yaml:2:10: not valid UTF-8 text (byte 0xe9) [RE001]"),
    ("python-tag", b"id: !!python/object/apply:os.system ['touch pwned']\n",
     "factors/r_a.yaml:1:5: id: tag 'tag:yaml.org,2002:python/object/apply:os.system' is not "
     "allowed [RE003]"),
    ("custom-tag", b"id: !secret r_a\n",
     "factors/r_a.yaml:1:5: id: tag '!secret' is not allowed [RE003]"),
    ("infinity", factor_yaml("r_a").replace("weight: 1", "weight: -.inf").encode(),
     "factors/r_a.yaml:11:9: weight: -.inf is not a finite number [RE102]"),
    ("empty", b"", "factors/r_a.yaml:1:1: empty file [RE001]"),
    ("comment-only", b"# nothing here\n", "factors/r_a.yaml:1:1: empty file [RE001]"),
    ("list", b"- id: r_a\n", "factors/r_a.yaml:1:1: expected a mapping of keys, found list "
     "[RE102]"),
    ("scalar", b"just text\n", "factors/r_a.yaml:1:1: expected a mapping of keys, found str "
     "[RE102]"),
    ("two-documents", b"id: r_a\n---\nid: r_b\n",
     "factors/r_a.yaml:3:1: more than one YAML document in the file [RE001]"),
    ("wrong-type", factor_yaml("r_a").replace("scale:\n  min: 0\n  max: 10\n  unit: score\n",
                                              "scale: [0, 10]\n").encode(),
     "factors/r_a.yaml:6:1: scale: Input should be a valid dictionary or instance of Scale "
     "[RE102]"),
]


CAN_CRASH_THE_PROCESS = {"alias-bomb", "deep-flow", "deep-block", "deep-compact-sequence"}


@pytest.mark.parametrize(("name", "content", "expected"), HOSTILE,
                         ids=[name for name, _, _ in HOSTILE])
def test_hostile_factor_file(project: Path, cli: Runner, cli_subprocess: Runner, name: str,
                             content: bytes, expected: str) -> None:
    target = project / "factors/r_a.yaml"
    target.write_bytes(content)
    before = {p: hashlib.sha256(p.read_bytes()).digest() for p in project.rglob("*.yaml")}
    run = cli_subprocess if name in CAN_CRASH_THE_PROCESS else cli
    proc = run("validate", "factors", cwd=project)
    assert proc.returncode == 1, proc.stderr
    assert expected in [line.strip() for line in proc.stdout.splitlines()], proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr
    assert not (project / "pwned").exists()
    after = {p: hashlib.sha256(p.read_bytes()).digest() for p in project.rglob("*.yaml")}
    assert after == before  # no input touched


def test_yaml_12_words_stay_text(project: Path) -> None:
    path = project / "factors/x.yaml"
    path.write_text("a: NO\nb: on\nc: yes\nd: 1_000\ne: 012\nf: 0x1F\ng: ~\nh: 1e3\n")
    assert read_yaml(path).data == {"a": "NO", "b": "on", "c": "yes", "d": "1_000", "e": 12,
                                    "f": 31, "g": None, "h": 1000.0}


# ---------------------------------------------------------------------------------------------
# fuzzing: random bytes and mutations of real files give InputError or a valid model, nothing else

SEEDS = [p.read_bytes() for p in sorted((ROOT / "factors").glob("*.yaml"))[:3]] + [
    (ROOT / "scenarios/japan-turkey/budget-stall.yaml").read_bytes()]
YAML_BITS = [*":-[]{}&*!|>'\"#%@`,?\n\t ", "\n  ", ": ", "- ", "&a ", "*a", "!!", "<<: ", "\x00",
             "\xff", "\ufeff", ".nan", "1e999"]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    text = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 8))):
        where = draw(st.integers(0, max(len(text) - 1, 0)))
        action = draw(st.sampled_from(["insert", "delete", "replace"]))
        bit = draw(st.sampled_from(YAML_BITS)).encode("utf-8", "surrogatepass")
        if action == "insert":
            text[where:where] = bit
        elif action == "delete":
            del text[where:where + draw(st.integers(1, 40))]
        else:
            text[where:where + len(bit)] = bit
    return bytes(text)


def _load_any(path: Path) -> None:
    for model in (Factor, ScenarioFile):
        parsed, _, problems = _parse(path, model)
        assert parsed is not None or problems  # a rejected file always says why


# CI runs a fixed set of examples (derandomize: the same inputs every run, so a red build is
# reproducible); RISKENGINE_LONG_FUZZ=1 asks for a long random search instead.
LONG_FUZZ = os.environ.get("RISKENGINE_LONG_FUZZ") == "1"


@settings(max_examples=20_000 if LONG_FUZZ else 75, derandomize=not LONG_FUZZ, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(content=st.one_of(mutated(), st.binary(max_size=400),
                         st.text(alphabet=string.printable + "éü€\u2028", max_size=400)
                         .map(lambda t: t.encode())))
def test_fuzzed_files_give_only_clean_errors(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "fuzz.yaml"
    path.write_bytes(content)
    try:
        read_yaml(path)
    except InputError as exc:
        assert exc.problems
        for problem in exc.problems:
            assert problem.path.endswith("fuzz.yaml") and "\n" not in problem.message
    _load_any(path)
