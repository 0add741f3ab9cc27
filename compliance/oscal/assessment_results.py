"""OSCAL assessment results: export an assessment, and map such a document back for import.

The export is a complete OSCAL assessment-results document (JSON), deterministic for a given
database: every uuid is a uuid5 of the deployment, assessment and check or control keys, and
every timestamp comes from the record (assessment date, import and evidence collection times).

Layout of the document (one `results` entry per assessment):

- `metadata`: title, `last-modified` (when the assessment was imported or finalized),
  `version` (the assessment id), `oscal-version`, the assessor and every risk approver as
  parties, and a `deployment-id` prop.
- `import-ap`: this project keeps no separate OSCAL assessment plan (the plan is the baseline
  checks, the mappings and the policy in force); the href points to a back-matter resource that
  names the exact catalog versions the assessment was made against.
- `results[0]`: `start` is the assessment date at 00:00Z; props `assessment-id`, `assessor`,
  `assessment-state`, `fingerprint`, and, for information, `risk-tier` and `decision`.
  `reviewed-controls` lists the checks and controls that have a result.
- One observation and one finding per result, in result order. The finding's target is the
  check (`objective-id`, target-id `TOOL-01`) or, for a result recorded directly on a framework
  control, the control (`statement-id`, props `framework` and `control-ref` with the exact
  reference, because OSCAL target ids are tokens and refs such as `GOVERN 1.1` are not).
  `target.status.state` is `satisfied` (pass, not_applicable) or `not-satisfied` (fail,
  partial); `implementation-status` says `partial` or `not-applicable`; the exact status is the
  finding's `result-status` prop. The notes are the description of both.
- Evidence is the observation's `relevant-evidence`: a URL as its href; a file as
  `#<resource uuid>` of a back-matter resource whose rlink is the path as given in the
  assessment file (relative to the document), with its SHA-256 hash, media type and size.
- Risk acceptances are `risks` with status `deviation-approved`: props `check` and
  `approved-by`, the justification as the risk statement, the expiry as the `deadline` (end of
  that day, UTC), and a risk-log entry logged by the approver.
- The deployment block of the import format (the profile the assessment was made against,
  with its safety scores) is a back-matter resource with base64 JSON (`application/json`),
  the one place OSCAL offers for an arbitrary structured attachment.

Props of this project carry `ns` = NS. Text that cannot be a prop value (a line break,
surrounding blanks) is kept in the prop's remarks, with class `in-remarks`. An optional text
that is missing (notes, an evidence description) is marked with an `unset` prop naming it.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any
from urllib.parse import quote, unquote

from sqlalchemy import select
from sqlalchemy.orm import Session

from compliance import views
from compliance.documents import parse_document
from compliance.errors import InvalidInput, Problem
from compliance.oscal.common import (
    NS,
    OSCAL_VERSION,
    end_of,
    line,
    midnight,
    stamp,
    text_prop,
    token,
    uuid_of,
)
from compliance.oscal.common import prop as _prop
from compliance.store import catalog_store, queries
from compliance.store.models import (
    Catalog,
    Check,
    Control,
    Evidence,
    Result,
    RiskAcceptance,
)

STATUSES = ("pass", "fail", "partial", "not_applicable")

_STATE = {
    "pass": "satisfied",
    "fail": "not-satisfied",
    "partial": "not-satisfied",
    "not_applicable": "satisfied",
}
_REASON = {"pass": "pass", "fail": "fail", "partial": "other", "not_applicable": "other"}
_IMPLEMENTATION = {"partial": "partial", "not_applicable": "not-applicable"}
_URL = re.compile(r"^https?://\S+$")
_SHA256 = "SHA-256"

# --------------------------------------------------------------------------------------------
# Export


def _party(name: str) -> dict[str, Any]:
    return {"uuid": uuid_of("party", name), "type": "person", "name": line(name)}


def _test_props(r: Result) -> list[dict[str, Any]]:
    """How a result was tested, as props (each optional field that is set)."""
    out: list[dict[str, Any]] = []
    if r.method:
        out.append(_prop("method", " ".join(r.method)))
    texts = (
        ("tested-by", r.tested_by),
        ("population", r.population),
        ("sample-selection", r.sample_selection),
        ("exceptions", r.exceptions),
        ("remediation-owner", r.remediation_owner),
    )
    for name, value in texts:
        if value is not None:
            out.append(text_prop(name, value))
    if r.tested_on is not None:
        out.append(_prop("tested-on", r.tested_on.isoformat()))
    if r.sample_size is not None:
        out.append(_prop("sample-size", str(r.sample_size)))
    if r.remediation_due is not None:
        out.append(_prop("remediation-due", r.remediation_due.isoformat()))
    return out


@dataclass
class _Row:
    result: Result
    check_key: str | None
    check_title: str | None
    objective: str | None
    framework: str | None
    control_ref: str | None
    control_title: str | None
    control_text: str | None
    evidence: list[Evidence] = field(default_factory=list)


def export_assessment(
    session: Session, deployment_key: str, assessment_key: str | None, as_of: date
) -> dict[str, Any]:
    """The assessment (default: the one in force at `as_of`) as an OSCAL assessment-results
    document, with its decision and its risk acceptances' state as of `as_of`."""
    dep = queries.deployment(session, deployment_key)
    a = queries.assessment(session, dep, assessment_key, as_of)
    rows = [
        _Row(r, ck, ct, obj, fw, ref, title, text)
        for r, ck, ct, obj, fw, ref, title, text in session.execute(
            select(
                Result,
                Check.key,
                Check.title,
                Check.objective,
                Catalog.key,
                Control.ref,
                Control.title,
                Control.text,
            )
            .outerjoin(Check, Check.id == Result.check_id)
            .outerjoin(Control, Control.id == Result.control_id)
            .outerjoin(Catalog, Catalog.id == Control.catalog_id)
            .where(Result.assessment_id == a.id)
            .order_by(Result.position, Result.id)
        )
    ]
    by_id = {row.result.id: row for row in rows}
    if by_id:
        for ev in session.execute(
            select(Evidence)
            .where(Evidence.result_id.in_(by_id))
            .order_by(Evidence.result_id, Evidence.position, Evidence.id)
        ).scalars():
            by_id[ev.result_id].evidence.append(ev)
    acceptances = session.execute(
        select(RiskAcceptance, Check.key, Check.title)
        .join(Check, Check.id == RiskAcceptance.check_id)
        .where(RiskAcceptance.assessment_id == a.id)
        .order_by(RiskAcceptance.position, RiskAcceptance.id)
    ).all()
    policy = catalog_store.current_policy(session)
    decision = views.decision(session, a, policy, as_of)
    catalogs = views.catalog_versions(session, a)

    scope = (dep.key, a.key)
    profile: dict[str, Any] = dict(a.profile)
    assessor = _party(a.assessor)
    approvers = {acc.approved_by: _party(acc.approved_by) for acc, _k, _t in acceptances}
    start = midnight(a.assessed_on)
    plan_uuid = uuid_of("assessment-plan", *scope)
    profile_uuid = uuid_of("deployment-profile", *scope)

    resources: dict[str, dict[str, Any]] = {}
    observations: list[dict[str, Any]] = []
    findings: list[dict[str, Any]] = []
    risk_of = {key: uuid_of("risk", *scope, key) for _acc, key, _t in acceptances}
    observation_of: dict[str, str] = {}
    selections: dict[str | None, list[str]] = defaultdict(list)

    for row in rows:
        r = row.result
        if row.check_key is not None:
            subject = ("check", row.check_key)
            title = f"{row.check_key}: {row.check_title}" if row.check_title else row.check_key
            target: dict[str, Any] = {
                "type": "objective-id",
                "target-id": row.check_key,
                "title": line(row.check_title or row.check_key),
            }
            if row.objective:
                target["description"] = row.objective
            selections[None].append(row.check_key)
        else:
            assert row.framework is not None and row.control_ref is not None
            subject = ("control", f"{row.framework}/{row.control_ref}")
            title = subject[1] + (f": {row.control_title}" if row.control_title else "")
            target = {
                "type": "statement-id",
                "target-id": token(row.control_ref),
                "title": line(row.control_title or row.control_ref),
                "props": [
                    _prop("framework", row.framework),
                    text_prop("control-ref", row.control_ref),
                ],
            }
            if row.control_text:
                target["description"] = row.control_text
            selections[row.framework].append(token(row.control_ref))
        status: dict[str, Any] = {"state": _STATE[r.status], "reason": _REASON[r.status]}
        if r.status == "not_applicable":
            status["remarks"] = "Not applicable to this deployment."
        elif r.status == "partial":
            status["remarks"] = "Partially satisfied."
        target["status"] = status
        if r.status in _IMPLEMENTATION:
            target["implementation-status"] = {"state": _IMPLEMENTATION[r.status]}
        unset = [_prop("unset", "notes")] if r.notes is None else []
        description = r.notes if r.notes is not None else "No notes recorded."

        evidence: list[dict[str, Any]] = []
        for ev in row.evidence:
            # No `collected` prop: the collection date was not stated.
            ev_props = [_prop("collected", ev.collected_on.isoformat())] if ev.collected_on else []
            if ev.description is None:
                ev_props.append(_prop("unset", "description"))
            if ev.kind == "url":
                assert ev.url is not None
                href = ev.url
            else:
                assert ev.file_name is not None and ev.sha256 is not None
                res_uuid = uuid_of("evidence-file", ev.file_name, ev.sha256)
                href = f"#{res_uuid}"
                resources.setdefault(
                    res_uuid,
                    {
                        "uuid": res_uuid,
                        "title": line(ev.file_name),
                        "props": [
                            _prop("resource-kind", "evidence-file"),
                            _prop("size", str(ev.size)),
                            _prop("media-type", ev.media_type or "application/octet-stream"),
                        ],
                        "rlinks": [
                            {
                                "href": quote(ev.file_name),
                                "media-type": ev.media_type or "application/octet-stream",
                                "hashes": [{"algorithm": _SHA256, "value": ev.sha256}],
                            }
                        ],
                    },
                )
            item: dict[str, Any] = {
                "href": href,
                "description": ev.description
                if ev.description is not None
                else "No description recorded.",
            }
            if ev_props:  # OSCAL allows no empty list
                item["props"] = ev_props
            evidence.append(item)
        # When the evidence was collected, as stated (else the assessment date: nothing later
        # is known to have happened before the assessment).
        collected = max(
            (midnight(ev.collected_on) for ev in row.evidence if ev.collected_on),
            default=start,
        )
        obs_uuid = uuid_of("observation", *scope, *subject)
        observation_of[subject[1]] = obs_uuid
        observation: dict[str, Any] = {
            "uuid": obs_uuid,
            "title": line(title),
            "description": description,
            "props": [_prop("result-status", r.status), *unset, *_test_props(r)],
            "methods": [m.upper() for m in r.method] if r.method else ["EXAMINE"],
            "types": ["control-objective"],
            "origins": [
                {
                    "actors": [
                        {"type": "party", "actor-uuid": assessor["uuid"], "role-id": "assessor"}
                    ]
                }
            ],
            "collected": collected,
        }
        if evidence:
            observation["relevant-evidence"] = evidence
        observations.append(observation)
        finding: dict[str, Any] = {
            "uuid": uuid_of("finding", *scope, *subject),
            "title": line(title),
            "description": description,
            "props": [_prop("result-status", r.status), *unset],
            "origins": observation["origins"],
            "target": target,
            "related-observations": [{"observation-uuid": obs_uuid}],
        }
        if subject[0] == "check" and subject[1] in risk_of:
            finding["related-risks"] = [{"risk-uuid": risk_of[subject[1]]}]
        findings.append(finding)

    risks: list[dict[str, Any]] = []
    for acc, key, check_title in acceptances:
        approver = approvers[acc.approved_by]
        approved = acc.approved_on or a.assessed_on
        accepted_entry = {
            "uuid": uuid_of("risk-log", *scope, key),
            "title": "Risk accepted",
            "description": acc.justification,
            "start": midnight(approved),
            "end": end_of(acc.expires),
            "logged-by": [{"party-uuid": approver["uuid"], "role-id": "approver"}],
            "status-change": "deviation-approved",
        }
        acc_props = [_prop("check", key), text_prop("approved-by", acc.approved_by)]
        if acc.approved_on is not None:
            acc_props.append(_prop("approved-on", acc.approved_on.isoformat()))
        if acc.approver_role is not None:
            acc_props.append(text_prop("approver-role", acc.approver_role))
        if acc.compensating_controls is not None:
            acc_props.append(text_prop("compensating-controls", acc.compensating_controls))
        if acc.expires < as_of:
            # Expired at the as-of date: the deviation no longer stands and the risk is open.
            state, entries = (
                "expired",
                [
                    accepted_entry,
                    {
                        "uuid": uuid_of("risk-log-expired", *scope, key),
                        "title": "Risk acceptance expired",
                        "description": (
                            f"The acceptance expired at the end of {acc.expires.isoformat()}; "
                            f"as of {as_of.isoformat()} it covers nothing."
                        ),
                        "start": midnight(acc.expires + timedelta(days=1)),
                        "status-change": "open",
                    },
                ],
            )
        elif approved > as_of:
            state, entries = "not-yet-approved", []
        else:
            state, entries = "active", [accepted_entry]
        acc_props.append(_prop("acceptance-state", state, remarks=f"as of {as_of.isoformat()}"))
        verb = "was accepted" if state != "not-yet-approved" else "is to be accepted"
        risk: dict[str, Any] = {
            "uuid": risk_of[key],
            "title": line(f"Accepted risk: {key} {check_title}"),
            "description": (
                f"The risk of check {key} not being met {verb} by {line(acc.approved_by)} "
                f"from {approved.isoformat()} until {acc.expires.isoformat()}"
                + (
                    f"; the acceptance expired before {as_of.isoformat()}."
                    if state == "expired"
                    else "."
                )
            ),
            "statement": acc.justification,
            "props": acc_props,
            "status": "deviation-approved" if state == "active" else "open",
            "deadline": end_of(acc.expires),
        }
        if entries:
            risk["risk-log"] = {"entries": entries}
        if key in observation_of:
            risk["related-observations"] = [{"observation-uuid": observation_of[key]}]
        risks.append(risk)

    control_selections: list[dict[str, Any]] = []
    for framework, ids in selections.items():
        control_selections.append(
            {
                "description": "Baseline checks with a result in this assessment."
                if framework is None
                else f"Controls of {framework} with a result recorded directly on them.",
                "props": [_prop("catalog", framework or "checks")],
                "include-controls": [{"control-id": i} for i in ids],
            }
        )
    if not control_selections:
        control_selections.append(
            {"description": "No result was recorded in this assessment.", "include-all": {}}
        )

    result: dict[str, Any] = {
        "uuid": uuid_of("result", *scope),
        "title": line(f"Assessment {a.key} of {profile.get('name') or dep.name}"),
        "description": (
            f"Assessment {a.key} of deployment {dep.key} as of {a.assessed_on.isoformat()}, "
            f"by {line(a.assessor)}: one observation and one finding per recorded result."
        ),
        "start": start,
        "props": [
            _prop("assessment-id", a.key),
            text_prop("assessor", a.assessor),
            _prop("assessment-state", a.state),
            _prop("fingerprint", a.fingerprint),
            _prop(
                "risk-tier",
                decision.tier,
                remarks=f"Computed under policy {policy.policy.id} {policy.policy.version}; "
                "recomputed on import, never read back.",
            ),
            _prop(
                "decision",
                decision.decision,
                remarks=f"As of {decision.as_of.isoformat()} under policy {policy.policy.id} "
                f"{policy.policy.version}; recomputed on import, never read back.",
            ),
        ],
        "reviewed-controls": {"control-selections": control_selections},
    }
    if observations:
        result["observations"] = observations
    if risks:
        result["risks"] = risks
    if findings:
        result["findings"] = findings

    plan: dict[str, Any] = {
        "uuid": plan_uuid,
        "title": "Assessment plan: baseline checks, mappings and policy",
        "description": (
            "The assessment followed the baseline checks of this tool, mapped to the framework "
            "controls, and was decided by the policy; the exact versions are listed as props "
            "(class: kind, value: id and version, remarks: SHA-256 of the data file)."
        ),
        "props": [
            _prop("resource-kind", "assessment-plan"),
            *(
                _prop(
                    "catalog",
                    line(f"{c['id']} {c['version']}"),
                    **{"class": c["kind"], "remarks": f"sha256 {c['sha256']}"},
                )
                for c in catalogs
            ),
        ],
    }
    profile_json = json.dumps(profile, sort_keys=True, ensure_ascii=False).encode("utf-8")
    profile_resource: dict[str, Any] = {
        "uuid": profile_uuid,
        "title": line(f"Deployment profile: {profile.get('name') or dep.name}"),
        "description": (
            "The deployment block of the assessment file (the profile this assessment was made "
            "against, with its safety scores), as JSON."
        ),
        "props": [_prop("resource-kind", "deployment-profile")],
        "base64": {
            "filename": "deployment.json",
            "media-type": "application/json",
            "value": base64.b64encode(profile_json).decode("ascii"),
        },
    }
    modified = max(stamp(a.imported_at), stamp(a.finalized_at) if a.finalized_at else "")
    roles = [{"id": "assessor", "title": "Assessor"}]
    if approvers:
        roles.append({"id": "approver", "title": "Risk acceptance approver"})
    parties = [assessor, *(p for name, p in approvers.items() if p["uuid"] != assessor["uuid"])]
    responsible = [{"role-id": "assessor", "party-uuids": [assessor["uuid"]]}]
    if approvers:
        responsible.append(
            {"role-id": "approver", "party-uuids": [p["uuid"] for p in approvers.values()]}
        )
    return {
        "assessment-results": {
            "uuid": uuid_of("assessment-results", *scope),
            "metadata": {
                "title": line(
                    f"Assessment results: {profile.get('name') or dep.name} ({dep.key}), "
                    f"assessment {a.key}"
                ),
                "last-modified": modified,
                "version": a.key,
                "oscal-version": OSCAL_VERSION,
                "props": [_prop("deployment-id", dep.key)],
                "roles": roles,
                "parties": parties,
                "responsible-parties": responsible,
            },
            "import-ap": {
                "href": f"#{plan_uuid}",
                "remarks": (
                    "OSCAL requires a reference to an assessment plan. This tool keeps none as an "
                    "OSCAL document: the plan is its baseline checks, their framework mappings and "
                    "the policy in force, whose exact versions the referenced back-matter resource "
                    "lists."
                ),
            },
            "results": [result],
            "back-matter": {"resources": [plan, profile_resource, *resources.values()]},
        }
    }


