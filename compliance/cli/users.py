"""`compliance users`: the portal's accounts and API tokens."""

from __future__ import annotations

import sys

import click

from compliance.cli.context import AppContext, echo_json, fail, handle_errors, pass_app, say

ROLES = ("viewer", "auditor", "admin")


@click.group()
def users() -> None:
    """Manage the portal's accounts (`compliance serve`).

    viewer: the portfolio and decisions; auditor: also evidence, reports, packs and the audit
    trail; admin: also imports and accounts.
    """


def _password(password_stdin: bool) -> str:
    if password_stdin:
        line = sys.stdin.readline()
        return line[:-1] if line.endswith("\n") else line
    value: str = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return value


@users.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True, help="What the account may do.")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from the first line of standard input instead of prompting.",
)
@pass_app
@handle_errors
def add(app: AppContext, name: str, role: str, password_stdin: bool) -> None:
    """Add an account; the password (at least 12 characters) is kept only as an Argon2id hash.

    \b
    Example:
      compliance users add ciso@example.com --role viewer
      printf '%s\\n' "$PASSWORD" | compliance users add grc-bot --role admin --password-stdin
    """
    from compliance.web import accounts

    accounts.require_user_name(name)
    password = _password(password_stdin)
    with app.session(sync=False) as session:
        accounts.add_user(session, name, role, password)
    say(f"added {name} ({role})")


@users.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
@handle_errors
def list_(app: AppContext, as_json: bool) -> None:
    """List the accounts with their role, state and number of API tokens.

    \b
    Example:
      compliance users list --json
    """
    from compliance.web import accounts

    with app.read_session(sync=False) as session:
        rows = accounts.list_users(session)
    if as_json:
        echo_json(rows)
        return
    for r in rows:
        state = "disabled" if r["disabled"] else "enabled"
        say(
            f"{r['name']:<30} {r['role']:<8} {state:<9} {r['tokens']} token(s)  since {r['created_at']}"
        )


@users.command("disable")
@click.argument("name")
@pass_app
@handle_errors
def disable(app: AppContext, name: str) -> None:
    """Disable an account: its browser sessions end and its API tokens stop working at once.

    \b
    Example:
      compliance users disable former.auditor@example.com
    """
    from compliance.web import accounts

    with app.session(sync=False) as session:
        accounts.disable_user(session, name)
    say(f"disabled {name}")


@users.command("token")
@click.argument("name")
@pass_app
@handle_errors
def token(app: AppContext, name: str) -> None:
    """Issue an API token for an account and print it once (only its SHA-256 is kept). Send it
    as `Authorization: Bearer TOKEN`.

    \b
    Example:
      TOKEN=$(compliance users token grc-bot)
      curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8000/api/deployments
    """
    from compliance.web import accounts

    with app.session(sync=False) as session:
        value = accounts.issue_token(session, name)
    if not value:
        fail("no token issued")
    say(value)
