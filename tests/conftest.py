"""Test fixtures: every database test runs on SQLite and on a real PostgreSQL server.

The schema is built only by upgrading to head through the migrations, once per worker into a
template, then copied for each test.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine, create_engine, text

from compliance.cli.main import cli
from compliance.store import catalog_store, db

PG_URL = os.environ.get("COMPLIANCE_TEST_PG_URL")
REQUIRE_PG = os.environ.get("COMPLIANCE_REQUIRE_PG") == "1"
BACKENDS = ["sqlite", "postgresql"]


def _pg_admin() -> Engine:
    assert PG_URL
    return create_engine(PG_URL, isolation_level="AUTOCOMMIT")


def _pg_url(name: str) -> str:
    assert PG_URL
    return PG_URL.rsplit("/", 1)[0] + "/" + name


def _require_pg() -> None:
    if not PG_URL:
        if REQUIRE_PG:
            pytest.fail("COMPLIANCE_TEST_PG_URL is not set; run the suite through `make test`")
        pytest.skip("no PostgreSQL server (run `make test` to start one)")


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def build_schema(url: str) -> None:
    engine = db.make_engine(url)
    try:
        db.upgrade(engine)
        with db.transaction(engine) as session:
            catalog_store.sync(session)
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    build_schema(f"sqlite:///{path}")
    # Fold the WAL into the main file so that a plain copy is complete.
    engine = create_engine(f"sqlite:///{path}")
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.exec_driver_sql("PRAGMA journal_mode=DELETE")
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    _require_pg()
    name = f"tmpl_{_worker()}_{uuid.uuid4().hex[:8]}"
    admin = _pg_admin()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    build_schema(_pg_url(name))
    yield name
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def fresh_database(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    if backend == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        target = tmp_path / "compliance.db"
        shutil.copyfile(template, target)
        yield f"sqlite:///{target}"
        return
    template_name: str = request.getfixturevalue("pg_template")
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = _pg_admin()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template_name}"'))
    try:
        yield _pg_url(name)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# Outputs state when they were generated; tests fix that instant, as a reproducible build does,
# so that the same database and arguments give the same bytes. A test about "now" unsets it.
SOURCE_DATE_EPOCH = "1796083200"  # 2026-12-01T00:00:00Z


@pytest.fixture(autouse=True)
def _fixed_generation_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", SOURCE_DATE_EPOCH)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "postgresql":
        _require_pg()
    return str(request.param)


@pytest.fixture
def db_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh database at head with the built-in catalogs loaded."""
    yield from fresh_database(backend, tmp_path, request)


@pytest.fixture
def empty_db_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A database with no schema at all."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    name = f"e_{uuid.uuid4().hex[:12]}"
    admin = _pg_admin()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield _pg_url(name)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = db.make_engine(db_url)
    yield eng
    eng.dispose()


class Cli:
    """Runs `compliance` in-process against one database and evidence store."""

    def __init__(self, url: str, evidence: Path) -> None:
        self.url = url
        self.evidence = evidence
        self.runner = CliRunner()

    def __call__(self, *args: str, catalog_dirs: tuple[Path, ...] = ()) -> Result:
        base = ["--db", self.url, "--evidence-dir", str(self.evidence)]
        for d in catalog_dirs:
            base += ["--catalog-dir", str(d)]
        return self.runner.invoke(cli, [*base, *args], catch_exceptions=False)


@pytest.fixture
def run(db_url: str, tmp_path: Path) -> Cli:
    return Cli(db_url, tmp_path / "evidence-store")