# --------------------------------------------------------------------------------------------
# Import


@dataclass
class Converted:
    """An OSCAL document mapped to the import format, and where each part came from."""

    document: dict[str, Any]
    sources: dict[str, str]
    embedded: dict[str, str]

    def locate(self, location: str) -> str:
        """The place in the OSCAL document for a location in the import format."""
        for prefix, where in self.embedded.items():
            if location == prefix or location.startswith((prefix + ".", prefix + "[")):
                return f"{where} ({location})"
        for end in range(len(location), 0, -1):
            if end < len(location) and location[end] not in ".[":
                continue
            found = self.sources.get(location[:end])
            if found is not None:
                return found + location[end:]
        return location


class _Reader:
    def __init__(self, label: str) -> None:
        self.label = label
        self.problems: list[Problem] = []

    def problem(self, location: str, message: str) -> None:
        self.problems.append(Problem(self.label, location, message))

    def mapping(self, value: Any, location: str, *, required: bool = True) -> dict[str, Any] | None:
        if value is None:
            if required:
                self.problem(location, "required field is missing")
            return None
        if not isinstance(value, dict):
            self.problem(location, f"expected a mapping, got {type(value).__name__}")
            return None
        return value

    def items(self, value: Any, location: str, *, required: bool = False) -> list[Any]:
        if value is None:
            if required:
                self.problem(location, "required field is missing")
            return []
        if not isinstance(value, list):
            self.problem(location, f"expected a list, got {type(value).__name__}")
            return []
        return value

    def text(self, value: Any, location: str, *, required: bool = True) -> str | None:
        if value is None:
            if required:
                self.problem(location, "required field is missing")
            return None
        if not isinstance(value, str):
            self.problem(location, f"expected text, got {type(value).__name__} {value!r}")
            return None
        return value

    def props(self, value: Any, location: str, *names: str) -> dict[str, tuple[str, str]]:
        """This project's props `names` of an object: name -> (value, location of the value)."""
        out: dict[str, tuple[str, str]] = {}
        for k, p in enumerate(self.items(value, location)):
            ploc = f"{location}[{k}]"
            p = self.mapping(p, ploc)
            if p is None or p.get("ns") != NS or p.get("name") not in names:
                continue
            name = p["name"]
            if name in out:
                self.problem(f"{ploc}.name", f"prop {name!r} is given twice")
                continue
            if p.get("class") == "in-remarks":
                found = self.text(p.get("remarks"), f"{ploc}.remarks")
                vloc = f"{ploc}.remarks"
            else:
                found = self.text(p.get("value"), f"{ploc}.value")
                vloc = f"{ploc}.value"
            if found is not None:
                out[name] = (found, vloc)
        return out

    def need(self, props: dict[str, tuple[str, str]], name: str, location: str) -> str | None:
        if name not in props:
            self.problem(location, f"missing prop {name!r} (ns {NS})")
            return None
        return props[name][0]


