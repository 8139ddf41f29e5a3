"""Tables for the terminal in rich's look, drawn without rich's per-cell layout.

rich's ``Table`` measures, wraps and renders every cell through its markup parser and segment
machinery: about 1.5 ms a row, so ``riskengine run`` of 5,000 scenarios (20 factor rows each)
spent two minutes drawing tables and ``validate``'s reliability table of 5,000 scenarios 7 s.
A table that fits the console needs none of that: each column is as wide as its widest cell,
and the lines are the cells padded and joined. :class:`Tables` draws such a table as one
styled text, with the same characters as ``rich.table.Table(show_edge=False)`` (checked
against rich in the tests), and hands any other table (wider than the console, or with a
cell of several lines) to rich itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple


class Styled(NamedTuple):
    """A cell's text with a rich style (``"red"``, ``"bold green"``) on the text, not on the
    spaces that justify it (as ``[red]text[/]`` markup would)."""

    text: str
    style: str


Cell = str | Styled


@dataclass(frozen=True)
class Column:
    name: str
    justify: Literal["left", "right"] = "left"
    no_wrap: bool = False  # where the table is too wide: cut the cells, never fold them


def print_table(console: Any, columns: Sequence[Column], rows: Sequence[Sequence[Cell]],
                title: str | None = None) -> None:
    """Print one table (:meth:`Tables.table`)."""
    with Tables(console) as tables:
        tables.table(columns, rows, title)


class Tables:
    """Tables and lines printed to one console, in order. On a console without colour (a
    pipe, a file, CI logs) the text is gathered and written once when the block ends: rich's
    fixed cost of a print, about 0.4 ms, was most of drawing 5,000 small tables."""

    def __init__(self, console: Any) -> None:
        self.console = console
        self.plain = console.color_system is None
        # where rich would draw its boxes in ASCII (an encoding that is not UTF, an old
        # Windows console), every table is rich's
        self.boxes = not (console.options.ascii_only or console.legacy_windows)
        self._text: list[str] = []
        self._options: Any = None

    def __enter__(self) -> Tables:
        return self

    def __exit__(self, *_: object) -> None:
        self.flush()

    def flush(self) -> None:
        if self._text:
            self.console.file.write("".join(self._text))
            self._text.clear()

    def line(self, text: str = "") -> None:
        """A line of plain text (no markup), as ``console.print(text)`` shows it."""
        if self.plain:
            self._text.append(text + "\n")
        else:
            self.console.print(text, markup=False, highlight=False)

    def table(self, columns: Sequence[Column], rows: Sequence[Sequence[Cell]],
              title: str | None = None) -> None:
        """A table with a header row and ``title`` (rich markup) above it, left-justified, as
        ``rich.table.Table(title=title, title_justify="left", show_edge=False)`` prints it.
        Cells are plain text (no markup); a :class:`Styled` cell's text shows in its style."""
        from rich.cells import cell_len
        from rich.text import Text

        texts = [[cell if isinstance(cell, str) else cell.text for cell in row] for row in rows]
        sizes = [[cell_len(text) for text in row] for row in texts]
        widths = [max([cell_len(c.name), *(row[i] for row in sizes)])
                  for i, c in enumerate(columns)]
        # a cell rich would lay out as more than its text: lines, tabs, spaces at the end,
        # or characters of no width in a column of no width (rich leaves those out)
        wraps = any("\n" in text or "\t" in text or text[-1:].isspace()
                    for row in texts for text in row) or any(
            row[i] for i, width in enumerate(widths) if not width for row in texts)
        # each cell padded by a space on both sides, one separator between columns
        total = sum(widths) + 3 * len(widths) - 1
        if wraps or total > self.console.width or not columns or not self.boxes:
            self.flush()
            _print_rich(self.console, columns, rows, title)
            return
        if title:
            self._title(title, total)
        right = [c.justify == "right" for c in columns]
        gaps = [[" " * (width - size) for size, width in zip(row_sizes, widths, strict=True)]
                for row_sizes in sizes]
        header = [" " + _pad(c.name, w, c.justify) + " "
                  for c, w in zip(columns, widths, strict=True)]
        rule = "╇".join("━" * (w + 2) for w in widths) + "\n"
        if self.plain:
            self._text += ["┃".join(header), "\n", rule, *(
                " " + " │ ".join([gap + text if flush else text + gap for text, gap, flush
                                 in zip(row, row_gaps, right, strict=True)]) + " \n"
                for row, row_gaps in zip(texts, gaps, strict=True))]
            return
        out = Text()
        for i, name in enumerate(header):
            if i:
                out.append("┃")
            out.append(name, "table.header")
        out.append("\n" + rule)
        for row, row_gaps, cells in zip(texts, gaps, rows, strict=True):
            for i, (text, gap, cell) in enumerate(zip(row, row_gaps, cells, strict=True)):
                out.append(" │ " if i else " ")
                if not right[i]:
                    out.append(text, None if isinstance(cell, str) else cell.style)
                out.append(gap)
                if right[i]:
                    out.append(text, None if isinstance(cell, str) else cell.style)
            out.append(" \n")
        self.console.print(out, end="", soft_wrap=True)

    def _title(self, markup: str, width: int) -> None:
        if not self.plain:
            self.console.print(_Title(markup, width))
            return
        if self._options is None:
            # what console.print renders with, found once (it reads the size and the
            # environment on every call)
            options = self.console.options
            self._options = options.update(no_wrap=True, overflow="ignore") \
                if self.console.soft_wrap else options
        self._text += [segment.text for segment in self.console.render(
            _Title(markup, width), self._options) if not segment.control]
        if self._text[-1:] != ["\n"]:
            self._text.append("\n")


def _pad(text: str, width: int, justify: str) -> str:
    from rich.cells import cell_len

    gap = " " * (width - cell_len(text))
    return gap + text if justify == "right" else text + gap


class _Title:
    """A table's title as rich's ``Table`` renders it: wrapped to the table's width under the
    console's options (not at all with soft wrapping), each line justified left."""

    def __init__(self, markup: str, width: int) -> None:
        self.markup = markup
        self.width = width

    def __rich_console__(self, console: Any, options: Any) -> Any:
        text = console.render_str(self.markup, style="table.title", highlight=False)
        yield from console.render(text, options.update(width=self.width, highlight=False,
                                                       height=None, justify="left"))


def _print_rich(console: Any, columns: Sequence[Column], rows: Sequence[Sequence[Cell]],
                title: str | None) -> None:
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title or None, title_justify="left", show_edge=False)
    for column in columns:
        table.add_column(column.name, justify=column.justify, no_wrap=column.no_wrap,
                         min_width=len(column.name) if column.no_wrap else None)
    for row in rows:
        # the style spans the text only, as markup's would
        table.add_row(*(Text(cell) if isinstance(cell, str)
                        else Text.assemble((cell.text, cell.style)) for cell in row))
    console.print(table)
