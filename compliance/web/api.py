"""The JSON API: the same documents the CLI prints with --json, from the same functions, and
imports through the CLI's importer. `/api/openapi.json` describes every route."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse, Response

from compliance import views, views_catalog
from compliance.errors import NotFound
from compliance.reports.model import latest_assessments
from compliance.store import catalog_store, integrity, queries
from compliance.web import auth, importing
from compliance.web.app import Endpoint
from compliance.web.pages import integrity_json
from compliance.web.portal import Req

AS_OF = ("as_of", "query", "Decide as of this date (YYYY-MM-DD) [default: today, UTC]")
ASSESSMENT = ("assessment", "query", "Assessment id [default: the one in force at as_of]")
KEY = ("key", "path", "Deployment id")
FRAMEWORK = ("framework", "path", "Framework id, e.g. nist-csf-2.0")


def _json(value: Any, status: int = 200) -> Response:
    return JSONResponse(value, status_code=status)


def deployments(rq: Req) -> Response:
    """`compliance deployments --json`."""
    as_of = rq.as_of()

    def build(session: Any) -> list[dict[str, Any]]:
        policy = rq.portal.policy(session)
        pairs = latest_assessments(session, as_of)
        assessed = [a for _d, a, _p in pairs if a is not None]
        decisions = views.decide_many(session, assessed, policy, as_of)
        return [
            dict(
                views.deployment_row(dep, a, decisions[a.id] if a else None),
                as_of=as_of.isoformat(),
            )
            for dep, a, _p in pairs
        ]

    return _json(rq.portal.cached(("api-deployments", as_of), build))


def gate(rq: Req) -> Response:
    """`compliance gate DEPLOYMENT --json` (the decision is in the body, not the status)."""
    key, as_of, assessment = rq.path("key"), rq.as_of(), rq.param("assessment")

    def build(session: Any) -> dict[str, Any]:
        dep = queries.deployment(session, key)
        a = queries.assessment(session, dep, assessment, as_of)
        policy = rq.portal.policy(session)
        return views.gate_json(dep, a, views.decision(session, a, policy, as_of), policy)

    return _json(rq.portal.cached(("api-gate", key, assessment, as_of), build))


def gaps(rq: Req) -> Response:
    """`compliance gaps DEPLOYMENT --json`."""
    key, as_of, assessment, fw = (
        rq.path("key"),
        rq.as_of(),
        rq.param("assessment"),
        rq.param("framework"),
    )

    def build(session: Any) -> dict[str, Any]:
        dep = queries.deployment(session, key)
        a = queries.assessment(session, dep, assessment, as_of)
        if fw is not None:
            catalog_store.framework_row(session, fw)
        return views.gaps(session, dep, a, fw, as_of)

    return _json(rq.portal.cached(("api-gaps", key, assessment, fw, as_of), build))


def catalogs(rq: Req) -> Response:
    """`compliance catalogs list --json`."""
    with rq.portal.reading() as session:
        return _json(views_catalog.catalog_summaries(session))


def catalog(rq: Req) -> Response:
    """`compliance catalogs show FRAMEWORK --json`."""
    with rq.portal.reading() as session:
        return _json(views_catalog.catalog_detail(session, rq.path("framework")))


def catalog_control(rq: Req) -> Response:
    """`compliance catalogs show FRAMEWORK REF --json`."""
    with rq.portal.reading() as session:
        return _json(views_catalog.control_detail(session, rq.path("framework"), rq.path("ref")))


def checks(rq: Req) -> Response:
    """`compliance checks list --json`."""
    with rq.portal.reading() as session:
        return _json(views_catalog.check_listing(session, rq.portal.policy(session)))


def check(rq: Req) -> Response:
    """`compliance checks show ID --json`."""
    wanted = rq.path("check")
    with rq.portal.reading() as session:
        rows = views_catalog.check_listing(session, rq.portal.policy(session))
    found = next((r for r in rows if r["id"] == wanted), None)
    if found is None:
        raise NotFound(f"unknown check {wanted!r}")
    return _json(found)


def audit_verify(rq: Req) -> Response:
    """`compliance audit verify`, as JSON (status 200 either way; `ok` says which)."""
    with rq.portal.reading() as session:
        return _json(integrity_json(integrity.check(session)))


def post_assessments(rq: Req) -> Response:
    """`compliance import`: the documents (`document`) and their evidence files (`evidence`,
    each named by its path relative to the document) in one multipart request."""
    assert rq.form is not None
    return _json(importing.run_import(rq.portal, rq.account, rq.form))


def openapi(rq: Req) -> Response:
    """This API, described."""
    return _json(openapi_document([e for e in ENDPOINTS if e.api]))


def openapi_document(endpoints: list[Endpoint]) -> dict[str, Any]:
    """An OpenAPI 3.1 document of `endpoints`, each with the role it needs."""
    paths: dict[str, dict[str, Any]] = {}
    for ep in endpoints:
        path = ep.path.replace(":path}", "}")
        op: dict[str, Any] = dict(
            summary=ep.summary or (ep.handler.__doc__ or "").strip().split("\n")[0],
            operationId=ep.handler.__name__,
            parameters=[
                dict(
                    name=n,
                    **{"in": where},
                    required=where == "path",
                    description=d,
                    schema=dict(type="string", **({"format": "date"} if n == "as_of" else {})),
                )
                for n, where, d in ep.params
            ],
            responses={
                "200": dict(
                    description="As the CLI's --json prints it",
                    content={"application/json": dict(schema=dict(type=["object", "array"]))},
                ),
                "401": dict(description="Not signed in"),
                "403": dict(description="The account's role does not allow it"),
                "404": dict(description="Unknown deployment, assessment, framework or check"),
            },
            security=[{"bearer": []}, {"session": []}],
            **{"x-required-role": auth.PERMISSIONS[ep.permission]},
        )
        if ep.form:
            op["requestBody"] = dict(
                required=True,
                content={
                    "multipart/form-data": dict(
                        schema=dict(
                            type="object",
                            properties=dict(
                                document=dict(
                                    type="array",
                                    items=dict(type="string", format="binary"),
                                    description="Assessment documents (YAML, JSON or OSCAL)",
                                ),
                                evidence=dict(
                                    type="array",
                                    items=dict(type="string", format="binary"),
                                    description="Evidence files, each named by its path "
                                    "relative to the document, e.g. evidence/x.json",
                                ),
                            ),
                        )
                    )
                },
            )
            op["responses"]["422"] = dict(
                description="Problems with file and place; nothing was written",
                content={
                    "application/json": dict(
                        schema=dict(
                            type="object",
                            properties=dict(
                                error=dict(type="string"),
                                problems=dict(type="array", items=dict(type="string")),
                            ),
                        )
                    )
                },
            )
            op["parameters"].append(
                dict(
                    name="X-CSRF-Token",
                    **{"in": "header"},
                    required=False,
                    description="Required when signed in with a session cookie",
                    schema=dict(type="string"),
                )
            )
        paths.setdefault(path, {})[ep.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": dict(
            title="Agent deployment compliance API",
            version="1",
            description="The CLI's JSON contracts over HTTP. Sign in with an API token "
            "(`compliance users token NAME`) as `Authorization: Bearer TOKEN`.",
        ),
        "components": dict(
            securitySchemes=dict(
                bearer=dict(type="http", scheme="bearer"),
                session=dict(type="apiKey", **{"in": "cookie"}, name="compliance_session"),
            )
        ),
        "paths": paths,
    }


ENDPOINTS = [
    Endpoint("/api/openapi.json", "GET", "catalogs", openapi, api=True),
    Endpoint("/api/deployments", "GET", "decisions", deployments, api=True, params=(AS_OF,)),
    Endpoint(
        "/api/deployments/{key}/gate",
        "GET",
        "decisions",
        gate,
        api=True,
        params=(KEY, AS_OF, ASSESSMENT),
    ),
    Endpoint(
        "/api/deployments/{key}/gaps",
        "GET",
        "decisions",
        gaps,
        api=True,
        params=(KEY, AS_OF, ASSESSMENT, ("framework", "query", "Only this framework")),
    ),
    Endpoint("/api/catalogs", "GET", "catalogs", catalogs, api=True),
    Endpoint(
        "/api/catalogs/{framework}", "GET", "catalogs", catalog, api=True, params=(FRAMEWORK,)
    ),
    Endpoint(
        "/api/catalogs/{framework}/controls/{ref:path}",
        "GET",
        "catalogs",
        catalog_control,
        api=True,
        params=(FRAMEWORK, ("ref", "path", "Control reference, e.g. GV.OC-01")),
    ),
    Endpoint("/api/checks", "GET", "catalogs", checks, api=True),
    Endpoint(
        "/api/checks/{check}",
        "GET",
        "catalogs",
        check,
        api=True,
        params=(("check", "path", "Check id, e.g. REV-01"),),
    ),
    Endpoint("/api/audit/verify", "GET", "audit", audit_verify, api=True),
    Endpoint("/api/assessments", "POST", "import", post_assessments, api=True, form=True),
]
