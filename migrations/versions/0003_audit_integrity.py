"""audit integrity: the audit table only grows

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30

Triggers reject every UPDATE and DELETE of `audit_events` (and TRUNCATE on PostgreSQL), so
that changing the history takes the right to change the schema, not only to write rows; an
anchor (`compliance audit verify --expect N:SHA256`) catches whoever has that right too.
`compliance audit verify` reports the triggers when they are missing or disabled
(compliance.store.audit.missing_guards knows their names). No table or column changes, and
nothing here reads other tables, so the revision can follow any other.

On SQLite, rebuilding `audit_events` (batch mode) would drop its triggers: a later revision that
alters the table must create them again.
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

SQLITE = [
    "CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events "
    "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only: UPDATE is not allowed'); END",
    "CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events "
    "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only: DELETE is not allowed'); END",
]
POSTGRESQL = [
    "CREATE FUNCTION audit_events_reject_change() RETURNS trigger LANGUAGE plpgsql AS $$\n"
    "BEGIN\n"
    "  RAISE EXCEPTION 'audit_events is append-only: % is not allowed', TG_OP\n"
    "    USING ERRCODE = 'insufficient_privilege';\n"
    "END\n"
    "$$",
    "CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events "
    "FOR EACH ROW EXECUTE FUNCTION audit_events_reject_change()",
    "CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_events_reject_change()",
]


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    for statement in SQLITE if dialect == "sqlite" else POSTGRESQL:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_delete")
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_update")
        return
    op.execute("DROP TRIGGER IF EXISTS audit_events_no_truncate ON audit_events")
    op.execute("DROP TRIGGER IF EXISTS audit_events_append_only ON audit_events")
    op.execute("DROP FUNCTION IF EXISTS audit_events_reject_change()")
