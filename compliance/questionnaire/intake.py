"""Reading a filled-in questionnaire (.xlsx) or a results table (.csv) as an assessment file.

The workbook's package is inspected before anything parses it: formulas (in any cell), external
links, data connections, macros (VBA, macro sheets), embedded or ActiveX objects, relationships to
outside targets other than hyperlinks, and XML with a DTD are refused, each named; nothing in a
workbook is ever evaluated. Cells are then read as values and mapped to the import format, with
the place of every value (`Results!C14`), so that the importer's validation names the cell.

A CSV holds the Results sheet's columns (its `Check` column may also name a framework control,
`FRAMEWORK/REF`, and an `Evidence` column may list files or URLs, one per line); the deployment
profile and the assessment's id, date and assessor come from the `--profile` file.
"""

from __future__ import annotations

import csv
import io
import posixpath
import re
import zipfile
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from compliance.errors import InvalidInput, Problem
from compliance.oscal.assessment_results import Converted
from compliance.questionnaire import layout as L

MAX_ENTRIES = 2_000
MAX_PART_BYTES = 32 * 1024 * 1024
MAX_TOTAL_BYTES = 128 * 1024 * 1024
MAX_RATIO = 200
_FORMULA = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?f[\s>/]")
_CELL = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?c\b([^>]*)>(.*?)</(?:[A-Za-z_][\w.-]*:)?c>", re.S)
_REF = re.compile(rb'\br="([A-Z]+[0-9]+)"')
_REFUSED_PARTS = (
    ("xl/vbaproject.bin", "a VBA macro project"),
    ("xl/macrosheets/", "an Excel 4 macro sheet"),
    ("xl/dialogsheets/", "a dialog sheet (macros)"),
    ("xl/externallinks/", "a link to another workbook"),
    ("xl/connections.xml", "a data connection"),
    ("xl/querytables/", "a query table (external data)"),
    ("xl/embeddings/", "an embedded object"),
    ("xl/activex/", "an ActiveX control"),
    ("customui/", "a ribbon customisation (macros)"),
    ("xl/customui/", "a ribbon customisation (macros)"),
)


def _sheet_names(zf: zipfile.ZipFile) -> dict[str, str]:
    """Worksheet part name -> sheet name."""
    try:
        book = zf.read("xl/workbook.xml")
        rels = zf.read("xl/_rels/workbook.xml.rels")
    except KeyError:
        return {}
    targets = {
        m.group(1).decode(): m.group(2).decode()
        for m in re.finditer(rb'<Relationship\b[^>]*?Id="([^"]+)"[^>]*?Target="([^"]+)"', rels)
    }
    targets.update(
        {
            m.group(2).decode(): m.group(1).decode()
            for m in re.finditer(rb'<Relationship\b[^>]*?Target="([^"]+)"[^>]*?Id="([^"]+)"', rels)
        }
    )
    out = {}
    for m in re.finditer(rb"<(?:\w+:)?sheet\b([^>]*)/?>", book):
        attrs = m.group(1)
        name = re.search(rb'\bname="([^"]*)"', attrs)
        rid = re.search(rb'\br:id="([^"]*)"|\b\w+:id="([^"]*)"', attrs)
        if not name or not rid:
            continue
        target = targets.get((rid.group(1) or rid.group(2)).decode())
        if target:
            part = (
                target.lstrip("/")
                if target.startswith("/")
                else posixpath.normpath(posixpath.join("xl", target))
            )
            out[part.lower()] = _unescape(name.group(1).decode("utf-8", "replace"))
    return out


def _unescape(text: str) -> str:
    return (
        text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", '"')
        .replace("&apos;", "'")
        .replace("&amp;", "&")
    )