def _foreign_header(
    rd: _Reader,
    key: str,
    result: dict[str, Any],
    rloc: str,
    foreign: Foreign,
    root: dict[str, Any],
) -> tuple[str | None, str]:
    """The assessment's id or assessor for a document from another tool: the `--profile`
    file's `assessment` header, else what OSCAL says (the result's uuid; the party in the
    assessor role, or the one party its findings and observations name)."""
    header = foreign.profile.get("assessment")
    if isinstance(header, dict) and header.get(key) is not None:
        return str(header[key]), f"--profile (assessment.{key})"
    if key == "id":
        if isinstance(result.get("uuid"), str):
            return result["uuid"], f"{rloc}.uuid"
        rd.problem(f"{rloc}.uuid", "required field is missing")
        return None, ""
    metadata = root.get("metadata") if isinstance(root.get("metadata"), dict) else {}
    parties = {
        p.get("uuid"): p.get("name")
        for p in (metadata or {}).get("parties") or []
        if isinstance(p, dict) and isinstance(p.get("name"), str)
    }
    for rp in (metadata or {}).get("responsible-parties") or []:
        if isinstance(rp, dict) and rp.get("role-id") == "assessor":
            names = [str(parties[u]) for u in rp.get("party-uuids") or [] if u in parties]
            if names:
                return ", ".join(names), "assessment-results.metadata.responsible-parties"
    named: list[str] = []
    for kind in ("findings", "observations"):
        for item in result.get(kind) or []:
            for origin in (item.get("origins") or []) if isinstance(item, dict) else []:
                for actor in (origin.get("actors") or []) if isinstance(origin, dict) else []:
                    if isinstance(actor, dict) and actor.get("type") == "party":
                        name = parties.get(actor.get("actor-uuid"))
                        if name and name not in named:
                            named.append(name)
    if len(named) == 1:
        return named[0], "assessment-results.metadata.parties"
    rd.problem(
        f"{rloc}.props",
        "who assessed is not stated: give assessment.assessor in the --profile file, or a "
        f"prop assessor (ns {NS}) on the result, or one party in the role assessor in the "
        "metadata" + (f" (the findings name {len(named)} parties)" if named else ""),
    )
    return None, ""


