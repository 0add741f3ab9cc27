"""Excel workbooks of the three reports: layout, values, safety and reproducibility.

The golden file pins the Gaps, Results and Evidence sheets of the payments-recon-agent gap report.
After a reviewed change to the report, regenerate it with
`COMPLIANCE_UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_report_xlsx.py -k golden` and review the diff.
"""

from __future__ import annotations

import json
import os
from copy import copy
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import Engine

from compliance.reports import model, xlsx
from compliance.store import catalog_store, db
from tests import factories

AS_OF_DAY = date(2026, 11, 30)  # the date the examples are decided at (as `make demo`)

EXAMPLES = Path(__file__).parent.parent / "examples"
GOLDEN = Path(__file__).parent / "data" / "golden" / "xlsx-gap-payments-recon-agent.json"
DEP = "payments-recon-agent"
CSF = "nist-csf-2.0"
FRAMEWORKS = ["csa-maestro", "nist-ai-rmf-1.0", CSF, "owasp-asi-2026"]
CONTROL_STATUSES = "Met,Partial,Gap,Not assessed,Not applicable,Unmapped"
RESULT_STATUSES = "Pass,Partial,Fail,Not applicable,No result"

# Text a spreadsheet could take for a formula. A cell must hold it as it is, except that CR and
# CRLF become LF (XML reads a bare CR as LF anyway). The importer strips surrounding whitespace,
# so the ones led by whitespace only reach the writer directly.
IMPORTABLE = [
    "=cmd|' /C calc'!A0",
    '=HYPERLINK("https://evil.example/x","click me")',
    "+1+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "=1+1\r\n=2+2\r=cmd|' /C calc'!A0",
]
PAYLOADS = [*IMPORTABLE, "\t=1+1", "\r=1+1", "\r\n=2+2", " =3+3", "\n@SUM(A1)"]


