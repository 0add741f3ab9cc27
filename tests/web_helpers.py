"""Shared set-up of the portal tests: a database holding the examples, one account per role,
and clients signed in as each."""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compliance.cli.context import AppContext
from compliance.store import db
from compliance.web import accounts
from compliance.web.app import SESSION_COOKIE, create_app, prepare
from tests.conftest import Cli
from tests.reliability import ROOT

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

EXAMPLES = ROOT / "examples"
AS_OF = "2026-11-30"
ROLES = ("viewer", "auditor", "admin")
PASSWORD = "correct horse battery staple"
BASE_URL = "http://127.0.0.1:8000"


@dataclass
class Site:
    """A portal over one database, and what the tests need to reach it."""

    app: Any
    ctx: AppContext
    cli: Cli
    tokens: dict[str, str]

    def client(self, role: str | None = None, *, cookie: bool = True) -> TestClient:
        """A client signed in as the `role` account with a session cookie (or none)."""
        client = TestClient(self.app, base_url=BASE_URL, follow_redirects=False)
        if role is not None and cookie:
            with db.transaction(self.ctx.engine) as session:
                account = accounts.authenticate(session, role, PASSWORD)
                assert account is not None
                value, signed = accounts.start_session(session, account)
            client.cookies.set(SESSION_COOKIE, value)
            client.csrf_token = signed.csrf_token  # type: ignore[attr-defined]
        return client

    def token_client(self, role: str) -> TestClient:
        client = TestClient(self.app, base_url=BASE_URL, follow_redirects=False)
        client.headers["authorization"] = f"Bearer {self.tokens[role]}"
        return client


def make_site(db_url: str, tmp_path: Path, folders: tuple[Path, ...] = (EXAMPLES,)) -> Site:
    cli = Cli(db_url, tmp_path / "evidence-store")
    for folder in folders:
        result = cli("import", str(folder))
        assert result.exit_code == 0, result.output
    ctx = AppContext(db_url, [], tmp_path / "evidence-store")
    prepare(ctx)
    tokens = {}
    with db.transaction(ctx.engine) as session:
        for role in ROLES:
            accounts.add_user(session, role, role, PASSWORD)
            tokens[role] = accounts.issue_token(session, role)
    return Site(create_app(ctx), ctx, cli, tokens)


def login_token(client: TestClient, path: str = "/login") -> str:
    page = client.get(path)
    found = re.search(r'name="login_token" value="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


def sign_in(client: TestClient, name: str, password: str) -> Any:
    token = login_token(client)
    return client.post(
        "/login",
        data={"username": name, "password": password, "login_token": token, "next": "/portfolio"},
    )
