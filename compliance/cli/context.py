"""What every command shares: the database, catalog folders, evidence store, and error handling."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session

from compliance import outfile
from compliance.dates import today
from compliance.errors import ComplianceError, InvalidInput
from compliance.store import audit, catalog_store, db, identity
from compliance.textsafe import json_text, shown

if TYPE_CHECKING:
    from compliance.evidence import EvidenceStore

EXIT_ERROR = 1
F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class AppContext:
    """The global options, and the database sessions and evidence store every command uses."""

    db_url: str | None
    catalog_dirs: list[Path] = field(default_factory=list)
    evidence_dir: Path | None = None
    _engine: Engine | None = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = db.make_engine(self.db_url)
        return self._engine

    def evidence_root(self) -> Path:
        """The evidence store folder: --evidence-dir (or $COMPLIANCE_EVIDENCE_DIR), else beside
        a SQLite file, else the folder a server database recorded on first use (so that it
        does not depend on the working directory), else ./evidence-store."""
        from compliance.evidence import default_store_dir  # only the commands that use a store

        if self.evidence_dir is not None:
            return self.evidence_dir
        if self.engine.dialect.name == "sqlite":
            return default_store_dir(self.engine)
        return identity.recorded_folder(self.engine) or Path("evidence-store").absolute()

    def evidence_store(self) -> EvidenceStore:
        """The evidence store; the commands that use it check (or, on first use, record) that
        it is this database's (`store.identity`)."""
        from compliance.evidence import EvidenceStore

        return EvidenceStore(self.evidence_root())

    @contextmanager
    def session(self, *, sync: bool = True) -> Iterator[Session]:
        """A write transaction (holding the writers' lock) on an up-to-date schema, with the
        catalogs on disk loaded. For commands that change the database."""
        audit.actor()  # a bad $COMPLIANCE_ACTOR is refused before any work, not at its end
        db.require_current_schema(self.engine)
        with db.transaction(self.engine) as session:
            if sync:
                catalog_store.sync(session, self.catalog_dirs)
            yield session

    @contextmanager
    def read_session(self, *, sync: bool = True) -> Iterator[Session]:
        """A read-only snapshot on an up-to-date schema, with the catalogs on disk loaded.

        For commands that only read: they never take or wait for the writers' lock (see
        `store.db.snapshot`). Catalog files that changed on disk are loaded first, only then,
        in a short write transaction of their own. A command that reads for long and writes a
        little at the end (an audit event) does the writing in `session()` afterwards.
        """
        db.require_current_schema(self.engine)
        if sync:
            catalog_store.sync_if_needed(self.engine, self.catalog_dirs)
        with db.snapshot(self.engine) as session:
            yield session

    def guard(
        self,
        files: Iterable[tuple[Path | None, str]] = (),
        folders: Iterable[tuple[Path | None, str]] = (),
    ) -> outfile.Protected:
        """What this command's outputs must not replace: the database's files, the evidence
        store, the catalog folders and the given inputs (None entries are skipped)."""
        return outfile.protected(
            self.engine.url,
            self.evidence_root(),
            [(p, what) for p, what in files if p is not None],
            [(p, what) for p, what in folders if p is not None]
            + [(d, "a catalog folder") for d in self.catalog_dirs],
        )


pass_app = click.make_pass_decorator(AppContext)


def say(*lines: object, err: bool = False, fg: str | None = None, bold: bool | None = None) -> None:
    """Print each of `lines` as one line of the terminal, whatever text from data it holds.

    The one way the command line prints text: control characters and escape sequences in
    names, notes, file names and messages are shown escaped (textsafe.shown), so data can
    neither start a line of its own nor rewrite, hide or recolour what the tool prints.
    A line break the tool means is a separate argument (`say("", "Blocked by:")`).
    """
    for line in lines or ("",):
        click.secho(shown(line), err=err, fg=fg, bold=bold)


def fail(message: str, code: int = EXIT_ERROR) -> NoReturn:
    say(f"error: {message}", fg="red", err=True)
    sys.exit(code)


RETRIES = 8


def _with_retries(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run a command, retrying it whole when the database reports a transient conflict.

    Commands print only after their unit of work has committed, so a retry repeats nothing the
    user has seen.
    """
    return db.retrying(lambda: fn(*args, **kwargs), RETRIES)


def handle_errors(fn: F) -> F:
    """Turn domain and database errors into a message and a non-zero exit, never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return _with_retries(fn, *args, **kwargs)
        except InvalidInput as exc:
            say(
                f"error: {len(exc.problems)} problem(s) found; nothing was written",
                fg="red",
                err=True,
            )
            for p in exc.problems:
                say(f"  {p}", err=True)
            sys.exit(EXIT_ERROR)
        except ComplianceError as exc:
            fail(str(exc))
        except OperationalError as exc:
            fail(f"database error: {exc.orig}")
        except SQLAlchemyError as exc:
            fail(f"database error: {exc}")

    return wrapper  # type: ignore[return-value]


class DateType(click.ParamType):  # type: ignore[type-arg]
    name = "DATE"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> date:
        if isinstance(value, date):
            return value
        try:
            return datetime.strptime(str(value), "%Y-%m-%d").date()
        except ValueError:
            self.fail(f"expected a date as YYYY-MM-DD, got {value!r}", param, ctx)


def as_of_option(fn: F) -> F:
    """`--as-of DATE`, resolved to today's date (UTC) when not given."""
    return click.option(
        "--as-of",
        type=DateType(),
        default=None,
        callback=lambda _ctx, _param, value: value or today(),
        help="Decide as of this date: each deployment's latest assessment dated on or before "
        "it [default: today, UTC].",
    )(fn)


def echo_json(value: Any) -> None:
    """Print JSON: the exact values, with what a terminal would act on escaped the JSON way."""
    click.echo(json_text(json.dumps(value, indent=2, ensure_ascii=False, default=str)))
