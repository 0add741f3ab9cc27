"""OSCAL assessment results: the export loads in compliance-trestle's models and round-trips."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from trestle.oscal.assessment_results import AssessmentResults

from compliance import oscal
from compliance.errors import InvalidInput
from compliance.store import db
from compliance.store.models import (
    Assessment,
    Catalog,
    Check,
    Control,
    Deployment,
    Evidence,
    Result,
    RiskAcceptance,
    SafetyScore,
)
from tests import factories
from tests.conftest import Cli, fresh_database

MANIFEST = b'{"tools": [{"name": "search-api", "access": "read"}]}\n'
DRILL = b"2026-10-02 revoke issued 10:00:00, effective 10:04:12\n"


def _rich_doc(folder: Path) -> dict[str, Any]:
    """Every kind of thing the round trip must keep."""
    (folder / "evidence").mkdir(parents=True, exist_ok=True)
    (folder / "evidence" / "manifest.json").write_bytes(MANIFEST)
    (folder / "evidence" / "revocation drill.log").write_bytes(DRILL)
    # The first version's low-tier checks, in the order the assertions below index them.
    results = factories.results(["GOV-01", "GOV-02", "MOD-01", "TOOL-01", "DATA-01", "AUD-01"])
    results[0]["notes"] = "Owner named.\n\nSecond paragraph, with *markdown* and trailing spaces  "
    results[1]["status"] = "fail"
    results[2]["status"] = "partial"
    del results[3]["notes"]
    results[3]["evidence"] = [
        {"file": "evidence/manifest.json", "description": "Gateway export"},
        {"url": "https://wiki.example.com/agent/tools"},
        {"file": "evidence/manifest.json"},
    ]
    results[4]["notes"] = ""
    results += [
        {"check": "SEC-02", "status": "not_applicable", "notes": "No code execution tool."},
        {
            "check": "REV-01",
            "status": "pass",
            "evidence": [{"file": "evidence/revocation drill.log", "description": "Drill log"}],
        },
        {
            "control": "nist-csf-2.0/GV.OC-01",
            "status": "partial",
            "notes": "Mission understood, not written down.",
            "evidence": [{"url": "https://wiki.example.com/mission", "description": "Mission"}],
        },
        {
            "control": "nist-ai-rmf-1.0/GOVERN 1.1",
            "status": "not_applicable",
            "notes": "Organisation-wide legal duties are assessed elsewhere.",
        },
        {"control": "owasp-asi-2026/ASI02", "status": "fail", "notes": "Tool misuse possible."},
    ]
    doc = factories.assessment_doc(
        results_list=results,
        acceptances=[
            {
                "check": "GOV-02",
                "approved_by": "ciso@example.com",
                "justification": "Classification workshop booked.\nSecond line.",
                "approver_role": "CISO",
                "compensating_controls": "Weekly review of the agent's actions.",
                "expires": "2027-01-31",
            },
            {
                "check": "MOD-01",
                "approved_by": "Risk Committee\n(chair: J. Doe)",  # no valid prop value
                "justification": "Expired on purpose.",
                "approved_on": "2026-07-01",
                "expires": "2026-10-01",
            },
        ],
    )
    doc["deployment"]["model"]["safety_scores"].append(
        {"benchmark": "other-suite", "version": "1", "score": 0.81}
    )
    doc["deployment"]["authority"] = ["send_external_communication"]
    del doc["deployment"]["audit"]  # undefined: must stay undefined, not become empty
    return doc


def _snapshot(url: str, deployment: str) -> dict[str, Any]:
    """Everything an import records for one deployment, without ids and import times."""
    engine = db.make_engine(url)
    try:
        with db.transaction(engine) as s:
            dep = s.execute(select(Deployment).where(Deployment.key == deployment)).scalar_one()
            out: dict[str, Any] = {
                "deployment": (dep.name, dep.owner, dep.environment, dep.business_process),
                "assessments": [],
            }
            for a in s.execute(
                select(Assessment)
                .where(Assessment.deployment_id == dep.id)
                .order_by(Assessment.key)
            ).scalars():
                profile = dict(a.profile)
                profile.pop("id")
                results = []
                for r, check, framework, ref in s.execute(
                    select(Result, Check.key, Catalog.key, Control.ref)
                    .outerjoin(Check, Check.id == Result.check_id)
                    .outerjoin(Control, Control.id == Result.control_id)
                    .outerjoin(Catalog, Catalog.id == Control.catalog_id)
                    .where(Result.assessment_id == a.id)
                    .order_by(Result.position)
                ):
                    evidence = [
                        (
                            e.position,
                            e.kind,
                            e.file_name,
                            e.sha256,
                            e.size,
                            e.media_type,
                            e.url,
                            e.description,
                        )
                        for e in s.execute(
                            select(Evidence)
                            .where(Evidence.result_id == r.id)
                            .order_by(Evidence.position)
                        ).scalars()
                    ]
                    target = check or f"{framework}/{ref}"
                    results.append((r.position, target, r.status, r.notes, evidence))
                acceptances = [
                    (x.position, key, x.approved_by, x.justification, x.expires)
                    for x, key in s.execute(
                        select(RiskAcceptance, Check.key)
                        .join(Check, Check.id == RiskAcceptance.check_id)
                        .where(RiskAcceptance.assessment_id == a.id)
                        .order_by(RiskAcceptance.position)
                    )
                ]
                scores = sorted(
                    s.execute(
                        select(SafetyScore.benchmark, SafetyScore.version, SafetyScore.score).where(
                            SafetyScore.assessment_id == a.id
                        )
                    ).all()
                )
                out["assessments"].append(
                    {
                        "key": a.key,
                        "date": a.assessed_on,
                        "assessor": a.assessor,
                        "profile": profile,
                        "results": results,
                        "acceptances": acceptances,
                        "scores": scores,
                    }
                )
            return out
    finally:
        engine.dispose()


def _gate(run: Cli, deployment: str) -> tuple[int, dict[str, Any]]:
    result = run("gate", deployment, "--as-of", "2026-11-30", "--json")
    data = json.loads(result.output)
    data.pop("deployment")
    return result.exit_code, data


def _evidence_beside(document: Path, source: Path) -> None:
    """Copy the evidence folder of the assessment the document came from beside the document."""
    shutil.copytree(source / "evidence", document.parent / "evidence", dirs_exist_ok=True)


def _count(url: str, model: Any) -> int:
    engine = db.make_engine(url)
    try:
        with db.transaction(engine) as s:
            return int(s.execute(select(func.count()).select_from(model)).scalar_one())
    finally:
        engine.dispose()


@pytest.fixture
def second(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A second fresh database, for importing what the first one exported."""
    folder = tmp_path / "second"
    folder.mkdir()
    yield from fresh_database(backend, folder, request)