def inspect_package(data: bytes, label: str) -> list[Problem]:
    """Everything in the workbook's package that an imported workbook may not hold."""
    problems: list[Problem] = []

    def refuse(where: str, message: str) -> None:
        problems.append(Problem(label, where, message))

    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        return [Problem(label, "", f"not an Excel workbook (.xlsx): {exc}")]
    if len(infos) > MAX_ENTRIES:
        return [Problem(label, "", f"the workbook holds more than {MAX_ENTRIES} parts")]
    total = 0
    for info in infos:
        if info.file_size > MAX_PART_BYTES or (
            info.compress_size and info.file_size / info.compress_size > MAX_RATIO
        ):
            return [Problem(label, info.filename, "a part of the workbook is too large to read")]
        total += info.file_size
        if info.flag_bits & 0x1:
            return [
                Problem(label, info.filename, "an encrypted part; save the workbook unprotected")
            ]
    if total > MAX_TOTAL_BYTES:
        return [Problem(label, "", "the workbook is too large once uncompressed")]
    names = {i.filename.lower(): i.filename for i in infos}
    if "[content_types].xml" not in names or "xl/workbook.xml" not in names:
        return [Problem(label, "", "not an Excel workbook (.xlsx): no workbook part")]
    for lower, name in sorted(names.items()):
        for prefix, what in _REFUSED_PARTS:
            if lower == prefix or lower.startswith(prefix):
                refuse(name, f"the workbook holds {what}; such workbooks are refused")
                break
        else:
            if lower.startswith("xl/") and lower.endswith(".bin"):
                refuse(
                    name, "the workbook holds binary code or objects; such workbooks are refused"
                )
    sheets = _sheet_names(zf)
    for lower, name in sorted(names.items()):
        if not lower.endswith((".xml", ".rels", ".vml")):
            continue
        part = zf.read(name)
        if b"<!DOCTYPE" in part.upper() or b"<!ENTITY" in part.upper():
            refuse(name, "XML with a document type declaration (DTD); such workbooks are refused")
            continue
        if lower == "[content_types].xml" and b"macroenabled" in part.lower():
            refuse(name, "a macro-enabled workbook; save it as a plain .xlsx")
        if lower.endswith(".rels"):
            for m in re.finditer(rb"<Relationship\b[^>]*>", part):
                rel = m.group(0)
                if b'TargetMode="External"' in rel and not re.search(
                    rb'Type="[^"]*/hyperlink"', rel
                ):
                    target = re.search(rb'Target="([^"]*)"', rel)
                    shown = target.group(1).decode("utf-8", "replace") if target else "?"
                    refuse(
                        name,
                        f"a link to an outside resource ({shown}); such workbooks are refused",
                    )
        if lower.startswith("xl/worksheets/") and _FORMULA.search(part):
            sheet = sheets.get(lower, name)
            for cell in _CELL.finditer(part):
                if _FORMULA.search(cell.group(2)):
                    ref = _REF.search(cell.group(1))
                    where = f"{sheet}!{ref.group(1).decode()}" if ref else sheet
                    refuse(
                        where,
                        "a formula; formulas are refused (nothing in an imported workbook is "
                        "evaluated): enter the value itself",
                    )
    return problems


# --------------------------------------------------------------------------------------------
# Cells to values


class _Reader:
    def __init__(self, label: str) -> None:
        self.label = label
        self.problems: list[Problem] = []
        self.sources: dict[str, str] = {}

    def problem(self, where: str, message: str) -> None:
        self.problems.append(Problem(self.label, where, message))

    def value(self, raw: Any, kind: str, where: str) -> Any:
        """A cell's value for a field of `kind`; None for a blank cell."""
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            return None
        if kind == "date":
            if isinstance(raw, datetime):
                if raw.time() != time(0, 0):
                    self.problem(where, f"expected a date, got a date and time {raw.isoformat()!r}")
                    return None
                return raw.date().isoformat()
            if isinstance(raw, date):
                return raw.isoformat()
            if isinstance(raw, str):
                return raw.strip()
            self.problem(where, f"expected a date as YYYY-MM-DD, got {raw!r}")
            return None
        if kind == "int":
            if isinstance(raw, float) and raw.is_integer():
                return int(raw)
            return raw.strip() if isinstance(raw, str) else raw
        if kind == "score":
            return raw.strip() if isinstance(raw, str) else raw
        if kind == "bool":
            if isinstance(raw, str) and raw.strip().lower() in ("true", "false"):
                return raw.strip().lower() == "true"
            return raw
        if isinstance(raw, int | float):  # bool is an int
            self.problem(
                where,
                f"expected text, got the number {raw!r} (format the cell as text and enter it "
                "again)",
            )
            return None
        if isinstance(raw, datetime | date):
            self.problem(where, f"expected text, got a date {raw.isoformat()!r}")
            return None
        text = str(raw)
        if kind == "methods":
            return [m for m in re.split(r"[\s,;/+]+", text.strip()) if m]
        return text


