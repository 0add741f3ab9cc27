"""Portal accounts: users with a role, Argon2id passwords, API tokens and browser sessions.

Library functions taking the caller's session (one unit of work is one transaction). Every
change to an account is an audit event (`user.add`, `user.disable`, `user.token`); none of them
is assessment data (`store.audit.PORTAL_ACTIONS`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from compliance import limits
from compliance.errors import ComplianceError, Conflict, InvalidInput, NotFound, Problem
from compliance.store import audit
from compliance.store.models import ROLES, ApiToken, AuditEvent, User, WebSession

if TYPE_CHECKING:
    from argon2 import PasswordHasher

MIN_PASSWORD = 12
MAX_PASSWORD = 1024  # hashing a megabyte-long "password" is work an attacker chooses
SESSION_HOURS = 12
TOKEN_PREFIX = "cpt_"  # noqa: S105 - a prefix, recognisable in logs and secret scanners


@dataclass(frozen=True)
class Account:
    """Who a request acts for."""

    id: int
    name: str
    role: str


@cache
def _hasher() -> PasswordHasher:
    from argon2 import PasswordHasher

    # argon2-cffi's defaults: Argon2id with RFC 9106's second recommended parameter set
    # (t=3, 64 MiB, p=4).
    return PasswordHasher()


@cache
def _dummy_hash() -> str:
    return _hasher().hash(secrets.token_urlsafe(16))


def _now() -> datetime:
    return datetime.now(UTC)


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def _aware(moment: datetime) -> datetime:
    # SQLite hands back naive UTC datetimes, PostgreSQL aware ones.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def check_name(name: str) -> str:
    """A user name: fits its column, no control characters, no surrounding spaces."""
    limits.checked_name(name, "NAME", "users", "name")
    if name != name.strip():
        raise InvalidInput([Problem("NAME", "", "no leading or trailing spaces")])
    return name


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(
            [Problem("password", "", f"at least {MIN_PASSWORD} characters, got {len(password)}")]
        )
    if len(password) > MAX_PASSWORD:
        raise InvalidInput([Problem("password", "", f"at most {MAX_PASSWORD} characters")])


def _user(session: Session, name: str) -> User:
    user = session.execute(select(User).where(User.name == name)).scalar_one_or_none()
    if user is None:
        raise NotFound(f"unknown user {name!r}")
    return user


def add_user(session: Session, name: str, role: str, password: str) -> Account:
    """Create an account; the name must be new."""
    check_name(name)
    if role not in ROLES:
        raise InvalidInput(
            [Problem("role", "", f"expected one of {', '.join(ROLES)}, got {role!r}")]
        )
    check_password(password)
    if session.execute(select(User.id).where(User.name == name)).first() is not None:
        raise Conflict(f"user {name!r} exists already")
    user = User(
        name=name,
        role=role,
        password_hash=_hasher().hash(password),
        disabled=False,
        created_at=_now(),
    )
    session.add(user)
    session.flush()
    audit.record(session, "user.add", name, {"role": role})
    return Account(user.id, user.name, user.role)


def list_users(session: Session) -> list[dict[str, Any]]:
    """Every account, with its role, state and number of API tokens."""
    tokens = dict(
        session.execute(
            select(ApiToken.user_id, func.count(ApiToken.id)).group_by(ApiToken.user_id)
        ).all()
    )
    return [
        dict(
            name=u.name,
            role=u.role,
            disabled=u.disabled,
            created_at=_aware(u.created_at).isoformat(timespec="seconds"),
            tokens=int(tokens.get(u.id, 0)),
        )
        for u in session.execute(select(User).order_by(User.name)).scalars()
    ]


def disable_user(session: Session, name: str) -> None:
    """Disable an account: its sessions end and its tokens stop working at once."""
    user = _user(session, name)
    if user.disabled:
        return
    user.disabled = True
    user.disabled_at = _now()
    session.execute(delete(WebSession).where(WebSession.user_id == user.id))
    session.flush()
    audit.record(session, "user.disable", name, {})


def issue_token(session: Session, name: str) -> str:
    """A new API token for an enabled account; only its SHA-256 is kept, so it is shown once."""
    user = _user(session, name)
    if user.disabled:
        raise Conflict(f"user {name!r} is disabled")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, token_sha256=_sha256(token), created_at=_now())
    session.add(row)
    session.flush()
    audit.record(session, "user.token", name, {"token_id": row.id})
    return token


def authenticate(session: Session, name: str, password: str) -> Account | None:
    """The account whose password this is, or None (unknown, disabled or wrong). Takes as long
    for an unknown name as for a wrong password."""
    from argon2.exceptions import InvalidHashError, VerificationError

    user = session.execute(select(User).where(User.name == name)).scalar_one_or_none()
    stored = user.password_hash if user is not None else _dummy_hash()
    try:
        ok = len(password) <= MAX_PASSWORD and _hasher().verify(stored, password)
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok or user is None or user.disabled:
        return None
    return Account(user.id, user.name, user.role)


def account_for_token(session: Session, token: str) -> Account | None:
    """The enabled account an API token belongs to."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    row = session.execute(
        select(User.id, User.name, User.role)
        .join(ApiToken, ApiToken.user_id == User.id)
        .where(ApiToken.token_sha256 == _sha256(token), User.disabled.is_(False))
    ).first()
    return Account(row[0], row[1], row[2]) if row else None