def _unset(props: dict[str, tuple[str, str]], what: str) -> bool:
    return props.get("unset", ("", ""))[0] == what


@dataclass
class Foreign:
    """What a document from another tool lacks, given beside it: the `--profile` file's
    deployment block and assessment header, and how to find a finding's check or control."""

    profile: dict[str, Any]
    resolve: Callable[[str], tuple[str, str] | str]


def convert(value: dict[str, Any], label: str, foreign: Foreign | None = None) -> Converted:
    """Map an OSCAL assessment-results document to the import format, or raise InvalidInput.

    A document without this tool's deployment profile resource (one from another tool, e.g.
    compliance-trestle) needs `foreign`: its deployment comes from the `--profile` file, and its
    findings are results recorded directly on the checks or controls their target ids name."""
    rd = _Reader(label)
    sources: dict[str, str] = {}
    embedded: dict[str, str] = {}
    root = rd.mapping(value.get("assessment-results"), "assessment-results")
    if root is None:
        raise InvalidInput(rd.problems)
    base = "assessment-results"

    # Back matter: the deployment profile and the evidence files.
    resources: dict[str, tuple[int, dict[str, Any]]] = {}
    bm = rd.mapping(root.get("back-matter"), f"{base}.back-matter", required=False) or {}
    for r, res in enumerate(rd.items(bm.get("resources"), f"{base}.back-matter.resources")):
        res = rd.mapping(res, f"{base}.back-matter.resources[{r}]")
        if res is not None and isinstance(res.get("uuid"), str):
            resources[res["uuid"]] = (r, res)
    deployment: Any = None
    for r, res in resources.values():
        rloc = f"{base}.back-matter.resources[{r}]"
        kind = rd.props(res.get("props"), f"{rloc}.props", "resource-kind").get(
            "resource-kind", ("", "")
        )[0]
        if kind != "deployment-profile":
            continue
        if deployment is not None:
            rd.problem(rloc, "a second deployment profile resource; expected exactly one")
            continue
        deployment = _decode_profile(rd, res, rloc)
        embedded["deployment"] = f"{rloc}.base64.value"
    other_tool: Foreign | None = None
    if deployment is None and not any(
        p.location.startswith(f"{base}.back-matter") for p in rd.problems
    ):
        given = foreign.profile.get("deployment") if foreign is not None else None
        if isinstance(given, dict):
            deployment, other_tool = given, foreign
            embedded["deployment"] = "--profile"
        else:
            rd.problem(
                f"{base}.back-matter.resources",
                "no deployment profile: expected a resource with prop resource-kind = "
                f"deployment-profile (ns {NS}) holding the deployment block as base64 JSON; for "
                "a document from another tool, give the deployment profile beside it with "
                "--profile FILE (a YAML or JSON file with `deployment:`)",
            )

    metadata = rd.mapping(root.get("metadata"), f"{base}.metadata")
    if metadata is not None and isinstance(deployment, dict):
        said = rd.props(metadata.get("props"), f"{base}.metadata.props", "deployment-id").get(
            "deployment-id"
        )
        if said is not None and said[0] != deployment.get("id"):
            rd.problem(
                said[1],
                f"deployment-id {said[0]!r} differs from the deployment profile's id "
                f"{deployment.get('id')!r}",
            )

    results = rd.items(root.get("results"), f"{base}.results", required=True)
    if "results" in root and isinstance(root.get("results"), list) and len(results) != 1:
        rd.problem(
            f"{base}.results",
            f"expected exactly one result (one assessment per document), found {len(results)}",
        )
    assessment: dict[str, Any] = {}
    if len(results) == 1:
        assessment = _convert_result(
            rd, results[0], f"{base}.results[0]", resources, sources, other_tool, root
        )
    if rd.problems:
        raise InvalidInput(rd.problems)
    return Converted({"deployment": deployment, "assessment": assessment}, sources, embedded)


