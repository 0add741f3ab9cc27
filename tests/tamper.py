"""What a hostile insider does to the database: statements run straight against it, around the
tool. Changing the audit table first takes dropping its append-only triggers, as someone with
the right to change the schema would."""

from __future__ import annotations

from sqlalchemy import Engine

SQLITE_DROP = (
    "DROP TRIGGER IF EXISTS audit_events_no_update",
    "DROP TRIGGER IF EXISTS audit_events_no_delete",
)
POSTGRESQL_DROP = (
    "DROP TRIGGER IF EXISTS audit_events_append_only ON audit_events",
    "DROP TRIGGER IF EXISTS audit_events_no_truncate ON audit_events",
)


def sql(engine: Engine, *statements: str) -> None:
    """Run statements in one transaction, outside the tool."""
    with engine.begin() as conn:
        for statement in statements:
            conn.exec_driver_sql(statement)


def drop_guards(engine: Engine) -> None:
    """Remove the triggers that keep the audit table append-only."""
    sql(engine, *(SQLITE_DROP if engine.dialect.name == "sqlite" else POSTGRESQL_DROP))


def audit_sql(engine: Engine, *statements: str) -> None:
    """Change the audit table the way an attacker with schema rights does: drop the guards first."""
    drop_guards(engine)
    sql(engine, *statements)


SQLITE_CREATE = (
    "CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events "
    "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only: UPDATE is not allowed'); END",
    "CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events "
    "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only: DELETE is not allowed'); END",
)
POSTGRESQL_CREATE = (
    "CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events "
    "FOR EACH ROW EXECUTE FUNCTION audit_events_reject_change()",
    "CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_events_reject_change()",
)


def restore_guards(engine: Engine) -> None:
    """Put the triggers back, as an attacker covering their tracks would."""
    sql(engine, *(SQLITE_CREATE if engine.dialect.name == "sqlite" else POSTGRESQL_CREATE))


def before_guards() -> str:
    """The revision before the one that installs the triggers."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from compliance.resources import migrations_dir

    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    down = ScriptDirectory.from_config(cfg).get_revision("0003").down_revision
    assert isinstance(down, str)
    return down
