"""Filling in questionnaire workbooks as an assessor would, and spoiling them as an attacker
would (the hostile workbooks of the bad-input corpus are made by `write_hostile`)."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from openpyxl import load_workbook

from compliance.catalogs import load_catalog_set
from compliance.questionnaire import layout as L
from compliance.questionnaire.workbook import build


def blank() -> bytes:
    cs = load_catalog_set()
    assert cs.checks is not None
    return build(list(cs.checks.doc.checks), {})


def _columns(ws: Any) -> dict[str, int]:
    return {c.value: c.column for c in ws[1] if c.value}


def _text(value: Any) -> Any:
    if isinstance(value, list):
        return "\n".join(value)
    return value


def fill(data: bytes, doc: dict[str, Any]) -> bytes:
    """The workbook with an assessment in the import format typed into it."""
    wb = load_workbook(io.BytesIO(data))
    ws = wb[L.PROFILE]
    cols = _columns(ws)
    rows = {ws.cell(row=r, column=cols["Field"]).value: r for r in range(2, ws.max_row + 1)}
    dep, a = doc["deployment"], doc["assessment"]
    values: dict[str, Any] = {
        "assessment.id": a["id"],
        "assessment.date": date.fromisoformat(a["date"]),
        "assessment.assessor": a["assessor"],
    }
    for path in rows:
        if not path.startswith("deployment."):
            continue
        value: Any = dep
        for part in path.split(".")[1:]:
            value = value.get(part) if isinstance(value, dict) else None
        if path == "deployment.tools" and value is not None:
            value = "\n".join(f"{t['name']}: {t['access']}" for t in value) or L.NONE
        elif path in ("deployment.data", "deployment.agents") and value is not None:
            value = "\n".join(value) or L.NONE
        elif path == "deployment.authority":
            value = ", ".join(value or []) or None
        elif isinstance(value, bool):
            value = "true" if value else "false"
        values[path] = value
    for path, value in values.items():
        ws.cell(row=rows[path], column=cols["Value"], value=value)
    ws = wb[L.SCORES]
    for r, s in enumerate(dep["model"].get("safety_scores", []), start=2):
        ws.cell(row=r, column=1, value=s["benchmark"])
        ws.cell(row=r, column=2, value=s["version"])
        ws.cell(row=r, column=3, value=s["score"])
    results = wb[L.RESULTS]
    rcols = _columns(results)
    check_rows = {
        results.cell(row=r, column=rcols["Check"]).value: r for r in range(2, results.max_row + 1)
    }
    controls = wb[L.CONTROLS]
    ccols = _columns(controls)
    next_control = 2
    evidence = wb[L.EVIDENCE]
    ecols = _columns(evidence)
    next_evidence = 2
    for r in a["results"]:
        if "check" in r:
            ws, cols, row = results, rcols, check_rows[r["check"]]
        else:
            ws, cols, row = controls, ccols, next_control
            ws.cell(row=row, column=cols["Control"], value=r["control"])
            next_control += 1
        for name, path, kind in L.RESULT_COLUMNS:
            value = r
            for part in path.split("."):
                value = value.get(part) if isinstance(value, dict) else None
            if kind == "date" and isinstance(value, str):
                value = date.fromisoformat(value)
            if kind == "methods" and isinstance(value, list):
                value = ", ".join(value)
            ws.cell(row=row, column=cols[name], value=value)
        for ev in r.get("evidence", []):
            evidence.cell(row=next_evidence, column=1, value=r.get("check") or r.get("control"))
            for name, path, kind in L.EVIDENCE_COLUMNS:
                value = ev.get(path)
                if kind == "date" and isinstance(value, str):
                    value = date.fromisoformat(value)
                evidence.cell(row=next_evidence, column=ecols[name], value=value)
            next_evidence += 1
    acc_ws = wb[L.ACCEPTANCES]
    acols = _columns(acc_ws)
    for row, acc in enumerate(a.get("acceptances", []), start=2):
        for name, path, kind in L.ACCEPTANCE_COLUMNS:
            value = acc.get(path)
            if kind == "date" and isinstance(value, str):
                value = date.fromisoformat(value)
            acc_ws.cell(row=row, column=acols[name], value=value)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def set_cell(data: bytes, sheet: str, ref: str, value: Any) -> bytes:
    wb = load_workbook(io.BytesIO(data))
    wb[sheet][ref] = value
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def rezip(data: bytes, change: Callable[[dict[str, bytes]], None]) -> bytes:
    """The workbook's package with its parts changed by `change` (name -> bytes)."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        parts = {name: zf.read(name) for name in zf.namelist()}
    change(parts)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in parts.items():
            info = zipfile.ZipInfo(name, (2026, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, content)
    return out.getvalue()


def _external_link(parts: dict[str, bytes]) -> None:
    parts["xl/externalLinks/externalLink1.xml"] = (
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        b'<externalLink xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        b'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
        b'<externalBook r:id="rId1"><sheetNames><sheetName val="Secrets"/></sheetNames>'
        b"</externalBook></externalLink>"
    )
    parts["xl/externalLinks/_rels/externalLink1.xml.rels"] = (
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        b'<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        b'relationships/externalLinkPath" Target="file:///C:/finance/secrets.xlsx" '
        b'TargetMode="External"/></Relationships>'
    )


def _macro(parts: dict[str, bytes]) -> None:
    parts["xl/vbaProject.bin"] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504
    parts["[Content_Types].xml"] = parts["[Content_Types].xml"].replace(
        b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
        b"application/vnd.ms-excel.sheet.macroEnabled.main+xml",
    )


def _dtd(parts: dict[str, bytes]) -> None:
    name = next(n for n in parts if n.startswith("xl/worksheets/sheet"))
    body = parts[name].split(b"?>", 1)[-1]
    parts[name] = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE worksheet [\n'
        b' <!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa">\n'
        b' <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">\n'
        b' <!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">\n]>' + body
    )


def _bomb(parts: dict[str, bytes]) -> None:
    name = next(n for n in parts if n.startswith("xl/worksheets/sheet"))
    parts[name] = parts[name] + b" " * (40 * 1024 * 1024)


def write_hostile(folder: Path, good: dict[str, Any]) -> dict[str, Path]:
    """The hostile workbooks of the corpus, written into `folder`."""
    filled = fill(blank(), good)
    made = {
        "workbook-formula.xlsx": set_cell(filled, L.RESULTS, "C14", '=IF(TRUE,"pass","fail")'),
        "workbook-external-link.xlsx": rezip(filled, _external_link),
        "workbook-macro.xlsx": rezip(filled, _macro),
        "workbook-dtd.xlsx": rezip(filled, _dtd),
        "workbook-zip-bomb.xlsx": rezip(filled, _bomb),
        "workbook-status-typo.xlsx": set_cell(filled, L.RESULTS, "C14", "passed"),
        "workbook-not-a-zip.xlsx": b"Check,Status\nTOOL-01,pass\n",
    }
    out = {}
    for name, data in made.items():
        (folder / name).write_bytes(data)
        out[name] = folder / name
    return out
