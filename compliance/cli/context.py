"""What every command shares: the database, catalog folders, evidence store, and error handling."""

from __future__ import annotations

import functools
import json
import random
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session

from compliance.errors import ComplianceError, InvalidInput
from compliance.store import catalog_store, db

if TYPE_CHECKING:
    from compliance.evidence import EvidenceStore

EXIT_ERROR = 1
F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class AppContext:
    db_url: str | None
    catalog_dirs: list[Path] = field(default_factory=list)
    evidence_dir: Path | None = None
    _engine: Engine | None = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = db.make_engine(self.db_url)
        return self._engine

    def evidence_store(self) -> EvidenceStore:
        from compliance.evidence import EvidenceStore, default_store_dir  # only commands storing

        return EvidenceStore(self.evidence_dir or default_store_dir(self.engine))

    @contextmanager
    def session(self, *, sync: bool = True) -> Iterator[Session]:
        """A transaction on an up-to-date schema, with the catalogs on disk loaded."""
        db.require_current_schema(self.engine)
        with db.transaction(self.engine) as session:
            if sync:
                catalog_store.sync(session, self.catalog_dirs)
            yield session


pass_app = click.make_pass_decorator(AppContext)


def fail(message: str, code: int = EXIT_ERROR) -> NoReturn:
    click.secho(f"error: {message}", fg="red", err=True)
    sys.exit(code)


RETRIES = 8


def _with_retries(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run a command, retrying it whole when the database reports a transient conflict.

    Commands print only after their unit of work has committed, so a retry repeats nothing the
    user has seen.
    """
    delay = 0.05
    for attempt in range(RETRIES):
        try:
            return fn(*args, **kwargs)
        except DBAPIError as exc:
            if attempt == RETRIES - 1 or not db.is_transient(exc):
                raise
            time.sleep(delay + random.uniform(0, delay))  # noqa: S311 - jitter, not security
            delay = min(delay * 2, 2.0)
    raise AssertionError("unreachable")


def handle_errors(fn: F) -> F:
    """Turn domain and database errors into a message and a non-zero exit, never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return _with_retries(fn, *args, **kwargs)
        except InvalidInput as exc:
            click.secho(
                f"error: {len(exc.problems)} problem(s) found; nothing was written",
                fg="red",
                err=True,
            )
            for p in exc.problems:
                click.echo(f"  {p}", err=True)
            sys.exit(EXIT_ERROR)
        except ComplianceError as exc:
            fail(str(exc))
        except OperationalError as exc:
            fail(f"database error: {exc.orig}")
        except SQLAlchemyError as exc:
            fail(f"database error: {exc}")

    return wrapper  # type: ignore[return-value]


def echo_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, ensure_ascii=False, default=str))
