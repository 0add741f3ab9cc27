"""Each built-in catalog says exactly what its publisher published.

NIST CSF 2.0 is compared with NIST's own OSCAL catalog; AI RMF 1.0, the OWASP Agentic Top 10 and
CSA MAESTRO with the reference data set (see tests/data/reference/README.md). Text is compared
after whitespace is normalised; anything else that differs fails.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from compliance.catalogs import CatalogFile, ControlEntry, load_catalog_set

REFERENCE = Path(__file__).parent / "data" / "reference"
OSCAL_CSF = REFERENCE / "nist-oscal" / "NIST_CSF_v2.0_catalog-min.json"


def norm(text: str | None) -> str | None:
    return None if text is None else re.sub(r"\s+", " ", text).strip()


@cache
def builtin(framework: str) -> CatalogFile:
    return load_catalog_set().catalogs[framework].doc


def by_ref(framework: str) -> dict[str, ControlEntry]:
    return {c.ref: c for c in builtin(framework).controls}


def reference(name: str) -> Any:
    return yaml.safe_load((REFERENCE / name).read_text(encoding="utf-8"))


# ---------------------------------------------------------------------------------------------
# NIST CSF 2.0 against NIST's OSCAL catalog


def _withdrawn(item: dict[str, Any]) -> bool:
    return any(p["name"] == "status" and p["value"] == "withdrawn" for p in item.get("props", []))


def _prose(item: dict[str, Any], name: str) -> list[str]:
    return [str(norm(p["prose"])) for p in item.get("parts", []) if p["name"] == name]


@cache
def oscal_csf() -> dict[str, dict[str, Any]]:
    """The active CSF 2.0 items of the OSCAL catalog, in order: ref -> what the catalog must say."""
    catalog = json.loads(OSCAL_CSF.read_text(encoding="utf-8"))["catalog"]
    out: dict[str, dict[str, Any]] = {}
    for fn in catalog["groups"]:
        (overview,) = _prose(fn, "overview")
        out[fn["id"]] = dict(kind="function", parent=None, title=fn["title"], text=overview)
        for cat in fn.get("controls", []):
            if _withdrawn(cat):
                continue
            (statement,) = _prose(cat, "statement")
            out[cat["id"]] = dict(
                kind="category", parent=fn["id"], title=cat["title"], text=statement
            )
            for sub in cat.get("controls", []):
                if _withdrawn(sub):
                    continue
                (statement,) = _prose(sub, "statement")
                out[sub["id"]] = dict(
                    kind="subcategory",
                    parent=cat["id"],
                    title=None,  # CSF subcategories have no title; OSCAL repeats the id
                    text=statement,
                    examples=_prose(sub, "example"),
                    tags=[p["remarks"] for p in sub.get("props", []) if p["name"] == "risk-party"],
                )
    return out


def test_oscal_reference_is_the_published_file() -> None:
    meta = json.loads(OSCAL_CSF.read_text(encoding="utf-8"))["catalog"]["metadata"]
    assert meta["version"] == "1.2.0"
    assert meta["title"] == "Electronic Version of NIST Cybersecurity Framework 2.0"
    kinds = [v["kind"] for v in oscal_csf().values()]
    assert (kinds.count("function"), kinds.count("category"), kinds.count("subcategory")) == (
        6,
        22,
        106,
    )


def test_csf_has_exactly_the_oscal_items() -> None:
    # Same items under the same parents (checked per item below); the order may differ, as the
    # OSCAL file sorts GOVERN's categories by their own sort ids, not as CSF 2.0 prints them.
    refs = [c.ref for c in builtin("nist-csf-2.0").controls]
    assert len(refs) == len(set(refs))
    assert set(refs) == set(oscal_csf())


@pytest.mark.parametrize("ref", list(oscal_csf()))
def test_csf_statement_matches_oscal(ref: str) -> None:
    want = oscal_csf()[ref]
    got = by_ref("nist-csf-2.0")[ref]
    assert (got.kind, got.parent) == (want["kind"], want["parent"])
    assert norm(got.title) == norm(want["title"]), f"{ref} title"
    assert norm(got.text) == want["text"], f"{ref} text differs from NIST's OSCAL catalog"
    assert got.assessable == (want["kind"] == "subcategory")
    if want["kind"] == "subcategory":
        examples = [
            re.sub(r"^Ex\d+: ", "", str(norm(e))) for e in got.implementation_examples or []
        ]
        assert examples == want["examples"], f"{ref} implementation examples"
        numbers = [int(e.split(":")[0][2:]) for e in got.implementation_examples or []]
        assert numbers == list(range(1, len(numbers) + 1)), f"{ref} example numbering"
        assert (got.risk_scope_tags or []) == want["tags"], f"{ref} risk tags"


def test_csf_gv_oc_04_names_external_stakeholders() -> None:
    text = by_ref("nist-csf-2.0")["GV.OC-04"].text or ""
    assert "services that external stakeholders depend on" in text


def test_csf_source_block_records_the_fixes_and_the_oscal_check() -> None:
    source = builtin("nist-csf-2.0").source
    changes = " ".join(source["transformations"])
    assert "GV.OC-04" in changes and "external" in changes
    assert "GV.RM-07" in changes and "ID.RA-06" in changes
    assert source["verified_against"]["commit"] == "78650f02ad9321bb7b817846f8fbd4f2bcd620de"
    assert source["publisher"].startswith("National Institute of Standards and Technology")


# ---------------------------------------------------------------------------------------------
# NIST AI RMF 1.0 against the reference data set


@cache
def rmf_reference() -> dict[str, dict[str, Any]]:
    doc = reference("nist-ai-rmf-1.0.yaml")
    out: dict[str, dict[str, Any]] = {}
    for fn in doc["functions"]:
        out[fn["id"]] = dict(kind="function", parent=None, title=fn.get("name"), text=fn["text"])
        for cat in fn["categories"]:
            out[cat["id"]] = dict(kind="category", parent=fn["id"], title=None, text=cat["text"])
            for sub in cat["subcategories"]:
                out[sub["id"]] = dict(
                    kind="subcategory", parent=cat["id"], title=None, text=sub["text"]
                )
    return out


def test_ai_rmf_has_exactly_the_reference_items() -> None:
    assert [c.ref for c in builtin("nist-ai-rmf-1.0").controls] == list(rmf_reference())
    counts = reference("nist-ai-rmf-1.0.yaml")["counts"]
    kinds = [c.kind for c in builtin("nist-ai-rmf-1.0").controls]
    assert kinds.count("function") == counts["functions"]
    assert kinds.count("category") == counts["categories"]
    assert kinds.count("subcategory") == counts["subcategories"]


@pytest.mark.parametrize("ref", list(rmf_reference()))
def test_ai_rmf_text_matches_reference(ref: str) -> None:
    want = rmf_reference()[ref]
    got = by_ref("nist-ai-rmf-1.0")[ref]
    assert (got.kind, got.parent) == (want["kind"], want["parent"])
    assert norm(got.title) == norm(want["title"])
    assert norm(got.text) == norm(want["text"]), f"{ref} text differs from the reference"
    assert got.assessable == (want["kind"] == "subcategory")


# ---------------------------------------------------------------------------------------------
# OWASP Top 10 for Agentic Applications 2026 against the reference data set


def test_owasp_asi_matches_reference() -> None:
    doc = reference("owasp-agentic-top10-2026.yaml")
    risks = doc["risks"]
    assert len(risks) == doc["counts"]["risks"] == 10
    controls = builtin("owasp-asi-2026").controls
    assert [c.ref for c in controls] == [r["id"] for r in risks]
    for risk, got in zip(risks, controls, strict=True):
        where = risk["id"]
        assert got.kind == "risk" and got.parent is None and got.assessable, where
        assert got.title == risk["title"], where
        assert norm(got.text) == norm(risk["description_excerpt"]), f"{where} description"
        assert got.id_with_year == risk["id_with_year"], where
        assert got.pdf_page == risk["pdf_page"], where
        assert got.title_as_listed == risk.get("title_as_listed_in_top_10_at_a_glance"), where


# ---------------------------------------------------------------------------------------------
# CSA MAESTRO against the reference data set


@cache
def maestro_reference() -> dict[str, dict[str, Any]]:
    doc = reference("csa-maestro.yaml")
    out: dict[str, dict[str, Any]] = {}
    for layer in doc["layers"]:
        out[layer["id"]] = dict(
            kind="layer",
            parent=None,
            title=f"Layer {layer['number']}: {layer['name']}",
            text=layer["description"],
            vertical=layer["vertical"],
        )
        for threat in layer["threats"]:
            out[threat["key"]] = dict(
                kind="threat", parent=layer["id"], title=threat["name"], text=threat["description"]
            )
    for threat in doc["cross_layer_threats"]:
        out[threat["key"]] = dict(
            kind="threat",
            parent=None,
            title=threat["name"],
            text=threat["description"],
            cross_layer=True,
        )
    return out


def test_maestro_has_exactly_the_reference_items_and_counts() -> None:
    doc = reference("csa-maestro.yaml")
    controls = builtin("csa-maestro").controls
    assert [c.ref for c in controls] == list(maestro_reference())
    layers = [c for c in controls if c.kind == "layer"]
    assert len(layers) == doc["counts"]["layers"]
    per_layer = {
        layer.ref: sum(c.parent == layer.ref for c in controls if c.kind == "threat")
        for layer in layers
    }
    assert per_layer == doc["counts"]["threats_per_layer"]
    assert sum(per_layer.values()) == doc["counts"]["layer_threats_total"]
    cross = [c for c in controls if c.kind == "threat" and c.parent is None]
    assert len(cross) == doc["counts"]["cross_layer_threats"]
    disputed = {d["name"] for d in doc.get("disputed_items", [])}
    assert not disputed & {c.title for c in controls}, "a disputed item was added"


@pytest.mark.parametrize("ref", list(maestro_reference()))
def test_maestro_entry_matches_reference(ref: str) -> None:
    want = maestro_reference()[ref]
    got = by_ref("csa-maestro")[ref]
    assert (got.kind, got.parent) == (want["kind"], want["parent"])
    assert got.title == want["title"]
    assert norm(got.text) == norm(want["text"]), f"{ref} text"
    assert got.assessable
    if want["kind"] == "layer":
        assert bool(got.vertical) == want["vertical"], f"{ref} vertical"
    if want.get("cross_layer"):
        assert got.cross_layer is True


# ---------------------------------------------------------------------------------------------
# What every catalog says about itself


@pytest.mark.parametrize(
    ("framework", "reference_file"),
    [
        ("nist-ai-rmf-1.0", "nist-ai-rmf-1.0.yaml"),
        ("owasp-asi-2026", "owasp-agentic-top10-2026.yaml"),
        ("csa-maestro", "csa-maestro.yaml"),
    ],
)
def test_source_block_agrees_with_the_reference(framework: str, reference_file: str) -> None:
    ours = builtin(framework).source
    theirs = reference(reference_file)["source"]
    for key in ("publisher", "title", "version", "date", "url"):
        assert norm(str(ours[key])) == norm(str(theirs[key])), f"{framework} source.{key}"
    assert norm(ours["license"]) == norm(theirs["license"]), f"{framework} source.license"
    # CSA assigns MAESTRO no version number; the catalog is versioned by its publication date.
    version = theirs["date"] if framework == "csa-maestro" else theirs["version"]
    assert builtin(framework).framework.version == version


@pytest.mark.parametrize(
    ("framework", "natures"),
    [
        ("nist-csf-2.0", {"subcategory": "requirement"}),
        ("nist-ai-rmf-1.0", {"subcategory": "requirement"}),
        ("owasp-asi-2026", {"risk": "threat"}),
        ("csa-maestro", {"layer": "requirement", "threat": "threat"}),
    ],
)
def test_each_catalog_says_whether_its_entries_are_requirements_or_threats(
    framework: str, natures: dict[str, str]
) -> None:
    doc = builtin(framework)
    assert doc.entry_nature is not None, f"{framework} does not declare entry_nature"
    assert set(doc.entry_nature) == {c.kind for c in doc.controls}
    for kind, nature in natures.items():
        assert doc.nature_of(kind) == nature
