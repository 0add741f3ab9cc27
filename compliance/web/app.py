"""The ASGI application: every route passes through `_guarded`, which signs the request in,
refuses a state change without its CSRF token, and asks `auth.allowed` for the route's
permission. Errors become the same messages the CLI prints."""

from __future__ import annotations

import functools
import json
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import anyio.to_thread
from sqlalchemy.exc import SQLAlchemyError
from starlette.applications import Starlette
from starlette.datastructures import FormData
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from compliance.cli.context import AppContext
from compliance.errors import ComplianceError, InvalidInput, NotFound
from compliance.store import catalog_store, db
from compliance.web import accounts, auth
from compliance.web.portal import Portal, Req, Settings, render_page

log = logging.getLogger("compliance.web")
SESSION_COOKIE = "compliance_session"
LOGIN_COOKIE = "compliance_login"
CSRF_HEADER = "x-csrf-token"
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
MAX_FORM_BYTES = 1024 * 1024 * 1024  # an import: documents and every evidence file

Handler = Callable[[Req], Response]


@dataclass(frozen=True)
class Endpoint:
    """One route: its path, method, the permission it needs, and what it answers with."""

    path: str
    method: str
    permission: str
    handler: Handler
    api: bool = False  # JSON errors and 401 rather than pages and a redirect to sign in
    summary: str = ""
    params: tuple[tuple[str, str, str], ...] = ()  # (name, in, description) for OpenAPI
    form: bool = False  # reads a (multipart) form body


class Refused(Exception):
    """The request may not go on: status and message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


RETRIES = 6


def _with_retries(fn: Callable[[], Response]) -> Response:
    """Run a handler, again when the database reports a transient conflict (as the CLI does)."""
    return db.retrying(fn, RETRIES)


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def same_origin(request: Request) -> bool:
    """False for a request a browser marks as sent by another site (Origin or Sec-Fetch-Site)."""
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    if origin is None:  # not a browser, or one that sends none: the CSRF token still decides
        return True
    own = f"{request.url.scheme}://{request.url.netloc}"
    return origin == own


def error_response(
    endpoint_api: bool,
    portal: Portal,
    req: Req | None,
    status: int,
    message: str,
    problems: list[str] | None = None,
) -> Response:
    if endpoint_api:
        body: dict[str, Any] = {"error": message}
        if problems is not None:
            body["problems"] = problems
        return JSONResponse(body, status_code=status)
    return render_page(
        portal,
        "portal/error.html",
        req.account if req else None,
        req.csrf_token if req else None,
        status_code=status,
        status=status,
        message=message,
        problems=problems or [],
    )


def _guarded(portal: Portal, ep: Endpoint) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        # Who is asking, and may they, before a byte of the body is read.
        found = await anyio.to_thread.run_sync(
            functools.partial(_identify, portal, ep, request), limiter=portal.limiter
        )
        if isinstance(found, Response):
            return found
        form: FormData | None = None
        if ep.form:
            size = request.headers.get("content-length")
            if size is None or not size.isdigit() or int(size) > MAX_FORM_BYTES:
                return error_response(
                    ep.api,
                    portal,
                    found,
                    413,
                    f"a request body needs a Content-Length of at most {MAX_FORM_BYTES} bytes",
                )
            try:
                form = await request.form(max_files=10_000, max_fields=1_000)
            except Exception as exc:  # malformed multipart: the parser's own words
                return error_response(ep.api, portal, found, 400, f"malformed form: {exc}")
        found.form = form
        try:
            return await anyio.to_thread.run_sync(
                functools.partial(_handle, portal, ep, found), limiter=portal.limiter
            )
        finally:
            if form is not None:
                await form.close()

    return endpoint


def _identify(portal: Portal, ep: Endpoint, request: Request) -> Req | Response:
    """The signed-in account of a request allowed the endpoint's permission, or the answer."""
    token = _bearer(request)
    with portal.reading() as session:
        if token is not None:
            account = accounts.account_for_token(session, token)
            signed = None
        else:
            signed = accounts.session_for_cookie(session, request.cookies.get(SESSION_COOKIE, ""))
            account = signed.account if signed else None
    if account is None:
        if ep.api or token is not None:
            return JSONResponse(
                {"error": "sign in first: a session cookie or Authorization: Bearer TOKEN"},
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer realm="compliance"'},
            )
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
    req = Req(request, portal, account, signed.csrf_token if signed else None)
    if not auth.allowed(account.role, ep.permission):
        return error_response(
            ep.api,
            portal,
            req,
            403,
            f"{account.role} accounts may not do this (it needs {ep.permission!r}, "
            f"allowed from the {auth.PERMISSIONS[ep.permission]} role up)",
        )
    return req


