"""The catalogs as data: counts, provenance, schema errors, organisation catalogs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from compliance.catalogs import load_catalog_set
from compliance.errors import InvalidInput
from compliance.resources import mappings_dir

EXPECTED = {
    "nist-csf-2.0": (134, 106),  # 6 functions + 22 categories + 106 subcategories
    "nist-ai-rmf-1.0": (95, 72),  # 4 functions + 19 categories + 72 subcategories
    "owasp-asi-2026": (10, 10),
    "csa-maestro": (62, 62),  # 7 layers + 50 layer threats + 5 cross-layer threats
}


def test_builtin_catalogs_validate_with_expected_counts() -> None:
    cs = load_catalog_set()
    assert set(cs.catalogs) == set(EXPECTED)
    for fid, (total, assessable) in EXPECTED.items():
        controls = cs.catalogs[fid].doc.controls
        assert len(controls) == total, fid
        assert sum(c.assessable for c in controls) == assessable, fid
    csf = cs.catalogs["nist-csf-2.0"].doc.controls
    assert [c.ref for c in csf if c.kind == "function"] == ["GV", "ID", "PR", "DE", "RS", "RC"]
    assert sum(c.kind == "category" for c in csf) == 22
    rmf = cs.catalogs["nist-ai-rmf-1.0"].doc.controls
    per_function = {
        f: sum(c.kind == "subcategory" and c.ref.startswith(f) for c in rmf)
        for f in ("GOVERN", "MAP", "MEASURE", "MANAGE")
    }
    assert per_function == {"GOVERN": 19, "MAP": 18, "MEASURE": 22, "MANAGE": 13}
    asi = cs.catalogs["owasp-asi-2026"].doc.controls
    assert [c.ref for c in asi] == [f"ASI{i:02d}" for i in range(1, 11)]
    maestro = cs.catalogs["csa-maestro"].doc.controls
    assert [c.ref for c in maestro if c.kind == "layer"] == [f"L{i}" for i in range(1, 8)]


def test_every_catalog_keeps_its_provenance() -> None:
    for cat in load_catalog_set().catalogs.values():
        src = cat.doc.source
        assert src["publisher"] and src["title"] and src["url"] and src.get("license")
        assert src.get("taken_from"), cat.id
        assert cat.doc.framework.version


def test_every_check_maps_and_all_four_frameworks_are_reached() -> None:
    cs = load_catalog_set()
    assert cs.checks is not None
    checks = cs.checks.doc.checks
    assert len(checks) == 35
    reached = set()
    for check in checks:
        assert check.mappings, f"{check.id} maps to nothing"
        for m in check.mappings:
            assert m.rationale.strip()
            reached.add(m.control.split("/")[0])
    assert reached == set(EXPECTED)


def _copy_builtin(tmp_path: Path) -> Path:
    target = tmp_path / "mappings"
    shutil.copytree(mappings_dir(), target)
    return target


def _edit(path: Path, change) -> None:  # type: ignore[no-untyped-def]
    doc = yaml.safe_load(path.read_text())
    change(doc)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


@pytest.mark.parametrize(
    ("change", "location", "message"),
    [
        (lambda d: d["controls"][5].pop("ref"), "controls[5].ref", "required field is missing"),
        (
            lambda d: d["controls"][5].update(assessable="yes"),
            "controls[5].assessable",
            "expected true or false",
        ),
        (
            lambda d: d["controls"][3].update(parent="NOPE"),
            "controls[3].parent",
            "is not a control listed before",
        ),
        (
            lambda d: d["controls"][7].update(ref=d["controls"][6]["ref"]),
            "controls[7].ref",
            "duplicate control ref",
        ),
        (lambda d: d["framework"].pop("version"), "framework.version", "required field is missing"),
        (lambda d: d["source"].pop("license"), "source.license", "required field is missing"),
        (lambda d: d.update(schema="compliance-catalog/9"), "schema", "expected one of"),
        (lambda d: d.update(controlz=[]), "controlz", "unknown field"),
    ],
)
def test_broken_catalog_is_refused_naming_file_and_place(
    tmp_path: Path, change, location: str, message: str
) -> None:  # type: ignore[no-untyped-def]
    root = _copy_builtin(tmp_path)
    _edit(root / "catalogs" / "nist-csf-2.0.yaml", change)
    with pytest.raises(InvalidInput) as exc:
        load_catalog_set(builtin=root)
    text = str(exc.value)
    assert "mappings/catalogs/nist-csf-2.0.yaml" in text
    assert location in text and message in text


def test_mapping_to_unknown_or_grouping_control_is_refused(tmp_path: Path) -> None:
    root = _copy_builtin(tmp_path)

    def change(d: dict) -> None:  # type: ignore[type-arg]
        d["checks"][0]["mappings"][0]["control"] = "nist-csf-2.0/GV.OC"
        d["checks"][1]["mappings"][0]["control"] = "nist-csf-9/XX"

    _edit(root / "checks.yaml", change)
    with pytest.raises(InvalidInput) as exc:
        load_catalog_set(builtin=root)
    text = str(exc.value)
    assert "checks[0].mappings[0].control: control nist-csf-2.0/GV.OC is not assessable" in text
    assert "checks[1].mappings[0].control: unknown framework 'nist-csf-9'" in text


def test_broken_yaml_reports_line_and_column(tmp_path: Path) -> None:
    root = _copy_builtin(tmp_path)
    (root / "catalogs" / "owasp-asi-2026.yaml").write_text(
        "schema: compliance-catalog/1\ncontrols: [\n"
    )
    with pytest.raises(InvalidInput) as exc:
        load_catalog_set(builtin=root)
    assert "owasp-asi-2026.yaml: line" in str(exc.value)


ORG_CATALOG = {
    "schema": "compliance-catalog/1",
    "framework": {"id": "acme-ai-policy", "name": "ACME internal AI policy", "version": "2026.1"},
    "catalog": {"revision": 1},
    "source": {"publisher": "ACME Corp", "title": "AI use policy", "license": "internal"},
    "controls": [
        {"ref": "AP", "kind": "section", "title": "Agent policy", "assessable": False},
        {
            "ref": "AP-1",
            "kind": "rule",
            "parent": "AP",
            "title": "Agents have owners",
            "text": "Every agent has a named owner.",
            "assessable": True,
        },
        {
            "ref": "AP-2",
            "kind": "rule",
            "parent": "AP",
            "title": "No standing keys",
            "text": "Agents use short-lived credentials.",
            "assessable": True,
        },
    ],
}
ORG_MAPPINGS = {
    "schema": "compliance-mappings/1",
    "id": "acme-mappings",
    "name": "Baseline checks to the ACME policy",
    "version": "1",
    "mappings": [
        {
            "check": "GOV-01",
            "control": "acme-ai-policy/AP-1",
            "relationship": "equal",
            "rationale": "Same rule.",
        },
        {
            "check": "IDN-02",
            "control": "acme-ai-policy/AP-2",
            "relationship": "equal",
            "rationale": "Same rule.",
        },
    ],
}


def write_org_dir(tmp_path: Path) -> Path:
    org = tmp_path / "org"
    org.mkdir()
    (org / "acme.yaml").write_text(yaml.safe_dump(ORG_CATALOG, sort_keys=False))
    (org / "acme-mappings.json").write_text(json.dumps(ORG_MAPPINGS))
    return org


def test_organisation_catalog_shows_up_everywhere(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    org = write_org_dir(tmp_path)
    listing = run("catalogs", "list", "--json", catalog_dirs=(org,))
    assert listing.exit_code == 0, listing.output
    rows = {r["id"]: r for r in json.loads(listing.output)}
    assert rows["acme-ai-policy"]["controls"] == {"total": 3, "assessable": 2, "mapped": 2}
    assert rows["acme-ai-policy"]["origin"] == "organisation"
    checks = json.loads(run("checks", "list", "--json").output)
    gov = next(c for c in checks if c["id"] == "GOV-01")
    assert {"control": "acme-ai-policy/AP-1", "relationship": "equal"}.items() <= next(
        m for m in gov["mappings"] if m["control"] == "acme-ai-policy/AP-1"
    ).items()
    shown = run("catalogs", "show", "acme-ai-policy", "AP-2", "--json")
    assert json.loads(shown.output)["checks"][0]["check"] == "IDN-02"


def test_broken_organisation_catalog_is_refused(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    org = write_org_dir(tmp_path)
    bad = dict(ORG_MAPPINGS, mappings=[dict(ORG_MAPPINGS["mappings"][0], check="NOPE-01")])
    (org / "acme-mappings.json").write_text(json.dumps(bad))
    result = run("catalogs", "list", catalog_dirs=(org,))
    assert result.exit_code == 1
    assert "acme-mappings.json: mappings[0].check: unknown check 'NOPE-01'" in result.output
    assert "Traceback" not in result.output


def test_catalogs_list_json_contract(run) -> None:  # type: ignore[no-untyped-def]
    result = run("catalogs", "list", "--json")
    assert result.exit_code == 0
    rows = {r["id"]: r for r in json.loads(result.output)}
    for fid, (total, assessable) in EXPECTED.items():
        assert rows[fid]["controls"]["total"] == total
        assert rows[fid]["controls"]["assessable"] == assessable
        assert rows[fid]["name"] and rows[fid]["version"]


def test_checks_list_json_contract(run) -> None:  # type: ignore[no-untyped-def]
    rows = json.loads(run("checks", "list", "--json").output)
    assert [r["id"] for r in rows][:3] == ["GOV-01", "GOV-02", "GOV-03"]
    assert len(rows) == 35
    for r in rows:
        assert r["title"] and r["mappings"]
        for m in r["mappings"]:
            assert m["relationship"] in {"equal", "subset", "superset", "intersects", "mitigates"}
            fw, ref = m["control"].split("/", 1)
            assert fw in EXPECTED and ref


def test_catalog_show_control(run) -> None:  # type: ignore[no-untyped-def]
    result = run("catalogs", "show", "nist-ai-rmf-1.0", "GOVERN 1.1", "--json")
    data = json.loads(result.output)
    assert data["text"].startswith("Legal and regulatory requirements involving AI")
    assert run("catalogs", "show", "nist-csf-2.0", "XX.YY-99").exit_code == 1
    assert "unknown framework" in run("catalogs", "show", "nope").output
