"""Signing in and out: the only routes open without an account.

Sign-in attempts are limited per account name (failures within a window, counted from the audit
trail, so every worker and restart sees them) and per client address (in each worker's memory).
Every sign-in, failed sign-in and sign-out is an audit event.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import defaultdict, deque
from datetime import timedelta

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from compliance.store import audit
from compliance.web import accounts
from compliance.web.app import LOGIN_COOKIE, SESSION_COOKIE, safe_next, same_origin
from compliance.web.portal import Portal, render_page

FAILURE_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_NAME = 5
MAX_ATTEMPTS_PER_ADDRESS = 30
MAX_FORM = 16 * 1024


class _AddressLimiter:
    """Sign-in attempts per client address within the window, in this worker's memory."""

    def __init__(self) -> None:
        self._seen: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def allow(self, address: str) -> bool:
        now = time.monotonic()
        horizon = now - FAILURE_WINDOW.total_seconds()
        with self._lock:
            seen = self._seen[address]
            while seen and seen[0] < horizon:
                seen.popleft()
            if len(seen) >= MAX_ATTEMPTS_PER_ADDRESS:
                return False
            seen.append(now)
            if len(self._seen) > 100_000:  # forget the quiet ones rather than grow without bound
                for key in [k for k, v in self._seen.items() if not v]:
                    del self._seen[key]
            return True


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _subject(name: str) -> str:
    # The name as typed, cut to what the audit trail's subject column keeps.
    return name[:300] or "(empty)"


def routes(portal: Portal) -> list[BaseRoute]:
    limiter = _AddressLimiter()
    secure = portal.settings.secure_cookies

    def login_page(request: Request, message: str = "", status: int = 200) -> Response:
        nonce = secrets.token_urlsafe(32)
        response = render_page(
            portal,
            "portal/login.html",
            None,
            None,
            status_code=status,
            login_token=nonce,
            next=safe_next(request.query_params.get("next")),
            message=message,
        )
        response.set_cookie(
            LOGIN_COOKIE,
            nonce,
            max_age=1800,
            path="/login",
            httponly=True,
            samesite="strict",
            secure=secure,
        )
        return response

    async def get_login(request: Request) -> Response:
        return login_page(request)

    async def post_login(request: Request) -> Response:
        if int(request.headers.get("content-length") or 0) > MAX_FORM:
            return login_page(request, "The form is too large.", 413)
        async with request.form(max_files=0, max_fields=10, max_part_size=MAX_FORM) as form:
            name = str(form.get("username") or "")
            password = str(form.get("password") or "")
            token = str(form.get("login_token") or "")
            target = safe_next(str(form.get("next") or ""))
        return await run_in_threadpool(_sign_in, request, name, password, token, target)

    def _sign_in(request: Request, name: str, password: str, token: str, target: str) -> Response:
        expected = request.cookies.get(LOGIN_COOKIE)
        if (
            not same_origin(request)
            or expected is None
            or not accounts.same_secret(token, expected)
        ):
            return login_page(
                request, "The sign-in form expired or came from another site; try again.", 403
            )
        address = _address(request)
        subject = _subject(name)
        if not limiter.allow(address):
            return login_page(request, "Too many sign-in attempts; wait a few minutes.", 429)
        with portal.reading() as session:
            failures = accounts.recent_failures(session, subject, FAILURE_WINDOW)
        if failures >= MAX_FAILURES_PER_NAME:
            with portal.app.session(sync=False) as session, audit.acting_as("portal"):
                if not accounts.throttled_recently(session, subject, FAILURE_WINDOW):
                    audit.record(session, "portal.sign_in_throttled", subject, {"address": address})
            return login_page(
                request, "Too many failed sign-ins for this account; wait 15 minutes.", 429
            )
        with portal.reading() as session:
            account = accounts.authenticate(session, name, password)
        if account is None:
            with portal.app.session(sync=False) as session, audit.acting_as("portal"):
                audit.record(session, "portal.sign_in_failed", subject, {"address": address})
            return login_page(request, "Wrong name or password, or the account is disabled.", 401)
        with (
            portal.app.session(sync=False) as session,
            audit.acting_as(accounts.actor_name(account.name)),
        ):
            cookie, _signed = accounts.start_session(session, account)
            audit.record(session, "portal.sign_in", account.name, {"address": address})
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(
            SESSION_COOKIE,
            cookie,
            max_age=accounts.SESSION_HOURS * 3600,
            path="/",
            httponly=True,
            samesite="strict",
            secure=secure,
        )
        response.delete_cookie(LOGIN_COOKIE, path="/login")
        return response

    async def post_logout(request: Request) -> Response:
        async with request.form(max_files=0, max_fields=10, max_part_size=MAX_FORM) as form:
            token = str(form.get("csrf_token") or "")
        return await run_in_threadpool(_sign_out, request, token)

    def _sign_out(request: Request, token: str) -> Response:
        cookie = request.cookies.get(SESSION_COOKIE, "")
        with portal.reading() as session:
            signed = accounts.session_for_cookie(session, cookie)
        if signed is not None:
            if not same_origin(request) or not accounts.same_secret(token, signed.csrf_token):
                return render_page(
                    portal,
                    "portal/error.html",
                    signed.account,
                    signed.csrf_token,
                    status_code=403,
                    status=403,
                    problems=[],
                    message="refused: a change needs this site's CSRF token (cross-site request?)",
                )
            with (
                portal.app.session(sync=False) as session,
                audit.acting_as(accounts.actor_name(signed.account.name)),
            ):
                accounts.end_session(session, cookie)
                audit.record(session, "portal.sign_out", signed.account.name, {})
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    async def root(_request: Request) -> Response:
        return RedirectResponse("/portfolio", status_code=303)

    return [
        Route("/", root, methods=["GET"]),
        Route("/login", get_login, methods=["GET"]),
        Route("/login", post_login, methods=["POST"]),
        Route("/logout", post_logout, methods=["POST"]),
    ]