@dataclass(frozen=True)
class SignedIn:
    account: Account
    csrf_token: str
    expires_at: datetime


def start_session(session: Session, account: Account) -> tuple[str, SignedIn]:
    """A new browser session: (cookie value, what it signs in). Expired sessions are removed."""
    now = _now()
    session.execute(delete(WebSession).where(WebSession.expires_at < now))
    cookie = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    expires = now + timedelta(hours=SESSION_HOURS)
    session.add(
        WebSession(
            user_id=account.id,
            token_sha256=_sha256(cookie),
            csrf_token=csrf,
            created_at=now,
            expires_at=expires,
        )
    )
    session.flush()
    return cookie, SignedIn(account, csrf, expires)


def session_for_cookie(session: Session, cookie: str) -> SignedIn | None:
    """The signed-in account of a session cookie, unless it expired or the account is disabled."""
    if not cookie or len(cookie) > 200:
        return None
    row = session.execute(
        select(User.id, User.name, User.role, WebSession.csrf_token, WebSession.expires_at)
        .join(WebSession, WebSession.user_id == User.id)
        .where(WebSession.token_sha256 == _sha256(cookie), User.disabled.is_(False))
    ).first()
    if row is None or _aware(row[4]) <= _now():
        return None
    return SignedIn(Account(row[0], row[1], row[2]), row[3], _aware(row[4]))


def end_session(session: Session, cookie: str) -> None:
    session.execute(delete(WebSession).where(WebSession.token_sha256 == _sha256(cookie)))


def same_secret(given: str | None, expected: str) -> bool:
    """Constant-time comparison of a submitted token with the expected one."""
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def recent_failures(session: Session, name: str, window: timedelta) -> int:
    """Failed sign-ins for `name` within `window`, as the audit trail records them (shared by
    every worker and kept across restarts)."""
    since = _now() - window
    return int(
        session.execute(
            select(func.count())
            .select_from(AuditEvent)
            .where(
                AuditEvent.action == "portal.sign_in_failed",
                AuditEvent.subject == name,
                AuditEvent.occurred_at >= since,
            )
        ).scalar_one()
    )


def throttled_recently(session: Session, name: str, window: timedelta) -> bool:
    """Whether a throttled attempt for `name` is already recorded within `window` (recorded
    once per window, so that an attack cannot grow the audit trail without bound)."""
    since = _now() - window
    return (
        session.execute(
            select(AuditEvent.id)
            .where(
                AuditEvent.action == "portal.sign_in_throttled",
                AuditEvent.subject == name,
                AuditEvent.occurred_at >= since,
            )
            .limit(1)
        ).first()
        is not None
    )


def actor_name(name: str) -> str:
    """A portal user in the audit trail: `portal:NAME`, never mistaken for a system user."""
    return f"portal:{name}"[:300]


def require_user_name(name: str) -> str:
    """A name given on the command line or a form, checked (ComplianceError otherwise)."""
    try:
        return check_name(name)
    except InvalidInput as exc:
        raise ComplianceError(f"user name: {exc.problems[0].message}") from None
