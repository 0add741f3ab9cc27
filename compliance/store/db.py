"""Engine and session setup, and schema upgrades through Alembic."""

from __future__ import annotations

import os
import random
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import ClauseElement, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.compiler import SQLCompiler

from compliance.errors import ComplianceError
from compliance.resources import migrations_dir

T = TypeVar("T")

if TYPE_CHECKING:
    from alembic.config import Config

DEFAULT_URL = "sqlite:///compliance.db"


def database_url(explicit: str | None = None) -> str:
    """The --db URL, else $COMPLIANCE_DB_URL, else compliance.db in the working directory."""
    url = explicit or os.environ.get("COMPLIANCE_DB_URL") or DEFAULT_URL
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        # Use psycopg 3, the driver this project installs.
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


SQLITE_BUSY_TIMEOUT_MS = int(os.environ.get("COMPLIANCE_SQLITE_BUSY_TIMEOUT_MS", "120000"))


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # The driver's own transaction handling is switched off; `_sqlite_begin` starts each one.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode=WAL")
    # FULL: a committed import survives power loss, not only a crash of the process.
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.close()


READ_ONLY = "compliance_read_only"  # execution option of a snapshot's connection


def _sqlite_begin(conn: Any) -> None:
    if conn.get_execution_options().get(READ_ONLY):
        # A read transaction: in WAL mode it reads one snapshot (fixed at its first read) and
        # neither waits for nor blocks writers. query_only makes any write in it an error.
        conn.exec_driver_sql("PRAGMA query_only=1")
        conn.exec_driver_sql("BEGIN DEFERRED")
        return
    # Take the write lock at the start: a transaction that reads and then writes can otherwise
    # fail with SQLITE_BUSY when another writer committed in between, which no timeout fixes.
    conn.exec_driver_sql("PRAGMA query_only=0")
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str | None = None) -> Engine:
    """Create an engine for `url`, with the SQLite settings this store relies on."""
    resolved = database_url(url)
    try:
        parsed = make_url(resolved)
    except Exception as exc:
        raise ComplianceError(f"invalid database URL {resolved!r}: {exc}") from None
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(resolved, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(resolved, pool_pre_ping=True)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error.

    Writers never interleave: SQLite takes its write lock at BEGIN, PostgreSQL a
    transaction-scoped advisory lock, so a unit of work sees no other writer's half-done work
    and the audit chain is extended by one writer at a time.
    """
    with session_factory(engine)() as session, session.begin():
        if engine.dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": WRITER_LOCK_KEY})
        yield session


WRITER_LOCK_KEY = 7243001


@contextmanager
def snapshot(engine: Engine) -> Iterator[Session]:
    """A read-only transaction on one consistent snapshot, without the writers' lock.

    SQLite: a deferred read transaction (WAL), with `PRAGMA query_only` on. PostgreSQL:
    REPEATABLE READ READ ONLY. Readers never wait for a writer and no writer waits for them,
    however long they run; any attempt to write in one is an error. Nothing is committed.
    """
    with engine.connect().execution_options(**{READ_ONLY: True}) as conn:
        session = Session(bind=conn, expire_on_commit=False)
        try:
            if engine.dialect.name == "postgresql":
                # The first statement of the transaction, before its snapshot is taken.
                session.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"))
            yield session
        finally:
            # Ends the transaction (a rollback: nothing was written) and detaches the objects
            # read, which stay usable, as after a commit with expire_on_commit=False.
            session.close()


def is_transient(exc: BaseException) -> bool:
    """A database error that a retry of the whole unit of work can resolve."""
    orig = getattr(exc, "orig", None)
    code = getattr(orig, "sqlstate", None)
    if code in {"40001", "40P01", "55P03"}:  # serialization failure, deadlock, lock not available
        return True
    message = str(orig or exc).lower()
    return "database is locked" in message or "database table is locked" in message


def retrying(fn: Callable[[], T], attempts: int) -> T:
    """Run a whole unit of work, again (after a short, growing, jittered pause) while the
    database reports a transient conflict, at most `attempts` times in all."""
    delay = 0.05
    for attempt in range(attempts):
        try:
            return fn()
        except DBAPIError as exc:
            if attempt == attempts - 1 or not is_transient(exc):
                raise
            time.sleep(delay + random.uniform(0, delay))  # noqa: S311 - jitter, not security
            delay = min(delay * 2, 2.0)
    raise AssertionError("unreachable")


# Alembic is imported by the functions that migrate or report revisions, not with this module:
# it costs more start-up than SQLAlchemy itself, and every other command only needs to know that
# the schema is current (`require_current_schema`, which reads the scripts' revision ids).


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision` (default: the newest)."""
    from alembic import command

    command.upgrade(alembic_config(engine), revision)


def downgrade(engine: Engine, revision: str) -> None:
    from alembic import command

    command.downgrade(alembic_config(engine), revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect().execution_options(**{READ_ONLY: True}) as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision(engine: Engine) -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


_REVISION = re.compile(r"^revision(?:\s*:\s*str)?\s*=\s*['\"]([^'\"]+)['\"]", re.MULTILINE)
_DOWN = re.compile(r"^down_revision\b[^=]*=(.*)$", re.MULTILINE)
_QUOTED = re.compile(r"['\"]([^'\"]+)['\"]")


def _script_head() -> str | None:
    """The newest revision id among the migration scripts, read from their `revision` and
    `down_revision` lines without importing Alembic; None when that is not one plain answer
    (Alembic decides then). tests/test_cli_startup.py holds it to Alembic's own answer."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in (migrations_dir() / "versions").glob("*.py"):
        source = script.read_text(encoding="utf-8")
        revision, down = _REVISION.search(source), _DOWN.search(source)
        if revision is None or down is None:
            return None
        revisions.add(revision.group(1))
        parents.update(_QUOTED.findall(down.group(1)))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def _stamped_revision(engine: Engine) -> str | None:
    """The revision recorded in the database's alembic_version table; None without one."""
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT version_num FROM alembic_version")).all()
    except DBAPIError:
        rows = []  # most likely no table (no schema): Alembic tells that from a real error
    if len(rows) != 1:
        return current_revision(engine)  # no schema, or several heads: Alembic's answer
    return str(rows[0][0])


def require_current_schema(engine: Engine) -> None:
    """Refuse to work on a database whose schema is missing or out of date."""
    head = _script_head()
    if head is not None:
        current = _stamped_revision(engine)
    else:
        current, head = current_revision(engine), head_revision(engine)
    if current != head:
        state = "has no schema" if current is None else f"is at revision {current}, not {head}"
        raise ComplianceError(
            f"the database {engine.url.render_as_string(hide_password=True)} {state}; "
            "run `compliance db upgrade` first"
        )


def fetch_rows(session: Session, statement: ClauseElement) -> list[tuple[Any, ...]]:
    """Every row of a Core SELECT as plain DB-API tuples, on the session's connection.

    For hot paths that read hundreds of thousands of rows of integers and strings: SQLAlchemy's
    result rows cost several times the driver's own fetch. No type processing is applied, so use
    it only for columns whose driver values are already what the caller wants (integers, text),
    and with parameters the driver takes as they are.
    """
    conn = session.connection()
    compiled = statement.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    assert isinstance(compiled, SQLCompiler)
    params = compiled.construct_params()
    args: Any = (
        tuple(params[name] for name in compiled.positiontup or ())
        if compiled.positional
        else params
    )
    cursor = conn.connection.cursor()
    try:
        cursor.execute(str(compiled), args)
        return list(cursor.fetchall())
    finally:
        cursor.close()
