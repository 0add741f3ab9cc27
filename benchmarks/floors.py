"""The floors the engine is measured against: the same work written by hand, with no engine code.

- YAML ingest: read and parse the same YAML files with libyaml's loader (`yaml.CSafeLoader`),
  and nothing else: the allowance is for everything the import does beyond parsing.
- start-up: `python -c "import click"` (for `--version` and `--help`) and `python -c "import
  sqlalchemy, click"` (for a command that reads the database), each a process of its own.
- ingest: parse the same files (json.load), hash the same evidence files, and insert the same
  rows (deployments, assessments, assessment_catalogs, safety_scores, results, evidence,
  risk_acceptances, audit_events with their hash chain) with one `executemany` per table in one
  transaction (SQLite), or one COPY per table (PostgreSQL). Row ids are assigned client-side.
  The floor does not validate and does not copy evidence into the evidence store: that is the
  engine's extra work, which the 2x allowance is for.
- roll-up: one hand-written SQL statement producing the portfolio gap matrix (latest assessment
  of every deployment x every assessable control of its framework catalogs: status and source).
- Excel: a bare openpyxl write-only loop appending the same cell values to the same sheets.
- PDF: WeasyPrint's own layout and write of the final HTML (measured in the runner).
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
import sqlite3
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import yaml

import compliance.evidence  # noqa: F401  (registers the media types the engine uses)

TABLE_ORDER = (
    "deployments",
    "assessments",
    "assessment_catalogs",
    "safety_scores",
    "results",
    "evidence",
    "risk_acceptances",
    "audit_events",
)
COLUMNS = {
    "deployments": (
        "id",
        "key",
        "name",
        "owner",
        "environment",
        "business_process",
        "created_at",
        "updated_at",
    ),
    "assessments": (
        "id",
        "deployment_id",
        "key",
        "assessed_on",
        "assessor",
        "state",
        "source_name",
        "fingerprint",
        "imported_at",
        "model_name",
        "model_version",
        "workload_identity",
        "credentials",
        "tools",
        "data_classes",
        "authority",
        "autonomy",
        "customer_facing",
        "audit_logging",
        "profile",
    ),
    "assessment_catalogs": ("assessment_id", "catalog_id"),
    "safety_scores": ("id", "assessment_id", "benchmark", "version", "score"),
    "results": ("id", "assessment_id", "check_id", "control_id", "status", "notes", "position"),
    "evidence": (
        "id",
        "result_id",
        "position",
        "kind",
        "file_name",
        "sha256",
        "size",
        "media_type",
        "url",
        "description",
        "collected_on",
        "received_at",
    ),
    "risk_acceptances": (
        "id",
        "assessment_id",
        "check_id",
        "approved_by",
        "justification",
        "expires",
        "position",
    ),
    "audit_events": (
        "id",
        "occurred_at",
        "actor",
        "action",
        "subject",
        "detail",
        "prev_hash",
        "hash",
    ),
}
SUFFIXES = (".json", ".yaml", ".yml")


def assessment_files(root: Path) -> list[Path]:
    """The files the engine would import from `root` (it skips `evidence` folders)."""
    return sorted(
        p
        for p in root.rglob("*")
        if p.suffix in SUFFIXES
        and p.is_file()
        and "evidence" not in p.relative_to(root).parts[:-1]
        and not p.name.startswith(".")
    )


def parse_yaml(root: Path) -> int:
    """Read and parse every assessment file under `root` with libyaml; the number parsed."""
    parsed = 0
    for path in assessment_files(root):
        yaml.load(path.read_bytes(), Loader=yaml.CSafeLoader)
        parsed += 1
    return parsed


STARTUP_FLOORS = {"click": "import click", "sqlalchemy": "import sqlalchemy, click"}


class _Refs:
    """Ids the rows point at, and where the id sequences and the audit chain stand."""

    def __init__(self, cur: Any, placeholder: str) -> None:
        cur.execute("SELECT id FROM catalogs WHERE is_current = " + placeholder, (True,))
        self.catalog_ids = [r[0] for r in cur.fetchall()]
        cur.execute(
            "SELECT c.key, c.id FROM checks c JOIN catalogs k ON k.id = c.catalog_id "
            "WHERE k.is_current = " + placeholder,
            (True,),
        )
        self.checks = dict(cur.fetchall())
        cur.execute(
            "SELECT k.key, c.ref, c.id FROM controls c JOIN catalogs k ON k.id = c.catalog_id "
            "WHERE k.is_current = " + placeholder,
            (True,),
        )
        self.controls = {f"{k}/{ref}": cid for k, ref, cid in cur.fetchall()}
        self.next_id = {}
        for table in ("deployments", "assessments", "safety_scores", "results", "evidence"):
            cur.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}")
            self.next_id[table] = cur.fetchone()[0] + 1
        for table in ("risk_acceptances", "audit_events"):
            cur.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}")
            self.next_id[table] = cur.fetchone()[0] + 1
        cur.execute("SELECT hash FROM audit_events ORDER BY id DESC LIMIT 1")
        row = cur.fetchone()
        self.last_hash = row[0] if row else "0" * 64

    def take(self, table: str) -> int:
        n = self.next_id[table]
        self.next_id[table] = n + 1
        return n


def build_rows(
    files: Sequence[Path], refs: _Refs, now: datetime, sqlite_text: bool
) -> dict[str, list[tuple[Any, ...]]]:
    """Parse every file and hash its evidence; the rows of every table, ids assigned."""
    rows: dict[str, list[tuple[Any, ...]]] = {t: [] for t in TABLE_ORDER}
    stamp: Any = now.replace(tzinfo=None).isoformat(sep=" ") if sqlite_text else now
    deployments: dict[str, list[Any]] = {}
    latest: dict[str, str] = {}

    def js(value: Any) -> str:
        return json.dumps(value)

    def day(value: str) -> Any:
        return value if sqlite_text else date.fromisoformat(value)

    for path in files:
        raw = path.read_bytes()
        doc = json.loads(raw)
        d, a = doc["deployment"], doc["assessment"]
        dep = deployments.get(d["id"])
        if dep is None:
            dep = [refs.take("deployments"), d["id"], d["name"], d["owner"]]
            dep += [d.get("environment"), d.get("business_process"), stamp, stamp]
            deployments[d["id"]] = dep
        if a["date"] >= latest.get(d["id"], ""):  # the record follows its latest assessment
            latest[d["id"]] = a["date"]
            dep[2:6] = [d["name"], d["owner"], d.get("environment"), d.get("business_process")]
        aid = refs.take("assessments")
        ident, audit_block = d.get("identity") or {}, d.get("audit")
        fingerprint = hashlib.sha256(raw).hexdigest()
        rows["assessments"].append(
            (
                aid,
                dep[0],
                a["id"],
                day(a["date"]),
                a["assessor"],
                "draft",
                str(path),
                fingerprint,
                stamp,
                d["model"]["name"],
                d["model"]["version"],
                ident.get("workload_identity"),
                ident.get("credentials"),
                None if d.get("tools") is None else js(d["tools"]),
                None if d.get("data") is None else js(d["data"]),
                js(d.get("authority", [])),
                d.get("autonomy"),
                d.get("customer_facing"),
                audit_block.get("logging") if audit_block else None,
                js(d),
            )
        )
        rows["assessment_catalogs"].extend((aid, c) for c in refs.catalog_ids)
        for s in d["model"].get("safety_scores", []):
            rows["safety_scores"].append(
                (refs.take("safety_scores"), aid, s["benchmark"], s["version"], s["score"])
            )
        base = path.parent
        for pos, r in enumerate(a["results"]):
            rid = refs.take("results")
            rows["results"].append(
                (
                    rid,
                    aid,
                    refs.checks[r["check"]] if "check" in r else None,
                    refs.controls[r["control"]] if "control" in r else None,
                    r["status"],
                    r.get("notes"),
                    pos,
                )
            )
            for epos, e in enumerate(r.get("evidence", ())):
                collected: Any = None
                if e.get("collected"):
                    collected = day(e["collected"])
                if "file" in e:
                    blob = (base / e["file"]).read_bytes()
                    media = mimetypes.guess_type(e["file"])[0] or "application/octet-stream"
                    rows["evidence"].append(
                        (
                            refs.take("evidence"),
                            rid,
                            epos,
                            "file",
                            e["file"],
                            hashlib.sha256(blob).hexdigest(),
                            len(blob),
                            media,
                            None,
                            e.get("description"),
                            collected,
                            stamp,
                        )
                    )
                else:
                    rows["evidence"].append(
                        (
                            refs.take("evidence"),
                            rid,
                            epos,
                            "url",
                            None,
                            None,
                            None,
                            None,
                            e["url"],
                            e.get("description"),
                            collected,
                            stamp,
                        )
                    )
        for pos, x in enumerate(a.get("acceptances", ())):
            rows["risk_acceptances"].append(
                (
                    refs.take("risk_acceptances"),
                    aid,
                    refs.checks[x["check"]],
                    x["approved_by"],
                    x["justification"],
                    day(x["expires"]),
                    pos,
                )
            )
        detail = json.dumps(
            {"file": str(path), "fingerprint": fingerprint, "results": len(a["results"])},
            sort_keys=True,
            separators=(",", ":"),
        )
        subject = f"{d['id']}/{a['id']}"
        body = json.dumps(
            [refs.last_hash, str(stamp), "bench", "assessment.import", subject, detail]
        )
        digest = hashlib.sha256(body.encode()).hexdigest()
        rows["audit_events"].append(
            (
                refs.take("audit_events"),
                stamp,
                "bench",
                "assessment.import",
                subject,
                detail,
                refs.last_hash,
                digest,
            )
        )
        refs.last_hash = digest
    rows["deployments"] = [tuple(v) for v in deployments.values()]
    return rows


def ingest_sqlite(db_path: Path, root: Path) -> dict[str, int]:
    """Parse, hash and insert with plain sqlite3 in one transaction; rows written per table."""
    conn = sqlite3.connect(db_path, isolation_level=None)
    try:
        # The engine's own settings: WAL, synchronous FULL, foreign keys on.
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        cur = conn.cursor()
        cur.execute("BEGIN IMMEDIATE")
        refs = _Refs(cur, "?")
        rows = build_rows(assessment_files(root), refs, datetime.now(UTC), sqlite_text=True)
        for table in TABLE_ORDER:
            cols = COLUMNS[table]
            sql = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
            cur.executemany(sql, rows[table])
        cur.execute("COMMIT")
        return {t: len(r) for t, r in rows.items()}
    finally:
        conn.close()


def ingest_postgres(url: str, root: Path) -> dict[str, int]:
    """Parse, hash and COPY the same rows into PostgreSQL in one transaction."""
    import psycopg

    with psycopg.connect(plain_pg_url(url)) as conn, conn.cursor() as cur:
        refs = _Refs(cur, "%s")
        rows = build_rows(assessment_files(root), refs, datetime.now(UTC), sqlite_text=False)
        for table in TABLE_ORDER:
            cols = COLUMNS[table]
            with cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
                for row in rows[table]:
                    copy.write_row(row)
        for table in TABLE_ORDER:
            if "id" in COLUMNS[table]:
                cur.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"
                )
        conn.commit()
        return {t: len(r) for t, r in rows.items()}


def plain_pg_url(url: str) -> str:
    """A libpq URL from an SQLAlchemy one."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def table_counts(cur: Any) -> dict[str, int]:
    out = {}
    for table in TABLE_ORDER:
        cur.execute(f"SELECT COUNT(*) FROM {table}")
        out[table] = cur.fetchone()[0]
    return out


