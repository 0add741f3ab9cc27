"""Excel workbooks for the three reports, rendered from the view models in `reports.model`.

Every workbook is written in openpyxl's write-only mode: rows stream to disk as they are produced,
so memory stays flat whatever the size of the portfolio. Layout, for every kind:

- a **Summary** sheet first: the key facts and native Excel charts;
- one table per sheet after it, each with a frozen header row, an auto filter, fixed column
  widths, status colours by conditional formatting and a drop-down list of the allowed values on
  every status column.

Safety: every piece of text is written as a literal string (never a formula), whatever it starts
with, and the workbook contains no formulas at all. Reproducibility: the same model gives the same
cell values, the document properties are fixed to the report's as-of date and the zip entries
carry a fixed timestamp, so the same model also gives the same bytes.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import zipfile
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, BinaryIO

import openpyxl
from openpyxl import Workbook
from openpyxl.cell import Cell, WriteOnlyCell
from openpyxl.cell._writer import write_cell  # what the write-only sheet writes cells with
from openpyxl.chart import BarChart, Reference
from openpyxl.chart.marker import DataPoint
from openpyxl.formatting.formatting import ConditionalFormatting
from openpyxl.formatting.rule import ColorScaleRule, Rule
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.styles.cell_style import StyleArray
from openpyxl.styles.differential import DifferentialStyle
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.dimensions import RowDimension
from openpyxl.writer.excel import ExcelWriter

from compliance import outfile
from compliance.errors import ComplianceError
from compliance.reports.model import (
    DECISION_ORDER,
    GAP_STATUSES,
    RESULT_LABELS,
    STATUS_LABELS,
    TIER_ORDER,
)

# --------------------------------------------------------------------------------------------
# Vocabularies and their colours

GREEN = ("C6EFCE", "006100")
AMBER = ("FFEB9C", "9C5700")
ORANGE = ("F8CBAD", "833C0B")
RED = ("FFC7CE", "9C0006")
GREY = ("E7E6E6", "404040")
BLUE = ("DDEBF7", "1F4E78")
PALE = ("F2F2F2", "7F7F7F")


@dataclass(frozen=True)
class Palette:
    """The allowed values of a status column, each with its (fill, font) colours."""

    values: tuple[tuple[str, tuple[str, str]], ...]

    @property
    def labels(self) -> list[str]:
        return [label for label, _c in self.values]

    def colour(self, label: str) -> str:
        return dict(self.values)[label][0]


CONTROL_COLOURS = {
    "met": GREEN,
    "partial": AMBER,
    "gap": RED,
    "not_assessed": GREY,
    "not_applicable": BLUE,
    "unmapped": PALE,
}
RESULT_COLOURS = {"pass": GREEN, "partial": AMBER, "fail": RED, "not_applicable": BLUE, None: GREY}
CONTROL = Palette(tuple((STATUS_LABELS[k], c) for k, c in CONTROL_COLOURS.items()))
RESULT = Palette(tuple((RESULT_LABELS[k], c) for k, c in RESULT_COLOURS.items()))
DECISION = Palette((("BLOCK", RED), ("CONDITIONAL", AMBER), ("APPROVE", GREEN)))
TIER = Palette(tuple(zip(TIER_ORDER, (RED, ORANGE, AMBER, GREEN), strict=True)))
ACCEPTANCE = Palette((("active", GREEN), ("expired", RED)))
BEFORE_APPROVAL = "before approval"
PLAN = Palette(
    (
        (BEFORE_APPROVAL, RED),
        ("risk accepted", AMBER),
        ("open", GREY),
        ("in progress", BLUE),
        ("done", GREEN),
    )
)
TREND = Palette((("worse", RED), ("same", GREY), ("better", GREEN), ("first assessment", BLUE)))
# A result recorded directly on a control, read back from the control status it produced.
DIRECT_RESULT = {"met": "pass", "gap": "fail", "partial": "partial"}

# --------------------------------------------------------------------------------------------
# Cells

EXCEL_MAX_ROWS = 1_048_576
EXCEL_MAX_TEXT = 32_767
TRUNCATED = " [truncated]"
# Everything XML 1.0 cannot carry: C0 controls other than tab and newline, lone surrogates and
# the noncharacters U+FFFE and U+FFFF.
ILLEGAL_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n")
HEADER_FILL = PatternFill(fill_type="solid", start_color="1F3864", end_color="1F3864")
HEADER_FONT = Font(bold=True, color="FFFFFF")
TOP = Alignment(vertical="top")
WRAP = Alignment(vertical="top", wrap_text=True)
HEADER_ALIGN = Alignment(vertical="center", wrap_text=True)
FACT_ALIGN = Alignment(horizontal="left", vertical="top", wrap_text=True)
LINE_HEIGHT = 15.0  # points, one line of the default 11 pt font
MAX_ROW_HEIGHT = 409.0  # Excel's limit
DATE_FORMAT = "yyyy-mm-dd"
PERCENT = "0%"
DELTA = "+0.0%;-0.0%;0.0%"


def clean_text(value: str) -> str:
    """Text as a cell can hold it: line ends as LF (XML turns a bare CR into LF anyway),
    characters XML cannot carry as U+FFFD, and at most Excel's 32,767 characters."""
    text = value
    # Printable ASCII, most text, has neither line ends nor anything XML cannot carry: two C
    # scans instead of two replaces and a regular expression.
    if not (text.isascii() and text.isprintable()):
        if "\r" in text:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        if ILLEGAL_CHARACTERS.search(text):
            text = ILLEGAL_CHARACTERS.sub("\ufffd", text)
    if len(text) > EXCEL_MAX_TEXT:
        text = text[: EXCEL_MAX_TEXT - len(TRUNCATED)] + TRUNCATED
    return text


def formula_like(text: str) -> bool:
    """Whether Excel could read `text` as a formula once a user edits its cell."""
    return text.lstrip(" ").startswith(FORMULA_TRIGGERS)


def literal_cell(ws: Any, text: str) -> Any:
    """An unstyled cell holding `text`, already cleaned, as a string.

    Value and type are set directly: `cell.value = text` would check the cleaned text once
    more and guess its type (a formula, an error code) only for the guess to be overruled.
    """
    cell = WriteOnlyCell(ws)
    cell._value = text
    cell.data_type = "s"
    return cell


def text_cell(ws: Any, value: str, *, wrap: bool = False) -> Any:
    """A cell holding `value` as literal text, never as a formula.

    openpyxl would store a string starting with "=" as a formula; the data type is forced to
    string. Text Excel could read as a formula once a user edits the cell (= + - @, a leading
    tab or line break, DDE such as `=cmd|' /C calc'!A0`) also gets Excel's quote prefix, the
    equivalent of typing an apostrophe in front of it.
    """
    text = clean_text(value)
    cell = literal_cell(ws, text)
    cell.alignment = WRAP if wrap else TOP
    if formula_like(text):
        cell.quotePrefix = True
    return cell


@dataclass(frozen=True)
class Col:
    """One column of a table: header, width in characters, number format, vocabulary."""

    header: str
    width: float = 14
    number_format: str | None = None
    palette: Palette | None = None
    wrap: bool = False
    heat: bool = False  # a 0..1 score shown as a red-amber-green colour scale


def cell(ws: Any, value: Any, col: Col | None = None) -> Any:
    """A write-only cell for any model value; text always goes through `text_cell`."""
    if value is None:
        return None
    if isinstance(value, bool):
        return text_cell(ws, "Yes" if value else "No")
    if isinstance(value, str):
        return text_cell(ws, value, wrap=bool(col and col.wrap))
    fmt = col.number_format if col else None
    if isinstance(value, date):
        fmt = fmt or DATE_FORMAT
    c = WriteOnlyCell(ws, value=value)
    c.alignment = TOP
    if fmt:
        c.number_format = fmt
    return c


def as_date(iso: str | None) -> date | None:
    return date.fromisoformat(iso) if iso else None


def joined(items: Iterable[str], sep: str = "\n") -> str | None:
    return sep.join(items) or None