def stored(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


# ------------------------------------------------------------------------------------------
# Helpers


def build(engine: Engine, deployment: str = DEP, evidence_for: str | None = DEP) -> dict[str, Any]:
    with db.transaction(engine) as s:
        pol = catalog_store.current_policy(s)
        return dict(
            gap=model.gap_report(s, deployment, None, AS_OF_DAY, pol),
            summary=model.summary_report(s, AS_OF_DAY, pol),
            evidence=model.evidence_report(s, CSF, evidence_for, AS_OF_DAY),
        )


@pytest.fixture
def reports(run, engine: Engine) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    result = run("import", str(EXAMPLES))
    assert result.exit_code == 0, result.output
    return build(engine)


def render(report: dict[str, Any], tmp_path: Path, name: str | None = None) -> Any:
    path = tmp_path / (name or f"{report['kind']}.xlsx")
    xlsx.write_workbook(report, path)
    return load_workbook(path)


def plain(value: Any) -> Any:
    """A cell value as JSON can hold it: dates (read back as datetimes) as ISO dates."""
    if isinstance(value, datetime | date):
        return value.strftime("%Y-%m-%d")
    return value


def rows(ws: Any) -> list[list[Any]]:
    return [[plain(v) for v in row] for row in ws.iter_rows(values_only=True)]


def table(ws: Any) -> list[dict[str, Any]]:
    header, *body = rows(ws)
    return [dict(zip(header, r, strict=True)) for r in body]


def facts(ws: Any) -> dict[str, Any]:
    """The label/value pairs at the top of a Summary sheet."""
    out: dict[str, Any] = {}
    for row in ws.iter_rows(min_row=4, max_col=2, values_only=True):
        if row[0] is None:
            break
        out[row[0]] = plain(row[1])
    return out


def validations(ws: Any) -> dict[str, str]:
    """Column letter of each validated range -> its list of allowed values."""
    out = {}
    for dv in ws.data_validations.dataValidation:
        assert dv.type == "list"
        for rng in dv.sqref.ranges:
            out[rng.coord.split(":")[0].rstrip("0123456789")] = dv.formula1.strip('"')
    return out


def colour_rules(ws: Any) -> dict[str, set[str]]:
    """Column letter -> the values its conditional formatting colours."""
    out: dict[str, set[str]] = {}
    for rng in ws.conditional_formatting:
        letter = str(rng.sqref).split(":")[0].rstrip("0123456789")
        for rule in rng.rules:
            if rule.type == "colorScale":
                out.setdefault(letter, set()).add("<colour scale>")
                continue
            assert rule.type == "cellIs" and rule.operator == "equal" and rule.dxf.fill
            out.setdefault(letter, set()).update(f.strip('"') for f in rule.formula)
    return out


def column_letter(ws: Any, header: str) -> str:
    for c in next(ws.iter_rows(max_row=1)):
        if c.value == header:
            return str(c.column_letter)
    raise AssertionError(f"no column {header!r} on {ws.title}")


def assert_table_sheet(ws: Any, status_headers: dict[str, str]) -> None:
    """Frozen header, a filter over the whole table, colours and a drop-down on each status."""
    assert ws.freeze_panes is not None and ws.freeze_panes.endswith("2")
    assert ws.auto_filter.ref == f"A1:{ws.cell(1, ws.max_column).column_letter}{ws.max_row}"
    dvs, cfs = validations(ws), colour_rules(ws)
    for header, allowed in status_headers.items():
        letter = column_letter(ws, header)
        assert dvs[letter] == allowed, (ws.title, header)
        assert cfs[letter] == set(allowed.split(",")), (ws.title, header)
    for c in next(ws.iter_rows(max_row=1)):
        assert ws.column_dimensions[c.column_letter].width >= 8


def formula_cells(wb: Any) -> list[str]:
    return [
        f"{ws.title}!{c.coordinate}"
        for ws in wb.worksheets
        for row in ws.iter_rows()
        for c in row
        if c.data_type == "f"
    ]


def all_values(wb: Any) -> dict[str, list[list[Any]]]:
    return {ws.title: rows(ws) for ws in wb.worksheets}


# ------------------------------------------------------------------------------------------
# Gap report


def test_gap_workbook_layout(reports, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    wb = render(reports["gap"], tmp_path)
    assert wb.sheetnames == [
        "Summary",
        "Gaps",
        *FRAMEWORKS,
        "Results",
        "Evidence",
        "Acceptances",
        "Not applicable",
    ]
    headers = {ws.title: rows(ws)[0] for ws in wb.worksheets[1:]}
    assert headers["Gaps"] == [
        "Item",
        "Title",
        "Result",
        "Gap",
        "Owner",
        "Remediation",
        "Due",
        "Plan status",
        "Effect",
        "Decision reason",
        "Controls left open",
    ]
    for fw in FRAMEWORKS:
        assert headers[fw] == [
            "Control",
            "Kind",
            "Title",
            "Statement",
            "Status",
            "How assessed",
            "Contributing checks",
            "Notes",
        ]
        assert_table_sheet(wb[fw], {"Status": CONTROL_STATUSES})
    assert headers["Results"][:4] == ["Item", "Kind", "Title", "Result"]
    assert headers["Evidence"][:6] == [
        "Supports",
        "Result",
        "Evidence",
        "Description",
        "Kind",
        "SHA-256",
    ]
    assert headers["Acceptances"] == [
        "Check",
        "Approved by",
        "Justification",
        "Expires",
        "Days left",
        "State",
        "Check result",
        "Approved on",
        "Approved on stated",
        "Approver role",
        "Compensating controls",
        "Days counted from",
    ]
    assert headers["Results"][9:12] == ["Method", "Tested by", "Tested on"]
    assert_table_sheet(
        wb["Gaps"],
        {
            "Result": RESULT_STATUSES,
            "Plan status": "before approval,risk accepted,open,in progress,done",
        },
    )
    assert_table_sheet(wb["Results"], {"Result": RESULT_STATUSES})
    assert_table_sheet(wb["Evidence"], {"Result": RESULT_STATUSES})
    assert_table_sheet(
        wb["Acceptances"], {"State": "active,expired", "Check result": RESULT_STATUSES}
    )
    assert formula_cells(wb) == []


def test_gap_workbook_lists_every_control(reports, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    wb = render(reports["gap"], tmp_path)
    csf = table(wb[CSF])
    assert len(csf) == 106
    fw = next(f for f in reports["gap"]["frameworks"] if f["id"] == CSF)
    assert [r["Control"] for r in csf] == [c["ref"] for c in fw["controls"]]
    by_ref = {r["Control"]: r for r in csf}
    assert by_ref["PR.AA-05"]["Status"] == "Partial"
    assert by_ref["PR.AA-05"]["How assessed"] == "directly"
    assert by_ref["PR.AA-05"]["Notes"].startswith("Permissions defined and reviewed")
    assert by_ref["GV.OC-01"]["How assessed"] == "no mapping"
    assert by_ref["GV.OC-03"]["How assessed"] == "rolled up"
    assert "GOV-02 Pass (intersects)" in by_ref["GV.OC-03"]["Contributing checks"].split("\n")
    for other in FRAMEWORKS:
        fw = next(f for f in reports["gap"]["frameworks"] if f["id"] == other)
        assert len(table(wb[other])) == fw["total"] == len(fw["controls"])


def test_gap_workbook_summary(reports, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ws = render(reports["gap"], tmp_path)["Summary"]
    assert ws["A1"].value == "Gap report: Payments reconciliation agent"
    f = facts(ws)
    assert f["Deployment"] == "Payments reconciliation agent (payments-recon-agent)"
    assert f["Owner"] == "finance-platform@example.com"
    assert f["Risk tier"] == "critical"
    assert f["Decision"] == "BLOCK"
    assert (f["As of"], f["Assessed on"]) == ("2026-11-30", "2026-11-20")
    assert f["Assessor"] == "a.auditor@example.com"
    assert (f["Blockers"], f["Conditions"]) == (1, 2)
    assert f["Safety score: example-safety-suite 3.1"] == "0.97 (meets the 0.90 minimum)"
    values = [v for row in ws.iter_rows(values_only=True) for v in row]
    for c in reports["gap"]["catalogs"]:
        assert c["sha256"] in values
    assert len(ws._charts) >= 1
    chart = ws._charts[0]
    assert chart.grouping == "stacked"
    assert all(s.tx.strRef.f.startswith("'Summary'!") for s in chart.series)
    assert len(chart.series) == 6  # one per control status


def test_gap_workbook_plan_of_action(reports, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    plan = table(render(reports["gap"], tmp_path)["Gaps"])
    assert [r["Item"] for r in plan] == ["IDN-02", "REV-02", "nist-csf-2.0/PR.AA-05"]
    idn, rev, direct = plan
    # The result's own remediation owner and due date (2026-Q4.yaml).
    assert (idn["Result"], idn["Plan status"], idn["Due"]) == (
        "Fail",
        "before approval",
        "2027-02-15",
    )
    assert idn["Effect"] == "Blocks the decision"
    assert idn["Owner"] == "s.haddou@example.com"
    assert idn["Remediation"].startswith("Replace static API keys")
    assert (rev["Result"], rev["Plan status"], rev["Due"]) == (
        "Partial",
        "risk accepted",
        "2027-01-31",
    )
    assert (direct["Result"], direct["Plan status"]) == ("Partial", "open")


def test_gap_workbook_matches_golden(reports, backend: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    wb = render(reports["gap"], tmp_path)
    got = {name: rows(wb[name]) for name in ("Gaps", "Results", "Evidence")}
    # A collection date is the one the file states, or "not stated": none depends on the import.
    collected = got["Evidence"][0].index("Collected")
    for row in got["Evidence"][1:]:
        assert row[collected] == "not stated" or date.fromisoformat(row[collected])
    if os.environ.get("COMPLIANCE_UPDATE_GOLDEN") == "1" and backend == "sqlite":
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(json.dumps(got, indent=1, ensure_ascii=False) + "\n")
    assert got == json.loads(GOLDEN.read_text())


# ------------------------------------------------------------------------------------------
# Portfolio summary


def test_summary_workbook(reports, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    wb = render(reports["summary"], tmp_path)
    assert wb.sheetnames == [
        "Summary",
        "Deployments",
        *FRAMEWORKS,
        "Trend by quarter",
        "Risks",
        "Expiring acceptances",
    ]
    f = facts(wb["Summary"])
    assert (f["Deployments"], f["Blocked"], f["Conditional"], f["Approved"]) == (8, 4, 2, 2)
    assert f["As of"] == "2026-11-30"
    assert len(wb["Summary"]._charts) == 2
    assert wb["Summary"]._charts[0].title is not None

    deployments = table(wb["Deployments"])
    assert [d["Deployment"] for d in deployments] == [
        d["deployment"] for d in reports["summary"]["deployments"]
    ]
    pay = next(d for d in deployments if d["Deployment"] == DEP)
    assert pay["Tier"] == "critical"
    assert pay["Decision"] == "BLOCK"
    assert pay["Previous decision"] == "CONDITIONAL"
    assert pay["Previous assessment"] == "2026-Q3"
    assert pay["Trend"] == "worse"
    assert (pay["Blockers"], pay["Conditions"]) == (1, 2)
    assert pay["Condition details"].startswith("AUD-01: evidence stale")
    # Excel refuses a table whose header names a column twice.
    for ws in wb.worksheets[1:]:
        names = [h for h in rows(ws)[0] if h is not None]
        assert len(set(names)) == len(names), ws.title
    assert pay["Score"] == pytest.approx(reports["summary"]["deployments"][0]["score"])
    assert wb["Deployments"]["J2"].number_format == "0%"
    first = next(d for d in deployments if d["Deployment"] == "claims-intake-agent")
    assert first["Trend"] == "first assessment"
    assert_table_sheet(
        wb["Deployments"],
        {"Tier": "critical,high,medium,low", "Decision": "BLOCK,CONDITIONAL,APPROVE"},
    )

    csf = rows(wb[CSF])
    assert csf[0] == [
        "Deployment",
        "Name",
        "Tier",
        "Decision",
        "GOVERN (GV)",
        "IDENTIFY (ID)",
        "PROTECT (PR)",
        "DETECT (DE)",
        "RESPOND (RS)",
        "RECOVER (RC)",
    ]
    assert len(csf) - 1 == len(reports["summary"]["heatmap"]["rows"])
    assert csf[1][0] == DEP
    assert_table_sheet(wb[CSF], {"Decision": "BLOCK,CONDITIONAL,APPROVE"})
    scales = colour_rules(wb[CSF])
    assert all(scales[letter] == {"<colour scale>"} for letter in "EFGHIJ")
    assert wb[CSF]["E2"].number_format == "0%"

    expiring = table(wb["Expiring acceptances"])
    first_due = expiring[0]
    assert (first_due["Deployment"], first_due["Check"], first_due["Days left"]) == (
        "support-chat-agent",
        "REV-02",
        15,  # expires 2026-12-15, counted from the as-of date 2026-11-30
    )
    assert formula_cells(wb) == []


# ------------------------------------------------------------------------------------------
# Auditor's evidence report


def test_evidence_workbook_one_deployment(reports, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    wb = render(reports["evidence"], tmp_path)
    assert wb.sheetnames == [
        "Summary",
        CSF,
        "Results",
        "Evidence",
        "Gaps",
        "By control",
        "Mappings",
        "Not applicable",
    ]
    controls = table(wb[CSF])
    assert len(controls) == 106
    assert {c["Deployment"] for c in controls} == {DEP}
    pr = next(c for c in controls if c["Control"] == "PR.AA-05")
    assert (pr["Status"], pr["How assessed"]) == ("Partial", "directly")
    assert pr["Assessor"] == "a.auditor@example.com" and pr["Assessed on"] == "2026-11-20"
    assert pr["Evidence items"] >= 1
    assert_table_sheet(wb[CSF], {"Status": CONTROL_STATUSES})

    results = {r["Item"]: r for r in table(wb["Results"])}
    assert results["nist-csf-2.0/PR.AA-05"]["Kind"] == "direct"
    assert results["IDN-02"]["Result"] == "Fail"
    assert "PR.AA-05" in results["IDN-02"]["Supports controls"].split(", ")
    assert_table_sheet(wb["Results"], {"Result": RESULT_STATUSES})

    evidence = table(wb["Evidence"])
    iam = [e for e in evidence if e["Evidence"] == "evidence/iam-policy-export.json"]
    assert {e["Supports"] for e in iam} >= {"IDN-02", "nist-csf-2.0/PR.AA-05"}
    assert all(len(e["SHA-256"]) == 64 and e["Size (bytes)"] > 0 for e in iam)
    assert_table_sheet(wb["Evidence"], {"Result": RESULT_STATUSES})

    gaps = table(wb["Gaps"])
    assert {g["Status"] for g in gaps} <= {"Gap", "Partial", "Not assessed"}
    assert_table_sheet(wb["Gaps"], {"Status": CONTROL_STATUSES})

    summary = wb["Summary"]
    f = facts(summary)
    assert f["Catalog SHA-256"] == reports["evidence"]["framework"]["sha256"]
    assert f["Controls per deployment"] == 106
    assert len(summary._charts) == 1
    assert formula_cells(wb) == []


def test_evidence_workbook_whole_portfolio(run, engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert run("import", str(EXAMPLES)).exit_code == 0
    report = build(engine, evidence_for=None)["evidence"]
    wb = render(report, tmp_path)
    controls = table(wb[CSF])
    assert len(controls) == 8 * 106
    assert [c["Deployment"] for c in controls[::106]] == [
        s["deployment"]["key"] for s in report["sections"]
    ]


# ------------------------------------------------------------------------------------------
# Safety


def injection_doc() -> dict[str, Any]:
    results = factories.results(factories.LOW_REQUIRED)
    for r, payload in zip(results[: len(IMPORTABLE)], IMPORTABLE, strict=True):
        r["notes"] = payload
    for r in results[len(IMPORTABLE) :]:
        del r["notes"]  # every note in the workbook is a payload
    results[0]["evidence"] = [{"url": "https://wiki.example.com/x", "description": IMPORTABLE[0]}]
    results.append({"check": "IDN-01", "status": "fail", "notes": IMPORTABLE[1]})
    results.append({"control": f"{CSF}/PR.AA-05", "status": "partial", "notes": IMPORTABLE[5]})
    doc = factories.assessment_doc(
        deployment_overrides={"name": IMPORTABLE[1], "owner": IMPORTABLE[4]},
        results_list=results,
    )
    doc["assessment"]["acceptances"] = [
        {
            "check": "TOOL-01",
            "approved_by": IMPORTABLE[2],
            "justification": IMPORTABLE[3],
            "expires": "2027-01-31",
        }
    ]
    return doc


def test_formula_like_text_stays_literal(run, engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = factories.write(tmp_path / "a", injection_doc())
    assert run("import", str(path)).exit_code == 0
    reports = build(engine, "test-agent", "test-agent")
    # The payloads reach the view model intact, so the test exercises them.
    notes = {c["id"]: c["notes"] for c in reports["gap"]["checks"]}
    assert [notes[c] for c in factories.LOW_REQUIRED[: len(IMPORTABLE)]] == IMPORTABLE

    books = {kind: render(r, tmp_path) for kind, r in reports.items()}
    for kind, wb in books.items():
        assert formula_cells(wb) == [], kind

    res_ws = books["gap"]["Results"]
    notes_col = rows(res_ws)[0].index("Notes")
    results = {r[0]: r for r in rows(res_ws)}
    for check, payload in zip(factories.LOW_REQUIRED[: len(IMPORTABLE)], IMPORTABLE, strict=True):
        assert results[check][notes_col] == stored(payload)
    assert results["IDN-01"][notes_col] == IMPORTABLE[1]
    assert results[f"{CSF}/PR.AA-05"][notes_col] == stored(IMPORTABLE[5])
    for row in res_ws.iter_rows(min_row=2):
        c = row[notes_col]
        if c.value is not None:
            assert (c.data_type, c.quotePrefix) == ("s", True), c.value

    evidence = table(books["gap"]["Evidence"])
    assert evidence[0]["Description"] == IMPORTABLE[0]
    acceptance = table(books["gap"]["Acceptances"])[0]
    assert (acceptance["Approved by"], acceptance["Justification"]) == tuple(IMPORTABLE[2:4])
    assert table(books["gap"]["Gaps"])[0]["Owner"] == IMPORTABLE[4]
    assert facts(books["gap"]["Summary"])["Owner"] == IMPORTABLE[4]
    assert table(books["summary"]["Deployments"])[0]["Name"] == IMPORTABLE[1]
    assert table(books["summary"][CSF])[0]["Name"] == IMPORTABLE[1]
    ev_results = {r["Item"]: r for r in table(books["evidence"]["Results"])}
    assert ev_results[f"{CSF}/PR.AA-05"]["Notes"] == stored(IMPORTABLE[5])


@pytest.mark.parametrize("payload", PAYLOADS)
def test_text_cell_never_writes_a_formula(payload: str, tmp_path: Path) -> None:
    wb = Workbook(write_only=True)
    xlsx.write_table(wb, "T", [xlsx.Col("Text")], [[payload]])
    wb.save(tmp_path / "t.xlsx")
    c = load_workbook(tmp_path / "t.xlsx")["T"]["A2"]
    assert (c.value, c.data_type, c.quotePrefix) == (stored(payload), "s", True)


def test_text_cell_keeps_what_a_cell_cannot_hold_out(tmp_path: Path) -> None:
    wb = Workbook(write_only=True)
    long = "x" * 40_000
    xlsx.write_table(wb, "T", [xlsx.Col("Text")], [["bell\x07 nul\x00 ok"], [long], ["plain"]])
    wb.save(tmp_path / "t.xlsx")
    ws = load_workbook(tmp_path / "t.xlsx")["T"]
    assert ws["A2"].value == "bell\ufffd nul\ufffd ok"
    assert len(ws["A3"].value) == 32_767 and ws["A3"].value.endswith("[truncated]")
    assert (ws["A4"].value, ws["A4"].quotePrefix) == ("plain", False)


def test_table_rows_look_as_cells_made_one_by_one(tmp_path: Path) -> None:
    """write_table reuses one cell per column and kind of value and streams rows past
    ws.append: every cell must still read back as one made by `cell` and appended would."""
    cols = [
        xlsx.Col("Text", 12, wrap=True),
        xlsx.Col("Score", 9, xlsx.PERCENT),
        xlsx.Col("When", 12),
        xlsx.Col("Flag", 8),
        xlsx.Col("Decision", 14, palette=xlsx.DECISION),
    ]
    body: list[list[Any]] = [
        ["plain", 0.5, date(2026, 1, 2), True, "BLOCK"],
        ["=1+1", 1, None, False, "APPROVE"],
        ["long text " * 20, None, datetime(2026, 3, 4, 5, 6), True, None],
        [None, 0.25, date(2026, 5, 6), None, "-x"],
        ["a\r\nb\x07", 2.5, date(2026, 7, 8), False, "CONDITIONAL"],
        ["plain again", 0.75, datetime(2026, 9, 10), True, "BLOCK"],
    ]
    wb = Workbook(write_only=True)
    xlsx.write_table(wb, "T", cols, body)
    wb.save(tmp_path / "streamed.xlsx")
    ref = Workbook(write_only=True)
    ws = ref.create_sheet("T")
    ws.append(xlsx.header_row(ws, cols))
    for row in body:
        ws.append([xlsx.cell(ws, v, c) for v, c in zip(row, cols, strict=True)])
    ref.save(tmp_path / "appended.xlsx")

    def looks(path: Path) -> list[list[tuple[Any, ...]]]:
        sheet = load_workbook(path)["T"]
        # copy(): the style proxies openpyxl hands out only compare equal to what they wrap.
        return [
            [
                (c.value, c.data_type, c.number_format, c.quotePrefix, *map(copy, styles(c)))
                for c in row
            ]
            for row in sheet.iter_rows()
        ]

    def styles(c: Any) -> tuple[Any, ...]:
        return (c.font, c.fill, c.alignment, c.border)

    assert looks(tmp_path / "streamed.xlsx") == looks(tmp_path / "appended.xlsx")
    heights = load_workbook(tmp_path / "streamed.xlsx")["T"].row_dimensions
    assert heights[4].height == 15.0 * xlsx.wrapped_lines(body[2][0], 12)
    assert heights[6].height == 30.0 and heights[2].height is None


def test_sheet_names_are_valid_and_unique() -> None:
    wb = Workbook(write_only=True)
    names = []
    for wanted in ["Summary", "summary", "a/b:c*d?[e]", "x" * 40, "x" * 40, "History", "'q'"]:
        names.append(xlsx.sheet_name(wb, wanted))
        wb.create_sheet(names[-1])
    assert names == [
        "Summary",
        "summary (2)",
        "a-b-c-d--e-",
        "x" * 31,
        "x" * 27 + " (2)",
        "History (sheet)",
        "q",
    ]


def test_long_tables_continue_on_a_new_sheet(monkeypatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(xlsx, "EXCEL_MAX_ROWS", 4)  # a header and three rows a sheet
    wb = Workbook(write_only=True)
    n = xlsx.write_table(wb, "T", [xlsx.Col("N")], ([i] for i in range(7)))
    wb.save(tmp_path / "t.xlsx")
    back = load_workbook(tmp_path / "t.xlsx")
    assert n == 7
    assert back.sheetnames == ["T", "T (2)", "T (3)"]
    assert [rows(ws) for ws in back.worksheets] == [
        [["N"], [0], [1], [2]],
        [["N"], [3], [4], [5]],
        [["N"], [6]],
    ]
    assert all(ws.freeze_panes == "B2" for ws in back.worksheets)


# ------------------------------------------------------------------------------------------
# Reproducibility


def test_same_model_same_workbook(reports, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    for kind, report in reports.items():
        first = tmp_path / f"{kind}-1.xlsx"
        second = tmp_path / f"{kind}-2.xlsx"
        xlsx.write_workbook(report, first)
        xlsx.write_workbook(report, second)
        a, b = load_workbook(first), load_workbook(second)
        assert all_values(a) == all_values(b), kind
        midnight = datetime.fromisoformat(report["as_of"])
        assert (a.properties.creator, a.properties.created, a.properties.modified) == (
            "compliance",
            midnight,
            midnight,
        )
        # Fixed zip timestamps too: the same model gives the same bytes.
        assert first.read_bytes() == second.read_bytes(), kind
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_unknown_kind_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no Excel layout"):
        xlsx.write_workbook(
            {"kind": "pie", "as_of": "2026-01-01", "title": "x"}, tmp_path / "x.xlsx"
        )
    assert not list(tmp_path.iterdir())


def test_blockers_outside_the_checks_lead_the_plan(run, engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert run("import", str(EXAMPLES)).exit_code == 0
    report = build(engine, "meeting-notes-agent", None)["gap"]
    plan = table(render(report, tmp_path)["Gaps"])
    first = plan[0]
    assert first["Item"] == "Profile"  # a blocker outside the checks, named by what it is
    assert (first["Plan status"], first["Effect"]) == ("before approval", "Blocks the decision")
    assert "logged is not defined" in first["Gap"]
    assert [p["Item"] for p in plan[1:]] == ["AUD-01"]
    # AUD-01 was recorded as not applicable, which the policy never allows: no result, a blocker.
    assert plan[1]["Plan status"] == "before approval"
