"""OSCAL catalogs, profiles and mappings out (valid under compliance-trestle and NIST's JSON
schemas), OSCAL catalogs in through --catalog-dir, and assessment results from other tools."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select
from trestle.oscal.assessment_results import AssessmentResults
from trestle.oscal.catalog import Catalog
from trestle.oscal.mapping import MappingCollection
from trestle.oscal.profile import Profile

from compliance import oscal
from compliance.catalogs import CatalogFile, DataFile, _parse, links, load_catalog_set
from compliance.oscal.catalog import export_framework
from compliance.store import db
from compliance.store.models import Assessment, Control, Result
from compliance.store.models import Catalog as CatalogRow
from compliance.validation import validate
from tests import factories
from tests.conftest import Cli, fresh_database
from tests.oscal_schemas import errors
from tests.test_catalogs import ORG_CATALOG

DATA = Path(__file__).parent / "data"
FRAMEWORKS = ["csa-maestro", "nist-ai-rmf-1.0", "nist-csf-2.0", "owasp-asi-2026"]


@pytest.fixture
def second(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Any:
    """A second fresh database."""
    folder = tmp_path / "second"
    folder.mkdir()
    yield from fresh_database(backend, folder, request)


def _load(path: Path) -> dict[str, Any]:
    value = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(value, dict)
    return value


def _as_catalog(raw: bytes, name: str) -> CatalogFile:
    file = DataFile(Path(name), name, raw, "organisation")
    _schema, value = _parse(file)
    return validate(CatalogFile, value, name)


# --------------------------------------------------------------------------------------------
# Catalogs out


@pytest.mark.parametrize("framework", [*FRAMEWORKS, "checks"])
def test_catalog_export_is_valid_oscal(framework: str, tmp_path: Path) -> None:
    run = Cli("sqlite:///" + str(tmp_path / "unused.db"), tmp_path / "store")
    out = tmp_path / f"{framework}.json"
    result = run("export", "catalog", framework, "--format", "oscal", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert result.output.strip() == str(out)
    doc = _load(out)
    assert errors("catalog", doc) == []
    Catalog.oscal_read(out)
    assert not (tmp_path / "unused.db").exists()  # catalogs come from the files, not a database


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_catalog_round_trip_gives_back_the_catalog(framework: str) -> None:
    cs = load_catalog_set()
    cat = cs.catalogs[framework]
    raw = json.dumps(export_framework(cat.doc, cat.file.sha256)).encode()
    again = _as_catalog(raw, f"{framework}.json")
    assert again.model_dump() == cat.doc.model_dump()


def test_ai_rmf_refs_with_spaces_become_tokens() -> None:
    cs = load_catalog_set()
    doc = export_framework(cs.catalogs["nist-ai-rmf-1.0"].doc, "0" * 64)["catalog"]
    govern = next(g for g in doc["groups"] if g["id"] == "GOVERN")
    g1 = next(g for g in govern["groups"] if g["id"] == "GOVERN_1")
    first = g1["controls"][0]
    assert first["id"] == "GOVERN_1.1"
    assert {"name": "label", "value": "GOVERN 1.1"} in first["props"]
    assert {"name": "ref", "ns": oscal.NS, "value": "GOVERN 1.1"} in first["props"]
    assert first["parts"][0]["name"] == "statement"


def test_checks_catalog_has_objective_procedure_and_mapping_links(tmp_path: Path) -> None:
    run = Cli("sqlite:///" + str(tmp_path / "x.db"), tmp_path / "store")
    out = tmp_path / "checks.json"
    assert run("export", "catalog", "checks", "-o", str(out)).exit_code == 0
    catalog = _load(out)["catalog"]
    cs = load_catalog_set()
    assert cs.checks is not None
    assert [c["id"] for c in catalog["controls"]] == [c.id for c in cs.checks.doc.checks]
    assert len(catalog["controls"]) == 35
    rev01 = next(c for c in catalog["controls"] if c["id"] == "REV-01")
    parts = {p["name"]: p for p in rev01["parts"]}
    check = next(c for c in cs.checks.doc.checks if c.id == "REV-01")
    assert parts["statement"]["prose"] == check.objective
    assert parts["assessment-method"]["props"][0]["ns"] == "http://csrc.nist.gov/ns/rmf"
    procedure = parts["procedure"]
    assert procedure["ns"] == oscal.NS
    steps = [p["prose"] for p in procedure["parts"] if p["name"] == "step"]
    assert check.procedure is not None and steps == check.procedure.steps
    assert {p["value"] for p in procedure["props"]} == set(check.procedure.thresholds)
    resources = {r["uuid"]: r for r in catalog["back-matter"]["resources"]}
    assert len(rev01["links"]) == len(check.mappings)
    for link, m in zip(rev01["links"], check.mappings, strict=True):
        assert link["rel"] == m.relationship
        framework = next(
            p["value"] for p in resources[link["href"][1:]]["props"] if p["name"] == "framework-id"
        )
        assert f"{framework}/{link['resource-fragment']}" == oscal.token(m.control) or (
            m.control == f"{framework}/{m.control.split('/', 1)[1]}"
            and link["resource-fragment"] == oscal.token(m.control.split("/", 1)[1])
        )
    # The checks are built in: their catalog does not load as a framework.
    with pytest.raises(Exception, match="holds the baseline checks"):
        _as_catalog(out.read_bytes(), "checks.json")


def test_unknown_framework_exits_1(tmp_path: Path) -> None:
    run = Cli("sqlite:///" + str(tmp_path / "x.db"), tmp_path / "store")
    result = run("export", "catalog", "iso-42001", "-o", str(tmp_path / "x.json"))
    assert result.exit_code == 1
    assert "unknown framework 'iso-42001' (known: checks, csa-maestro" in result.output


# --------------------------------------------------------------------------------------------
# Catalogs in


def test_an_organisation_catalog_goes_out_and_comes_back_through_catalog_dir(
    run: Cli, tmp_path: Path, second: str
) -> None:
    org = tmp_path / "org"
    org.mkdir()
    (org / "acme.yaml").write_text(yaml.safe_dump(ORG_CATALOG, sort_keys=False))
    out = tmp_path / "oscal-org" / "acme-ai-policy.json"
    result = run("export", "catalog", "acme-ai-policy", "-o", str(out), catalog_dirs=(org,))
    assert result.exit_code == 0, result.output
    assert errors("catalog", _load(out)) == []
    first = run("catalogs", "show", "acme-ai-policy", "--json", catalog_dirs=(org,))
    other = Cli(second, tmp_path / "store2")
    again = other("catalogs", "show", "acme-ai-policy", "--json", catalog_dirs=(out.parent,))
    assert again.exit_code == 0, again.output
    a, b = json.loads(first.output), json.loads(again.output)
    for volatile in ("sha256", "file", "loaded_at", "origin"):
        a.pop(volatile, None), b.pop(volatile, None)
    assert a == b
    # and a result recorded on one of its controls imports
    doc = factories.assessment_doc(
        results_list=[
            *factories.results(factories.LOW_REQUIRED),
            {"control": "acme-ai-policy/AP-2", "status": "pass", "notes": "Short-lived keys."},
        ]
    )
    result = other("import", str(factories.write(tmp_path / "a", doc)), catalog_dirs=(out.parent,))
    assert result.exit_code == 0, result.output


def test_nists_own_csf_catalog_loads_as_an_organisation_catalog(run: Cli, tmp_path: Path) -> None:
    folder = tmp_path / "nist"
    folder.mkdir()
    shutil.copy(DATA / "reference" / "nist-oscal" / "NIST_CSF_v2.0_catalog-min.json", folder)
    result = run("catalogs", "list", "--json", catalog_dirs=(folder,))
    assert result.exit_code == 0, result.output
    found = next(c for c in json.loads(result.output) if c["id"] == "nist-csf-v2.0-catalog-min")
    assert found["name"] == "Electronic Version of NIST Cybersecurity Framework 2.0"
    shown = json.loads(
        run(
            "catalogs",
            "show",
            "nist-csf-v2.0-catalog-min",
            "GV.OC-01",
            "--json",
            catalog_dirs=(folder,),
        ).output
    )
    assert "mission is understood" in json.dumps(shown)


def test_other_oscal_models_are_refused_in_a_catalog_folder(run: Cli, tmp_path: Path) -> None:
    folder = tmp_path / "profiles"
    folder.mkdir()
    assert run("export", "profile", "low", "-o", str(folder / "low.json")).exit_code == 0
    result = run("catalogs", "list", catalog_dirs=(folder,))
    assert result.exit_code == 1
    assert (
        "low.json: profile: an OSCAL profile document cannot be loaded from a catalog folder"
        in (result.output)
    )


def test_importing_an_oscal_catalog_says_where_it_belongs(run: Cli, tmp_path: Path) -> None:
    out = tmp_path / "asi.json"
    assert run("export", "catalog", "owasp-asi-2026", "-o", str(out)).exit_code == 0
    result = run("import", str(out))
    assert result.exit_code == 1
    assert f"{out}: catalog: an OSCAL catalog is not an assessment; load it with --catalog-dir" in (
        result.output
    )


# --------------------------------------------------------------------------------------------
# Profiles


@pytest.mark.parametrize("tier", ["low", "medium", "high", "critical"])
def test_profile_of_each_tier_is_valid_and_carries_the_policy(tier: str, tmp_path: Path) -> None:
    run = Cli("sqlite:///" + str(tmp_path / "x.db"), tmp_path / "store")
    out = tmp_path / f"{tier}.json"
    result = run("export", "profile", tier, "--format", "oscal", "-o", str(out))
    assert result.exit_code == 0, result.output
    doc = _load(out)
    assert errors("profile", doc) == []
    Profile.oscal_read(out)
    cs = load_catalog_set()
    policy = yaml.safe_load((Path("mappings") / "policy.yaml").read_text())
    tiers = [t["id"] for t in policy["tiers"]]
    expected = [c for t in policy["tiers"][: tiers.index(tier) + 1] for c in t["requires"]]
    selected = doc["profile"]["imports"][0]["include-controls"][0]["with-ids"]
    assert sorted(selected) == sorted(expected)
    assert cs.checks is not None
    props = [p for p in doc["profile"]["metadata"]["props"] if p.get("ns") == oscal.NS]
    by_name: dict[str, list[dict[str, Any]]] = {}
    for p in props:
        by_name.setdefault(p["name"], []).append(p)
    this = policy["tiers"][tiers.index(tier)]
    assert by_name["min-safety-score"][0]["value"] == str(this["min_safety_score"])
    assert by_name["acceptance-max-days"][0]["value"] == str(this["acceptance_max_days"])
    revocation = next(p for p in by_name["threshold"] if p["class"] == "revocation_minutes")
    assert revocation["value"] == str(policy["thresholds"]["revocation_minutes"]["values"][tier])
    conditional = [json.loads(p["value"]) for p in by_name["conditional-requirement"]]
    assert {
        "requires": ["DATA-02"],
        "when": {"data_any": ["regulated"]},
        "reason": "regulated data is reachable",
    } in conditional
    assert ("tier-condition" in by_name) == (tier != "low")
    stale = {p["class"]: p["value"] for p in by_name["evidence-max-age-days"]}
    assert stale["default"] == "365" and stale["AUD-01"] == "90"


def test_profile_of_an_unknown_tier_exits_1(run: Cli, tmp_path: Path) -> None:
    result = run("export", "profile", "extreme", "-o", str(tmp_path / "x.json"))
    assert result.exit_code == 1
    assert "unknown tier 'extreme' (tiers of baseline-policy: low, medium, high, critical)" in (
        result.output
    )


# --------------------------------------------------------------------------------------------
# Mappings


def test_mapping_collection_is_valid_and_states_the_direction(tmp_path: Path) -> None:
    run = Cli("sqlite:///" + str(tmp_path / "x.db"), tmp_path / "store")
    out = tmp_path / "mappings.json"
    assert run("export", "mappings", "--format", "oscal", "-o", str(out)).exit_code == 0
    doc = _load(out)
    assert errors("mapping", doc) == []
    MappingCollection.model_validate(doc["mapping-collection"])
    cs = load_catalog_set()
    maps = [m for mapping in doc["mapping-collection"]["mappings"] for m in mapping["maps"]]
    assert cs.checks is not None
    sufficient = [m for m in maps if any(p["name"] == "sufficient" for p in m.get("props", []))]
    assert len(maps) - len(sufficient) == len(links(cs)) == 314
    assert len(sufficient) == len(cs.checks.doc.sufficient) == 4
    assert all(len(m["sources"]) >= 2 and m["relationship"] == "superset-of" for m in sufficient)
    by_key = {
        (m["sources"][0]["id-ref"], m["targets"][0]["id-ref"]): m
        for m in maps
        if m not in sufficient
    }
    gov01 = by_key[("GOV-01", "GV.RR-02")]
    assert gov01["relationship"] == "subset-of" and "ns" not in gov01  # the check is a subset
    assert by_key[("GOV-01", "MANAGE_2.4")]["relationship"] == "intersects-with"
    assert by_key[("GOV-01", "MANAGE_2.4")]["targets"][0]["props"][0]["value"] == "MANAGE 2.4"
    mitigates = [m for m in maps if m["relationship"] == "mitigates"]
    assert len(mitigates) == 130 and all(m["ns"] == oscal.NS for m in mitigates)
    provenance = doc["mapping-collection"]["provenance"]
    assert provenance["matching-rationale"] == "semantic"
    assert "from the check's side" in provenance["mapping-description"]


def test_olir_and_csv_tables(tmp_path: Path) -> None:
    run = Cli("sqlite:///" + str(tmp_path / "x.db"), tmp_path / "store")
    olir = tmp_path / "olir.csv"
    result = run("export", "mappings", "--format", "olir", "-o", str(olir))
    assert result.exit_code == 0, result.output
    assert "184 mappings written; 130 mitigates mappings left out" in result.output
    rows = list(csv.DictReader(io.StringIO(olir.read_text(encoding="utf-8"))))
    assert len(rows) == 184
    assert {r["Relationship"] for r in rows} == {"subset of", "intersects with"}
    assert {r["Rationale"] for r in rows} == {"Semantic"}
    first = rows[0]
    assert (first["Focal Document Element"], first["Reference Document Element"]) == (
        "GOV-01",
        "GV.RR-02",
    )
    assert first["Notes"].startswith("Sets who holds cyber risk responsibility")
    flat = tmp_path / "flat.csv"
    assert run("export", "mappings", "--format", "csv", "-o", str(flat)).exit_code == 0
    rows = list(csv.DictReader(io.StringIO(flat.read_text(encoding="utf-8"))))
    assert len(rows) == 314
    assert {r["relationship"] for r in rows} == {"subset", "intersects", "mitigates"}
    assert rows[0]["check"] == "GOV-01" and rows[0]["framework"] == "nist-csf-2.0"


def test_exports_refuse_to_overwrite_the_policy_or_the_database(run: Cli, tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    shutil.copy(Path("mappings") / "policy.yaml", policy)
    result = run("export", "profile", "low", "--policy", str(policy), "-o", str(policy))
    assert result.exit_code == 1 and "it is the policy file" in result.output
    database = run.url.removeprefix("sqlite:///")
    if run.url.startswith("sqlite"):
        result = run("export", "mappings", "-o", database)
        assert result.exit_code == 1 and "it is the database in use" in result.output


# --------------------------------------------------------------------------------------------
# Assessment results: our export is valid against NIST's schema too


def test_assessment_results_export_is_valid_against_the_nist_schema(
    run: Cli, tmp_path: Path
) -> None:
    examples = Path(__file__).resolve().parent.parent / "examples"
    assert run("import", str(examples)).exit_code == 0
    for deployment in ("payments-recon-agent", "kb-search-assistant", "platform-ops-agent"):
        out = tmp_path / f"{deployment}.json"
        assert run("export", "oscal", deployment, "-o", str(out)).exit_code == 0
        assert errors("assessment-results", _load(out)) == []


# --------------------------------------------------------------------------------------------
# Assessment results of other tools


def _foreign(findings: list[tuple[str, str, str]], *, assessor: bool = True) -> dict[str, Any]:
    """An assessment-results document as another tool writes it: none of this tool's props,
    findings naming controls by their OSCAL ids (`(type, target-id, state)`)."""
    party = "3f1a9a52-6f7e-4b54-9d8c-1c2f3e4d5a6b"
    metadata: dict[str, Any] = {
        "title": "Quarterly control test",
        "last-modified": "2026-11-16T10:00:00Z",
        "version": "1.0",
        "oscal-version": "1.2.1",
        "roles": [{"id": "assessor", "title": "Assessor"}],
        "parties": [{"uuid": party, "type": "person", "name": "Jane Assessor"}],
    }
    if assessor:
        metadata["responsible-parties"] = [{"role-id": "assessor", "party-uuids": [party]}]
    observations, results = [], []
    for i, (kind, target, state) in enumerate(findings):
        obs = f"00000000-0000-4000-8000-{i:012d}"
        observations.append(
            {
                "uuid": obs,
                "description": f"Observed {target}.",
                "methods": ["TEST"],
                "collected": "2026-11-15T09:00:00Z",
                "relevant-evidence": [
                    {"href": f"https://evidence.example.com/{i}", "description": "Scan output"}
                ],
            }
        )
        results.append(
            {
                "uuid": f"10000000-0000-4000-8000-{i:012d}",
                "title": f"Finding on {target}",
                "description": f"{target} tested by the scanner.",
                "target": {"type": kind, "target-id": target, "status": {"state": state}},
                "related-observations": [{"observation-uuid": obs}],
            }
        )
    doc = {
        "assessment-results": {
            "uuid": "20000000-0000-4000-8000-000000000001",
            "metadata": metadata,
            "import-ap": {"href": "./assessment-plan.json"},
            "results": [
                {
                    "uuid": "30000000-0000-4000-8000-000000000001",
                    "title": "Results of the quarterly test",
                    "description": "Automated control tests.",
                    "start": "2026-11-15T09:00:00Z",
                    "reviewed-controls": {"control-selections": [{"include-all": {}}]},
                    "observations": observations,
                    "findings": results,
                }
            ],
        }
    }
    AssessmentResults.model_validate(doc["assessment-results"])
    assert errors("assessment-results", doc) == []
    return doc


FINDINGS = [
    ("statement-id", "gv.oc-01_smt", "satisfied"),
    ("objective-id", "GOVERN_1.1", "not-satisfied"),
    ("statement-id", "ASI02", "satisfied"),
    ("objective-id", "TOOL-01", "satisfied"),
]


def _profile_file(folder: Path, **assessment: Any) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "profile.yaml"
    content: dict[str, Any] = {"deployment": factories.deployment(id="scanner-agent")}
    if assessment:
        content["assessment"] = assessment
    path.write_text(yaml.safe_dump(content, sort_keys=False))
    return path


def _results(url: str) -> list[tuple[str, str, str]]:
    engine = db.make_engine(url)
    try:
        with db.transaction(engine) as s:
            rows = s.execute(
                select(Assessment.key, CatalogRow.key, Control.ref, Result.status)
                .join(Result, Result.assessment_id == Assessment.id)
                .outerjoin(Control, Control.id == Result.control_id)
                .outerjoin(CatalogRow, CatalogRow.id == Control.catalog_id)
                .order_by(Result.position)
            ).all()
            return [(a, f"{c}/{r}" if c else "check", st) for a, c, r, st in rows]
    finally:
        engine.dispose()


def test_a_trestle_style_document_imports_with_its_profile(run: Cli, tmp_path: Path) -> None:
    path = tmp_path / "ar" / "results.json"
    path.parent.mkdir()
    path.write_text(json.dumps(_foreign(FINDINGS)))
    refused = run("import", str(path))
    assert refused.exit_code == 1
    assert "no deployment profile" in refused.output and "--profile FILE" in refused.output
    profile = _profile_file(tmp_path / "p")
    result = run("import", str(path), "--profile", str(profile))
    assert result.exit_code == 0, result.output
    assert _results(run.url) == [
        ("30000000-0000-4000-8000-000000000001", "nist-csf-2.0/GV.OC-01", "pass"),
        ("30000000-0000-4000-8000-000000000001", "nist-ai-rmf-1.0/GOVERN 1.1", "fail"),
        ("30000000-0000-4000-8000-000000000001", "owasp-asi-2026/ASI02", "pass"),
        ("30000000-0000-4000-8000-000000000001", "check", "pass"),
    ]
    again = run("import", str(path), "--profile", str(profile))
    assert again.exit_code == 0 and "1 unchanged" in again.output
    gaps = json.loads(run("gaps", "scanner-agent", "--as-of", "2026-11-30", "--json").output)
    assert "GV.OC-01" in json.dumps(gaps)


def test_the_profile_file_can_name_the_assessment(run: Cli, tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    path.write_text(json.dumps(_foreign(FINDINGS[:1], assessor=False)))
    refused = run("import", str(path), "--profile", str(_profile_file(tmp_path / "p1")))
    assert refused.exit_code == 1
    assert (
        "assessment-results.results[0].props: who assessed is not stated: give "
        "assessment.assessor in the --profile file"
    ) in refused.output
    profile = _profile_file(tmp_path / "p2", id="2026-Q4-scan", assessor="scanner@example.com")
    result = run("import", str(path), "--profile", str(profile))
    assert result.exit_code == 0, result.output
    assert _results(run.url)[0][0] == "2026-Q4-scan"


def test_a_finding_on_an_unknown_control_is_refused_with_its_place(
    run: Cli, tmp_path: Path
) -> None:
    path = tmp_path / "results.json"
    path.write_text(
        json.dumps(_foreign([*FINDINGS[:1], ("statement-id", "ac-2_smt.a", "satisfied")]))
    )
    result = run("import", str(path), "--profile", str(_profile_file(tmp_path / "p")))
    assert result.exit_code == 1
    assert (
        "assessment-results.results[0].findings[1].target.target-id: target-id 'ac-2_smt.a' "
        "names no check and no control of a loaded catalog"
    ) in result.output
    assert "load the catalog the document assessed with --catalog-dir" in result.output


def test_a_control_in_two_loaded_catalogs_is_refused(run: Cli, tmp_path: Path) -> None:
    folder = tmp_path / "nist"
    folder.mkdir()
    shutil.copy(DATA / "reference" / "nist-oscal" / "NIST_CSF_v2.0_catalog-min.json", folder)
    path = tmp_path / "results.json"
    path.write_text(json.dumps(_foreign(FINDINGS[:1])))
    result = run(
        "import", str(path), "--profile", str(_profile_file(tmp_path / "p")), catalog_dirs=(folder,)
    )
    assert result.exit_code == 1
    assert (
        "matches controls of more than one catalog (nist-csf-2.0/GV.OC-01, "
        "nist-csf-v2.0-catalog-min/GV.OC-01)"
    ) in result.output
