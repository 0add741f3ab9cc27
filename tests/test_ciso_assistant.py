"""CISO Assistant: libraries out (each checked against the fields CISO Assistant's loader
requires, and every URN they point to resolving), framework libraries in through --catalog-dir."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from compliance.catalogs import CatalogFile, DataFile, _parse, links, load_catalog_set
from compliance.interop import ciso_assistant
from compliance.validation import validate
from tests import factories
from tests.conftest import Cli

DATA = Path(__file__).parent / "data" / "ciso-assistant"
SCHEMA = json.loads((DATA / "library.schema.json").read_text(encoding="utf-8"))
INTUITEM = yaml.safe_load((DATA / "intuitem-urns.yaml").read_text(encoding="utf-8"))


@pytest.fixture
def exported(tmp_path: Path) -> dict[str, dict[str, Any]]:
    run = Cli("sqlite:///" + str(tmp_path / "unused.db"), tmp_path / "store")
    out = tmp_path / "ca"
    result = run("export", "ciso-assistant", "-o", str(out))
    assert result.exit_code == 0, result.output
    files = {p.name: yaml.safe_load(p.read_text(encoding="utf-8")) for p in out.glob("*.yaml")}
    assert sorted(files) == [
        "agent-compliance-checks.yaml",
        "csa-maestro.yaml",
        "mapping-agent-compliance-checks-to-csa-maestro.yaml",
        "mapping-agent-compliance-checks-to-nist-ai-rmf-1.0.yaml",
        "mapping-agent-compliance-checks-to-nist-csf-2.0.yaml",
        "owasp-asi-2026.yaml",
    ]
    return files


def _nodes(library: dict[str, Any]) -> dict[str, dict[str, Any]]:
    framework = library["objects"].get("framework")
    return {n["urn"]: n for n in framework["requirement_nodes"]} if framework else {}


def test_every_library_has_what_the_loader_requires(exported: dict[str, dict[str, Any]]) -> None:
    for name, library in exported.items():
        problems = [e.message for e in jsonschema.Draft7Validator(SCHEMA).iter_errors(library)]
        assert problems == [], name


def test_every_urn_resolves(exported: dict[str, dict[str, Any]]) -> None:
    libraries = {lib["urn"]: lib for lib in exported.values()}
    for found in INTUITEM["frameworks"].values():  # CISO Assistant's own libraries
        libraries[found["library_urn"]] = {
            "nodes": set(found["nodes"].values()),
            "framework": found["framework_urn"],
        }
    threats = {t["urn"] for lib in exported.values() for t in lib["objects"].get("threats", [])}
    for name, library in exported.items():
        for dep in library.get("dependencies", []):
            assert dep in libraries, f"{name}: dependency {dep} is not among the libraries"
        for node in _nodes(library).values():
            for threat in node.get("threats", []):
                assert threat in threats, f"{name}: {node['ref_id']} names unknown threat {threat}"
            if "parent_urn" in node:
                assert node["parent_urn"] in _nodes(library)
        for mapping_set in library["objects"].get("requirement_mapping_sets", []):
            deps = [libraries[d] for d in library["dependencies"]]
            known: set[str] = set()
            frameworks = set()
            for dep in deps:
                if "nodes" in dep:
                    known |= dep["nodes"]
                    frameworks.add(dep["framework"])
                else:
                    known |= set(_nodes(dep))
                    frameworks.add(dep["objects"]["framework"]["urn"])
            assert mapping_set["source_framework_urn"] in frameworks
            assert mapping_set["target_framework_urn"] in frameworks
            for m in mapping_set["requirement_mappings"]:
                assert m["source_requirement_urn"] in known, m
                assert m["target_requirement_urn"] in known, m


def test_the_urn_rule_matches_ciso_assistants_own_urns() -> None:
    for fid, found in INTUITEM["frameworks"].items():
        for ref, urn in found["nodes"].items():
            assert ciso_assistant.node_urn(fid, ref) == urn


def test_relationships_and_mitigations(exported: dict[str, dict[str, Any]]) -> None:
    cs = load_catalog_set()
    all_links = links(cs)
    spelt = {
        "equal": "equal",
        "subset": "subset",
        "superset": "superset",
        "intersects": "intersect",
    }
    csf = exported["mapping-agent-compliance-checks-to-nist-csf-2.0.yaml"]["objects"][
        "requirement_mapping_sets"
    ][0]["requirement_mappings"]
    expected = [link for link in all_links if link.control.startswith("nist-csf-2.0/")]
    assert len(csf) == len(expected)
    for m, link in zip(csf, expected, strict=True):
        assert m["relationship"] == spelt[link.relationship]
        assert m["source_requirement_urn"].endswith(":" + link.check.lower())
        assert m["rationale"] == "semantic" and m["annotation"] == link.rationale
    maestro = exported["mapping-agent-compliance-checks-to-csa-maestro.yaml"]["objects"][
        "requirement_mapping_sets"
    ][0]["requirement_mappings"]
    layer_links = [
        link
        for link in all_links
        if link.control.startswith("csa-maestro/") and link.relationship != "mitigates"
    ]
    assert len(maestro) == len(layer_links)
    # mitigates: the check's requirement node lists the threats it mitigates
    checks = _nodes(exported["agent-compliance-checks.yaml"])
    mitigated = sum(len(n.get("threats", [])) for n in checks.values())
    assert mitigated == sum(1 for link in all_links if link.relationship == "mitigates") == 130
    sec01 = next(n for n in checks.values() if n["ref_id"] == "SEC-01")
    assert "urn:agent-compliance:risk:threat:owasp-asi-2026:asi01" in sec01["threats"]
    assert "Steps:" in sec01["annotation"] and sec01["typical_evidence"]


@pytest.mark.parametrize("framework", ["owasp-asi-2026", "csa-maestro"])
def test_own_libraries_load_back_as_the_same_catalog(
    exported: dict[str, dict[str, Any]], framework: str
) -> None:
    raw = yaml.safe_dump(exported[f"{framework}.yaml"]).encode()
    file = DataFile(Path(f"{framework}.yaml"), f"{framework}.yaml", raw, "organisation")
    _schema, value = _parse(file)
    loaded = validate(CatalogFile, value, file.label)
    original = load_catalog_set().catalogs[framework].doc
    keys = ("ref", "kind", "parent", "title", "text", "assessable")
    assert [{k: getattr(c, k) for k in keys} for c in loaded.controls] == [
        {k: getattr(c, k) for k in keys} for c in original.controls
    ]
    for c in original.controls:
        assert loaded.nature_of(c.kind) == original.nature_of(c.kind)
    assert loaded.framework.id == framework


def test_a_ciso_assistant_library_loads_through_catalog_dir(run: Cli, tmp_path: Path) -> None:
    folder = tmp_path / "ca"
    folder.mkdir()
    shutil.copy(DATA / "sample-framework.yaml", folder)
    shown = run("catalogs", "show", "acme-ai-rules", "--json", catalog_dirs=(folder,))
    assert shown.exit_code == 0, shown.output
    catalog = json.loads(shown.output)
    controls = {c["ref"]: c for c in catalog["controls"]}
    # ref_id when it is unique, else the URN after the framework's prefix
    assert sorted(controls) == ["Part 1", "Part 2", "node7", "r-1.1", "r-1.2"]
    # parents before children (the child listed before its parent moves after it)
    assert [c["ref"] for c in catalog["controls"]] == [
        "Part 1",
        "r-1.1",
        "node7",
        "Part 2",
        "r-1.2",
    ]
    assert controls["r-1.2"]["parent"] == "Part 2"
    assert controls["r-1.1"]["kind"] == "rule" and controls["node7"]["kind"] == "level-2"
    assert catalog["source"]["publisher"] == "ACME"
    doc = factories.assessment_doc(
        results_list=[
            *factories.results(factories.LOW_REQUIRED),
            {"control": "acme-ai-rules/node7", "status": "partial", "notes": "Half done."},
        ]
    )
    result = run("import", str(factories.write(tmp_path / "a", doc)), catalog_dirs=(folder,))
    assert result.exit_code == 0, result.output


def test_a_library_without_a_framework_is_refused(run: Cli, tmp_path: Path) -> None:
    folder = tmp_path / "ca"
    folder.mkdir()
    (folder / "threats.yaml").write_text(
        yaml.safe_dump(
            {
                "urn": "urn:example:risk:library:threats",
                "locale": "en",
                "ref_id": "threats",
                "name": "Threats",
                "version": 1,
                "objects": {"threats": [{"urn": "urn:example:risk:threat:t1", "ref_id": "T1"}]},
            }
        )
    )
    result = run("catalogs", "list", catalog_dirs=(folder,))
    assert result.exit_code == 1
    assert (
        "threats.yaml: objects: a CISO Assistant library without a framework (it holds: "
        "threats); only framework libraries load as catalogs"
    ) in result.output
