"""Alembic environment: one metadata, batch mode on SQLite, engine passed in by the library."""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import Engine, create_engine

from compliance.store.models import Base

config = context.config
target_metadata = Base.metadata


def _engine() -> Engine:
    engine = config.attributes.get("engine")
    if engine is not None:
        return engine
    from compliance.store.db import make_engine

    # By hand (`alembic check`), $COMPLIANCE_DB_URL wins over alembic.ini's default.
    url = os.environ.get("COMPLIANCE_DB_URL") or config.get_main_option("sqlalchemy.url")
    return make_engine(url) if url else create_engine("sqlite:///compliance.db")


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = _engine()
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # SQLite rebuilds a table to alter it (batch mode): drop, recreate, copy. With foreign
            # keys enforced, dropping a table that other rows reference fails, so, as SQLite
            # documents for schema changes, enforcement is off during the migration and every
            # reference is checked before the migration commits. The pragma only takes effect
            # outside a transaction, hence on the driver connection directly.
            connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=sqlite,
            compare_type=True,
        )
        try:
            with context.begin_transaction():
                context.run_migrations()
                if sqlite:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise RuntimeError(
                            f"migration left rows with dangling references: {broken[:5]}"
                        )
        finally:
            if sqlite:
                connection.connection.driver_connection.execute("PRAGMA foreign_keys=ON")  # type: ignore[union-attr]


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