def to_import_document(value: dict[str, Any], label: str) -> dict[str, Any]:
    """An OSCAL assessment-results document as an assessment file of the import format."""
    return convert(value, label).document


def _decode_profile(rd: _Reader, res: dict[str, Any], rloc: str) -> Any:
    b64 = rd.mapping(res.get("base64"), f"{rloc}.base64")
    if b64 is None:
        return None
    raw = rd.text(b64.get("value"), f"{rloc}.base64.value")
    if raw is None:
        return None
    try:
        data = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError) as exc:
        rd.problem(f"{rloc}.base64.value", f"expected base64 of a JSON deployment block: {exc}")
        return None
    try:  # the same limits as for any document: size, depth, duplicate keys
        decoded = parse_document(data, rd.label, fmt="json")
    except InvalidInput as exc:
        for p in exc.problems:
            where = f" ({p.location})" if p.location else ""
            rd.problem(f"{rloc}.base64.value{where}", f"deployment block: {p.message}")
        return None
    if not isinstance(decoded, dict):
        rd.problem(
            f"{rloc}.base64.value",
            f"expected the deployment block as a JSON object, got {type(decoded).__name__}",
        )
        return None
    return decoded


def _convert_result(
    rd: _Reader,
    value: Any,
    rloc: str,
    resources: dict[str, tuple[int, dict[str, Any]]],
    sources: dict[str, str],
    foreign: Foreign | None = None,
    root: dict[str, Any] | None = None,
) -> dict[str, Any]:
    result = rd.mapping(value, rloc)
    if result is None:
        return {}
    out: dict[str, Any] = {}
    props = rd.props(result.get("props"), f"{rloc}.props", "assessment-id", "assessor")
    for key, name in (("id", "assessment-id"), ("assessor", "assessor")):
        if foreign is not None and name not in props:
            found, where = _foreign_header(rd, key, result, rloc, foreign, root or {})
            if found is not None:
                out[key], sources[f"assessment.{key}"] = found, where
            continue
        found = rd.need(props, name, f"{rloc}.props")
        if found is not None:
            out[key] = found
            sources[f"assessment.{key}"] = props[name][1]
    start = rd.text(result.get("start"), f"{rloc}.start")
    if start is not None:
        out["date"] = start[:10]
        sources["assessment.date"] = f"{rloc}.start"

    observations: dict[str, tuple[int, dict[str, Any]]] = {}
    for o, obs in enumerate(rd.items(result.get("observations"), f"{rloc}.observations")):
        obs = rd.mapping(obs, f"{rloc}.observations[{o}]")
        if obs is not None and isinstance(obs.get("uuid"), str):
            observations[obs["uuid"]] = (o, obs)

    results: list[dict[str, Any]] = []
    sources["assessment.results"] = f"{rloc}.findings"
    for i, finding in enumerate(rd.items(result.get("findings"), f"{rloc}.findings")):
        floc = f"{rloc}.findings[{i}]"
        sources[f"assessment.results[{i}]"] = floc
        finding = rd.mapping(finding, floc)
        if finding is None:
            results.append({})
            continue
        results.append(
            _convert_finding(
                rd,
                finding,
                floc,
                f"assessment.results[{i}]",
                rloc,
                observations,
                resources,
                sources,
                foreign,
            )
        )
    out["results"] = results

    acceptances: list[dict[str, Any]] = []
    sources["assessment.acceptances"] = f"{rloc}.risks"
    for j, risk in enumerate(rd.items(result.get("risks"), f"{rloc}.risks")):
        kloc = f"{rloc}.risks[{j}]"
        risk = rd.mapping(risk, kloc)
        if risk is None:
            continue
        rprops = rd.props(
            risk.get("props"),
            f"{kloc}.props",
            "check",
            "approved-by",
            "approved-on",
            "approver-role",
            "compensating-controls",
        )
        if "check" not in rprops:
            continue  # a risk, but not a risk acceptance recorded by this tool
        at = f"assessment.acceptances[{len(acceptances)}]"
        sources[at] = kloc
        acc: dict[str, Any] = {}
        acc["check"], sources[f"{at}.check"] = rprops["check"]
        approver = rd.need(rprops, "approved-by", f"{kloc}.props")
        if approver is not None:
            acc["approved_by"], sources[f"{at}.approved_by"] = rprops["approved-by"]
        statement = rd.text(risk.get("statement"), f"{kloc}.statement")
        if statement is not None:
            acc["justification"] = statement
            sources[f"{at}.justification"] = f"{kloc}.statement"
        deadline = rd.text(risk.get("deadline"), f"{kloc}.deadline")
        if deadline is not None:
            acc["expires"] = deadline[:10]
            sources[f"{at}.expires"] = f"{kloc}.deadline"
        for name, key in (
            ("approved-on", "approved_on"),
            ("approver-role", "approver_role"),
            ("compensating-controls", "compensating_controls"),
        ):
            if name in rprops:
                acc[key], sources[f"{at}.{key}"] = rprops[name]
        acceptances.append(acc)
    out["acceptances"] = acceptances
    return out


