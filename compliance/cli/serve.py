"""`compliance serve`: the portal, over the same database and evidence store as every command."""

from __future__ import annotations

import os

import click

from compliance.cli.context import AppContext, handle_errors, pass_app, say


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Worker processes (several need PostgreSQL or a SQLite file; each keeps its own cache).",
)
@click.option(
    "--secure-cookies",
    is_flag=True,
    help="Mark cookies Secure: set this when a reverse proxy serves the portal over HTTPS.",
)
@click.option(
    "--forwarded-allow-ips",
    metavar="IPS",
    default=None,
    help="Trust X-Forwarded-For/-Proto from these addresses (the reverse proxy), comma-separated.",
)
@pass_app
@handle_errors
def serve(
    app: AppContext,
    host: str,
    port: int,
    workers: int,
    secure_cookies: bool,
    forwarded_allow_ips: str | None,
) -> None:
    """Serve the portal and its API: the portfolio, decisions, controls, evidence, reports, packs
    and the audit trail, for accounts made with `compliance users add`. Binds to 127.0.0.1 unless
    told otherwise; put it behind a reverse proxy with TLS to serve others.

    \b
    Example:
      compliance users add ciso@example.com --role viewer
      compliance serve --port 8000 --workers 4
    """
    # The web stack is imported here only: no other command pays for it.
    import uvicorn

    from compliance.web.app import prepare, settings_to_env
    from compliance.web.portal import Settings

    prepare(app)
    os.environ.update(settings_to_env(app, Settings(secure_cookies=secure_cookies)))
    say(f"serving the portal on http://{host}:{port}/ ({workers} worker(s)); Ctrl-C stops it")
    uvicorn.run(
        "compliance.web.app:from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=forwarded_allow_ips is not None,
        forwarded_allow_ips=forwarded_allow_ips,
        server_header=False,
        access_log=False,
        log_level="warning",
    )
