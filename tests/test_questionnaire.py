"""The questionnaire: the workbook out (blank or prefilled), filled in and imported back as the
same assessment as the equivalent YAML; CSV results with --profile; errors by sheet and cell."""

from __future__ import annotations

import copy
import io
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from openpyxl import load_workbook
from sqlalchemy import select

from compliance.catalogs import load_catalog_set
from compliance.questionnaire import layout as L
from compliance.store import db
from compliance.store.models import Assessment, Deployment, Evidence, Result
from tests import factories, workbooks
from tests.conftest import Cli, fresh_database
from tests.test_oscal import _gate, _rich_doc, _snapshot

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture
def second(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Any:
    folder = tmp_path / "second"
    folder.mkdir()
    yield from fresh_database(backend, folder, request)


def _fingerprint(url: str, deployment: str, assessment: str) -> str:
    engine = db.make_engine(url)
    try:
        with db.transaction(engine) as s:
            return str(
                s.execute(
                    select(Assessment.fingerprint)
                    .join(Deployment, Deployment.id == Assessment.deployment_id)
                    .where(Deployment.key == deployment, Assessment.key == assessment)
                ).scalar_one()
            )
    finally:
        engine.dispose()


def _unordered(snapshot: dict[str, Any]) -> dict[str, Any]:
    """A snapshot with each assessment's results in order of their check or control (a
    questionnaire lists them in the order of the checks file), positions left out."""
    out = copy.deepcopy(snapshot)
    for a in out["assessments"]:
        a["results"] = sorted(r[1:] for r in a["results"])
    return out


def test_blank_questionnaire_lists_every_check_with_drop_downs(run: Cli, tmp_path: Path) -> None:
    out = tmp_path / "q.xlsx"
    result = run("questionnaire", "-o", str(out))
    assert result.exit_code == 0, result.output
    wb = load_workbook(out)
    assert wb.sheetnames[:-1] == [
        L.ABOUT,
        L.PROFILE,
        L.SCORES,
        L.RESULTS,
        L.CONTROLS,
        L.EVIDENCE,
        L.ACCEPTANCES,
    ]
    assert wb[L.LISTS].sheet_state == "hidden"
    results = wb[L.RESULTS]
    header = [c.value for c in results[1]]
    assert header == list(L.RESULTS_HEADER)
    assert header[:3] == ["Check", "Objective", "Status"]
    for name in (
        "Notes",
        "Method",
        "Tested by",
        "Tested on",
        "Population",
        "Sample size",
        "Exceptions",
        "Remediation owner",
        "Remediation due",
    ):
        assert name in header
    cs = load_catalog_set()
    assert cs.checks is not None
    rows = list(results.iter_rows(min_row=2, values_only=True))
    assert [r[0] for r in rows] == [c.id for c in cs.checks.doc.checks]
    first = cs.checks.doc.checks[0]
    assert rows[0][1] == first.objective
    assert first.procedure is not None
    procedure = rows[0][header.index("Procedure")]
    assert procedure.startswith("Method: examine, interview") and first.procedure.steps[0] in (
        procedure
    )
    validations = {str(dv.sqref): dv.formula1 for dv in results.data_validations.dataValidation}
    assert validations["C2:C36"] == "Lists!$A$2:$A$5"
    assert validations["E2:E36"] == "Lists!$B$2:$B$8"
    lists = wb[L.LISTS]
    assert [lists.cell(row=r, column=1).value for r in range(2, 6)] == list(L.STATUSES)
    assert [lists.cell(row=r, column=2).value for r in range(2, 9)] == list(L.METHOD_CHOICES)
    # nothing in the workbook is a formula
    assert not any(
        isinstance(c.value, str) and c.value.startswith("=")
        for ws in wb.worksheets
        for row in ws.iter_rows()
        for c in row
    )


def _assessment_doc(folder: Path) -> dict[str, Any]:
    doc = _rich_doc(folder)
    doc["assessment"]["results"][4]["notes"] = "Data sources listed."  # a blank cell is no notes
    doc["assessment"]["results"][0].update(
        method=["examine", "interview"],
        tested_by="tester@example.com",
        tested_on="2026-11-12",
        population="2 pipelines",
        sample={"size": 2, "selection": "all of them"},
    )
    doc["assessment"]["results"][1].update(
        exceptions="No classification record.",
        remediation={"owner": "owner@example.com", "due": "2027-01-15"},
    )
    doc["assessment"]["results"][3]["evidence"][0]["collected"] = "2026-11-10"
    # The equivalent YAML lists its results as the workbook does: the checks in the order of
    # the checks file, then the results on framework controls.
    cs = load_catalog_set()
    assert cs.checks is not None
    order = {c.id: i for i, c in enumerate(cs.checks.doc.checks)}
    results = doc["assessment"]["results"]
    results.sort(key=lambda r: order.get(r.get("check", ""), len(order)))
    return doc


def test_round_trip_gives_the_same_assessment_as_the_yaml(
    run: Cli, second: str, tmp_path: Path
) -> None:
    folder = tmp_path / "assessor"
    doc = _assessment_doc(folder)
    yaml_path = factories.write(folder, doc)
    blank = tmp_path / "blank.xlsx"
    assert run("questionnaire", "-o", str(blank)).exit_code == 0
    filled = folder / "filled.xlsx"
    filled.write_bytes(workbooks.fill(blank.read_bytes(), doc))

    result = run("import", str(filled))
    assert result.exit_code == 0, result.output
    assert "1 imported" in result.output and "3 evidence reference(s) to 2 file(s)" in result.output
    other = Cli(second, tmp_path / "store2")
    assert other("import", str(yaml_path)).exit_code == 0
    assert _snapshot(run.url, "test-agent") == _snapshot(second, "test-agent")
    assert _gate(run, "test-agent") == _gate(other, "test-agent")
    # The same content, so the same fingerprint: the YAML is "unchanged" after the workbook.
    again = run("import", str(yaml_path))
    assert again.exit_code == 0 and "1 unchanged" in again.output, again.output
    assert _fingerprint(run.url, "test-agent", "2026-Q4") == _fingerprint(
        second, "test-agent", "2026-Q4"
    )


def _evidence_rows(url: str, deployment: str) -> list[tuple[Any, ...]]:
    """The fields of every evidence item the snapshot of test_oscal leaves out."""
    engine = db.make_engine(url)
    try:
        with db.transaction(engine) as s:
            return sorted(
                tuple(str(v) for v in row)
                for row in s.execute(
                    select(
                        Assessment.key,
                        Evidence.file_name,
                        Evidence.url,
                        Evidence.snapshot_name,
                        Evidence.snapshot_sha256,
                        Evidence.collected_on,
                        Result.method,
                        Result.tested_on,
                        Result.sample_size,
                        Result.remediation_due,
                    )
                    .join(Result, Result.id == Evidence.result_id)
                    .join(Assessment, Assessment.id == Result.assessment_id)
                    .join(Deployment, Deployment.id == Assessment.deployment_id)
                    .where(Deployment.key == deployment)
                )
            )
    finally:
        engine.dispose()


@pytest.mark.parametrize("assessment", ["2026-Q3", "2026-Q4"])
def test_prefilled_questionnaire_gives_back_the_assessment(
    run: Cli, second: str, tmp_path: Path, assessment: str
) -> None:
    assert run("import", str(EXAMPLES)).exit_code == 0
    out = tmp_path / "q" / "payments.xlsx"
    result = run(
        "questionnaire", "payments-recon-agent", "--assessment", assessment, "-o", str(out)
    )
    assert result.exit_code == 0, result.output
    wb = load_workbook(out)
    profile = {r[0]: r[2] for r in wb[L.PROFILE].iter_rows(min_row=2, values_only=True)}
    assert profile["deployment.id"] == "payments-recon-agent"
    assert profile["assessment.id"] == assessment
    assert "payments-api: write" in profile["deployment.tools"]
    statuses = {r[0]: r[2] for r in wb[L.RESULTS].iter_rows(min_row=2, values_only=True)}
    assert statuses["REV-02"] in ("fail", "partial")
    shutil.copytree(EXAMPLES / "payments-recon-agent" / "evidence", out.parent / "evidence")
    other = Cli(second, tmp_path / "store2")
    result = other("import", str(out))
    assert result.exit_code == 0, result.output
    first = _unordered(_snapshot(run.url, "payments-recon-agent"))
    again = _unordered(_snapshot(second, "payments-recon-agent"))
    original = next(a for a in first["assessments"] if a["key"] == assessment)
    assert again["assessments"] == [original]
    assert again["deployment"] == first["deployment"]
    expected = [r for r in _evidence_rows(run.url, "payments-recon-agent") if r[0] == assessment]
    assert _evidence_rows(second, "payments-recon-agent") == expected
    if assessment == "2026-Q3":
        assert any(r[3] != "None" for r in expected)  # a link's snapshot came back


def _cell_errors(run: Cli, tmp_path: Path, data: bytes) -> str:
    path = tmp_path / "q.xlsx"
    path.write_bytes(data)
    result = run("import", str(path))
    assert result.exit_code == 1 and "nothing was written" in result.output
    return result.output


def test_errors_name_the_sheet_and_the_cell(run: Cli, tmp_path: Path) -> None:
    doc = factories.assessment_doc()
    filled = workbooks.fill(workbooks.blank(), doc)
    bad = workbooks.set_cell(filled, L.PROFILE, "C11", 3.1)  # deployment.model.version
    bad = workbooks.set_cell(bad, L.PROFILE, "C14", "search-api read")  # tools
    bad = workbooks.set_cell(bad, L.EVIDENCE, "A2", "SEC-04")
    bad = workbooks.set_cell(bad, L.RESULTS, "D20", "Notes without a status")
    output = _cell_errors(run, tmp_path, bad)
    path = tmp_path / "q.xlsx"
    assert (
        f"{path}: Profile!C11 (deployment.model.version): expected text, got the number 3.1"
    ) in output
    assert "Profile!C14 (deployment.tools): line 1: expected 'name: access'" in output
    assert "Evidence!A2: no result for 'SEC-04' on the Results or Control results sheet" in output
    assert "Results!C20: the row has no status but other cells are filled" in output
    output = _cell_errors(run, tmp_path, workbooks.set_cell(filled, L.RESULTS, "C14", "passed"))
    assert (
        f"{path}: Results!C14: expected one of pass, fail, partial, not_applicable, got 'passed'"
    ) in output


def test_a_hyperlink_is_not_an_outside_link(run: Cli, tmp_path: Path) -> None:
    doc = factories.assessment_doc()
    filled = workbooks.fill(workbooks.blank(), doc)
    wb = load_workbook(io.BytesIO(filled))
    wb[L.RESULTS]["D2"].hyperlink = "https://wiki.example.com/owner"
    buf = io.BytesIO()
    wb.save(buf)
    path = tmp_path / "q.xlsx"
    path.write_bytes(buf.getvalue())
    result = run("import", str(path))
    assert result.exit_code == 0, result.output


def test_csv_results_with_a_profile(run: Cli, tmp_path: Path) -> None:
    folder = tmp_path / "csv"
    (folder / "evidence").mkdir(parents=True)
    (folder / "evidence" / "owner.md").write_text("Owner: J. Doe\n")
    rows = [
        "Check,Status,Notes,Method,Tested on,Evidence",
        *(f"{c},pass,{c} reviewed,examine,2026-11-12," for c in factories.LOW_REQUIRED[1:]),
        'GOV-01,pass,Owner named,"examine, interview",2026-11-12,"evidence/owner.md',
        'https://wiki.example.com/owner"',
        "nist-csf-2.0/GV.OC-01,partial,Mission predates the agent,,,",
    ]
    path = folder / "results.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    doc = factories.assessment_doc()
    profile = folder / "profile.yaml"
    header = {k: doc["assessment"][k] for k in ("id", "date", "assessor")}
    profile.write_text(yaml.safe_dump({"deployment": doc["deployment"], "assessment": header}))
    result = run("import", str(path), "--profile", str(profile))
    assert result.exit_code == 0, result.output
    assert "1 evidence reference(s) to 1 file(s)" in result.output
    gate = json.loads(run("gate", "test-agent", "--as-of", "2026-11-30", "--json").output)
    assert gate["decision"] == "APPROVE", gate

    bad = copy.deepcopy(rows)
    bad[2] = bad[2].replace(",pass,", ",passed,")
    path.write_text("\n".join(bad) + "\n", encoding="utf-8")
    result = run("import", str(path), "--profile", str(profile))
    assert result.exit_code == 1
    assert (
        f"{path}: B3: expected one of pass, fail, partial, not_applicable, got 'passed'"
    ) in result.output
