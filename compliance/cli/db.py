"""`compliance db`: schema migrations and catalog loading."""

from __future__ import annotations

import click

from compliance.cli.context import AppContext, handle_errors, pass_app, say
from compliance.store import catalog_store
from compliance.store import db as store_db


@click.group()
def db() -> None:
    """Create or migrate the database schema."""


@db.command()
@click.option("--revision", default="head", show_default=True, help="Target revision.")
@pass_app
@handle_errors
def upgrade(app: AppContext, revision: str) -> None:
    """Migrate the schema to REVISION and load the catalogs.

    \b
    Example:
      compliance --db postgresql://user@localhost/compliance db upgrade
    """
    store_db.upgrade(app.engine, revision)
    say(f"schema at revision {store_db.current_revision(app.engine)}")
    if revision == "head":
        with store_db.transaction(app.engine) as session:
            report = catalog_store.sync(session, app.catalog_dirs)
        for name in report.added:
            say(f"loaded {name}")
        if not report.added:
            say("catalogs up to date")


@db.command()
@click.argument("revision")
@pass_app
@handle_errors
def downgrade(app: AppContext, revision: str) -> None:
    """Migrate the schema down to REVISION (`base` removes every table).

    \b
    Example:
      compliance db downgrade base
    """
    store_db.downgrade(app.engine, revision)
    say(f"schema at revision {store_db.current_revision(app.engine) or 'base'}")


@db.command()
@pass_app
@handle_errors
def current(app: AppContext) -> None:
    """Show the schema revision of the database and the newest one available.

    \b
    Example:
      compliance db current
    """
    say(f"current: {store_db.current_revision(app.engine) or 'none'}")
    say(f"head:    {store_db.head_revision(app.engine)}")