def _handle(portal: Portal, ep: Endpoint, req: Req) -> Response:
    request = req.request
    try:
        if request.method in UNSAFE and req.csrf_token is not None:
            # A browser sends the cookie by itself; the token proves the page sent it.
            given = request.headers.get(CSRF_HEADER)
            if given is None and req.form is not None:
                value = req.form.get("csrf_token")
                given = value if isinstance(value, str) else None
            if not same_origin(request) or not accounts.same_secret(given, req.csrf_token):
                raise Refused(
                    403, "refused: a change needs this site's CSRF token (cross-site request?)"
                )
        return _with_retries(lambda: ep.handler(req))
    except Refused as exc:
        return error_response(ep.api, portal, req, exc.status, exc.message)
    except InvalidInput as exc:
        problems = [str(p) for p in exc.problems]
        return error_response(
            ep.api,
            portal,
            req,
            422,
            f"{len(problems)} problem(s) found; nothing was written",
            problems,
        )
    except NotFound as exc:
        return error_response(ep.api, portal, req, 404, str(exc))
    except ComplianceError as exc:
        return error_response(ep.api, portal, req, 400, str(exc))
    except SQLAlchemyError as exc:
        log.exception("database error on %s %s", request.method, request.url.path)
        return error_response(ep.api, portal, req, 503, f"database error: {type(exc).__name__}")
    except Exception:
        # Never a traceback to the reader: the details go to the server's log.
        log.exception("error on %s %s", request.method, request.url.path)
        return error_response(
            ep.api, portal, req, 500, "internal error; the server's log has the details"
        )


class SecurityHeaders:
    """Headers on every response: no scripts, no framing, no sniffing, nothing cached."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _v in headers}
                extra = {
                    b"content-security-policy": b"default-src 'none'; style-src 'unsafe-inline'; "
                    b"img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; "
                    b"base-uri 'none'",
                    b"x-content-type-options": b"nosniff",
                    b"x-frame-options": b"DENY",
                    b"referrer-policy": b"same-origin",
                    b"cache-control": b"no-store",
                    b"cross-origin-opener-policy": b"same-origin",
                    b"cross-origin-resource-policy": b"same-origin",
                }
                headers += [(k, v) for k, v in extra.items() if k not in names]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(app_context: AppContext, settings: Settings | None = None) -> Starlette:
    """The portal over one database and evidence store (as the CLI's global options name them)."""
    from compliance.web import api, pages, session_routes

    portal = Portal(app_context, settings or Settings())
    endpoints: list[Endpoint] = [*pages.ENDPOINTS, *api.ENDPOINTS]
    routes: list[BaseRoute] = [
        Route(ep.path, _guarded(portal, ep), methods=[ep.method]) for ep in endpoints
    ]
    routes += session_routes.routes(portal)
    app = Starlette(routes=routes, middleware=[Middleware(SecurityHeaders)])
    app.state.portal = portal
    app.state.endpoints = endpoints
    return app


def prepare(app_context: AppContext) -> None:
    """Before serving: the schema is current, the catalogs on disk are loaded and the evidence
    store is this database's (`compliance serve` runs this once, not every worker)."""
    from compliance.store import identity

    db.require_current_schema(app_context.engine)
    with app_context.session() as session:
        catalog_store.sync(session, app_context.catalog_dirs)
    with app_context.read_session(sync=False) as session:
        identity.check(session, app_context.evidence_store())


ENV_SETTINGS = "COMPLIANCE_PORTAL_SETTINGS"


def settings_to_env(app_context: AppContext, settings: Settings) -> dict[str, str]:
    """What each worker process needs to rebuild the app (`from_env`)."""
    return {
        ENV_SETTINGS: json.dumps(
            dict(
                db_url=app_context.db_url,
                catalog_dirs=[str(d) for d in app_context.catalog_dirs],
                evidence_dir=str(app_context.evidence_dir) if app_context.evidence_dir else None,
                secure_cookies=settings.secure_cookies,
            )
        )
    }


def from_env() -> Starlette:
    """The app of a uvicorn worker, from what `compliance serve` put in the environment."""
    raw = json.loads(os.environ.get(ENV_SETTINGS, "{}"))
    ctx = AppContext(
        raw.get("db_url"),
        [Path(d) for d in raw.get("catalog_dirs", [])],
        Path(raw["evidence_dir"]) if raw.get("evidence_dir") else None,
    )
    return create_app(ctx, Settings(secure_cookies=bool(raw.get("secure_cookies"))))


def safe_next(value: str | None) -> str:
    """Where to go after signing in: a path of this site only."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/portfolio"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return "/portfolio"
    return value
