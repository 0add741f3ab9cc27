"""Writing the questionnaire workbook, blank or prefilled from an assessment."""

from __future__ import annotations

import io
from datetime import date
from typing import Any

from compliance.catalogs import CheckEntry
from compliance.questionnaire import layout as L

_TEXT = "@"
_DATE = "yyyy-mm-dd"


def _procedure(check: CheckEntry) -> str:
    p = check.procedure
    if p is None:
        return ""
    lines = [f"Method: {', '.join(p.method)}"]
    lines += [f"{n}. {step}" for n, step in enumerate(p.steps, start=1)]
    lines += [
        f"Pass: {p.criteria.pass_}",
        f"Partial: {p.criteria.partial}",
        f"Fail: {p.criteria.fail}",
    ]
    if p.thresholds:
        lines.append(f"Thresholds (per tier, in the policy): {', '.join(p.thresholds)}")
    return "\n".join(lines)


def _get(value: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _profile_value(kind: str, value: Any, present: bool) -> Any:
    if kind == "tools":
        if not present or value is None:
            return None
        return "\n".join(f"{t['name']}: {t['access']}" for t in value) or L.NONE
    if kind in ("list", "lines", "authority"):
        if not present or value is None:
            return None
        return "\n".join(str(v) for v in value) or (None if kind == "authority" else L.NONE)
    if kind == "bool":
        return None if value is None else ("true" if value else "false")
    if kind == "date":
        return date.fromisoformat(value) if isinstance(value, str) else value
    return value


def _has(doc: dict[str, Any] | None, path: str) -> bool:
    value: Any = doc
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return False
        value = value[part]
    return True


def _cell_value(kind: str, value: Any) -> Any:
    if value is None:
        return None
    if kind == "date":
        return date.fromisoformat(value) if isinstance(value, str) else value
    if kind == "methods":
        return ", ".join(value) if isinstance(value, list) else value
    return value


def build(
    checks: list[CheckEntry],
    control_titles: dict[str, str],
    prefill: dict[str, Any] | None = None,
) -> bytes:
    """The workbook, as bytes. `prefill` is an assessment in the import format."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.worksheet.datavalidation import DataValidation

    wb = Workbook()
    bold = Font(bold=True)
    head_fill = PatternFill("solid", fgColor="DDE4EE")
    input_fill = PatternFill("solid", fgColor="FFF8DC")
    wrap = Alignment(wrap_text=True, vertical="top")

    def header(ws: Any, names: tuple[str, ...], widths: dict[str, int]) -> dict[str, int]:
        cols = {}
        for i, name in enumerate(names, start=1):
            cell = ws.cell(row=1, column=i, value=name)
            cell.font, cell.fill = bold, head_fill
            ws.column_dimensions[cell.column_letter].width = widths.get(name, 16)
            cols[name] = i
        ws.freeze_panes = "A2"
        return cols

    def put(ws: Any, row: int, col: int, value: Any, kind: str = "text", fill: bool = True) -> None:
        cell = ws.cell(row=row, column=col, value=value)
        cell.number_format = _DATE if kind == "date" else _TEXT
        cell.alignment = wrap
        if fill:
            cell.fill = input_fill

    about = wb.active
    about.title = L.ABOUT
    lists = wb.create_sheet(L.LISTS)
    choices = {
        "status": L.STATUSES,
        "method": L.METHOD_CHOICES,
        "bool": ("true", "false"),
        "credentials": ("standing", "short_lived", "per_task"),
        "autonomy": ("human_in_loop", "human_on_loop", "autonomous"),
        "memory": ("none", "session", "persistent"),
    }
    ranges = {}
    for col, (name, values) in enumerate(choices.items(), start=1):
        lists.cell(row=1, column=col, value=name)
        for row, v in enumerate(values, start=2):
            lists.cell(row=row, column=col, value=v)
        letter = lists.cell(row=1, column=col).column_letter
        ranges[name] = f"{L.LISTS}!${letter}$2:${letter}${len(values) + 1}"
    lists.sheet_state = "hidden"

    def dropdown(ws: Any, name: str, ref: str) -> None:
        dv = DataValidation(type="list", formula1=ranges[name], allow_blank=True)
        dv.error, dv.errorTitle = f"Choose a value from the list ({name}).", "Not in the list"
        ws.add_data_validation(dv)
        dv.add(ref)

    def date_rule(ws: Any, ref: str) -> None:
        dv = DataValidation(type="date", operator="greaterThan", formula1="1")
        dv.error = "A date, YYYY-MM-DD."
        ws.add_data_validation(dv)
        dv.add(ref)

    # Profile
    ws = wb.create_sheet(L.PROFILE)
    header(
        ws,
        ("Field", "Label", "Value", "What to enter"),
        {"Field": 36, "Label": 22, "Value": 48, "What to enter": 70},
    )
    for row, (path, label, kind, help_text) in enumerate(L.PROFILE_FIELDS, start=2):
        put(ws, row, 1, path, fill=False)
        put(ws, row, 2, label, fill=False)
        value = _profile_value(kind, _get(prefill, path), _has(prefill, path))
        put(ws, row, 3, value, kind)
        put(ws, row, 4, help_text, fill=False)
        if path == "deployment.customer_facing":
            dropdown(ws, "bool", f"C{row}")
        elif path.endswith(("credentials", "autonomy", "memory")):
            dropdown(ws, path.rsplit(".", 1)[1], f"C{row}")
        elif kind == "date":
            date_rule(ws, f"C{row}")

    # Safety scores
    ws = wb.create_sheet(L.SCORES)
    header(ws, L.SCORES_HEADER, {"Benchmark": 36})
    scores = _get(prefill, "deployment.model.safety_scores") or []
    for row, s in enumerate(scores, start=2):
        put(ws, row, 1, s["benchmark"])
        put(ws, row, 2, s["version"])
        cell = ws.cell(row=row, column=3, value=s["score"])
        cell.fill = input_fill
    dv = DataValidation(type="decimal", operator="between", formula1="0", formula2="1")
    dv.error = "A number from 0 to 1."
    ws.add_data_validation(dv)
    dv.add("C2:C200")

    results = list(_get(prefill, "assessment.results") or [])
    by_check = {r["check"]: r for r in results if r.get("check")}
    control_results = [r for r in results if r.get("control")]

    def result_cells(ws: Any, cols: dict[str, int], row: int, r: dict[str, Any] | None) -> None:
        for name, path, kind in L.RESULT_COLUMNS:
            put(ws, row, cols[name], _cell_value(kind, _get(r, path) if r else None), kind)

    # Results
    ws = wb.create_sheet(L.RESULTS)
    cols = header(
        ws,
        L.RESULTS_HEADER,
        {"Objective": 48, "Notes": 48, "Procedure": 90, "Title": 30, "Method": 22, "Status": 16},
    )
    for row, c in enumerate(checks, start=2):
        put(ws, row, cols["Check"], c.id, fill=False)
        put(ws, row, cols["Objective"], c.objective, fill=False)
        put(ws, row, cols["Title"], c.title, fill=False)
        put(ws, row, cols["Procedure"], _procedure(c), fill=False)
        result_cells(ws, cols, row, by_check.get(c.id))
    last = len(checks) + 1
    _rules(ws, cols, 2, last, dropdown, date_rule)

    # Control results
    ws = wb.create_sheet(L.CONTROLS)
    cols = header(ws, L.CONTROLS_HEADER, {"Control": 32, "Title": 40, "Notes": 48})
    for row, r in enumerate(control_results, start=2):
        put(ws, row, cols["Control"], r["control"])
        put(ws, row, cols["Title"], control_titles.get(r["control"], ""), fill=False)
        result_cells(ws, cols, row, r)
    _rules(ws, cols, 2, 500, dropdown, date_rule)

    # Evidence
    ws = wb.create_sheet(L.EVIDENCE)
    cols = header(
        ws,
        L.EVIDENCE_HEADER,
        {"Check or control": 24, "File": 40, "URL": 40, "Description": 40, "SHA-256": 66},
    )
    row = 2
    for r in results:
        for ev in r.get("evidence") or []:
            put(ws, row, 1, r.get("check") or r.get("control"))
            for name, path, kind in L.EVIDENCE_COLUMNS:
                put(ws, row, cols[name], _cell_value(kind, ev.get(path)), kind)
            row += 1
    date_rule(ws, "E2:E2000")

    # Acceptances
    ws = wb.create_sheet(L.ACCEPTANCES)
    cols = header(
        ws,
        L.ACCEPTANCES_HEADER,
        {"Justification": 48, "Compensating controls": 40, "Approved by": 28},
    )
    for row, acc in enumerate(_get(prefill, "assessment.acceptances") or [], start=2):
        for name, path, kind in L.ACCEPTANCE_COLUMNS:
            put(ws, row, cols[name], _cell_value(kind, acc.get(path)), kind)
    for name in ("Approved on", "Expires"):
        letter = ws.cell(row=1, column=cols[name]).column_letter
        date_rule(ws, f"{letter}2:{letter}500")

    # About
    about["A1"] = L.MARKER
    about["A1"].font = bold
    notes = [
        "Fill in the Profile, then a Status for each check you assessed on Results (leave the "
        "Status blank for a check without a result).",
        "Control results: results recorded directly on a framework control (FRAMEWORK/REF).",
        "Evidence: one row per item, naming its check or control; a File is relative to this "
        "workbook's folder; give a File or a URL.",
        "Acceptances: risk acceptances, within the policy's limits.",
        "Import it with `compliance import FILE.xlsx`: all or nothing, every problem named by "
        "sheet and cell. Formulas, external links and macros are refused: enter values.",
    ]
    for i, text in enumerate(notes, start=3):
        about.cell(row=i, column=1, value=text).alignment = wrap
    about.column_dimensions["A"].width = 110
    wb.move_sheet(L.LISTS, offset=len(wb.sheetnames))
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _rules(
    ws: Any, cols: dict[str, int], first: int, last: int, dropdown: Any, date_rule: Any
) -> None:
    def ref(name: str) -> str:
        letter = ws.cell(row=1, column=cols[name]).column_letter
        return f"{letter}{first}:{letter}{last}"

    dropdown(ws, "status", ref("Status"))
    dropdown(ws, "method", ref("Method"))
    date_rule(ws, ref("Tested on"))
    date_rule(ws, ref("Remediation due"))