def _set(target: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    for part in parts[:-1]:
        target = target.setdefault(part, {})
    target[parts[-1]] = value


def _columns(rd: _Reader, ws: Any, sheet: str, required: tuple[str, ...]) -> dict[str, int]:
    cols: dict[str, int] = {}
    for cell in next(ws.iter_rows(min_row=1, max_row=1), ()):
        if isinstance(cell.value, str) and cell.value.strip():
            cols.setdefault(cell.value.strip(), cell.column)
    for name in required:
        if name not in cols:
            rd.problem(f"{sheet}!1", f"no column {name!r} in row 1")
    return cols


def _letter(col: int) -> str:
    from openpyxl.utils import get_column_letter

    return str(get_column_letter(col))


def _result_row(
    rd: _Reader,
    cells: dict[str, Any],
    where: dict[str, str],
    at: str,
) -> dict[str, Any] | None:
    """One result from a row's cells (column -> raw value), or None when the row is blank."""
    result: dict[str, Any] = {}
    for name, path, kind in L.RESULT_COLUMNS:
        if name not in cells:
            continue
        value = rd.value(cells[name], kind, where[name])
        rd.sources[f"{at}.{path}"] = where[name]
        if value is not None:
            _set(result, path, value)
    if "sample" in result:
        rd.sources[f"{at}.sample"] = where.get("Sample size", where["Status"])
    if "remediation" in result:
        rd.sources[f"{at}.remediation"] = where.get("Remediation owner", where["Status"])
    if "status" not in result:
        filled = [n for n in result if n != "status"]
        if filled:
            rd.problem(
                where["Status"],
                "the row has no status but other cells are filled; give a status or clear the row",
            )
        return None
    return result


def _rows(ws: Any) -> Any:
    return ws.iter_rows(min_row=2, values_only=False)


def read_workbook(data: bytes, label: str, base: dict[str, Any] | None = None) -> Converted:
    """A questionnaire workbook as an assessment document of the import format, or InvalidInput
    naming every problem by sheet and cell. Inspect the package first (`inspect_package`)."""
    from openpyxl import load_workbook

    rd = _Reader(label)
    try:
        wb = load_workbook(io.BytesIO(data), read_only=False, data_only=False, keep_links=False)
    except Exception as exc:  # openpyxl raises many kinds on a damaged package
        raise InvalidInput([Problem(label, "", f"the workbook cannot be read: {exc}")]) from None
    missing = [s for s in (L.PROFILE, L.RESULTS) if s not in wb.sheetnames]
    if missing:
        raise InvalidInput(
            [
                Problem(
                    label,
                    "",
                    f"not a questionnaire of this tool: no sheet {', '.join(missing)} (write one "
                    "with `compliance questionnaire`)",
                )
            ]
        )
    doc: dict[str, Any] = {}
    ws = wb[L.PROFILE]
    cols = _columns(rd, ws, L.PROFILE, ("Field", "Value"))
    kinds = {path: kind for path, _label, kind, _help in L.PROFILE_FIELDS}
    seen: dict[str, str] = {}
    if "Field" in cols and "Value" in cols:
        for row in _rows(ws):
            field = row[cols["Field"] - 1].value if len(row) >= cols["Field"] else None
            if not isinstance(field, str) or not field.strip():
                continue
            field = field.strip()
            r = row[0].row
            cell = f"{L.PROFILE}!{_letter(cols['Value'])}{r}"
            if field not in kinds:
                rd.problem(f"{L.PROFILE}!{_letter(cols['Field'])}{r}", f"unknown field {field!r}")
                continue
            if field in seen:
                rd.problem(cell, f"{field} is given twice (also at {seen[field]})")
                continue
            seen[field] = cell
            raw = row[cols["Value"] - 1].value if len(row) >= cols["Value"] else None
            rd.sources[field] = f"{cell} ({field})"
            parts = field.split(".")
            for end in range(2, len(parts)):  # deployment.model -> the model name's cell
                rd.sources.setdefault(".".join(parts[:end]), f"{cell} ({'.'.join(parts[:end])})")
            value = _profile_field(rd, kinds[field], raw, f"{cell} ({field})")
            if value is not _ABSENT:
                _set(doc, field, value)
    if L.SCORES in wb.sheetnames:
        ws = wb[L.SCORES]
        cols = _columns(rd, ws, L.SCORES, L.SCORES_HEADER)
        scores: list[dict[str, Any]] = []
        for row in _rows(ws):
            cells = {n: row[c - 1].value if len(row) >= c else None for n, c in cols.items()}
            if all(cells.get(n) in (None, "") for n in L.SCORES_HEADER):
                continue
            r = row[0].row
            at = f"deployment.model.safety_scores[{len(scores)}]"
            rd.sources[at] = f"{L.SCORES}!A{r}"
            score: dict[str, Any] = {}
            for name, path, kind in (*L.SCORES_COLUMNS, ("Score", "score", "score")):
                if name in cols:
                    where = f"{L.SCORES}!{_letter(cols[name])}{r}"
                    rd.sources[f"{at}.{path}"] = where
                    value = rd.value(cells.get(name), kind, where)
                    if value is not None:
                        score[path] = value
            scores.append(score)
        if scores:
            doc.setdefault("deployment", {}).setdefault("model", {})["safety_scores"] = scores
            rd.sources["deployment.model.safety_scores"] = f"{L.SCORES}!A1"
    results: list[dict[str, Any]] = []
    index: dict[str, int] = {}
    rd.sources["assessment.results"] = f"{L.RESULTS}!A1"
    for sheet, key, first in ((L.RESULTS, "check", "Check"), (L.CONTROLS, "control", "Control")):
        if sheet not in wb.sheetnames:
            continue
        ws = wb[sheet]
        cols = _columns(rd, ws, sheet, (first, "Status"))
        if first not in cols or "Status" not in cols:
            continue
        for row in _rows(ws):
            cells = {n: row[c - 1].value if len(row) >= c else None for n, c in cols.items()}
            r = row[0].row
            places = {n: f"{sheet}!{_letter(c)}{r}" for n, c in cols.items()}
            at = f"assessment.results[{len(results)}]"
            result = _result_row(rd, cells, places, at)
            subject = rd.value(cells.get(first), "text", places[first])
            if result is None:
                continue
            if subject is None:
                rd.problem(places[first], f"a result without its {first.lower()}")
                continue
            subject = subject.strip()
            rd.sources[at] = places[first]
            rd.sources[f"{at}.{key}"] = places[first]
            results.append({key: subject, **result})
            index.setdefault(subject, len(results) - 1)
    if L.EVIDENCE in wb.sheetnames:
        _evidence(rd, wb[L.EVIDENCE], results, index)
    acceptances: list[dict[str, Any]] = []
    if L.ACCEPTANCES in wb.sheetnames:
        ws = wb[L.ACCEPTANCES]
        cols = _columns(rd, ws, L.ACCEPTANCES, L.ACCEPTANCES_HEADER)
        for row in _rows(ws):
            cells = {n: row[c - 1].value if len(row) >= c else None for n, c in cols.items()}
            if all(cells.get(n) in (None, "") for n in L.ACCEPTANCES_HEADER):
                continue
            r = row[0].row
            at = f"assessment.acceptances[{len(acceptances)}]"
            rd.sources[at] = f"{L.ACCEPTANCES}!A{r}"
            acc: dict[str, Any] = {}
            for name, path, kind in L.ACCEPTANCE_COLUMNS:
                if name in cols:
                    where = f"{L.ACCEPTANCES}!{_letter(cols[name])}{r}"
                    rd.sources[f"{at}.{path}"] = where
                    value = rd.value(cells.get(name), kind, where)
                    if value is not None:
                        acc[path] = value
            acceptances.append(acc)
    rd.sources["assessment.acceptances"] = f"{L.ACCEPTANCES}!A1"
    assessment = doc.setdefault("assessment", {})
    assessment["results"] = results
    if acceptances:
        assessment["acceptances"] = acceptances
    _fill_from(doc, base, rd)
    rd.sources.setdefault("deployment", f"{L.PROFILE}!A1")
    rd.sources.setdefault("assessment", f"{L.PROFILE}!A1")
    if rd.problems:
        raise InvalidInput(rd.problems)
    return Converted(_ordered(doc), rd.sources, {})


_ABSENT = object()


def _profile_field(rd: _Reader, kind: str, raw: Any, where: str) -> Any:
    """A profile value; _ABSENT when the cell is blank (the key is then left out)."""
    if kind in ("tools", "list", "lines", "authority"):
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            return [] if kind == "authority" else _ABSENT
        if not isinstance(raw, str):
            rd.problem(where, f"expected text, got {raw!r}")
            return _ABSENT
        if raw.strip() == L.NONE:
            return []
        lines = [x.strip() for x in raw.replace("\r", "\n").split("\n") if x.strip()]
        if kind in ("list", "authority"):
            return [x.strip() for line in lines for x in line.split(",") if x.strip()]
        if kind == "lines":
            return lines
        tools = []
        for n, line in enumerate(lines, start=1):
            name, sep, access = line.rpartition(":")
            if not sep or not name.strip() or not access.strip():
                rd.problem(
                    where,
                    f"line {n}: expected 'name: access' (access one of read, write, execute, "
                    f"admin), got {line!r}",
                )
                continue
            tools.append({"name": name.strip(), "access": access.strip()})
        return tools
    value = rd.value(raw, kind, where)
    return _ABSENT if value is None else value


def _evidence(rd: _Reader, ws: Any, results: list[dict[str, Any]], index: dict[str, int]) -> None:
    cols = _columns(rd, ws, L.EVIDENCE, ("Check or control",))
    if "Check or control" not in cols:
        return
    for row in _rows(ws):
        cells = {n: row[c - 1].value if len(row) >= c else None for n, c in cols.items()}
        if all(cells.get(n) in (None, "") for n in L.EVIDENCE_HEADER):
            continue
        r = row[0].row
        subject_at = f"{L.EVIDENCE}!{_letter(cols['Check or control'])}{r}"
        subject = rd.value(cells.get("Check or control"), "text", subject_at)
        if subject is None or subject.strip() not in index:
            rd.problem(
                subject_at,
                f"no result for {subject!r} on the Results or Control results sheet; give it a "
                "status there, or name the check or control of a result",
            )
            continue
        i = index[subject.strip()]
        items = results[i].setdefault("evidence", [])
        at = f"assessment.results[{i}].evidence[{len(items)}]"
        rd.sources[at] = f"{L.EVIDENCE}!A{r}"
        item: dict[str, Any] = {}
        for name, path, kind in L.EVIDENCE_COLUMNS:
            if name in cols:
                where = f"{L.EVIDENCE}!{_letter(cols[name])}{r}"
                rd.sources[f"{at}.{path}"] = where
                value = rd.value(cells.get(name), kind, where)
                if value is not None:
                    item[path] = value.strip() if path == "sha256" else value
        items.append(item)


def _fill_from(doc: dict[str, Any], base: dict[str, Any] | None, rd: _Reader) -> None:
    """Take what the sheet leaves out from the `--profile` file (its deployment block and the
    assessment's id, date and assessor)."""
    if not base:
        return
    if "deployment" not in doc and isinstance(base.get("deployment"), dict):
        doc["deployment"] = base["deployment"]
        rd.sources["deployment"] = "--profile (deployment)"
    header = base.get("assessment")
    if isinstance(header, dict):
        assessment = doc.setdefault("assessment", {})
        for key, value in header.items():
            if key not in assessment:
                assessment[key] = value
                rd.sources[f"assessment.{key}"] = f"--profile (assessment.{key})"


def _ordered(doc: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "deployment" in doc:
        out["deployment"] = doc["deployment"]
    if "assessment" in doc:
        out["assessment"] = doc["assessment"]
    out.update({k: v for k, v in doc.items() if k not in out})
    return out


def read_csv(data: bytes, label: str, base: dict[str, Any] | None) -> Converted:
    """A results table (CSV) plus the `--profile` file as an assessment document."""
    rd = _Reader(label)
    if (
        not base
        or not isinstance(base.get("deployment"), dict)
        or not isinstance(base.get("assessment"), dict)
    ):
        raise InvalidInput(
            [
                Problem(
                    label,
                    "",
                    "a CSV holds results only: give the deployment profile and the assessment's "
                    "id, date and assessor with --profile FILE (a YAML or JSON file with "
                    "`deployment:` and `assessment: {id, date, assessor}`)",
                )
            ]
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            [Problem(label, "", f"not UTF-8 text (invalid byte at offset {exc.start})")]
        ) from None
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        raise InvalidInput([Problem(label, "", "document is empty")])
    cols = {name.strip(): i for i, name in enumerate(rows[0]) if name.strip()}
    for name in ("Check", "Status"):
        if name not in cols:
            rd.problem("1", f"no column {name!r} in the first row")
    if rd.problems:
        raise InvalidInput(rd.problems)
    results: list[dict[str, Any]] = []
    for r, row in enumerate(rows[1:], start=2):
        cells = {n: (row[i] if i < len(row) else None) for n, i in cols.items()}
        where = {n: f"{_letter(i + 1)}{r}" for n, i in cols.items()}
        at = f"assessment.results[{len(results)}]"
        result = _result_row(rd, cells, where, at)
        if result is None:
            continue
        subject = (cells.get("Check") or "").strip()
        if not subject:
            rd.problem(where["Check"], "a result without its check")
            continue
        key = "control" if "/" in subject else "check"
        rd.sources[at] = where["Check"]
        rd.sources[f"{at}.{key}"] = where["Check"]
        entry: dict[str, Any] = {key: subject, **result}
        if "Evidence" in cols and (cells.get("Evidence") or "").strip():
            items: list[dict[str, Any]] = []
            for line in str(cells["Evidence"]).splitlines():
                if line.strip():
                    rd.sources[f"{at}.evidence[{len(items)}]"] = where["Evidence"]
                    value = line.strip()
                    items.append({"url" if re.match(r"https?://", value) else "file": value})
            entry["evidence"] = items
        results.append(entry)
    doc: dict[str, Any] = {"assessment": {"results": results}}
    rd.sources["assessment.results"] = "1"
    rd.sources["assessment"] = "--profile (assessment)"
    rd.sources["deployment"] = "--profile (deployment)"
    _fill_from(doc, base, rd)
    if rd.problems:
        raise InvalidInput(rd.problems)
    return Converted(_ordered(doc), rd.sources, {})


def read_profile_file(path: Path) -> dict[str, Any]:
    """The `--profile` file: a `deployment:` block, optionally an `assessment:` header (id,
    date, assessor); a bare deployment block is taken as the deployment."""
    from compliance.documents import parse_document, read_bounded

    label = str(path)
    value = parse_document(read_bounded(path, label), label)
    if not isinstance(value, dict):
        raise InvalidInput(
            [Problem(label, "", f"expected a mapping at the top level, got {type(value).__name__}")]
        )
    if "deployment" not in value and "assessment" not in value:
        value = {"deployment": value}
    unknown = sorted(set(value) - {"deployment", "assessment"})
    if unknown:
        raise InvalidInput(
            [
                Problem(label, k, "unknown field (expected deployment and assessment)")
                for k in unknown
            ]
        )
    header = value.get("assessment")
    if header is not None and (not isinstance(header, dict) or "results" in header):
        raise InvalidInput(
            [
                Problem(
                    label,
                    "assessment",
                    "expected the assessment's id, date and assessor (and acceptances), "
                    "without results",
                )
            ]
        )
    return value
