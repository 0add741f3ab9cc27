"""What every request shares: the CLI's AppContext (database, evidence store, catalog folders),
the templates, a cache of view models, and the request's signed-in account."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from urllib.parse import quote

import anyio
from jinja2.sandbox import ImmutableSandboxedEnvironment
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse

from compliance.cli.context import AppContext
from compliance.dates import today
from compliance.errors import ComplianceError
from compliance.policy import LoadedPolicy
from compliance.reports import render
from compliance.store import audit, catalog_store, db
from compliance.store.models import AuditEvent, Catalog
from compliance.web import auth
from compliance.web.accounts import Account

CACHE_ENTRIES = 512
HANDLER_THREADS = 6
# A cached view model is rebuilt when the data changes (a new data event in the audit trail) and,
# in case rows were changed outside the tool, at the latest after this many seconds.
CACHE_SECONDS = 60.0


@dataclass(frozen=True)
class Settings:
    """How the portal runs: cookies marked Secure (behind TLS), and the name it shows."""

    secure_cookies: bool = False
    title: str = "Agent deployment compliance"


def data_version(session: Session) -> int:
    """The id of the last audit event that changed data: every import, finalize and catalog load
    writes one, so view models built from the same data version are the same."""
    found = session.execute(
        select(func.max(AuditEvent.id)).where(AuditEvent.action.not_in(audit.NON_DATA_ACTIONS))
    ).scalar_one()
    return int(found or 0)


class Portal:
    """One per worker process: the app context and the things built once."""

    def __init__(self, app: AppContext, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.env: ImmutableSandboxedEnvironment = render.environment()
        self.env.filters["q"] = lambda value: quote(str(value), safe="")
        self._cache: OrderedDict[tuple[Any, ...], tuple[float, Any]] = OrderedDict()
        self._building: dict[tuple[Any, ...], threading.Lock] = {}
        self._policies: dict[str, LoadedPolicy] = {}
        self._lock = threading.Lock()
        # Handlers running at once in this worker: fewer than the engine's pool of connections
        # (a handler may hold two: a snapshot and a short write for its audit event).
        self.limiter = anyio.CapacityLimiter(HANDLER_THREADS)

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A read-only snapshot, as `AppContext.read_session` opens one. The schema was checked
        and the catalogs loaded when the server started (`app.prepare`), not on every request:
        reading the migration scripts again costs more than most pages."""
        with db.snapshot(self.app.engine) as session:
            yield session

    def cached(self, key: tuple[Any, ...], build: Callable[[Session], Any]) -> Any:
        """The view model `build` makes, from a cache keyed by `key` and the data version.

        One thread builds a missing entry while the others asking for it wait for that build
        rather than repeating it (a portfolio of thousands takes seconds to decide).
        """
        with self.reading() as session:
            version = data_version(session)
        hit = self._get((version, *key))
        if hit is not _MISSING:
            return hit
        with self._lock:
            building = self._building.setdefault((version, *key), threading.Lock())
        try:
            with building:
                hit = self._get((version, *key))
                if hit is not _MISSING:
                    return hit
                with self.reading() as session:
                    value = build(session)
                    # Kept under the version the value was built from (it may be newer).
                    self._put((data_version(session), *key), value)
                return value
        finally:
            with self._lock:
                self._building.pop((version, *key), None)

    def policy(self, session: Session) -> LoadedPolicy:
        """The policy in force, parsed once per version of its file (parsing it costs more than
        deciding one deployment)."""
        sha = session.execute(
            select(Catalog.sha256)
            .where(Catalog.kind == "policy", Catalog.is_current.is_(True))
            .order_by(Catalog.id.desc())
            .limit(1)
        ).scalar_one_or_none()
        with self._lock:
            found = self._policies.get(sha) if sha else None
        if found is not None:
            return found
        loaded = catalog_store.current_policy(session)
        with self._lock:
            self._policies[loaded.file.sha256] = loaded
        return loaded

    def _get(self, full: tuple[Any, ...]) -> Any:
        with self._lock:
            hit = self._cache.get(full)
            if hit is None or time.monotonic() - hit[0] >= CACHE_SECONDS:
                return _MISSING
            self._cache.move_to_end(full)
            return hit[1]

    def _put(self, full: tuple[Any, ...], value: Any) -> None:
        with self._lock:
            self._cache[full] = (time.monotonic(), value)
            self._cache.move_to_end(full)
            while len(self._cache) > CACHE_ENTRIES:
                self._cache.popitem(last=False)


_MISSING = object()


@dataclass
class Req:
    """A request of a signed-in account, as a route handler sees it."""

    request: Request
    portal: Portal
    account: Account
    csrf_token: str | None  # None when signed in with an API token
    form: FormData | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def param(self, name: str) -> str | None:
        value = self.request.query_params.get(name)
        return value if value else None

    def path(self, name: str) -> str:
        return str(self.request.path_params[name])

    def as_of(self) -> date:
        """`?as_of=YYYY-MM-DD`, else today (UTC)."""
        raw = self.param("as_of")
        if raw is None:
            return today()
        try:
            return datetime.strptime(raw, "%Y-%m-%d").date()
        except ValueError:
            raise ComplianceError(f"as_of: expected a date as YYYY-MM-DD, got {raw!r}") from None

    def can(self, permission: str) -> bool:
        return auth.allowed(self.account.role, permission)

    def page(self, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        return render_page(
            self.portal, template, self.account, self.csrf_token, status_code, **context
        )


def render_page(
    portal: Portal,
    template: str,
    account: Account | None,
    csrf_token: str | None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """A portal page: the template with the account, its grants and the CSRF token for forms."""
    html = portal.env.get_template(template).render(
        user=account,
        can=auth.grants(account.role) if account else {},
        csrf_token=csrf_token or "",
        site_title=portal.settings.title,
        **context,
    )
    return HTMLResponse(html, status_code=status_code)
