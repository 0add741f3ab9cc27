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

from jinja2.sandbox import ImmutableSandboxedEnvironment
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse

from compliance.cli.context import AppContext
from compliance.dates import today
from compliance.errors import ComplianceError
from compliance.reports import render
from compliance.store import audit
from compliance.store.models import AuditEvent
from compliance.web import auth
from compliance.web.accounts import Account

CACHE_ENTRIES = 512
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
        self._lock = threading.Lock()

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A read-only snapshot (catalogs were loaded when the server started)."""
        with self.app.read_session(sync=False) as session:
            yield session

    def cached(self, key: tuple[Any, ...], build: Callable[[Session], Any]) -> Any:
        """The view model `build` makes, from a cache keyed by `key` and the data version."""
        with self.reading() as session:
            full = (data_version(session), *key)
            now = time.monotonic()
            with self._lock:
                hit = self._cache.get(full)
                if hit is not None and now - hit[0] < CACHE_SECONDS:
                    self._cache.move_to_end(full)
                    return hit[1]
            value = build(session)
        with self._lock:
            self._cache[full] = (now, value)
            self._cache.move_to_end(full)
            while len(self._cache) > CACHE_ENTRIES:
                self._cache.popitem(last=False)
        return value


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