def _convert_finding(
    rd: _Reader,
    finding: dict[str, Any],
    floc: str,
    at: str,
    rloc: str,
    observations: dict[str, tuple[int, dict[str, Any]]],
    resources: dict[str, tuple[int, dict[str, Any]]],
    sources: dict[str, str],
    foreign: Foreign | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    props = rd.props(finding.get("props"), f"{floc}.props", "result-status", "unset")
    target = rd.mapping(finding.get("target"), f"{floc}.target")
    state: str | None = None
    implementation: str | None = None
    if target is not None:
        tloc = f"{floc}.target"
        target_id = rd.text(target.get("target-id"), f"{tloc}.target-id")
        tprops = rd.props(target.get("props"), f"{tloc}.props", "framework", "control-ref")
        framework = tprops.get("framework")
        if target_id is not None:
            if framework is not None:
                ref = tprops.get("control-ref", (target_id, f"{tloc}.target-id"))
                if token(ref[0]) != target_id:
                    rd.problem(
                        ref[1],
                        f"control-ref {ref[0]!r} does not match target-id {target_id!r}",
                    )
                out["control"] = f"{framework[0]}/{ref[0]}"
                sources[f"{at}.control"] = f"{tloc}.target-id"
            elif foreign is not None:
                found = foreign.resolve(target_id)
                if isinstance(found, str):
                    rd.problem(f"{tloc}.target-id", found)
                else:
                    out[found[0]] = found[1]
                    sources[f"{at}.{found[0]}"] = f"{tloc}.target-id"
            elif target.get("type") == "statement-id":
                rd.problem(
                    f"{tloc}.props",
                    f"a statement-id target needs a framework prop (ns {NS}) naming the "
                    "framework of the control",
                )
            else:
                out["check"] = target_id
                sources[f"{at}.check"] = f"{tloc}.target-id"
        status = rd.mapping(
            target.get("status"), f"{tloc}.status", required="result-status" not in props
        )
        if status is not None:
            state = rd.text(status.get("state"), f"{tloc}.status.state")
        impl = rd.mapping(
            target.get("implementation-status"), f"{tloc}.implementation-status", required=False
        )
        if impl is not None:
            implementation = rd.text(impl.get("state"), f"{tloc}.implementation-status.state")
    if "result-status" in props:
        out["status"], sources[f"{at}.status"] = props["result-status"]
        expected = _STATE.get(out["status"])
        if expected is not None and state is not None and state != expected:
            rd.problem(
                f"{floc}.target.status.state",
                f"state {state!r} contradicts result-status {out['status']!r} "
                f"(expected {expected!r})",
            )
    elif state is not None:
        sources[f"{at}.status"] = f"{floc}.target.status.state"
        if implementation == "not-applicable":
            out["status"] = "not_applicable"
        elif state == "satisfied":
            out["status"] = "pass"
        elif state == "not-satisfied":
            out["status"] = "partial" if implementation == "partial" else "fail"
        else:
            rd.problem(
                f"{floc}.target.status.state",
                f"expected one of satisfied, not-satisfied, got {state!r}",
            )
    if not _unset(props, "notes"):
        notes = rd.text(finding.get("description"), f"{floc}.description")
        if notes is not None:
            out["notes"] = notes
            sources[f"{at}.notes"] = f"{floc}.description"

    evidence: list[dict[str, Any]] = []
    for k, rel in enumerate(
        rd.items(finding.get("related-observations"), f"{floc}.related-observations")
    ):
        kloc = f"{floc}.related-observations[{k}]"
        rel = rd.mapping(rel, kloc)
        if rel is None:
            continue
        obs_uuid = rd.text(rel.get("observation-uuid"), f"{kloc}.observation-uuid")
        if obs_uuid is None:
            continue
        if obs_uuid not in observations:
            rd.problem(
                f"{kloc}.observation-uuid", f"no observation with uuid {obs_uuid!r} in this result"
            )
            continue
        o, obs = observations[obs_uuid]
        oloc = f"{rloc}.observations[{o}]"
        if k == 0:
            _convert_test_props(rd, obs, oloc, at, out, sources)
        for e, rev in enumerate(
            rd.items(obs.get("relevant-evidence"), f"{oloc}.relevant-evidence")
        ):
            eloc = f"{oloc}.relevant-evidence[{e}]"
            rev = rd.mapping(rev, eloc)
            if rev is None:
                continue
            ev_at = f"{at}.evidence[{len(evidence)}]"
            item = _convert_evidence(rd, rev, eloc, ev_at, resources, sources)
            if item is not None:
                sources[ev_at] = eloc
                evidence.append(item)
    if evidence:
        out["evidence"] = evidence
    return out


_TEST_TEXTS = {
    "tested-by": "tested_by",
    "population": "population",
    "exceptions": "exceptions",
}


def _convert_test_props(
    rd: _Reader,
    obs: dict[str, Any],
    oloc: str,
    at: str,
    out: dict[str, Any],
    sources: dict[str, str],
) -> None:
    """How a result was tested, from the props of its observation."""
    names = (
        "method",
        "tested-on",
        "sample-size",
        "sample-selection",
        "remediation-owner",
        "remediation-due",
        *_TEST_TEXTS,
    )
    props = rd.props(obs.get("props"), f"{oloc}.props", *names)
    if "method" in props:
        out["method"], sources[f"{at}.method"] = props["method"][0].split(), props["method"][1]
    for name, key in _TEST_TEXTS.items():
        if name in props:
            out[key], sources[f"{at}.{key}"] = props[name]
    if "tested-on" in props:
        out["tested_on"], sources[f"{at}.tested_on"] = props["tested-on"]
    if "sample-size" in props:
        value, where = props["sample-size"]
        sources[f"{at}.sample"] = where
        sources[f"{at}.sample.size"] = where
        out["sample"] = {"size": int(value) if value.isdigit() else value}
        if "sample-selection" in props:
            out["sample"]["selection"], sources[f"{at}.sample.selection"] = props[
                "sample-selection"
            ]
    if "remediation-owner" in props or "remediation-due" in props:
        sources[f"{at}.remediation"] = props.get(
            "remediation-owner", props.get("remediation-due", ("", oloc))
        )[1]
        out["remediation"] = {}
        for name, key in (("remediation-owner", "owner"), ("remediation-due", "due")):
            if name in props:
                out["remediation"][key], sources[f"{at}.remediation.{key}"] = props[name]


def _convert_evidence(
    rd: _Reader,
    rev: dict[str, Any],
    eloc: str,
    at: str,
    resources: dict[str, tuple[int, dict[str, Any]]],
    sources: dict[str, str],
) -> dict[str, Any] | None:
    item: dict[str, Any] = {}
    href = rd.text(rev.get("href"), f"{eloc}.href", required=False)
    if href is None:
        if "href" not in rev:
            rd.problem(
                f"{eloc}.href",
                "evidence without an href cannot be imported; give a URL or a back-matter resource",
            )
        return None
    if href.startswith("#"):
        found = resources.get(href[1:])
        if found is None:
            rd.problem(f"{eloc}.href", f"no back-matter resource with uuid {href[1:]!r}")
            return None
        r, res = found
        resloc = f"assessment-results.back-matter.resources[{r}]"
        rlinks = rd.items(res.get("rlinks"), f"{resloc}.rlinks")
        link = rd.mapping(rlinks[0], f"{resloc}.rlinks[0]") if rlinks else None
        if link is None:
            if not rlinks:
                rd.problem(
                    f"{resloc}.rlinks", "an evidence file resource needs an rlink to the file"
                )
            return None
        path = rd.text(link.get("href"), f"{resloc}.rlinks[0].href")
        if path is None:
            return None
        if _URL.match(path):  # a resource that is a web page (documents from other tools)
            item["url"] = path
            sources[f"{at}.url"] = f"{resloc}.rlinks[0].href"
            return item
        item["file"] = unquote(path)
        sources[f"{at}.file"] = f"{resloc}.rlinks[0].href"
        for h, digest in enumerate(rd.items(link.get("hashes"), f"{resloc}.rlinks[0].hashes")):
            hloc = f"{resloc}.rlinks[0].hashes[{h}]"
            digest = rd.mapping(digest, hloc)
            if digest is None or str(digest.get("algorithm", "")).upper() != _SHA256:
                continue
            sha = rd.text(digest.get("value"), f"{hloc}.value")
            if sha is not None:
                item["sha256"] = sha.lower()
                sources[f"{at}.sha256"] = f"{hloc}.value"
            break
    elif _URL.match(href):
        item["url"] = href
        sources[f"{at}.url"] = f"{eloc}.href"
    else:
        item["file"] = unquote(href)
        sources[f"{at}.file"] = f"{eloc}.href"
    props = rd.props(rev.get("props"), f"{eloc}.props", "unset", "collected")
    if "collected" in props:
        item["collected"], sources[f"{at}.collected"] = props["collected"]
    if not _unset(props, "description"):
        description = rd.text(rev.get("description"), f"{eloc}.description", required=False)
        if description is not None:
            item["description"] = description
            sources[f"{at}.description"] = f"{eloc}.description"
    return item
