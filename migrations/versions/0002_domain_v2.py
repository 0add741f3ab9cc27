"""domain v2: threats and sufficiency in the mappings, test procedures, audit fields, dates

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30

- controls.nature: `requirement` or `threat`; mappings may be `mitigates` (to a threat).
- sufficient_sets: declarations that partial checks together cover a control.
- checks.procedure: how to test a check.
- assessments.memory / agents: profile fields.
- results: how a result was tested (method, tested by and on, population, sample, exceptions)
  and the remediation of a gap (owner, due).
- risk_acceptances: approved_on, approver_role, compensating_controls.
- evidence: `collected_at` (a date stated in the file, or else the import time, indistinguishably)
  becomes `collected_on` (the stated date, or NULL: not stated) and `received_at` (when the tool
  received the file). Rows stored at midnight UTC were stated dates (the importer stored a stated
  date at midnight); every other row was the import time, so `collected_on` is NULL for them.
  A link evidence item may carry a snapshot file.
"""

from __future__ import annotations

from datetime import UTC, datetime, time

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

RELATIONSHIPS_V1 = "relationship IN ('equal', 'subset', 'superset', 'intersects')"
RELATIONSHIPS_V2 = "relationship IN ('equal', 'subset', 'superset', 'intersects', 'mitigates')"


