"""riskengine.texttable draws what rich's Table draws, character for character and style for
style, without its per-cell layout (the tables of 5,000 scenarios took minutes)."""

from __future__ import annotations

import io

from hypothesis import example, given, settings
from hypothesis import strategies as st
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from riskengine.texttable import Column, Styled, print_table

# wide, accented and combining characters, an emoji, one of no width, markup brackets,
# spaces inside and at the ends, tabs and line breaks (which rich lays out itself, so the
# table goes to rich)
_TEXT = st.text(alphabet="ab z09-/.é中[]\t\n😀\u0301\u200b", max_size=14)
_NAME = st.text(alphabet="abz09-/.é中 ", max_size=10).map(str.strip)
_CELL = st.one_of(_TEXT, st.builds(Styled, _TEXT, st.sampled_from(["red", "bold green"])))


@st.composite
def _tables(draw: st.DrawFn) -> tuple[list[Column], list[list[str | Styled]], str | None]:
    columns = draw(st.lists(st.builds(Column, _NAME, st.sampled_from(["left", "right"]),
                                      st.booleans()), min_size=1, max_size=5))
    rows = draw(st.lists(st.lists(_CELL, min_size=len(columns), max_size=len(columns)),
                         max_size=6))
    title = draw(st.one_of(st.none(), st.just(""), _TEXT.map(escape),
                           st.tuples(_TEXT, _TEXT).map(
                               lambda t: f"[bold]{escape(t[0])}[/] — {escape(t[1] * 3)}")))
    return columns, rows, title


def _console(width: int, soft_wrap: bool, colour: bool) -> Console:
    return Console(file=io.StringIO(), width=width, soft_wrap=soft_wrap, highlight=False,
                   color_system="truecolor" if colour else None, force_terminal=colour)


def _rich(console: Console, columns: list[Column], rows: list[list[str | Styled]],
          title: str | None) -> None:
    """The table as the commands drew it with rich: styled cells written as markup."""
    table = Table(title=title or None, title_justify="left", show_edge=False)
    for column in columns:
        table.add_column(column.name, justify=column.justify, no_wrap=column.no_wrap,
                         min_width=len(column.name) if column.no_wrap else None)
    for row in rows:
        table.add_row(*(escape(c) if isinstance(c, str) else f"[{c.style}]{escape(c.text)}[/]"
                        for c in row))
    console.print(table)


def _styled(output: str) -> tuple[str, list[str]]:
    """The text, and the style each visible character is shown in (the styles here, bold
    and colours, do not show on a space, where rich itself is not consistent: an empty
    header's padding is bold or not depending on the other headers)."""
    text = Text.from_ansi(output)
    spans = [""] * len(text.plain)
    for span in text.spans:
        for i in range(span.start, span.end):
            spans[i] = f"{spans[i]};{span.style}"
    return text.plain, [s for c, s in zip(text.plain, spans, strict=True) if not c.isspace()]


@settings(max_examples=60, deadline=None)  # a minute of CI time holds all the suite
@given(_tables(), st.integers(20, 130), st.booleans(), st.booleans())
# a column of no width (no name) whose cells have only characters of no width: rich leaves
# them out
@example(([Column(""), Column("a")], [["\u200b", "x"], ["\u0301", "y"]], None), 40, False, False)
def test_the_same_table_as_rich(table: tuple[list[Column], list[list[str | Styled]], str | None],
                                width: int, soft_wrap: bool, colour: bool) -> None:
    columns, rows, title = table
    ours, theirs = _console(width, soft_wrap, colour), _console(width, soft_wrap, colour)
    print_table(ours, columns, rows, title)
    _rich(theirs, columns, rows, title)
    drawn, expected = ours.file.getvalue(), theirs.file.getvalue()  # type: ignore[attr-defined]
    if colour:
        # the same characters in the same styles (rich splits its escape codes differently)
        assert _styled(drawn) == _styled(expected)
    else:
        assert drawn == expected


def test_a_large_table_is_drawn_in_one_write() -> None:
    """5,000 rows: the text is built whole, not laid out row by row through rich (which took
    7 s for validate's reliability table)."""
    console = _console(120, False, False)
    writes: list[str] = []
    sink = io.StringIO()
    sink.write = writes.append  # type: ignore[assignment, method-assign]
    console.file = sink
    rows: list[list[str | Styled]] = [[f"p/s{i}", Styled("B", "red"), f"{i / 7:.2f}"]
                                      for i in range(5_000)]
    print_table(console, [Column("Scenario"), Column("Grade"), Column("Score", "right")],
                rows, "Reliability")
    text = "".join(writes)
    assert len(writes) <= 2  # the title, then the table
    assert text.count("\n") == 5_000 + 3
    assert " p/s4999  │ B     │ 714.14 \n" in text


def test_a_table_wider_than_the_console_is_left_to_rich() -> None:
    """rich folds (or, with no_wrap, cuts) the cells of a table too wide for the console;
    that layout is rich's own."""
    rows: list[list[str | Styled]] = [["x" * 60, "y" * 60]]
    for no_wrap in (False, True):
        ours, theirs = _console(80, False, False), _console(80, False, False)
        columns = [Column("a", no_wrap=no_wrap), Column("b", no_wrap=no_wrap)]
        print_table(ours, columns, rows, "wide")
        _rich(theirs, columns, rows, "wide")
        assert ours.file.getvalue() == theirs.file.getvalue()  # type: ignore[attr-defined]
        assert max(map(len, ours.file.getvalue().splitlines())) <= 80  # type: ignore[attr-defined]
