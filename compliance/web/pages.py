"""The portal's pages: the report view models (`reports.model`) rendered by portal templates
that use the reports' own macros and styles, plus downloads of evidence, reports and packs."""

from __future__ import annotations

import hashlib
import io
import shutil
import tempfile
from pathlib import Path
from typing import Any

from starlette.background import BackgroundTask
from starlette.responses import FileResponse, RedirectResponse, Response, StreamingResponse

from compliance import views_catalog
from compliance.errors import ComplianceError, NotFound
from compliance.reports import model, render
from compliance.store import audit, integrity, queries
from compliance.store.models import AuditEvent
from compliance.web import accounts, importing, serving
from compliance.web import views as web_views
from compliance.web.app import Endpoint
from compliance.web.portal import Req

FORMATS = {
    "pdf": "application/pdf",
    "html": "text/html; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
AUDIT_PAGE_EVENTS = 100


PAGE_ROWS = 100


def _portfolio(rq: Req, session: Any, as_of: Any) -> dict[str, Any]:
    report = model.summary_report(session, as_of, rq.portal.policy(session))
    every = model.latest_assessments(session, as_of)
    # Every deployment, riskiest first, then those not assessed as of the date.
    rows = [*report["deployments"]] + [
        dict(deployment=d.key, name=d.name, owner=d.owner, status="not_assessed")
        for d, a, _p in every
        if a is None
    ]
    return dict(report=report, rows=rows)


def portfolio(rq: Req) -> Response:
    as_of = rq.as_of()
    built = rq.portal.cached(("portfolio", as_of), lambda s: _portfolio(rq, s, as_of))
    rows = built["rows"]
    pages = max(1, -(-len(rows) // PAGE_ROWS))
    raw = rq.param("page") or "1"
    page = min(max(int(raw), 1), pages) if raw.isdigit() else 1
    return rq.page(
        "portal/portfolio.html",
        report=built["report"],
        rows=rows[(page - 1) * PAGE_ROWS : page * PAGE_ROWS],
        first_row=(page - 1) * PAGE_ROWS + 1,
        total_rows=len(rows),
        page=page,
        pages=pages,
        as_of=as_of.isoformat(),
    )


def _deployment_facts(session: Any, key: str) -> dict[str, Any]:
    dep = queries.deployment(session, key)
    return dict(
        deployment=dict(key=dep.key, name=dep.name, owner=dep.owner),
        frameworks=[c["id"] for c in views_catalog.catalog_summaries(session)],
    )


def deployment(rq: Req) -> Response:
    key, as_of, assessment = rq.path("key"), rq.as_of(), rq.param("assessment")
    facts = rq.portal.cached(("facts", key), lambda s: _deployment_facts(s, key))
    hist = rq.portal.cached(
        ("history", key, as_of), lambda s: web_views.history(s, key, as_of, rq.portal.policy(s))
    )
    report: dict[str, Any] | None = None
    missing = None
    try:
        report = rq.portal.cached(
            ("gap", key, assessment, as_of),
            lambda s: model.gap_report(s, key, assessment, as_of, rq.portal.policy(s)),
        )
    except NotFound as exc:
        missing = str(exc)
    links: dict[str, int] = {}
    if report is not None and rq.can("evidence"):
        akey = report["assessment"]["key"]
        links = rq.portal.cached(
            ("links", key, akey), lambda s: web_views.evidence_links(s, key, akey)
        )
    return rq.page(
        "portal/deployment.html",
        report=report,
        history=hist,
        missing=missing,
        as_of=as_of.isoformat(),
        links=links,
        **facts,
    )


def _framework_report(rq: Req) -> tuple[dict[str, Any], dict[str, Any], dict[str, int]]:
    key, fw, as_of = rq.path("key"), rq.path("framework"), rq.as_of()
    report = rq.portal.cached(
        ("evidence", fw, key, as_of),
        lambda s: model.evidence_report(s, fw, key, as_of, policy=rq.portal.policy(s)),
    )
    if not report["sections"]:
        raise NotFound(f"deployment {key} has no assessment dated on or before {as_of.isoformat()}")
    section = report["sections"][0]
    akey = section["assessment"]["key"]
    links = rq.portal.cached(("links", key, akey), lambda s: web_views.evidence_links(s, key, akey))
    return report, section, links


def framework(rq: Req) -> Response:
    report, section, links = _framework_report(rq)
    return rq.page(
        "portal/framework.html",
        report=report,
        section=section,
        links=links,
        as_of=rq.as_of().isoformat(),
    )


def control(rq: Req) -> Response:
    report, section, links = _framework_report(rq)
    ref = rq.path("ref")
    found = next((c for c in section["controls"] if c["ref"] == ref), None)
    if found is None:
        raise NotFound(f"unknown control {ref!r} in framework {rq.path('framework')}")
    with rq.portal.reading() as session:
        catalog = views_catalog.control_detail(session, rq.path("framework"), ref)
    return rq.page(
        "portal/control.html",
        report=report,
        section=section,
        control=found,
        catalog=catalog,
        links=links,
        as_of=rq.as_of().isoformat(),
    )


def _evidence_id(rq: Req) -> int:
    raw = rq.path("evidence_id")
    if not raw.isdigit() or len(raw) > 18:
        raise NotFound(f"deployment {rq.path('key')} has no evidence item {raw!r}")
    return int(raw)


def evidence(rq: Req) -> Response:
    key = rq.path("key")
    with rq.portal.reading() as session:
        item = web_views.evidence_item(session, key, _evidence_id(rq))
    store = rq.portal.app.evidence_store()
    checks = []
    for what, digest in (
        ("file", item["sha256"]),
        ("snapshot", (item["snapshot"] or {}).get("sha256")),
    ):
        if digest is None:
            continue
        try:
            serving.verified_copy(store, digest).close()
            checks.append(dict(what=what, ok=True, detail="the stored copy hashes to its record"))
        except ComplianceError as exc:
            checks.append(dict(what=what, ok=False, detail=str(exc)))
    return rq.page("portal/evidence.html", item=item, checks=checks)


def _record_download(rq: Req, subject: str, detail: dict[str, Any]) -> None:
    with (
        rq.portal.app.session(sync=False) as session,
        audit.acting_as(accounts.actor_name(rq.account.name)),
    ):
        audit.record(session, "portal.download", subject[:500], detail)


def evidence_download(rq: Req) -> Response:
    """The stored file, copied and checked against its recorded SHA-256 as it is served."""
    key = rq.path("key")
    snapshot = rq.param("snapshot") == "1"
    with rq.portal.reading() as session:
        item = web_views.evidence_item(session, key, _evidence_id(rq))
    part = item["snapshot"] if snapshot else item
    if not part or not part.get("sha256"):
        raise NotFound(
            f"evidence item {item['id']} of {key} has no stored {'snapshot' if snapshot else 'file'}"
        )
    try:
        copy = serving.verified_copy(rq.portal.app.evidence_store(), part["sha256"])
    except serving.NotVerified as exc:
        return rq.page(
            "portal/error.html", status_code=409, status=409, message=str(exc), problems=[]
        )
    try:
        _record_download(
            rq,
            f"{key}/{item['assessment']['key']}/evidence/{item['id']}",
            {"sha256": part["sha256"], "name": part["name"], "snapshot": snapshot},
        )
    except BaseException:
        copy.close()
        raise
    return StreamingResponse(
        serving.chunks(copy),
        media_type="application/octet-stream",
        headers={
            "content-disposition": serving.attachment(part["name"] or "evidence"),
            "content-length": str(part["size"]),
            "x-content-sha256": part["sha256"],
            "content-security-policy": "sandbox",
        },
    )


def audit_trail(rq: Req) -> Response:
    from sqlalchemy import select

    with rq.portal.reading() as session:
        report = integrity.check(session)
        events = (
            session.execute(
                select(AuditEvent).order_by(AuditEvent.id.desc()).limit(AUDIT_PAGE_EVENTS)
            )
            .scalars()
            .all()
        )
        rows = [
            dict(
                id=e.id,
                at=e.occurred_at.isoformat(timespec="seconds"),
                actor=e.actor,
                action=e.action,
                subject=e.subject,
                hash=e.hash,
            )
            for e in events
        ]
    return rq.page("portal/audit.html", verify=integrity_json(report), events=rows)


def integrity_json(report: integrity.IntegrityReport) -> dict[str, Any]:
    """`compliance audit verify`, as data: the verdict, head, data head and every finding."""
    chain = report.chain
    return dict(
        ok=report.ok,
        events=chain.events,
        head=chain.head,
        data_head=dict(events=chain.data_head.events, hash=chain.data_head.hash)
        if chain.data_head
        else None,
        broken_at=chain.broken_at,
        broken_reason=chain.reason,
        anchor_problem=chain.anchor_problem,
        assessments=report.assessments,
        finalized=report.finalized,
        catalogs=report.catalogs,
        findings=[dict(kind=f.kind, subject=f.subject, detail=f.detail) for f in report.findings],
    )


def reports_index(rq: Req) -> Response:
    as_of = rq.as_of()
    with rq.portal.reading() as session:
        deployments = [
            dict(key=d.key, name=d.name, assessed=a is not None)
            for d, a, _p in model.latest_assessments(session, as_of)
        ]
        frameworks = views_catalog.catalog_summaries(session)
    return rq.page(
        "portal/reports.html",
        deployments=deployments,
        frameworks=frameworks,
        as_of=as_of.isoformat(),
        formats=list(FORMATS),
    )


def _format(rq: Req) -> str:
    fmt = rq.param("format") or "pdf"
    if fmt not in FORMATS:
        raise ComplianceError(f"format: expected one of {', '.join(FORMATS)}, got {fmt!r}")
    return fmt


def _rendered(report: dict[str, Any], fmt: str) -> bytes:
    if fmt == "html":
        return render.render_html(report).encode("utf-8")
    if fmt == "pdf":
        data = render.render_pdf(report, None)
        assert data is not None
        return data
    from compliance.reports.xlsx import write_workbook

    buffer = io.BytesIO()
    write_workbook(report, buffer)
    return buffer.getvalue()


def _report_response(rq: Req, report: dict[str, Any], fmt: str, name: str) -> Response:
    data = _rendered(report, fmt)
    sha = hashlib.sha256(data).hexdigest()
    _record_download(rq, f"report/{name}.{fmt}", {"sha256": sha, "as_of": report["as_of"]})
    return Response(
        data,
        media_type=FORMATS[fmt],
        headers={
            "content-disposition": serving.attachment(f"{name}.{fmt}"),
            "x-content-sha256": sha,
        },
    )


def report_summary(rq: Req) -> Response:
    as_of, fmt = rq.as_of(), _format(rq)
    with rq.portal.reading() as session:
        report = model.summary_report(session, as_of, rq.portal.policy(session))
    return _report_response(rq, report, fmt, f"summary-{as_of.isoformat()}")


def report_plan(rq: Req) -> Response:
    """The GRC team's plan of action, re-assessment calendar and evidence requests; with
    `deployment` parameters, for those deployments only (as `report plan DEPLOYMENT...`)."""
    as_of, fmt = rq.as_of(), _format(rq)
    deployments = tuple(rq.request.query_params.getlist("deployment")) or None
    with rq.portal.reading() as session:
        report = model.plan_report(session, as_of, rq.portal.policy(session), deployments)
    return _report_response(rq, report, fmt, f"plan-{as_of.isoformat()}")


def report_gap(rq: Req) -> Response:
    key, as_of, fmt = rq.path("key"), rq.as_of(), _format(rq)
    with rq.portal.reading() as session:
        report = model.gap_report(
            session, key, rq.param("assessment"), as_of, rq.portal.policy(session)
        )
    return _report_response(rq, report, fmt, f"gap-{key}-{as_of.isoformat()}")


def report_evidence(rq: Req) -> Response:
    fw, as_of, fmt = rq.path("framework"), rq.as_of(), _format(rq)
    dep = rq.param("deployment")
    with rq.portal.reading() as session:
        report = model.evidence_report(session, fw, dep, as_of, policy=rq.portal.policy(session))
    suffix = f"-{dep}" if dep else ""
    return _report_response(rq, report, fmt, f"evidence-{fw}{suffix}-{as_of.isoformat()}")


def pack(rq: Req) -> Response:
    """An audit pack for a scope (deployments and frameworks; none: all), built as the CLI
    builds it, recorded as a pack.build event, then served."""
    from compliance.pack import PackScope, build_pack
    from compliance.store import identity

    as_of = rq.as_of()
    deployments = tuple(rq.request.query_params.getlist("deployment"))
    frameworks = tuple(rq.request.query_params.getlist("framework"))
    # As `pack --include-drafts`: refused otherwise while an assessment in scope is a draft.
    include_drafts = rq.param("include_drafts") in ("1", "on", "true")
    folder = Path(tempfile.mkdtemp(prefix="compliance-pack-"))
    out = folder / f"audit-pack-{as_of.isoformat()}.zip"
    actor = accounts.actor_name(rq.account.name)

    def record(detail: dict[str, Any]) -> None:
        with rq.portal.app.session(sync=False) as session, audit.acting_as(actor):
            audit.record(session, "pack.build", out.name, detail)

    try:
        store = rq.portal.app.evidence_store()
        with rq.portal.reading() as session:
            identity.check(session, store)
            build_pack(
                session,
                store,
                rq.portal.policy(session),
                PackScope(as_of, deployments, frameworks, include_drafts),
                out,
                on_built=record,
            )
        digest = hashlib.sha256()
        with out.open("rb") as fh:
            while chunk := fh.read(1024 * 1024):
                digest.update(chunk)
        sha = digest.hexdigest()
        _record_download(
            rq,
            f"pack/{out.name}",
            {
                "sha256": sha,
                "as_of": as_of.isoformat(),
                "deployments": list(deployments),
                "frameworks": list(frameworks),
                "include_drafts": include_drafts,
            },
        )
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    # Served from the file, which is removed once it has been sent.
    return FileResponse(
        out,
        media_type="application/zip",
        filename=out.name,
        headers={"x-content-sha256": sha},
        background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True),
    )


def users_page(rq: Req, message: str = "", status: int = 200) -> Response:
    with rq.portal.reading() as session:
        rows = accounts.list_users(session)
    return rq.page(
        "portal/users.html",
        status_code=status,
        users=rows,
        message=message,
        roles=["viewer", "auditor", "admin"],
    )


def users_add(rq: Req) -> Response:
    assert rq.form is not None
    name, role, password = (str(rq.form.get(k) or "") for k in ("name", "role", "password"))
    with (
        rq.portal.app.session(sync=False) as session,
        audit.acting_as(accounts.actor_name(rq.account.name)),
    ):
        accounts.add_user(session, name, role, password)
    return RedirectResponse("/admin/users", status_code=303)


def users_disable(rq: Req) -> Response:
    with (
        rq.portal.app.session(sync=False) as session,
        audit.acting_as(accounts.actor_name(rq.account.name)),
    ):
        accounts.disable_user(session, rq.path("name"))
    return RedirectResponse("/admin/users", status_code=303)


def import_page(rq: Req) -> Response:
    return rq.page("portal/import.html", result=None)


def import_post(rq: Req) -> Response:
    assert rq.form is not None
    result = importing.import_form(rq.portal, rq.account, rq.form)
    return rq.page("portal/import.html", result=result)


ENDPOINTS = [
    Endpoint("/portfolio", "GET", "decisions", portfolio),
    Endpoint("/deployments/{key}", "GET", "decisions", deployment),
    Endpoint("/deployments/{key}/frameworks/{framework}", "GET", "evidence", framework),
    Endpoint(
        "/deployments/{key}/frameworks/{framework}/controls/{ref:path}", "GET", "evidence", control
    ),
    Endpoint("/deployments/{key}/evidence/{evidence_id}", "GET", "evidence", evidence),
    Endpoint(
        "/deployments/{key}/evidence/{evidence_id}/download", "GET", "evidence", evidence_download
    ),
    Endpoint("/audit", "GET", "audit", audit_trail),
    Endpoint("/reports", "GET", "reports", reports_index),
    Endpoint("/reports/summary", "GET", "reports", report_summary),
    Endpoint("/reports/plan", "GET", "reports", report_plan),
    Endpoint("/reports/gap/{key}", "GET", "reports", report_gap),
    Endpoint("/reports/evidence/{framework}", "GET", "reports", report_evidence),
    Endpoint("/pack", "GET", "packs", pack),
    Endpoint("/admin/users", "GET", "users", users_page),
    Endpoint("/admin/users", "POST", "users", users_add, form=True),
    Endpoint("/admin/users/{name}/disable", "POST", "users", users_disable, form=True),
    Endpoint("/admin/import", "GET", "import", import_page),
    Endpoint("/admin/import", "POST", "import", import_post, form=True),
]
