"""assessment documents: each assessment file's exact bytes, as imported

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-20

Assessments imported before this revision have no stored document (no row here); an audit
pack says so for each of them rather than rebuild one.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "assessment_documents",
        sa.Column("assessment_id", sa.Integer(), nullable=False),
        sa.Column(
            "name",
            sa.String(length=1000),
            nullable=False,
            comment="the file's path as given to import",
        ),
        sa.Column(
            "sha256", sa.String(length=64), nullable=False, comment="SHA-256 of the exact bytes"
        ),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column(
            "content", sa.LargeBinary(), nullable=False, comment="the document, byte for byte"
        ),
        sa.ForeignKeyConstraint(
            ["assessment_id"],
            ["assessments.id"],
            name=op.f("fk_assessment_documents_assessment_id_assessments"),
        ),
        sa.PrimaryKeyConstraint("assessment_id", name=op.f("pk_assessment_documents")),
    )


def downgrade() -> None:
    op.drop_table("assessment_documents")