def wrapped_lines(text: str, width: float) -> int:
    """Lines `text` takes in a wrapped column `width` characters wide (a generous guess)."""
    per_line = max(int(width) - 2, 1)
    return sum(max(1, -(-len(part) // per_line)) for part in text.split("\n"))


def row_lines(values: Sequence[Any], cols: Sequence[Col], widths: Sequence[float]) -> int:
    """Lines the tallest wrapped text of a row takes (1 if none wraps)."""
    return max(
        (
            wrapped_lines(v, w)
            for v, c, w in zip(values, cols, widths, strict=False)
            if c.wrap and isinstance(v, str)
        ),
        default=1,
    )


class RowWriter:
    """Rows of ready cells written straight into a write-only sheet's XML, one at a time.

    What `ws.append` does, minus its cost for styled cells: for every Cell it is given, append
    first tries the cell as a plain value (an exception) and then makes a spare cell to stand in
    for it. The XML still comes from openpyxl's own row loop and cell writer, so the file is the
    same byte for byte. Make it once the sheet's column widths and panes are set (they are
    written before the rows), use it for every row of the sheet, never together with
    `ws.append`, and give it styled cells only (every cell made here has an alignment).
    """

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.heights: dict[float, dict[str, str]] = {}
        stream = self._stream()
        next(stream)
        # `ws.close()`, called when the workbook is saved, closes the sheet's row stream: this
        # one then ends the XML as openpyxl's own (`WriteOnlyWorksheet._write_rows`) does.
        ws._rows = stream
        self._send = stream.send

    def _stream(self) -> Generator[None, tuple[dict[str, str], list[Any]], None]:
        ws = self.ws
        ws._get_writer()
        xf = ws._writer.xf.send(True)
        with xf.element("sheetData"):
            try:
                while True:
                    attrs, cells = yield
                    with xf.element("row", attrs):
                        for c in cells:
                            write_cell(xf, ws, c, True)  # True: styled
            except GeneratorExit:
                pass
        ws._writer.xf.send(None)

    def write(self, row_no: int, cells: list[Any], lines: int = 1) -> None:
        """Write sheet row `row_no`: `cells` (placed, none None) and its height in lines.

        Spreadsheet programs do not reliably fit the rows of a generated file (LibreOffice does
        not at all), so a row whose wrapped text needs more than one line gets an estimated
        height. It goes into the row's XML directly, so nothing about the row stays in memory.
        """
        attrs = {"r": str(row_no)}
        if lines > 1:
            height = min(MAX_ROW_HEIGHT, LINE_HEIGHT * lines)
            if height not in self.heights:
                # The attributes a row dimension of that height writes, worked out once.
                self.heights[height] = dict(RowDimension(self.ws, index=row_no, ht=height))
            attrs.update(self.heights[height])
        self._send((attrs, cells))


def placed(row_no: int, cells: Sequence[Any]) -> list[Any]:
    """`cells` given their row and columns, the missing (None) ones left out."""
    out = []
    for col_no, c in enumerate(cells, 1):
        if c is not None:
            c.row, c.column = row_no, col_no
            out.append(c)
    return out


# --------------------------------------------------------------------------------------------
# Sheets and tables

RESERVED_SHEET_NAMES = {"history"}


def sheet_name(wb: Any, wanted: str) -> str:
    """A valid, unused sheet name close to `wanted` (31 characters, none of []:*?/\\)."""
    base = re.sub(r"[\[\]:*?/\\]", "-", wanted).strip("'") or "Sheet"
    if base.lower() in RESERVED_SHEET_NAMES:
        base = f"{base} (sheet)"
    taken = {n.lower() for n in wb.sheetnames}
    name, n = base[:31].rstrip("'"), 1
    while name.lower() in taken:
        n += 1
        suffix = f" ({n})"
        name = base[: 31 - len(suffix)] + suffix
    return name


def print_setup(ws: Any) -> None:
    """Print landscape, one page wide, header row repeated: a sheet that prints readably."""
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = 9  # A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True


def new_sheet(wb: Any, wanted: str, cols: Sequence[Col], freeze: str | None) -> Any:
    """A write-only sheet with its column widths and frozen panes, both set before any row."""
    ws = wb.create_sheet(sheet_name(wb, wanted))
    print_setup(ws)
    ws.print_title_rows = "1:1"
    for i, c in enumerate(cols, 1):
        ws.column_dimensions[get_column_letter(i)].width = c.width
    if freeze:
        ws.freeze_panes = freeze
    return ws


def header_row(ws: Any, cols: Sequence[Col]) -> list[Any]:
    out: list[Any] = []
    for c in cols:
        if not out:
            h = text_cell(ws, c.header)
            h.font, h.fill, h.alignment = HEADER_FONT, HEADER_FILL, HEADER_ALIGN
        else:
            # The same look as the first header cell: its style copied, not looked up again.
            text = clean_text(c.header)
            h = literal_cell(ws, text)
            h._style = StyleArray(out[0]._style)
            h._style.quotePrefix = formula_like(text)
        out.append(h)
    return out


@functools.cache
def status_look(fill: str, font: str) -> DifferentialStyle:
    """How a status value looks (fill and font colour), made once per colour pair and shared
    by every rule showing it: saving a workbook then finds it among the workbook's differential
    styles by identity instead of comparing it field by field."""
    return DifferentialStyle(
        font=Font(color=font),
        fill=PatternFill(fill_type="solid", start_color=fill, end_color=fill),
    )


# Red-amber-green for a 0..1 score, shared by every heat rule (rules are made per sheet, their
# priority is the sheet's; the scale itself never changes).
HEAT_SCALE = ColorScaleRule(
    start_type="num",
    start_value=0,
    start_color="F8696B",
    mid_type="num",
    mid_value=0.5,
    mid_color="FFEB84",
    end_type="num",
    end_value=1,
    end_color="63BE7B",
).colorScale


def style_columns(
    ws: Any, cols: Sequence[Col], first: int, last: int, *, validate: bool = True
) -> None:
    """Status colours by conditional formatting and a drop-down of the allowed values."""
    last = max(first, last)
    for i, c in enumerate(cols, 1):
        if not (c.palette or c.heat):
            continue
        letter = get_column_letter(i)
        area = f"{letter}{first}:{letter}{last}"
        # One range object for all the column's rules instead of one parsed per rule.
        cf = ConditionalFormatting(area)
        if c.palette:
            for label, (fill, font) in c.palette.values:
                # What CellIsRule(operator="equal", ...) makes, with the shared look.
                rule = Rule(
                    type="cellIs",
                    operator="equal",
                    formula=[f'"{label}"'],
                    dxf=status_look(fill, font),
                )
                ws.conditional_formatting.add(cf, rule)
        if c.palette and validate:
            dv = DataValidation(
                type="list",
                formula1='"' + ",".join(c.palette.labels) + '"',
                allow_blank=True,
                showErrorMessage=True,
                errorTitle=c.header,
                error="Pick one of the listed values.",
            )
            dv.add(area)
            ws.data_validations.append(dv)
        if c.heat:
            ws.conditional_formatting.add(cf, Rule(type="colorScale", colorScale=HEAT_SCALE))


def finish_table(ws: Any, cols: Sequence[Col], rows: int) -> None:
    last = rows + 1
    ws.auto_filter.ref = f"A1:{get_column_letter(len(cols))}{last}"
    style_columns(ws, cols, 2, last)


class ReusedCell(Cell):  # type: ignore[misc]  # openpyxl has no type hints
    """A cell written row after row with a new value, its style looked up once.

    Writing a cell reads its `style_id`, for a plain cell a property that finds the cell's
    style in the workbook's list every time; this slot of the same name holds it instead.
    """

    __slots__ = ("style_id",)

    @classmethod
    def of(cls, made: Any, column: int) -> ReusedCell:
        """A reusable copy of cell `made`, in `column`, its style registered now."""
        c = cls(made.parent, column=column, style_array=made._style)
        c._value, c.data_type = made._value, made.data_type
        c.style_id = made.parent.parent._cell_styles.add(c._style)
        return c


class TableSheet:
    """One sheet of a table: its header row, then data rows streamed to disk one by one.

    The hot path of every workbook. Making a new cell per value costs a round of style look-ups
    per value (font, alignment, number format, each found in the workbook's lists); instead each
    column keeps one cell per kind of value (text, text that needs the quote prefix, yes/no,
    number, date), made by `cell` the first time that kind turns up, exactly as any cell is
    made, and reused row after row with only its value and row changed. A row is written out
    before the next one is made, so reusing its cells is safe.
    """

    def __init__(self, wb: Any, name: str, cols: Sequence[Col], freeze: str) -> None:
        self.ws = new_sheet(wb, name, cols, freeze)
        self.out = RowWriter(self.ws)
        self.cols = cols
        self.rows = 0  # data rows so far
        self.reused: list[dict[str, ReusedCell]] = [{} for _ in cols]
        self.styles = self.ws.parent._cell_styles
        # Wrapped columns and the characters a line of each holds, for the row heights.
        self.wrapped = [(i, max(int(c.width) - 2, 1)) for i, c in enumerate(cols) if c.wrap]
        self.out.write(1, placed(1, header_row(self.ws, cols)))

    def append(self, values: Sequence[Any]) -> None:
        """Append one row of model values."""
        cols = self.cols
        if len(values) != len(cols):
            raise ValueError(f"a row of {len(values)} values for {len(cols)} columns")
        self.rows += 1
        row_no = self.rows + 1
        cells = []
        for i, (value, reused) in enumerate(zip(values, self.reused, strict=True)):
            if value is None:
                continue
            # The kind of value decides the cell's style; exact types only (bool is an int).
            t = type(value)
            if t is str:
                v = clean_text(value)
                kind = "q" if formula_like(v) else "s"
            elif t is int or t is float:
                v, kind = value, "n"
            elif t is date:
                v, kind = value, "d"
            elif t is bool:
                v, kind = ("Yes" if value else "No"), "b"
            else:  # anything else gets a cell of its own
                c = cell(self.ws, value, cols[i])
                c.row, c.column = row_no, i + 1
                # Its style registered now, in column order with the reused cells' below, so
                # the workbook's list of styles comes out in the order writing gives it.
                self.styles.add(c._style)
                cells.append(c)
                continue
            c = reused.get(kind)
            if c is None:
                c = reused[kind] = ReusedCell.of(cell(self.ws, value, cols[i]), i + 1)
            c._value = v
            c.row = row_no
            cells.append(c)
        lines = 1
        for i, per_line in self.wrapped:
            v = values[i]
            # One line unless it is long or broken (`wrapped_lines` agrees, just slower).
            if isinstance(v, str) and (len(v) > per_line or "\n" in v):
                lines = max(lines, wrapped_lines(v, cols[i].width))
        self.out.write(row_no, cells, lines)

    def finish(self) -> None:
        finish_table(self.ws, self.cols, self.rows)


def write_table(
    wb: Any,
    name: str,
    cols: Sequence[Col],
    rows: Iterable[Sequence[Any]],
    freeze_cols: int = 1,
) -> int:
    """The one table writer: a sheet with a header row and `rows` streamed under it.

    Rows that do not fit on one sheet continue on "name (2)" and so on, each with its header.
    Returns the number of data rows written.
    """
    freeze = f"{get_column_letter(freeze_cols + 1)}2"
    sheet = TableSheet(wb, name, cols, freeze)
    total = 0
    for row in rows:
        if sheet.rows == EXCEL_MAX_ROWS - 1:
            sheet.finish()
            sheet = TableSheet(wb, name, cols, freeze)
        sheet.append(row)
        total += 1
    sheet.finish()
    return total


# --------------------------------------------------------------------------------------------
# The Summary sheet: facts, small tables and charts, top to bottom

SUMMARY_WIDTHS = (34, *(14,) * 11)  # A: labels; B to L: values and table columns
CHART_ROWS = 17  # rows a chart covers at the default row height
CHART_ANCHORS = ("A", "G")  # two charts side by side
TITLE_FONT = Font(bold=True, size=14)
HEADING_FONT = Font(bold=True, size=12)
LABEL_FONT = Font(bold=True)


def fact_style(cells: list[Any]) -> None:
    label, value = cells
    label.font = LABEL_FONT
    if value is not None:
        value.alignment = FACT_ALIGN


class SummarySheet:
    """The Summary sheet, top to bottom: title, key facts, an area for charts, small tables.

    Rows are counted as they are appended so charts can refer to the tables. A wrapped last
    column (a fact's value, a reason, a hash) is merged across to column L.
    """

    def __init__(self, wb: Any, title: str, subtitle: str) -> None:
        self.ws = wb.create_sheet(sheet_name(wb, "Summary"))
        print_setup(self.ws)
        for i, w in enumerate(SUMMARY_WIDTHS, 1):
            self.ws.column_dimensions[get_column_letter(i)].width = w
        self.out = RowWriter(self.ws)
        self.row = 0
        heading = text_cell(self.ws, title)
        heading.font = TITLE_FONT
        self._append([heading], ())
        self._append([text_cell(self.ws, subtitle)], ())
        self.blank()

    def _merge_last(self, cols: Sequence[Col]) -> list[float]:
        """Merge the row's wrapped last column across to L; the widths its cells then have."""
        n = len(cols)
        if not cols or not cols[-1].wrap or n >= len(SUMMARY_WIDTHS):
            return list(SUMMARY_WIDTHS[:n])
        first, last = get_column_letter(n), get_column_letter(len(SUMMARY_WIDTHS))
        self.ws.merged_cells.add(f"{first}{self.row}:{last}{self.row}")
        return [*SUMMARY_WIDTHS[: n - 1], sum(SUMMARY_WIDTHS[n - 1 :])]

    def _append(self, cells: Sequence[Any], cols: Sequence[Col]) -> None:
        self.row += 1
        self.out.write(self.row, placed(self.row, cells))
        self._merge_last(cols)

    def _values(
        self,
        values: Sequence[Any],
        cols: Sequence[Col],
        style: Callable[[list[Any]], None] | None = None,
    ) -> None:
        """Append one row of model values, `style` applied to its cells."""
        self.row += 1
        widths = self._merge_last(cols)
        cells = [cell(self.ws, v, c) for v, c in zip(values, cols, strict=True)]
        if style:
            style(cells)
        self.out.write(self.row, placed(self.row, cells), row_lines(values, cols, widths))

    def blank(self) -> None:
        self._append([], ())

    def facts(self, pairs: Iterable[tuple[str, Any]], palettes: Mapping[str, Palette]) -> None:
        """Label/value pairs, one a row; values of a label in `palettes` get its colours."""
        for label, value in pairs:
            self._values([label, value], (Col(label), Col(label, wrap=True)), fact_style)
            if label in palettes:
                fact = [Col(""), Col("", palette=palettes[label])]
                style_columns(self.ws, fact, self.row, self.row, validate=False)
        self.blank()

    def chart_area(self) -> int:
        """Leave room for a row of charts; returns the row to anchor them at."""
        anchor = self.row + 1
        for _ in range(CHART_ROWS):
            self.blank()
        return anchor

    def heading(self, text: str) -> None:
        h = text_cell(self.ws, text)
        h.font = HEADING_FONT
        self._append([h], ())

    def table(
        self, title: str, cols: Sequence[Col], rows: Iterable[Sequence[Any]]
    ) -> tuple[int, int]:
        """A titled table; returns the sheet rows of its header and of its last data row."""
        self.heading(title)
        self._append(header_row(self.ws, cols), cols)
        top = self.row
        for r in rows:
            self._values(r, cols)
        style_columns(self.ws, cols, top + 1, self.row)
        self.blank()
        return top, max(self.row - 1, top)

    def chart(self, chart: BarChart, anchor_row: int, position: int = 0) -> None:
        self.ws.add_chart(chart, f"{CHART_ANCHORS[position]}{anchor_row}")


def bar_chart(
    ws: Any,
    title: str,
    table: tuple[int, int],
    data_cols: tuple[int, int],
    colours: Sequence[str],
    y_title: str,
) -> BarChart:
    """A stacked column chart of a table on `ws` (its header row and last row): categories down
    the first column, one series per data column named by its header, each in the colour given;
    with a single series the colours go to its bars instead."""
    header_row_no, last_row = table
    chart = BarChart()
    chart.type = "col"
    chart.title = title
    chart.y_axis.title = y_title
    chart.height, chart.width = 7.5, 16
    # openpyxl leaves the axes' `delete` unset, which recent Excel versions read as hidden.
    chart.x_axis.delete = chart.y_axis.delete = False
    chart.grouping, chart.overlap = "stacked", 100
    data = Reference(
        ws, min_col=data_cols[0], max_col=data_cols[1], min_row=header_row_no, max_row=last_row
    )
    cats = Reference(ws, min_col=1, min_row=header_row_no + 1, max_row=last_row)
    chart.add_data(data, titles_from_data=True)
    chart.set_categories(cats)
    if len(chart.series) == 1:
        chart.legend = None
        for i, colour in enumerate(colours):
            point = DataPoint(idx=i)
            point.graphicalProperties.solidFill = colour
            chart.series[0].dPt.append(point)
    else:
        for series, colour in zip(chart.series, colours, strict=False):
            series.graphicalProperties.solidFill = colour
            series.graphicalProperties.line.solidFill = colour
    return chart


def chart_colour(palette: Palette, label: str) -> str:
    """A stronger shade for chart bars than the light cell fill."""
    strong = {
        GREEN[0]: "70AD47",
        AMBER[0]: "FFC000",
        ORANGE[0]: "ED7D31",
        RED[0]: "C00000",
        GREY[0]: "A5A5A5",
        BLUE[0]: "5B9BD5",
        PALE[0]: "D9D9D9",
    }
    return strong[palette.colour(label)]


# --------------------------------------------------------------------------------------------
# Column sets shared by the kinds

CATALOG_COLS = (Col("Catalog"), Col("Version"), Col("Kind"), Col("SHA-256", wrap=True))
COUNT_COLS = tuple(Col(label, 12) for label in STATUS_LABELS.values())
ACCEPTANCE_COLS = (
    Col("Check", 12),
    Col("Approved by", 28),
    Col("Justification", 60, wrap=True),
    Col("Expires", 12, DATE_FORMAT),
    Col("Days left", 10),
    Col("State", 12, palette=ACCEPTANCE),
)
# The approval's details, after the columns above (kept in place for existing users).
ACCEPTANCE_DETAIL_COLS = (
    Col("Approved on", 12, DATE_FORMAT),
    Col("Approved on stated", 10),
    Col("Approver role", 24),
    Col("Compensating controls", 50, wrap=True),
    Col("Days counted from", 12, DATE_FORMAT),
)
# How a result was tested, after a result's own columns.
TEST_COLS = (
    Col("Method", 16),
    Col("Tested by", 26),
    Col("Tested on", 12, DATE_FORMAT),
    Col("Population", 36, wrap=True),
    Col("Sample size", 10),
    Col("Sample selection", 30, wrap=True),
    Col("Exceptions", 40, wrap=True),
    Col("Remediation owner", 26),
    Col("Remediation due", 12, DATE_FORMAT),
)
NA_COLS = (
    Col("Deployment", 24),
    Col("Check or control", 22),
    Col("Justification", 60, wrap=True),
    Col("Counts as not applicable", 12),
    Col("Why not", 50, wrap=True),
)


def status_counts(counts: Sequence[Mapping[str, Any]]) -> list[int]:
    by = {c["status"]: c["count"] for c in counts}
    return [int(by.get(k, 0)) for k in STATUS_LABELS]


def control_status_chart(
    sheet: SummarySheet, title: str, table: tuple[int, int], first_count_col: int, anchor: int
) -> None:
    colours = [chart_colour(CONTROL, label) for label in STATUS_LABELS.values()]
    counts = (first_count_col, first_count_col + len(STATUS_LABELS) - 1)
    chart = bar_chart(sheet.ws, title, table, counts, colours, "Controls")
    sheet.chart(chart, anchor)


def catalog_table(sheet: SummarySheet, catalogs: Iterable[Mapping[str, Any]]) -> None:
    rows = [[c["id"], c["version"], c.get("kind", "framework"), c["sha256"]] for c in catalogs]
    sheet.table("Catalog versions", CATALOG_COLS, rows)


def subtitle(report: Mapping[str, Any]) -> str:
    return (
        f"As of {report['as_of']}. Generated {report['generated_at']} (UTC) by compliance "
        f"{report['tool_version']}."
    )


# --------------------------------------------------------------------------------------------
# Gap report: one deployment, for the engineer who owns it and the approver

FRAMEWORK_COLS = (
    Col("Control", 22),
    Col("Kind", 12),
    Col("Title", 30, wrap=True),
    Col("Statement", 60, wrap=True),
    Col("Status", 14, palette=CONTROL),
    Col("How assessed", 13),
    Col("Contributing checks", 40, wrap=True),
    Col("Notes", 50, wrap=True),
)
GAP_COLS = (
    Col("Item", 22),
    Col("Title", 30, wrap=True),
    Col("Result", 13, palette=RESULT),
    Col("Gap", 50, wrap=True),
    Col("Owner", 28),
    Col("Remediation", 70, wrap=True),
    Col("Due", 12, DATE_FORMAT),
    Col("Plan status", 16, palette=PLAN),
    Col("Effect", 28, wrap=True),
    Col("Decision reason", 50, wrap=True),
    Col("Controls left open", 36, wrap=True),
)
RESULT_COLS = (
    Col("Item", 22),
    Col("Kind", 9),
    Col("Title", 34, wrap=True),
    Col("Result", 13, palette=RESULT),
    Col("Required", 10),
    Col("Notes", 60, wrap=True),
    Col("Evidence items", 10),
    Col("Assessor", 28),
    Col("Assessed on", 12, DATE_FORMAT),
    *TEST_COLS,
)
EVIDENCE_COLS = (
    Col("Supports", 22),
    Col("Result", 13, palette=RESULT),
    Col("Evidence", 44, wrap=True),
    Col("Description", 40, wrap=True),
    Col("Kind", 8),
    Col("SHA-256", 68),
    Col("Size (bytes)", 12, "#,##0"),
    Col("Media type", 20),
    Col("Collected", 12, DATE_FORMAT),
)
EVIDENCE_ITEM_KEYS = ("name", "description", "kind", "sha256", "size", "media_type")


def how_assessed(control: Mapping[str, Any]) -> str:
    if control["source"] == "direct":
        return "directly"
    return "rolled up" if control["checks"] else "no mapping"


def contributing(checks: Iterable[Mapping[str, Any]]) -> str | None:
    return joined(f"{c['check']} {c['status_label']} ({c['relationship']})" for c in checks)


def framework_rows(fw: Mapping[str, Any]) -> Iterator[list[Any]]:
    for c in fw["controls"]:
        yield [
            c["ref"],
            c["kind"],
            c["title"],
            c["text"],
            c["status_label"],
            how_assessed(c),
            contributing(c["checks"]),
            c["direct_notes"],
        ]


def direct_results(report: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """Results recorded directly on framework controls, in framework order."""
    for fw in report["frameworks"]:
        for c in fw["controls"]:
            if c["source"] == "direct":
                yield c


def direct_result_label(control_status: str) -> str:
    return RESULT_LABELS[DIRECT_RESULT.get(control_status, control_status)]


def gap_result_rows(report: Mapping[str, Any]) -> Iterator[list[Any]]:
    a = report["assessment"]
    assessed_on = as_date(a["date"])
    required = set(report["decision"]["required_checks"])
    for c in report["checks"]:
        yield [
            c["id"],
            "check",
            c["title"],
            c["status_label"],
            c["id"] in required,
            c["notes"],
            len(c["evidence"]),
            a["assessor"],
            assessed_on,
            *test_row(c.get("test") if c["status"] else None),
        ]
    for c in direct_results(report):
        yield [
            c["control"],
            "control",
            c["title"] or c["text"],
            direct_result_label(c["status"]),
            None,
            c["direct_notes"],
            None,
            a["assessor"],
            assessed_on,
            *test_row(None),
        ]


def evidence_row(supports: str, result_label: str, e: Mapping[str, Any]) -> list[Any]:
    collected = as_date(e["collected"]) if e.get("collected") else "not stated"
    return [supports, result_label, *(e[k] for k in EVIDENCE_ITEM_KEYS), collected]


def gap_evidence_rows(report: Mapping[str, Any]) -> Iterator[list[Any]]:
    for c in report["checks"]:
        for e in c["evidence"]:
            yield evidence_row(c["id"], c["status_label"], e)


def acceptance_row(x: Mapping[str, Any]) -> list[Any]:
    return [
        x["check"],
        x["approved_by"],
        x["justification"],
        as_date(x["expires"]),
        x["days_left"],
        x["state"],
    ]


def acceptance_detail(x: Mapping[str, Any]) -> list[Any]:
    return [
        as_date(x["approved_on"]),
        x["approved_on_stated"],
        x["approver_role"],
        x["compensating_controls"],
        as_date(x["counted_from"]),
    ]


def test_row(t: Mapping[str, Any] | None) -> list[Any]:
    """How a result was tested, as TEST_COLS."""
    if not t:
        return [None] * len(TEST_COLS)
    sample = t.get("sample") or {}
    rem = t.get("remediation") or {}
    return [
        joined(t.get("method") or [], ", "),
        t.get("tested_by"),
        as_date(t.get("tested_on")),
        t.get("population"),
        sample.get("size"),
        sample.get("selection"),
        t.get("exceptions"),
        rem.get("owner"),
        as_date(rem.get("due")),
    ]


def na_rows(items: Iterable[Mapping[str, Any]]) -> Iterator[list[Any]]:
    for n in items:
        yield [
            n["deployment"],
            n.get("target") or n.get("check"),
            n["justification"],
            n["counts"],
            n["why_not"],
        ]


def gap_plan_rows(report: Mapping[str, Any]) -> Iterator[list[Any]]:
    """The plan of action: what blocks the decision first, then the conditions, then the rest."""
    owner = report["deployment"]["owner"]
    decision = report["decision"]
    for item in report.get("decision_items", []):
        if item["severity"] == "blocker":
            yield [
                item["kind_label"],
                "Decision blocker outside the checks",
                None,
                item["reason"],
                owner,
                item["action"],
                None,
                BEFORE_APPROVAL,
                "Blocks the decision",
                item["reason"],
                None,
            ]
    conditions = {c["check"]: c for c in decision["conditions"] if c["check"]}
    for g in report["gaps"]:
        cond = conditions.get(g["id"])
        due = as_date(g.get("due"))
        if g["rank"] == 0:
            plan = BEFORE_APPROVAL
        elif cond:
            plan, due = "risk accepted", as_date(cond["expires"])
        else:
            plan = "open"
        yield [
            g["id"],
            g["title"],
            g["status_label"],
            g["notes"] or g["objective"],
            g.get("owner") or owner,
            g["remediation"],
            due,
            plan,
            g["effect"],
            g["reason"],
            joined(g["controls"], ", "),
        ]
    texts = {c["control"]: c["title"] or c["text"] for c in direct_results(report)}
    for d in report["direct_gaps"]:
        yield [
            d["control"],
            texts.get(d["control"]),
            direct_result_label(d["status"]),
            d["notes"],
            owner,
            None,
            None,
            "open",
            "Framework control recorded directly; not part of the decision",
            None,
            None,
        ]


def gap_facts(report: Mapping[str, Any]) -> list[tuple[str, Any]]:
    dep, a, d = report["deployment"], report["assessment"], report["decision"]
    minimum = d["safety_scores"]["minimum"]
    scores = [
        (
            f"Safety score: {s['benchmark']} {s['version']}",
            f"{s['score']:.2f} ({'below' if s['below_minimum'] else 'meets'} the "
            f"{minimum:.2f} minimum)",
        )
        for s in d["safety_scores"]["scores"]
    ] or [("Safety score", f"none recorded (the tier minimum is {minimum:.2f})")]
    model = report["profile"]["model"]
    return [
        ("Deployment", f"{dep['name']} ({dep['key']})"),
        ("Owner", dep["owner"]),
        ("Environment", dep["environment"]),
        ("Business process", dep["business_process"]),
        ("Assessment", f"{a['key']} ({a['state']})"),
        ("Assessed on", as_date(a["date"])),
        ("Assessor", a["assessor"]),
        ("As of", as_date(report["as_of"])),
        ("Risk tier", d["tier"]),
        ("Why this tier", joined(d["tier_reasons"], "; ")),
        ("Decision", d["decision"]),
        ("Blockers", len(d["blockers"])),
        ("Conditions", len(d["conditions"])),
        ("Model", f"{model['name']} {model['version']}"),
        *scores,
        ("Policy", f"{d['policy']['id']} {d['policy']['version']}"),
        ("Policy SHA-256", d["policy"]["sha256"]),
    ]


def gap_summary(wb: Any, report: Mapping[str, Any]) -> None:
    sheet = SummarySheet(wb, report["title"], subtitle(report))
    sheet.facts(gap_facts(report), {"Risk tier": TIER, "Decision": DECISION})
    charts = sheet.chart_area()
    fw_cols = (
        Col("Framework"),
        Col("Version"),
        Col("Score", number_format=PERCENT),
        Col("Assessed"),
        Col("Mapped"),
        Col("Assessable"),
        *COUNT_COLS,
        Col("Total"),
    )
    fw_rows = [
        [
            f["id"],
            f["version"],
            f["score"],
            f["coverage"]["assessed"],
            f["coverage"]["mapped"],
            f["coverage"]["assessable"],
            *status_counts(f["counts"]),
            f["total"],
        ]
        for f in report["frameworks"]
    ]
    table = sheet.table("Frameworks: control status", fw_cols, fw_rows)
    control_status_chart(sheet, "Control status by framework", table, 7, charts)
    d = report["decision"]
    findings = [["Blocker", f["check"], None, f["reason"]] for f in d["blockers"]] + [
        ["Condition", f["check"], as_date(f["expires"]), f["reason"]] for f in d["conditions"]
    ]
    finding_cols = (
        Col("Finding"),
        Col("Check"),
        Col("Expires", number_format=DATE_FORMAT),
        Col("Reason", wrap=True),
    )
    sheet.table("Decision findings", finding_cols, findings)
    catalog_table(sheet, report["catalogs"])


def gap_workbook(wb: Any, report: Mapping[str, Any]) -> None:
    gap_summary(wb, report)
    write_table(wb, "Gaps", GAP_COLS, gap_plan_rows(report))
    for fw in report["frameworks"]:
        write_table(wb, fw["id"], FRAMEWORK_COLS, framework_rows(fw))
    write_table(wb, "Results", RESULT_COLS, gap_result_rows(report))
    write_table(wb, "Evidence", EVIDENCE_COLS, gap_evidence_rows(report))
    write_table(
        wb,
        "Acceptances",
        (*ACCEPTANCE_COLS, Col("Check result", 13, palette=RESULT), *ACCEPTANCE_DETAIL_COLS),
        gap_acceptance_rows(report),
    )
    dep = report["deployment"]["key"]
    write_table(
        wb,
        "Not applicable",
        NA_COLS,
        na_rows(dict(n, deployment=dep) for n in report.get("not_applicable", [])),
    )


def gap_acceptance_rows(report: Mapping[str, Any]) -> Iterator[list[Any]]:
    results = {c["id"]: c["status_label"] for c in report["checks"]}
    for x in report["acceptances"]:
        yield [*acceptance_row(x), results.get(x["check"]), *acceptance_detail(x)]


# --------------------------------------------------------------------------------------------
# Summary: the portfolio, for the CISO and the analyst behind them

DEPLOYMENT_COLS = (
    Col("Deployment", 26),
    Col("Name", 34, wrap=True),
    Col("Owner", 30),
    Col("Assessment", 12),
    Col("Assessed on", 12, DATE_FORMAT),
    Col("Tier", 10, palette=TIER),
    Col("Decision", 14, palette=DECISION),
    Col("Blockers", 9),
    Col("Conditions", 10),
    Col("Score", 9, PERCENT),
    Col("Previous assessment", 12),
    Col("Previous date", 12, DATE_FORMAT),
    Col("Previous decision", 14, palette=DECISION),
    Col("Previous score", 9, PERCENT),
    Col("Score change", 9, DELTA),
    Col("Trend", 16, palette=TREND),
    Col("Assessed controls", 10),
    Col("Assessable controls", 10),
    Col("Business process", 30, wrap=True),
    Col("Data", 20),
    Col("State", 10),
    Col("Re-assessment due", 12, DATE_FORMAT),
    Col("Why blocked", 70, wrap=True),
    Col("Condition details", 70, wrap=True),
)


def trend(before: str | None, after: str) -> str:
    if before is None or before == after:
        return "same"
    better = DECISION_ORDER.index(after) > DECISION_ORDER.index(before)
    return "better" if better else "worse"


def deployment_rows(report: Mapping[str, Any]) -> Iterator[list[Any]]:
    for r in report["deployments"]:
        p = r["previous"] or {}
        delta = None
        if r["score"] is not None and p.get("score") is not None:
            delta = r["score"] - p["score"]
        yield [
            r["deployment"],
            r["name"],
            r["owner"],
            r["assessment"],
            as_date(r["date"]),
            r["tier"],
            r["decision"],
            r["blockers"],
            r["conditions"],
            r["score"],
            p.get("assessment"),
            as_date(p.get("date")),
            p.get("decision"),
            p.get("score"),
            delta,
            trend(p.get("decision"), r["decision"]) if p else "first assessment",
            (r.get("coverage") or {}).get("assessed"),
            (r.get("coverage") or {}).get("assessable"),
            r.get("business_process"),
            joined(r.get("data") or [], ", "),
            r.get("state"),
            as_date(r.get("reassessment_due")),
            joined(f"{f['check'] or f['kind']}: {f['reason']}" for f in r.get("reasons", [])),
            joined(
                f"{f['check'] or f['kind']}: {f['reason']}" for f in r.get("condition_reasons", [])
            ),
        ]


def heatmap_header(column: Mapping[str, Any]) -> str:
    ref, title = column["ref"], column["title"]
    if ref == "*":
        return "All controls"
    return title if ref == title else f"{title} ({ref})"


def heatmap_sheets(wb: Any, report: Mapping[str, Any]) -> None:
    """One sheet per framework: deployments down, the framework's functions (or layers) across."""
    columns = report["heatmap"]["columns"]
    for fw in report["frameworks"]:
        idx = [i for i, c in enumerate(columns) if c["framework"] == fw["id"]]
        cols = (
            Col("Deployment", 26),
            Col("Name", 34, wrap=True),
            Col("Tier", 10, palette=TIER),
            Col("Decision", 14, palette=DECISION),
            *(Col(heatmap_header(columns[i]), 16, PERCENT, heat=True) for i in idx),
        )
        # Every deployment, riskiest first (the PDF's heat map averages all but the first few).
        rows = (
            [
                r["deployment"],
                r["name"],
                r["tier"],
                r["decision"],
                *((r["cells"][i] or {}).get("score") for i in idx),
            ]
            for r in report["deployments"]
        )
        write_table(wb, fw["id"], cols, rows, freeze_cols=2)


def summary_facts(report: Mapping[str, Any]) -> list[tuple[str, Any]]:
    t, exp, pol = report["totals"], report["expiring"], report["policy"]
    at = report["attention"]
    return [
        ("As of", as_date(report["as_of"])),
        ("Deployments", t["deployments"]),
        ("Blocked", t["block"]),
        ("Conditional", t["conditional"]),
        ("Approved", t["approve"]),
        ("Not assessed as of the date", t["not_assessed"]),
        ("Draft assessments in force", at["drafts"]["total"]),
        ("Re-assessments overdue", at["overdue"]["total"]),
        ("Risk acceptances expired", at["expired"]["total"]),
        ("Checks resting on stale evidence", at["stale"]["total"]),
        *((f"Acceptances expiring within {w} days", n) for w, n in exp["counts"].items()),
        ("Policy", f"{pol['id']} {pol['version']}"),
        ("Policy SHA-256", pol["sha256"]),
    ]


def summary_summary(wb: Any, report: Mapping[str, Any]) -> None:
    sheet = SummarySheet(wb, report["title"], subtitle(report))
    sheet.facts(summary_facts(report), {})
    charts = sheet.chart_area()
    tier_cols = (Col("Tier"), *(Col(d) for d in DECISION_ORDER), Col("Total"))
    tier_rows = [
        [t["tier"], *(t[d.lower()] for d in DECISION_ORDER), t["total"]] for t in report["by_tier"]
    ]
    table = sheet.table("Decisions by risk tier", tier_cols, tier_rows)
    colours = [chart_colour(DECISION, d) for d in DECISION_ORDER]
    chart = bar_chart(sheet.ws, "Decisions by risk tier", table, (2, 4), colours, "Deployments")
    sheet.chart(chart, charts)
    gap_cols = (Col("Check"), Col("Blocking"), Col("Conditional"), Col("Title", wrap=True))
    gap_rows = [
        [g["check"], g["blocking"], g["conditional"], g["title"]] for g in report["top_gaps"]
    ]
    table = sheet.table("Top gaps: deployments held back, by check", gap_cols, gap_rows)
    if gap_rows:
        colours = [chart_colour(DECISION, "BLOCK"), chart_colour(DECISION, "CONDITIONAL")]
        chart = bar_chart(sheet.ws, "Top gaps", table, (2, 3), colours, "Deployments")
        sheet.chart(chart, charts, 1)
    catalog_table(sheet, report["catalogs"])


EXPIRING_COLS = (
    Col("Deployment", 26),
    Col("Name", 30, wrap=True),
    Col("Assessment", 12),
    *ACCEPTANCE_COLS,
    Col("Within (days)", 12),
)


HISTORY_COLS = (
    Col("Quarter", 26),
    Col("Date", 12, DATE_FORMAT),
    Col("Tier", 10, palette=TIER),
    Col("Blocked", 10),
    Col("Conditional", 12),
    Col("Approved", 10),
    Col("Basis", 60, wrap=True),
)
RISK_COLS = (
    Col("Grouping", 18),
    Col("Group", 40, wrap=True),
    Col("Deployments", 12),
    Col("Blocked", 10),
    Col("Conditional", 12),
    Col("Approved", 10),
    Col("Blockers", 10),
)


def history_rows(report: Mapping[str, Any]) -> Iterator[list[Any]]:
    for point in report["history"]["points"]:
        for t in point["by_tier"]:
            yield [
                point["label"],
                as_date(point["date"]),
                t["tier"],
                t["block"],
                t["conditional"],
                t["approve"],
                point["basis"],
            ]


def risk_rows(report: Mapping[str, Any]) -> Iterator[list[Any]]:
    for name, key in (
        ("business process", "by_process"),
        ("owner", "by_owner"),
        ("data class", "by_data"),
    ):
        for g in report["risks"][key]:
            yield [
                name,
                g["group"],
                g["deployments"],
                g["block"],
                g["conditional"],
                g["approve"],
                g["blockers"],
            ]


def summary_workbook(wb: Any, report: Mapping[str, Any]) -> None:
    summary_summary(wb, report)
    write_table(wb, "Deployments", DEPLOYMENT_COLS, deployment_rows(report))
    heatmap_sheets(wb, report)
    write_table(wb, "Trend by quarter", HISTORY_COLS, history_rows(report))
    write_table(wb, "Risks", RISK_COLS, risk_rows(report))
    write_table(
        wb,
        "Expiring acceptances",
        EXPIRING_COLS,
        (
            [
                x["deployment"],
                x["deployment_name"],
                x["assessment"],
                *acceptance_row(x),
                x["window"],
            ]
            for x in report["expiring"]["every"]
        ),
    )


# --------------------------------------------------------------------------------------------
# Evidence report: one framework, control by control, for the auditor

EV_CONTROL_COLS = (
    Col("Deployment", 24),
    Col("Control", 22),
    Col("Title", 30, wrap=True),
    Col("Statement", 60, wrap=True),
    Col("Status", 14, palette=CONTROL),
    Col("How assessed", 13),
    Col("Results", 40, wrap=True),
    Col("Notes", 50, wrap=True),
    Col("Evidence items", 10),
    Col("Assessor", 28),
    Col("Assessed on", 12, DATE_FORMAT),
)
EV_RESULT_COLS = (
    Col("Deployment", 24),
    Col("Item", 22),
    Col("Kind", 9),
    Col("Title", 34, wrap=True),
    Col("Result", 13, palette=RESULT),
    Col("Notes", 60, wrap=True),
    Col("Evidence items", 10),
    Col("Supports controls", 40, wrap=True),
    Col("Assessor", 28),
    Col("Assessed on", 12, DATE_FORMAT),
    *TEST_COLS,
    Col("Risk acceptance", 60, wrap=True),
)
EV_MAPPING_COLS = (
    Col("Deployment", 24),
    Col("Control", 22),
    Col("Check", 12),
    Col("Relationship", 12),
    Col("Covers the control", 10),
    Col("Rationale", 70, wrap=True),
    Col("Result", 13, palette=RESULT),
)
EV_BY_CONTROL_COLS = (
    Col("Control", 22),
    Col("Title", 34, wrap=True),
    *(Col(label, 12) for label in STATUS_LABELS.values()),
    Col("Deployments", 12),
)
EV_GAP_COLS = (
    Col("Deployment", 24),
    Col("Owner", 28),
    Col("Control", 22),
    Col("Title", 30, wrap=True),
    Col("Statement", 60, wrap=True),
    Col("Status", 14, palette=CONTROL),
    Col("Open results", 40, wrap=True),
    Col("Notes", 50, wrap=True),
)


def result_summary(results: Iterable[Mapping[str, Any]]) -> str | None:
    return joined(
        f"{r['target']} {r['status_label']}"
        + (f" ({r['relationship']})" if r["relationship"] else " (direct)")
        for r in results
    )


def direct_result_notes(results: Iterable[Mapping[str, Any]]) -> str | None:
    return joined(r["notes"] for r in results if r["kind"] == "direct" and r["notes"])


def ev_control_rows(report: Mapping[str, Any]) -> Iterator[list[Any]]:
    for s in report["sections"]:
        a = s["assessment"]
        for c in s["controls"]:
            yield [
                s["deployment"]["key"],
                c["ref"],
                c["title"],
                c["text"],
                c["status_label"],
                c["assessed"],
                result_summary(c["results"]),
                direct_result_notes(c["results"]),
                sum(len(r["evidence"]) for r in c["results"]),
                a["assessor"],
                as_date(a["date"]),
            ]


def unique_results(section: Mapping[str, Any]) -> dict[str, tuple[dict[str, Any], list[str]]]:
    """Each result of a section once (a check supports many controls), with those controls."""
    out: dict[str, tuple[dict[str, Any], list[str]]] = {}
    for c in section["controls"]:
        for r in c["results"]:
            out.setdefault(r["target"], (r, []))[1].append(c["ref"])
    return out


def ev_result_rows(report: Mapping[str, Any]) -> Iterator[list[Any]]:
    for s in report["sections"]:
        a = s["assessment"]
        for target, (r, controls) in unique_results(s).items():
            yield [
                s["deployment"]["key"],
                target,
                r["kind"],
                r.get("title"),
                r["status_label"],
                r["notes"],
                len(r["evidence"]),
                joined(controls, ", "),
                a["assessor"],
                as_date(a["date"]),
                *test_row(r.get("test") if r["status"] else None),
                acceptance_text(r.get("acceptance")),
            ]


def acceptance_text(x: Mapping[str, Any] | None) -> str | None:
    if not x:
        return None
    return (
        f"{x['state']}: by {x['approved_by']}"
        + (f" ({x['approver_role']})" if x.get("approver_role") else "")
        + f", approved {x['approved_on']}, expires {x['expires']}; {x['justification']}"
        + f"; compensating controls: {x.get('compensating_controls') or 'none stated'}"
    )


def ev_mapping_rows(report: Mapping[str, Any]) -> Iterator[list[Any]]:
    for s in report["sections"]:
        for c in s["controls"]:
            for r in c["results"]:
                if r["kind"] != "check":
                    continue
                yield [
                    s["deployment"]["key"],
                    c["ref"],
                    r["target"],
                    r["relationship"],
                    bool(r.get("covering")),
                    r.get("rationale"),
                    r["status_label"],
                ]


def ev_by_control_rows(report: Mapping[str, Any]) -> Iterator[list[Any]]:
    for c in report.get("by_control", []):
        counts = {k: 0 for k in STATUS_LABELS}
        for d in c["deployments"]:
            counts[d["status"]] += 1
        yield [c["ref"], c["title"] or c["text"], *counts.values(), len(c["deployments"])]


def ev_evidence_rows(report: Mapping[str, Any]) -> Iterator[list[Any]]:
    for s in report["sections"]:
        for target, (r, _controls) in unique_results(s).items():
            for e in r["evidence"]:
                yield [s["deployment"]["key"], *evidence_row(target, r["status_label"], e)]


def ev_gap_rows(report: Mapping[str, Any]) -> Iterator[list[Any]]:
    for s in report["sections"]:
        for c in s["controls"]:
            if c["status"] not in GAP_STATUSES:
                continue
            open_results = [r for r in c["results"] if r["status"] != "pass"]
            yield [
                s["deployment"]["key"],
                s["deployment"]["owner"],
                c["ref"],
                c["title"],
                c["text"],
                c["status_label"],
                result_summary(open_results),
                direct_result_notes(c["results"]),
            ]


def evidence_summary(wb: Any, report: Mapping[str, Any]) -> None:
    fw = report["framework"]
    sheet = SummarySheet(wb, report["title"], subtitle(report))
    sections = report["sections"]
    pairs = sum(len(s["controls"]) for s in sections)
    open_counts = {k: 0 for k in GAP_STATUSES}
    for s in sections:
        for c in s["controls"]:
            if c["status"] in open_counts:
                open_counts[c["status"]] += 1
    open_pairs = [(STATUS_LABELS[k], n) for k, n in open_counts.items()]
    sheet.facts(
        [
            ("Framework", fw["name"]),
            ("Catalog", f"{fw['id']} {fw['version']}"),
            ("Catalog SHA-256", fw["sha256"]),
            ("Publisher", fw.get("publisher")),
            ("Licence", fw.get("license")),
            ("Source", fw.get("url")),
            ("As of", as_date(report["as_of"])),
            ("Deployments", len(sections)),
            ("Controls per deployment", len(sections[0]["controls"]) if sections else 0),
            ("Control × deployment pairs", pairs),
            *((f"Pairs {label.lower()}", n) for label, n in open_pairs),
            (
                "Gaps sheet",
                f"{sum(n for _l, n in open_pairs)} rows: every pair gap, partial or not assessed",
            ),
            ("Draft assessments", len(report.get("drafts", []))),
        ],
        {},
    )
    charts = sheet.chart_area()
    totals = [0] * len(STATUS_LABELS)
    for s in sections:
        totals = [t + n for t, n in zip(totals, status_counts(s["counts"]), strict=True)]
    table = sheet.table(
        "Control status, all deployments (control × deployment pairs)",
        (Col("Status"), Col("Pairs")),
        [[label, n] for label, n in zip(STATUS_LABELS.values(), totals, strict=True)],
    )
    colours = [chart_colour(CONTROL, label) for label in STATUS_LABELS.values()]
    chart = bar_chart(sheet.ws, "Control status", table, (2, 2), colours, "Controls")
    sheet.chart(chart, charts)
    cols = (
        Col("Deployment"),
        Col("Assessment"),
        Col("Assessed on", number_format=DATE_FORMAT),
        Col("Score", number_format=PERCENT),
        *COUNT_COLS,
        Col("Assessor", wrap=True),
    )
    rows = (
        [
            s["deployment"]["key"],
            s["assessment"]["key"],
            as_date(s["assessment"]["date"]),
            s["score"],
            *status_counts(s["counts"]),
            s["assessment"]["assessor"],
        ]
        for s in sections
    )
    sheet.table("Deployments", cols, rows)


def evidence_workbook(wb: Any, report: Mapping[str, Any]) -> None:
    evidence_summary(wb, report)
    write_table(wb, report["framework"]["id"], EV_CONTROL_COLS, ev_control_rows(report), 2)
    write_table(wb, "Results", EV_RESULT_COLS, ev_result_rows(report), 2)
    write_table(
        wb, "Evidence", (Col("Deployment", 24), *EVIDENCE_COLS), ev_evidence_rows(report), 2
    )
    write_table(wb, "Gaps", EV_GAP_COLS, ev_gap_rows(report), 3)
    write_table(wb, "By control", EV_BY_CONTROL_COLS, ev_by_control_rows(report), 1)
    write_table(wb, "Mappings", EV_MAPPING_COLS, ev_mapping_rows(report), 2)
    write_table(wb, "Not applicable", NA_COLS, na_rows(report.get("not_applicable", [])), 1)


# --------------------------------------------------------------------------------------------
# Plan: the GRC team's plan of action and milestones

PLAN_STATUS = Palette(
    (("overdue", RED), ("blocks approval", ORANGE), ("risk accepted", AMBER), ("open", GREY))
)
WINDOW = Palette(
    (
        ("overdue", RED),
        ("due within 30 days", ORANGE),
        ("due within 90 days", AMBER),
        ("later", GREEN),
        ("no period set", PALE),
    )
)
ACTION_COLS = (
    Col("Deployment", 24),
    Col("Name", 30, wrap=True),
    Col("Tier", 10, palette=TIER),
    Col("Assessment", 12),
    Col("Item", 16),
    Col("Title", 30, wrap=True),
    Col("Result", 13),
    Col("Gap", 60, wrap=True),
    Col("What to do", 60, wrap=True),
    Col("Owner", 28),
    Col("Due", 12, DATE_FORMAT),
    Col("Due basis", 40, wrap=True),
    Col("Days left", 10),
    Col("Effect", 22),
    Col("Status", 16, palette=PLAN_STATUS),
)
CALENDAR_COLS = (
    Col("Deployment", 24),
    Col("Name", 30, wrap=True),
    Col("Owner", 28),
    Col("Tier", 10, palette=TIER),
    Col("Decision", 14, palette=DECISION),
    Col("Assessment", 12),
    Col("Assessed on", 12, DATE_FORMAT),
    Col("State", 10),
    Col("Period (days)", 10),
    Col("Due", 12, DATE_FORMAT),
    Col("Days left", 10),
    Col("Window", 20, palette=WINDOW),
)
REQUEST_COLS = (
    Col("Owner", 28),
    Col("Deployment", 24),
    Col("Check", 12),
    Col("Title", 30, wrap=True),
    Col("Why", 12),
    Col("Detail", 60, wrap=True),
    Col("Evidence wanted", 60, wrap=True),
    Col("Needed by", 12, DATE_FORMAT),
)


def plan_workbook(wb: Any, report: Mapping[str, Any]) -> None:
    t = report["totals"]
    sheet = SummarySheet(wb, report["title"], subtitle(report))
    sheet.facts(
        [
            ("As of", as_date(report["as_of"])),
            ("Days counted from", as_date(report["counted_from"])),
            ("Deployments", t["deployments"]),
            ("Assessed as of the date", t["assessed"]),
            ("Plan items", t["actions"]),
            *((f"Plan items {s}", t[s.replace(" ", "_")]) for s in PLAN_STATUS.labels),
            ("Evidence requests", t["requests"]),
            ("Results not applicable", t["not_applicable"]),
            ("Policy", f"{report['policy']['id']} {report['policy']['version']}"),
            ("Policy SHA-256", report["policy"]["sha256"]),
            *(
                (f"Remediation period at {k} (days)", v)
                for k, v in report["remediation_days"].items()
            ),
        ],
        {},
    )
    write_table(
        wb,
        "Plan of action",
        ACTION_COLS,
        (
            [
                x["deployment"],
                x["name"],
                x["tier"],
                x["assessment"],
                x["item"],
                x["title"],
                x["result_label"],
                x["gap"],
                x["action"],
                x["owner"],
                as_date(x["due"]),
                x["due_basis"],
                x["days_left"],
                x["effect"],
                x["status"],
            ]
            for x in report["actions"]
        ),
        2,
    )
    write_table(
        wb,
        "Re-assessment calendar",
        CALENDAR_COLS,
        (
            [
                x["deployment"],
                x["name"],
                x["owner"],
                x["tier"],
                x["decision"],
                x["assessment"],
                as_date(x["date"]),
                x["state"],
                x["period_days"],
                as_date(x["due"]),
                x["days_left"],
                x["window"],
            ]
            for x in report["calendar"]
        ),
        2,
    )
    write_table(
        wb,
        "Evidence requests",
        REQUEST_COLS,
        (
            [
                o["owner"],
                x["deployment"],
                x["check"],
                x["title"],
                x["why"],
                x["detail"],
                x["evidence_wanted"],
                as_date(x["needed_by"]),
            ]
            for o in report["requests"]
            for x in o["items"]
        ),
        3,
    )
    write_table(wb, "Not applicable", NA_COLS, na_rows(report["not_applicable"]), 1)


# --------------------------------------------------------------------------------------------
# Saving

KINDS: dict[str, Callable[[Any, Mapping[str, Any]], None]] = {
    "gap": gap_workbook,
    "summary": summary_workbook,
    "evidence": evidence_workbook,
    "plan": plan_workbook,
}


class StableZip(zipfile.ZipFile):
    """A zip archive whose entries all carry one fixed timestamp, so equal content gives equal
    bytes; files are copied in as streams, never read whole into memory."""

    def __init__(self, path: Path | BinaryIO, stamp: datetime) -> None:
        super().__init__(path, "w", zipfile.ZIP_DEFLATED, allowZip64=True)
        self.stamp = (max(stamp.year, 1980), stamp.month, stamp.day, 0, 0, 0)

    def entry(self, name: str) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(name, self.stamp)
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o600 << 16
        return info

    def writestr(  # type: ignore[override]
        self, zinfo_or_arcname: str | zipfile.ZipInfo, data: bytes | str, *args: Any, **kw: Any
    ) -> None:
        if isinstance(zinfo_or_arcname, str):
            zinfo_or_arcname = self.entry(zinfo_or_arcname)
        super().writestr(zinfo_or_arcname, data, *args, **kw)

    def write(  # type: ignore[override]
        self, filename: str | os.PathLike[str], arcname: str | None = None, *args: Any, **kw: Any
    ) -> None:
        info = self.entry(arcname or os.path.basename(filename))
        big = os.path.getsize(filename) > zipfile.ZIP64_LIMIT
        with open(filename, "rb") as src, self.open(info, "w", force_zip64=big) as dst:
            shutil.copyfileobj(src, dst)


def write_workbook(report: dict[str, Any], target: Path | BinaryIO) -> None:
    """Write the Excel workbook of a view model from `reports.model` to `target`, a file
    opened for writing or a path (written through `outfile.replacing`: whole or not at all)."""
    kind = report.get("kind")
    if kind not in KINDS:
        raise ValueError(f"no Excel layout for a report of kind {kind!r}")
    if openpyxl.LXML:
        raise ComplianceError(
            "openpyxl was loaded with lxml before this package (see compliance/__init__.py): "
            "its workbooks would not be reproducible; set OPENPYXL_LXML=False before importing it"
        )
    wb = Workbook(write_only=True)
    stamp = datetime.combine(date.fromisoformat(report["as_of"]), datetime.min.time())
    wb.properties.creator = "compliance"
    wb.properties.lastModifiedBy = "compliance"
    wb.properties.title = clean_text(report["title"])
    wb.properties.created = wb.properties.modified = stamp  # naive, read as UTC
    KINDS[kind](wb, report)
    if isinstance(target, str | os.PathLike):
        with outfile.replacing(Path(target)) as fh:
            _save(wb, fh, stamp)
    else:
        _save(wb, target, stamp)


def _save(wb: Workbook, target: BinaryIO, stamp: datetime) -> None:
    # ExcelWriter rather than Workbook.save, which would stamp the current time.
    with StableZip(target, stamp) as archive:
        ExcelWriter(wb, archive).write_data()
