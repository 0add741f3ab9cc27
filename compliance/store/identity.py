"""Which evidence store belongs to a database, and refusing to work with any other.

The database's evidence rows point at files by hash; the files are in one evidence store. On
first use the store is given a random id (a marker file in it, `EvidenceStore.ensure_store_id`)
and the database records that id and the store's absolute folder. Later commands compare: a
command run against another store (another folder, a copy of the wrong one, a new empty folder)
is refused, naming both, before it writes or packs anything. For a server database, the store's
default folder is the one recorded, so that it does not depend on the working directory.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from compliance import limits
from compliance.errors import ComplianceError
from compliance.evidence import EvidenceStore
from compliance.store import db
from compliance.store.models import Evidence, StoreIdentity

SAMPLE = 20  # referenced files looked for in a store recorded for the first time


@dataclass(frozen=True)
class Recorded:
    store_id: str
    path: str


def recorded(session: Session) -> Recorded | None:
    """The store recorded for this database, if any."""
    row = session.execute(select(StoreIdentity.store_id, StoreIdentity.path)).first()
    return Recorded(row[0], row[1]) if row else None


def recorded_folder(engine: Engine) -> Path | None:
    """The recorded store's folder, read without the writers' lock (None when there is none,
    or the schema predates it: the command then reports the schema itself)."""
    try:
        with db.snapshot(engine) as session:
            found = recorded(session)
    except SQLAlchemyError:
        return None
    return Path(found.path) if found else None


def _refusal(found: Recorded, store: EvidenceStore, store_id: str | None) -> ComplianceError:
    given = Path(store.root).absolute()
    what = f"evidence store {store_id}" if store_id else "no evidence store of this database"
    return ComplianceError(
        f"{given} is {what}; this database's evidence is in the evidence store {found.store_id} "
        f"(first used at {found.path}). Give that folder with --evidence-dir (or "
        "$COMPLIANCE_EVIDENCE_DIR)"
    )


def check(session: Session, store: EvidenceStore) -> None:
    """Refuse a store other than the one recorded for this database (none recorded: no check)."""
    found = recorded(session)
    if found is None:
        return
    store_id = store.store_id()
    if store_id != found.store_id:
        raise _refusal(found, store, store_id)


def bind(session: Session, store: EvidenceStore) -> None:
    """`check`, then, on first use, give the store its id and record it (in the caller's write
    transaction). A store that holds none of the files this database already references (a
    database from before store identities, pointed at the wrong folder) is refused."""
    check(session, store)
    if recorded(session) is not None:
        return
    sample = (
        session.execute(
            select(Evidence.sha256).where(Evidence.kind == "file").distinct().limit(SAMPLE)
        )
        .scalars()
        .all()
    )
    if sample and not any(sha and store.has(sha) for sha in sample):
        raise ComplianceError(
            f"the evidence store {Path(store.root).absolute()} holds none of the evidence files "
            "this database references; give the folder they are in with --evidence-dir"
        )
    path = str(Path(store.root).absolute())
    limits.require_fit("store_identity", {"path": path}, "the evidence store's folder")
    store_id = store.ensure_store_id()
    session.add(
        StoreIdentity(
            id=1,
            store_id=store_id,
            path=path,
            recorded_at=datetime.now(UTC),
        )
    )
    session.flush()