def upgrade() -> None:
    with op.batch_alter_table("controls") as batch:
        batch.add_column(
            sa.Column(
                "nature",
                sa.String(length=16),
                server_default="requirement",
                nullable=False,
                comment="requirement (checks cover it) or threat (checks mitigate it)",
            )
        )
        batch.create_check_constraint("nature", "nature IN ('requirement', 'threat')")
    with op.batch_alter_table("checks") as batch:
        batch.add_column(
            sa.Column(
                "procedure",
                sa.JSON(),
                nullable=True,
                comment="test procedure: method, steps, criteria, thresholds",
            )
        )
    with op.batch_alter_table("mappings") as batch:
        batch.drop_constraint(op.f("ck_mappings_relationship"), type_="check")
        batch.create_check_constraint("relationship", RELATIONSHIPS_V2)
    # The built-in OWASP ASI and MAESTRO catalogs now declare their risks and threats as threats;
    # versions loaded before are marked the same way, and mappings to them are read as
    # `mitigates`, as the loader reads mapping files of the first format.
    op.execute(
        "UPDATE controls SET nature = 'threat' WHERE "
        "(kind = 'risk' AND catalog_id IN (SELECT id FROM catalogs WHERE kind = 'framework' "
        "AND key = 'owasp-asi-2026')) OR (kind = 'threat' AND catalog_id IN (SELECT id FROM "
        "catalogs WHERE kind = 'framework' AND key = 'csa-maestro'))"
    )
    op.execute(
        "UPDATE mappings SET relationship = 'mitigates' "
        "WHERE control_id IN (SELECT id FROM controls WHERE nature = 'threat')"
    )
    op.create_table(
        "sufficient_sets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("catalog_id", sa.Integer(), nullable=False, comment="file declaring it"),
        sa.Column("control_id", sa.Integer(), nullable=False),
        sa.Column("rationale", sa.Text(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["catalog_id"], ["catalogs.id"], name=op.f("fk_sufficient_sets_catalog_id_catalogs")
        ),
        sa.ForeignKeyConstraint(
            ["control_id"], ["controls.id"], name=op.f("fk_sufficient_sets_control_id_controls")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sufficient_sets")),
    )
    op.create_index(
        op.f("ix_sufficient_sets_control_id"), "sufficient_sets", ["control_id"], unique=False
    )
    op.create_table(
        "sufficient_set_checks",
        sa.Column("set_id", sa.Integer(), nullable=False),
        sa.Column("check_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["check_id"], ["checks.id"], name=op.f("fk_sufficient_set_checks_check_id_checks")
        ),
        sa.ForeignKeyConstraint(
            ["set_id"],
            ["sufficient_sets.id"],
            name=op.f("fk_sufficient_set_checks_set_id_sufficient_sets"),
        ),
        sa.PrimaryKeyConstraint("set_id", "check_id", name=op.f("pk_sufficient_set_checks")),
    )
    with op.batch_alter_table("assessments") as batch:
        batch.add_column(
            sa.Column("memory", sa.String(length=16), nullable=True, comment="NULL: not stated")
        )
        batch.add_column(sa.Column("agents", sa.JSON(), nullable=True, comment="NULL: not stated"))
        batch.create_check_constraint(
            "memory", "memory IS NULL OR memory IN ('none', 'session', 'persistent')"
        )
    with op.batch_alter_table("results") as batch:
        batch.alter_column(
            "notes",
            existing_type=sa.Text(),
            existing_nullable=True,
            comment="assessor's notes; for not_applicable, the justification",
            existing_comment="assessor's notes",
        )
        batch.add_column(
            sa.Column("method", sa.JSON(), nullable=True, comment="examine, interview, test")
        )
        batch.add_column(sa.Column("tested_by", sa.String(length=300), nullable=True))
        batch.add_column(sa.Column("tested_on", sa.Date(), nullable=True))
        batch.add_column(
            sa.Column("population", sa.Text(), nullable=True, comment="what was tested from")
        )
        batch.add_column(sa.Column("sample_size", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("sample_selection", sa.Text(), nullable=True))
        batch.add_column(
            sa.Column("exceptions", sa.Text(), nullable=True, comment="what failed in the sample")
        )
        batch.add_column(sa.Column("remediation_owner", sa.String(length=300), nullable=True))
        batch.add_column(sa.Column("remediation_due", sa.Date(), nullable=True))
    with op.batch_alter_table("risk_acceptances") as batch:
        batch.add_column(
            sa.Column(
                "approved_on",
                sa.Date(),
                nullable=True,
                comment="covers nothing before this date; NULL: the assessment's date",
            )
        )
        batch.add_column(sa.Column("approver_role", sa.String(length=300), nullable=True))
        batch.add_column(sa.Column("compensating_controls", sa.Text(), nullable=True))

    with op.batch_alter_table("evidence") as batch:
        batch.add_column(
            sa.Column(
                "collected_on",
                sa.Date(),
                nullable=True,
                comment="when the evidence was produced, as stated; NULL: not stated",
            )
        )
        batch.add_column(
            sa.Column(
                "received_at",
                sa.DateTime(timezone=True),
                nullable=True,
                comment="when the tool received the file naming it",
            )
        )
        batch.add_column(sa.Column("snapshot_name", sa.String(length=1000), nullable=True))
        batch.add_column(sa.Column("snapshot_sha256", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("snapshot_size", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("snapshot_media_type", sa.String(length=200), nullable=True))
    _split_collected()
    with op.batch_alter_table("evidence") as batch:
        batch.alter_column("received_at", existing_type=sa.DateTime(timezone=True), nullable=False)
        batch.drop_column("collected_at")
        batch.create_index(
            batch.f("ix_evidence_snapshot_sha256"), ["snapshot_sha256"], unique=False
        )
        batch.create_check_constraint(
            "snapshot", "snapshot_sha256 IS NULL OR (kind = 'url' AND snapshot_size IS NOT NULL)"
        )


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _split_collected() -> None:
    conn = op.get_bind()
    ev = sa.table(
        "evidence",
        sa.column("id", sa.Integer()),
        sa.column("result_id", sa.Integer()),
        sa.column("collected_at", sa.DateTime(timezone=True)),
        sa.column("collected_on", sa.Date()),
        sa.column("received_at", sa.DateTime(timezone=True)),
    )
    res = sa.table(
        "results", sa.column("id", sa.Integer()), sa.column("assessment_id", sa.Integer())
    )
    asm = sa.table(
        "assessments",
        sa.column("id", sa.Integer()),
        sa.column("imported_at", sa.DateTime(timezone=True)),
    )
    rows = conn.execute(
        sa.select(ev.c.id, ev.c.collected_at, asm.c.imported_at)
        .join(res, res.c.id == ev.c.result_id)
        .join(asm, asm.c.id == res.c.assessment_id)
    ).all()
    updates = []
    for eid, collected_at, imported_at in rows:
        stamp = _utc(collected_at)
        stated = stamp.timetz().replace(tzinfo=None) == time.min
        updates.append(
            dict(
                b_id=eid,
                b_on=stamp.date() if stated else None,
                b_received=_utc(imported_at) if stated else stamp,
            )
        )
    for start in range(0, len(updates), 5000):
        conn.execute(
            ev.update()
            .where(ev.c.id == sa.bindparam("b_id"))
            .values(collected_on=sa.bindparam("b_on"), received_at=sa.bindparam("b_received")),
            updates[start : start + 5000],
        )


def downgrade() -> None:
    with op.batch_alter_table("evidence") as batch:
        batch.add_column(sa.Column("collected_at", sa.DateTime(timezone=True), nullable=True))
    conn = op.get_bind()
    ev = sa.table(
        "evidence",
        sa.column("id", sa.Integer()),
        sa.column("collected_at", sa.DateTime(timezone=True)),
        sa.column("collected_on", sa.Date()),
        sa.column("received_at", sa.DateTime(timezone=True)),
    )
    rows = conn.execute(sa.select(ev.c.id, ev.c.collected_on, ev.c.received_at)).all()
    updates = [
        dict(
            b_id=eid,
            b_at=datetime.combine(on, time.min, tzinfo=UTC) if on else _utc(received),
        )
        for eid, on, received in rows
    ]
    for start in range(0, len(updates), 5000):
        conn.execute(
            ev.update()
            .where(ev.c.id == sa.bindparam("b_id"))
            .values(collected_at=sa.bindparam("b_at")),
            updates[start : start + 5000],
        )
    with op.batch_alter_table("evidence") as batch:
        batch.alter_column("collected_at", existing_type=sa.DateTime(timezone=True), nullable=False)
        batch.drop_constraint(op.f("ck_evidence_snapshot"), type_="check")
        batch.drop_index(batch.f("ix_evidence_snapshot_sha256"))
        for name in (
            "snapshot_media_type",
            "snapshot_size",
            "snapshot_sha256",
            "snapshot_name",
            "received_at",
            "collected_on",
        ):
            batch.drop_column(name)
    with op.batch_alter_table("risk_acceptances") as batch:
        for name in ("compensating_controls", "approver_role", "approved_on"):
            batch.drop_column(name)
    with op.batch_alter_table("results") as batch:
        for name in (
            "remediation_due",
            "remediation_owner",
            "exceptions",
            "sample_selection",
            "sample_size",
            "population",
            "tested_on",
            "tested_by",
            "method",
        ):
            batch.drop_column(name)
        batch.alter_column(
            "notes",
            existing_type=sa.Text(),
            existing_nullable=True,
            comment="assessor's notes",
            existing_comment="assessor's notes; for not_applicable, the justification",
        )
    with op.batch_alter_table("assessments") as batch:
        batch.drop_constraint(op.f("ck_assessments_memory"), type_="check")
        batch.drop_column("agents")
        batch.drop_column("memory")
    op.drop_table("sufficient_set_checks")
    op.drop_index(op.f("ix_sufficient_sets_control_id"), table_name="sufficient_sets")
    op.drop_table("sufficient_sets")
    # Mappings to threats have no first-format equivalent: they are read as `intersects`.
    op.execute("UPDATE mappings SET relationship = 'intersects' WHERE relationship = 'mitigates'")
    with op.batch_alter_table("mappings") as batch:
        batch.drop_constraint(op.f("ck_mappings_relationship"), type_="check")
        batch.create_check_constraint("relationship", RELATIONSHIPS_V1)
    with op.batch_alter_table("checks") as batch:
        batch.drop_column("procedure")
    with op.batch_alter_table("controls") as batch:
        batch.drop_constraint(op.f("ck_controls_nature"), type_="check")
        batch.drop_column("nature")