# Roll-up ---------------------------------------------------------------------------------------

AS_OF = "2026-12-31"  # the benchmark decides as of this date (after every generated one)
ROLLUP_SQL = """
WITH latest AS (
  SELECT id FROM (
    SELECT id, ROW_NUMBER() OVER (
      PARTITION BY deployment_id ORDER BY assessed_on DESC, id DESC) AS rn
    FROM assessments WHERE assessed_on <= '2026-12-31') ranked
  WHERE rn = 1
),
ctl AS (
  SELECT ac.assessment_id, k.key AS framework, c.id AS control_id, c.ref, c.position, c.nature
  FROM latest l
  JOIN assessment_catalogs ac ON ac.assessment_id = l.id
  JOIN catalogs k ON k.id = ac.catalog_id AND k.kind = 'framework'
  JOIN controls c ON c.catalog_id = k.id AND c.assessable
),
m AS (
  SELECT l.id AS assessment_id, mp.control_id,
    COUNT(*) AS n,
    SUM(CASE WHEN r.status = 'not_applicable' THEN 1 ELSE 0 END) AS n_na,
    SUM(CASE WHEN r.status = 'fail' THEN 1 ELSE 0 END) AS n_fail,
    SUM(CASE WHEN r.status = 'pass' THEN 1 ELSE 0 END) AS n_pass,
    SUM(CASE WHEN r.status IS NULL THEN 1 ELSE 0 END) AS n_none,
    SUM(CASE WHEN r.status = 'pass' AND (mp.relationship IN ('equal', 'superset') OR EXISTS (
      SELECT 1 FROM sufficient_set_checks sc
      JOIN sufficient_sets ss ON ss.id = sc.set_id
      JOIN assessment_catalogs dc ON dc.catalog_id = ss.catalog_id AND dc.assessment_id = l.id
      WHERE sc.check_id = mp.check_id AND ss.control_id = mp.control_id)) THEN 1 ELSE 0 END)
      AS n_cover
  FROM latest l
  JOIN assessment_catalogs mc ON mc.assessment_id = l.id
  JOIN mappings mp ON mp.catalog_id = mc.catalog_id
  JOIN checks ch ON ch.id = mp.check_id
  JOIN assessment_catalogs cc ON cc.assessment_id = l.id AND cc.catalog_id = ch.catalog_id
  LEFT JOIN results r ON r.assessment_id = l.id AND r.check_id = mp.check_id
  GROUP BY l.id, mp.control_id
)
SELECT ctl.assessment_id, ctl.framework, ctl.control_id, ctl.ref,
  CASE
    WHEN d.status = 'pass' THEN 'met'
    WHEN d.status = 'fail' THEN 'gap'
    WHEN d.status = 'partial' THEN 'partial'
    WHEN d.status = 'not_applicable' THEN 'not_applicable'
    WHEN m.n IS NULL THEN 'unmapped'
    WHEN m.n - m.n_na = 0 THEN 'not_applicable'
    WHEN m.n_fail > 0 THEN 'gap'
    WHEN m.n_none = m.n - m.n_na THEN 'not_assessed'
    WHEN m.n_pass = m.n - m.n_na AND (ctl.nature = 'threat' OR m.n_cover > 0) THEN 'met'
    ELSE 'partial'
  END AS status,
  CASE WHEN d.status IS NULL THEN 'rollup' ELSE 'direct' END AS source
FROM ctl
LEFT JOIN m ON m.assessment_id = ctl.assessment_id AND m.control_id = ctl.control_id
LEFT JOIN results d ON d.assessment_id = ctl.assessment_id AND d.control_id = ctl.control_id
ORDER BY ctl.assessment_id, ctl.framework, ctl.position
"""


def rollup(conn: Any) -> list[tuple[Any, ...]]:
    """The portfolio gap matrix with one statement, on an open DB-API connection."""
    cur = conn.cursor()
    cur.execute(ROLLUP_SQL)
    rows = cur.fetchall()
    cur.close()
    return rows


# Excel -----------------------------------------------------------------------------------------


def read_cells(path: Path) -> list[tuple[str, list[tuple[Any, ...]]]]:
    """Every sheet of a workbook with its cell values, row by row."""
    from openpyxl import load_workbook

    wb = load_workbook(path, read_only=True)
    try:
        return [(ws.title, [tuple(r) for r in ws.iter_rows(values_only=True)]) for ws in wb]
    finally:
        wb.close()


def write_cells(sheets: Iterable[tuple[str, Iterable[Sequence[Any]]]], path: Path) -> None:
    """The bare loop: a write-only workbook, one append per row, saved."""
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    for title, rows in sheets:
        ws = wb.create_sheet(title)
        for row in rows:
            ws.append(row)
    wb.save(path)