@pytest.fixture
def exported(run: Cli, tmp_path: Path) -> Path:
    """The rich document imported into the `run` database and exported as OSCAL."""
    path = factories.write(tmp_path / "src", _rich_doc(tmp_path / "src"))
    result = run("import", str(path))
    assert result.exit_code == 0, result.output
    out = tmp_path / "out" / "test-agent.oscal.json"
    result = run("export", "oscal", "test-agent", "--assessment", "2026-Q4", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert result.output.strip() == str(out)
    return out


def _load(path: Path) -> dict[str, Any]:
    value = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(value, dict)
    return value


def _write(path: Path, doc: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    return path


def _volatile_removed(doc: dict[str, Any]) -> dict[str, Any]:
    """The document without what legitimately differs between two imports of it."""
    text = json.dumps(doc)
    ar = json.loads(text)["assessment-results"]
    ar["metadata"].pop("last-modified")
    result = ar["results"][0]
    result["props"] = [p for p in result["props"] if p["name"] != "fingerprint"]
    for obs in result.get("observations", []):
        obs.pop("collected")
        for ev in obs.get("relevant-evidence", []):
            ev["props"] = [p for p in ev.get("props", []) if p["name"] != "collected"]
    return ar


# --------------------------------------------------------------------------------------------
# The export is OSCAL


def test_export_loads_in_trestle(exported: Path) -> None:
    model = AssessmentResults.oscal_read(exported)
    assert model is not None
    doc = _load(exported)
    again = AssessmentResults.model_validate(doc["assessment-results"])
    assert str(again.metadata.oscal_version.root.root) == oscal.OSCAL_VERSION
    result = again.results[0]
    assert result.findings is not None and result.observations is not None
    assert len(result.findings) == len(result.observations) == 11
    assert result.risks is not None and len(result.risks) == 2
    # trestle writes it back out as an equivalent document
    rewritten = json.loads(again.oscal_serialize_json())
    assert rewritten["assessment-results"]["uuid"] == doc["assessment-results"]["uuid"]


def test_export_structure(exported: Path) -> None:
    ar = _load(exported)["assessment-results"]
    assert ar["import-ap"]["href"].startswith("#")
    plan = ar["import-ap"]["href"][1:]
    resources = {r["uuid"]: r for r in ar["back-matter"]["resources"]}
    assert plan in resources and ar["import-ap"]["remarks"]
    for value in (ar["uuid"], *resources):
        assert uuid.UUID(value).version == 5
    result = ar["results"][0]
    assert result["start"] == "2026-11-20T00:00:00Z"
    by_target = {f["target"]["target-id"]: f for f in result["findings"]}

    tool = by_target["TOOL-01"]
    assert tool["target"]["type"] == "objective-id"
    assert tool["target"]["status"] == {"state": "satisfied", "reason": "pass"}
    assert {"name": "unset", "ns": oscal.NS, "value": "notes"} in tool["props"]
    observations = {o["uuid"]: o for o in result["observations"]}
    evidence = observations[tool["related-observations"][0]["observation-uuid"]][
        "relevant-evidence"
    ]
    assert [e["href"][:1] for e in evidence] == ["#", "h", "#"]
    assert evidence[0]["href"] == evidence[2]["href"]  # one resource per file
    manifest = resources[evidence[0]["href"][1:]]
    sha = hashlib.sha256(MANIFEST).hexdigest()
    assert manifest["rlinks"] == [
        {
            "href": "evidence/manifest.json",
            "media-type": "application/json",
            "hashes": [{"algorithm": "SHA-256", "value": sha}],
        }
    ]
    assert {"name": "size", "ns": oscal.NS, "value": str(len(MANIFEST))} in manifest["props"]

    drill = by_target["REV-01"]
    href = observations[drill["related-observations"][0]["observation-uuid"]]["relevant-evidence"][
        0
    ]["href"]
    assert resources[href[1:]]["rlinks"][0]["href"] == "evidence/revocation%20drill.log"

    na = by_target["SEC-02"]["target"]
    assert na["status"]["state"] == "satisfied"
    assert na["implementation-status"] == {"state": "not-applicable"}
    partial = by_target["MOD-01"]["target"]
    assert partial["status"]["state"] == "not-satisfied"
    assert partial["implementation-status"] == {"state": "partial"}
    assert by_target["GOV-02"]["target"]["status"]["state"] == "not-satisfied"

    govern = by_target["GOVERN_1.1"]["target"]
    assert govern["type"] == "statement-id"
    assert {"name": "framework", "ns": oscal.NS, "value": "nist-ai-rmf-1.0"} in govern["props"]
    assert {"name": "control-ref", "ns": oscal.NS, "value": "GOVERN 1.1"} in govern["props"]

    risks = {r["uuid"]: r for r in result["risks"]}
    gov02 = risks[by_target["GOV-02"]["related-risks"][0]["risk-uuid"]]
    assert gov02["status"] == "deviation-approved"
    assert gov02["statement"] == "Classification workshop booked.\nSecond line."
    assert gov02["deadline"] == "2027-01-31T23:59:59Z"
    assert gov02["risk-log"]["entries"][0]["logged-by"][0]["role-id"] == "approver"
    mod01 = risks[by_target["MOD-01"]["related-risks"][0]["risk-uuid"]]
    assert {
        "name": "approved-by",
        "ns": oscal.NS,
        "value": "see remarks",
        "class": "in-remarks",
        "remarks": "Risk Committee\n(chair: J. Doe)",
    } in mod01["props"]

    profile = next(r for r in resources.values() if r.get("base64"))
    block = json.loads(base64.b64decode(profile["base64"]["value"]))
    assert block["id"] == "test-agent" and block["audit"] is None
    assert profile["base64"]["media-type"] == "application/json"


def test_export_is_deterministic(run: Cli, exported: Path, tmp_path: Path) -> None:
    again = tmp_path / "again.json"
    assert run("export", "oscal", "test-agent", "-o", str(again)).exit_code == 0
    assert again.read_bytes() == exported.read_bytes()
    assert not list(exported.parent.glob(".*partial"))  # written atomically, nothing left


def test_export_unknown_deployment_or_assessment_exits_1(run: Cli, tmp_path: Path) -> None:
    out = tmp_path / "x.json"
    result = run("export", "oscal", "nobody", "-o", str(out))
    assert result.exit_code == 1
    assert "unknown deployment 'nobody'" in result.output
    assert not out.exists()
    assert (
        run("import", str(factories.write(tmp_path / "a", factories.assessment_doc()))).exit_code
        == 0
    )
    result = run("export", "oscal", "test-agent", "--assessment", "1999", "-o", str(out))
    assert result.exit_code == 1
    assert "has no assessment '1999'" in result.output
    assert not out.exists()


def test_export_help_has_an_example(run: Cli) -> None:
    result = run("export", "oscal", "--help")
    assert result.exit_code == 0
    assert "Example:" in result.output and "compliance export oscal" in result.output


# --------------------------------------------------------------------------------------------
# Round trips


def test_round_trip_into_a_second_database(
    run: Cli, exported: Path, second: str, tmp_path: Path
) -> None:
    other = Cli(second, run.evidence)  # the same evidence store
    # By hash alone, a file resolves only for a deployment that referenced it before: in the
    # second database, test-agent has no evidence yet.
    refused = other("import", str(exported))
    assert refused.exit_code == 1, refused.output
    assert "was imported before for deployment test-agent" in refused.output
    assert _count(second, Assessment) == 0
    _evidence_beside(exported, exported.parent.parent / "src")
    result = other("import", str(exported))
    assert result.exit_code == 0, result.output
    assert "1 imported" in result.output and "3 evidence reference(s) to 2 file(s)" in result.output
    assert _snapshot(second, "test-agent") == _snapshot(run.url, "test-agent")
    assert _gate(other, "test-agent") == _gate(run, "test-agent")
    assert _gate(run, "test-agent")[1]["decision"] == "BLOCK"  # audit undefined, GOV-02 failed

    # Exported again from the second database, the document is the same one.
    again = tmp_path / "again.json"
    assert other("export", "oscal", "test-agent", "-o", str(again)).exit_code == 0
    AssessmentResults.oscal_read(again)
    assert _volatile_removed(_load(again)) == _volatile_removed(_load(exported))

    # Importing the same document again changes nothing.
    result = other("import", str(exported))
    assert result.exit_code == 0 and "1 unchanged" in result.output


def test_round_trip_under_another_deployment_id(run: Cli, exported: Path, tmp_path: Path) -> None:
    doc = _load(exported)
    ar = doc["assessment-results"]
    resource = next(r for r in ar["back-matter"]["resources"] if r.get("base64"))
    block = json.loads(base64.b64decode(resource["base64"]["value"]))
    block["id"] = "test-agent-copy"
    resource["base64"]["value"] = base64.b64encode(json.dumps(block).encode()).decode()
    ar["metadata"]["props"][0]["value"] = "test-agent-copy"
    path = _write(tmp_path / "copy" / "copy.json", doc)
    # By hash alone, another deployment's files are not this one's (nor a way to probe the store).
    refused = run("import", str(path))
    assert refused.exit_code == 1, refused.output
    sha = hashlib.sha256(MANIFEST).hexdigest()
    assert (
        f"evidence file 'evidence/manifest.json' does not exist (looked in {path.parent}) and no "
        f"evidence file with sha256 {sha} was imported before for deployment test-agent-copy"
    ) in refused.output
    _evidence_beside(path, exported.parent.parent / "src")
    result = run("import", str(path))
    assert result.exit_code == 0, result.output
    assert _snapshot(run.url, "test-agent-copy") == _snapshot(run.url, "test-agent")
    assert _gate(run, "test-agent-copy") == _gate(run, "test-agent")


def test_statuses_derive_from_oscal_states_without_our_props(exported: Path) -> None:
    """A document from another tool has no result-status prop; the OSCAL states suffice."""
    doc = _load(exported)
    expected = oscal.to_import_document(copy.deepcopy(doc), "x.json")
    for finding in doc["assessment-results"]["results"][0]["findings"]:
        finding["props"] = [p for p in finding["props"] if p["name"] != "result-status"]
    derived = oscal.to_import_document(doc, "x.json")
    statuses = [r["status"] for r in derived["assessment"]["results"]]
    assert statuses == [r["status"] for r in expected["assessment"]["results"]]
    assert set(statuses) == {"pass", "fail", "partial", "not_applicable"}


def test_to_import_document_maps_back(exported: Path) -> None:
    doc = oscal.to_import_document(_load(exported), "x.json")
    original = _rich_doc(exported.parent.parent / "scratch")
    assessment = doc["assessment"]
    assert (assessment["id"], assessment["date"], assessment["assessor"]) == (
        "2026-Q4",
        "2026-11-20",
        "assessor@example.com",
    )
    sha = hashlib.sha256(MANIFEST).hexdigest()
    assert assessment["results"][3] == {
        "check": "TOOL-01",
        "status": "pass",
        "evidence": [
            {"file": "evidence/manifest.json", "sha256": sha, "description": "Gateway export"},
            {"url": "https://wiki.example.com/agent/tools"},
            {"file": "evidence/manifest.json", "sha256": sha},
        ],
    }
    assert (
        assessment["results"][0]["notes"] == original["assessment"]["results"][0]["notes"].strip()
    )
    assert assessment["results"][4]["notes"] == ""
    assert [r.get("control") for r in assessment["results"][-3:]] == [
        "nist-csf-2.0/GV.OC-01",
        "nist-ai-rmf-1.0/GOVERN 1.1",
        "owasp-asi-2026/ASI02",
    ]
    assert assessment["acceptances"] == original["assessment"]["acceptances"]
    assert doc["deployment"]["model"] == original["deployment"]["model"]


# --------------------------------------------------------------------------------------------
# Evidence on import: by hash from the store, or beside the document


def test_evidence_missing_everywhere_is_refused(
    exported: Path, second: str, tmp_path: Path
) -> None:
    other = Cli(second, tmp_path / "empty-store")
    result = other("import", str(exported))
    assert result.exit_code == 1
    sha = hashlib.sha256(MANIFEST).hexdigest()
    assert (
        "rlinks[0].href: evidence file 'evidence/manifest.json' does not exist "
        f"(looked in {exported.parent}) and no evidence file with sha256 {sha} was imported "
        "before for deployment test-agent"
    ) in result.output
    assert _count(second, Assessment) == 0


def test_evidence_beside_the_document_is_checked_and_stored(
    exported: Path, second: str, tmp_path: Path
) -> None:
    other = Cli(second, tmp_path / "empty-store")
    (exported.parent / "evidence").mkdir()
    (exported.parent / "evidence" / "manifest.json").write_bytes(MANIFEST + b"tampered")
    (exported.parent / "evidence" / "revocation drill.log").write_bytes(DRILL)
    result = other("import", str(exported))
    assert result.exit_code == 1
    sha = hashlib.sha256(MANIFEST).hexdigest()
    found = hashlib.sha256(MANIFEST + b"tampered").hexdigest()
    assert f"evidence file changed: expected sha256 {sha}, found {found}" in result.output
    assert _count(second, Assessment) == 0
    (exported.parent / "evidence" / "manifest.json").write_bytes(MANIFEST)
    result = other("import", str(exported))
    assert result.exit_code == 0, result.output
    assert "3 evidence reference(s) to 2 file(s)" in result.output  # one per file evidence item
    assert (tmp_path / "empty-store" / sha[:2] / sha[2:]).read_bytes() == MANIFEST


def test_sha256_in_the_import_format(run: Cli, tmp_path: Path) -> None:
    folder = tmp_path / "a"
    (folder / "evidence").mkdir(parents=True)
    (folder / "evidence" / "m.json").write_bytes(MANIFEST)
    sha = hashlib.sha256(MANIFEST).hexdigest()
    results = factories.results(factories.LOW_REQUIRED)
    results[1]["evidence"] = [{"url": "https://example.com/x", "sha256": sha}]
    results[2]["evidence"] = [{"file": "evidence/m.json", "sha256": sha.upper()}]
    path = factories.write(folder, factories.assessment_doc(results_list=results))
    result = run("import", str(path))
    assert result.exit_code == 1
    assert "assessment.results[1].evidence[0].sha256: only a file has a sha256" in result.output
    assert "assessment.results[2].evidence[0].sha256: expected text matching" in result.output

    results[0]["evidence"] = [{"file": "evidence/m.json", "sha256": "0" * 64}]
    results[1]["evidence"] = results[2]["evidence"] = []
    path = factories.write(folder, factories.assessment_doc(results_list=results))
    result = run("import", str(path))
    assert result.exit_code == 1
    assert (
        f"assessment.results[0].evidence[0].file: evidence file changed: expected sha256 "
        f"{'0' * 64}, found {sha}"
    ) in result.output
    assert _count(run.url, Evidence) == 0

    results[0]["evidence"] = [{"file": "evidence/m.json", "sha256": sha}]
    results[1]["evidence"] = []
    results[2]["evidence"] = []
    path = factories.write(folder, factories.assessment_doc(results_list=results))
    result = run("import", str(path))
    assert result.exit_code == 0, result.output
    results[0]["evidence"] = [{"file": "evidence/gone.json", "sha256": sha}]  # in the store now
    doc = factories.assessment_doc(results_list=results, id="2026-Q5", date="2026-11-25")
    result = run("import", str(factories.write(folder, doc, "q5.yaml")))
    assert result.exit_code == 0, result.output
    engine = db.make_engine(run.url)
    try:
        with db.transaction(engine) as s:
            rows = s.execute(
                select(Evidence.file_name, Evidence.sha256, Evidence.size, Evidence.media_type)
                .join(Result, Result.id == Evidence.result_id)
                .join(Assessment, Assessment.id == Result.assessment_id)
                .order_by(Assessment.key)
            ).all()
    finally:
        engine.dispose()
    assert [tuple(r) for r in rows] == [
        ("evidence/m.json", sha, len(MANIFEST), "application/json"),
        ("evidence/gone.json", sha, len(MANIFEST), "application/json"),
    ]


def test_a_name_outside_the_folder_is_refused_even_when_stored(run: Cli, tmp_path: Path) -> None:
    folder = tmp_path / "a"
    (folder / "evidence").mkdir(parents=True)
    (folder / "evidence" / "m.json").write_bytes(MANIFEST)
    sha = hashlib.sha256(MANIFEST).hexdigest()
    results = factories.results(factories.LOW_REQUIRED)
    results[0]["evidence"] = [{"file": "evidence/m.json", "sha256": sha}]
    assert (
        run(
            "import", str(factories.write(folder, factories.assessment_doc(results_list=results)))
        ).exit_code
        == 0
    )
    results[0]["evidence"] = [{"file": "../elsewhere/m.json", "sha256": sha}]
    doc = factories.assessment_doc(results_list=results, id="2026-Q5")
    result = run("import", str(factories.write(folder, doc, "b.yaml")))
    assert result.exit_code == 1
    assert (
        "b.yaml: assessment.results[0].evidence[0].file: evidence file '../elsewhere/m.json' "
        f"does not exist (looked in {folder})\n"
    ) in result.output


# --------------------------------------------------------------------------------------------
# Malformed OSCAL documents: every problem with its place, nothing written

Mutation = Callable[[dict[str, Any]], None]


def _result(doc: dict[str, Any]) -> dict[str, Any]:
    value = doc["assessment-results"]["results"][0]
    assert isinstance(value, dict)
    return value


def _set_prop(props: list[dict[str, Any]], name: str, value: str) -> None:
    next(p for p in props if p["name"] == name)["value"] = value


def _drop_results(doc: dict[str, Any]) -> None:
    del doc["assessment-results"]["results"]


def _unknown_check(doc: dict[str, Any]) -> None:
    _result(doc)["findings"][2]["target"]["target-id"] = "XYZ-99"


def _bad_status(doc: dict[str, Any]) -> None:
    _set_prop(_result(doc)["findings"][1]["props"], "result-status", "passed")


def _contradicting_status(doc: dict[str, Any]) -> None:
    _set_prop(_result(doc)["findings"][1]["props"], "result-status", "pass")


def _unknown_observation(doc: dict[str, Any]) -> None:
    _result(doc)["findings"][0]["related-observations"][0]["observation-uuid"] = str(uuid.uuid4())


def _dangling_evidence(doc: dict[str, Any]) -> None:
    obs = next(o for o in _result(doc)["observations"] if o.get("relevant-evidence"))
    obs["relevant-evidence"][0]["href"] = "#" + str(uuid.uuid4())


def _no_profile(doc: dict[str, Any]) -> None:
    resources = doc["assessment-results"]["back-matter"]["resources"]
    resources[:] = [r for r in resources if not r.get("base64")]


def _bad_profile(doc: dict[str, Any]) -> None:
    resource = next(
        r for r in doc["assessment-results"]["back-matter"]["resources"] if r.get("base64")
    )
    block = json.loads(base64.b64decode(resource["base64"]["value"]))
    block["autonomy"] = "fully"
    resource["base64"]["value"] = base64.b64encode(json.dumps(block).encode()).decode()


def _no_assessor(doc: dict[str, Any]) -> None:
    _result(doc)["props"] = [p for p in _result(doc)["props"] if p["name"] != "assessor"]


def _other_deployment_id(doc: dict[str, Any]) -> None:
    doc["assessment-results"]["metadata"]["props"][0]["value"] = "someone-else"


def _unknown_control(doc: dict[str, Any]) -> None:
    finding = next(f for f in _result(doc)["findings"] if f["target"]["target-id"] == "ASI02")
    finding["target"]["target-id"] = "ASI99"
    _set_prop(finding["target"]["props"], "control-ref", "ASI99")


def _two_results(doc: dict[str, Any]) -> None:
    doc["assessment-results"]["results"].append(copy.deepcopy(_result(doc)))


R = "assessment-results.results[0]"
MALFORMED: list[tuple[str, Mutation, list[str]]] = [
    ("missing results", _drop_results, ["assessment-results.results: required field is missing"]),
    ("two results", _two_results, ["assessment-results.results: expected exactly one result"]),
    (
        "unknown check",
        _unknown_check,
        [f"{R}.findings[2].target.target-id: unknown check 'XYZ-99'"],
    ),
    (
        "unknown control",
        _unknown_control,
        [f"{R}.findings[10].target.target-id: unknown control 'ASI99' in framework owasp-asi-2026"],
    ),
    (
        "bad status prop",
        _bad_status,
        [
            f"{R}.findings[1].props[0].value: expected one of pass, fail, partial, "
            "not_applicable, got 'passed'"
        ],
    ),
    (
        "status contradicts state",
        _contradicting_status,
        [f"{R}.findings[1].target.status.state: state 'not-satisfied' contradicts result-status"],
    ),
    (
        "unknown observation",
        _unknown_observation,
        [f"{R}.findings[0].related-observations[0].observation-uuid: no observation with uuid"],
    ),
    (
        "dangling evidence",
        _dangling_evidence,
        [".relevant-evidence[0].href: no back-matter resource with uuid"],
    ),
    (
        "no profile",
        _no_profile,
        ["assessment-results.back-matter.resources: no deployment profile"],
    ),
    (
        "bad profile",
        _bad_profile,
        [
            ".base64.value (deployment.autonomy): expected one of human_in_loop, human_on_loop, "
            "autonomous, got 'fully'"
        ],
    ),
    ("no assessor", _no_assessor, [f"{R}.props: missing prop 'assessor'"]),
    (
        "deployment id mismatch",
        _other_deployment_id,
        [
            "assessment-results.metadata.props[0].value: deployment-id 'someone-else' differs "
            "from the deployment profile's id 'test-agent'"
        ],
    ),
]


@pytest.mark.parametrize(
    ("mutate", "expected"), [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED]
)
def test_malformed_oscal_is_refused_with_places(
    run: Cli, exported: Path, tmp_path: Path, mutate: Mutation, expected: list[str]
) -> None:
    doc = _load(exported)
    mutate(doc)
    before = _count(run.url, Assessment)
    path = _write(tmp_path / "bad" / "bad.json", doc)
    result = run("import", str(path))
    assert result.exit_code == 1, result.output
    assert "nothing was written" in result.output
    assert "Traceback" not in result.output
    for text in expected:
        assert f"{path}: " in result.output
        assert text in result.output, result.output
    assert _count(run.url, Assessment) == before


def test_to_import_document_raises_invalid_input_with_places() -> None:
    with pytest.raises(InvalidInput) as caught:
        oscal.to_import_document(
            {"assessment-results": {"results": [{"findings": [{}]}]}}, "f.json"
        )
    found = {(p.file, p.location, p.message) for p in caught.value.problems}
    assert ("f.json", f"{R}.findings[0].target", "required field is missing") in found
    assert ("f.json", f"{R}.props", f"missing prop 'assessment-id' (ns {oscal.NS})") in found
    assert ("f.json", "assessment-results.metadata", "required field is missing") in found
    with pytest.raises(InvalidInput) as caught:
        oscal.to_import_document({"assessment-results": []}, "f.json")
    assert [str(p) for p in caught.value.problems] == [
        "f.json: assessment-results: expected a mapping, got list"
    ]


# --------------------------------------------------------------------------------------------
# Folders and the CLI


def test_folder_walk_imports_oscal_documents(
    run: Cli, exported: Path, second: str, tmp_path: Path
) -> None:
    folder = tmp_path / "walk"
    folder.mkdir()
    (folder / "ar.json").write_bytes(exported.read_bytes())
    (folder / "other.json").write_text('{"catalog": {"uuid": "x"}}')
    _evidence_beside(folder / "ar.json", exported.parent.parent / "src")
    other = Cli(second, run.evidence)
    result = other("import", str(folder))
    assert result.exit_code == 0, result.output
    assert f"imported   {folder / 'ar.json'}" in result.output
    assert f"skipped    {folder / 'other.json'}" in result.output
    assert _snapshot(second, "test-agent") == _snapshot(run.url, "test-agent")


def test_cli_round_trip_of_the_examples(
    run: Cli, second: str, tmp_path: Path, examples: Path
) -> None:
    assert run("import", str(examples)).exit_code == 0
    other = Cli(second, run.evidence)
    for deployment, assessment in [
        ("payments-recon-agent", "2026-Q3"),
        ("payments-recon-agent", "2026-Q4"),
        ("support-chat-agent", "2026-Q3"),
        ("kb-search-assistant", None),
        ("platform-ops-agent", None),
    ]:
        out = tmp_path / "oscal" / f"{deployment}-{assessment}" / "results.json"
        _evidence_beside(out, examples / deployment)  # a new database has none of the files
        args = ["export", "oscal", deployment, "-o", str(out)]
        if assessment:
            args += ["--assessment", assessment]
        result = run(*args)
        assert result.exit_code == 0, result.output
        AssessmentResults.oscal_read(out)
        result = other("import", str(out))
        assert result.exit_code == 0, result.output
    for deployment in ("payments-recon-agent", "kb-search-assistant", "platform-ops-agent"):
        assert _gate(other, deployment) == _gate(run, deployment)
    first, again = (
        _snapshot(run.url, "payments-recon-agent"),
        _snapshot(second, "payments-recon-agent"),
    )
    assert first == again


@pytest.fixture
def examples() -> Path:
    return Path(__file__).resolve().parent.parent / "examples"
