"""The check-to-control mappings as tables: NIST IR 8477 (OLIR) set-theory rows, and a flat CSV.

OLIR: one row per set-theory link, the check as the focal document element and the framework
control as the reference document element; the relationship reads "the focal element is
<relationship> the reference element" (`subset of`, `superset of`, `intersects with`, `equal`),
the rationale type is `Semantic` and this tool's rationale is the row's notes. `mitigates` (a
check against a threat) has no IR 8477 relationship: those links are left out of the OLIR table
and counted (`left_out`); the flat CSV and the OSCAL mapping-collection carry them.

CSV: one row per link in force (and none for the sufficiency declarations, which the OSCAL
export carries): check, framework, control, relationship, rationale, origin, file.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from compliance.catalogs import CatalogSet, links, split_control

OLIR_RELATIONSHIP = {
    "equal": "equal",
    "subset": "subset of",
    "superset": "superset of",
    "intersects": "intersects with",
}
OLIR_COLUMNS = (
    "Focal Document Element",
    "Focal Document Element Description",
    "Rationale",
    "Relationship",
    "Reference Document",
    "Reference Document Element",
    "Reference Document Element Description",
    "Strength of Relationship",
    "Notes",
)
CSV_COLUMNS = (
    "check",
    "check_title",
    "framework",
    "control",
    "control_title",
    "relationship",
    "rationale",
    "origin",
    "declared_in",
)


@dataclass
class Table:
    text: str
    rows: int
    left_out: int = 0


def _csv(header: tuple[str, ...], rows: list[list[str]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows([[_cell(v) for v in row] for row in rows])
    return buf.getvalue()


def _cell(value: str) -> str:
    """Text a spreadsheet would read as a formula (`= + - @`, tab, CR) is kept as text."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def _titles(cs: CatalogSet) -> tuple[dict[str, str], dict[str, str]]:
    assert cs.checks is not None
    checks = {c.id: c.objective for c in cs.checks.doc.checks}
    controls = {
        f"{fid}/{c.ref}": (c.title or c.text or "")
        for fid, cat in cs.catalogs.items()
        for c in cat.doc.controls
    }
    return checks, controls


def olir(cs: CatalogSet) -> Table:
    """The set-theory links as an IR 8477 relationship table (CSV)."""
    checks, controls = _titles(cs)
    rows: list[list[str]] = []
    left_out = 0
    for link in links(cs):
        if link.relationship not in OLIR_RELATIONSHIP:
            left_out += 1
            continue
        framework, ref = split_control(link.control)
        cat = cs.catalogs[framework].doc.framework
        rows.append(
            [
                link.check,
                checks.get(link.check, ""),
                "Semantic",
                OLIR_RELATIONSHIP[link.relationship],
                cat.name if cat.name.endswith(cat.version) else f"{cat.name} {cat.version}",
                ref,
                " ".join(controls.get(link.control, "").split()),
                "",
                link.rationale,
            ]
        )
    return Table(_csv(OLIR_COLUMNS, rows), len(rows), left_out)


def flat(cs: CatalogSet) -> Table:
    """Every link in force as one CSV row."""
    assert cs.checks is not None
    titles = {c.id: c.title for c in cs.checks.doc.checks}
    _checks, controls = _titles(cs)
    rows = []
    for link in links(cs):
        framework, ref = split_control(link.control)
        rows.append(
            [
                link.check,
                titles.get(link.check, ""),
                framework,
                ref,
                " ".join(controls.get(link.control, "").split()),
                link.relationship,
                link.rationale,
                link.origin,
                link.file.label,
            ]
        )
    return Table(_csv(CSV_COLUMNS, rows), len(rows))
