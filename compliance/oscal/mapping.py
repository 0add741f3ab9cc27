"""OSCAL mapping-collection: every check-to-control mapping in force.

One `mapping` per framework: the source resource is the checks catalog, the target the
framework's catalog (both back-matter resources). One `map` per link, with the check as the
source and the control as the target, so that the relationship reads from the check's side,
as this tool states it: `subset` -> `subset-of`, `superset` -> `superset-of`, `intersects` ->
`intersects-with`, `equal` -> `equivalent-to` (the matching rationale is semantic: the words
differ, the meaning is the same). `mitigates` has no NIST IR 8477 equivalent: it is written as
relationship `mitigates` with the map's `ns` set to this tool's namespace (OSCAL's allowed values
bind only relationships of its own namespace). The rationale is the map's remarks, the origin a
prop. A declaration that several partial checks together cover a control is one more map with
those checks as its sources, relationship `superset-of` (together they ask all the control asks)
and prop `sufficient`.
"""

from __future__ import annotations

from typing import Any

from compliance.catalogs import CatalogSet, links, split_control, sufficiencies
from compliance.oscal.catalog import _day, framework_resource
from compliance.oscal.common import NS, OSCAL_VERSION, line, prop, text_prop, token, uuid_of

OSCAL_RELATIONSHIP = {
    "equal": "equivalent-to",
    "subset": "subset-of",
    "superset": "superset-of",
    "intersects": "intersects-with",
}


def export_mappings(cs: CatalogSet) -> dict[str, Any]:
    """Every mapping in force as an OSCAL mapping-collection document."""
    assert cs.checks is not None
    checks = cs.checks.doc
    checks_res = {
        "uuid": uuid_of("checks-catalog", checks.id, checks.version),
        "title": line(f"{checks.name} {checks.version}"),
        "props": [prop("framework-id", checks.id)],
        "rlinks": [{"href": f"{checks.id}.oscal.json", "media-type": "application/oscal+json"}],
    }
    frameworks = {
        fid: framework_resource(fid, c.doc.framework.name, c.doc.framework.version)
        for fid, c in sorted(cs.catalogs.items())
    }
    by_framework: dict[str, list[dict[str, Any]]] = {}
    for link in links(cs):
        framework, ref = split_control(link.control)
        entry: dict[str, Any] = {
            "uuid": uuid_of("map", link.check, link.control),
            "relationship": OSCAL_RELATIONSHIP.get(link.relationship, link.relationship),
            "sources": [{"type": "control", "id-ref": token(link.check)}],
            "targets": [{"type": "control", "id-ref": token(ref)}],
            "props": [prop("relationship", link.relationship), text_prop("origin", link.origin)],
            "remarks": link.rationale,
        }
        if link.relationship == "mitigates":
            entry = {
                "uuid": entry["uuid"],
                "ns": NS,
                **{k: v for k, v in entry.items() if k != "uuid"},
            }
        if token(ref) != ref:
            entry["targets"][0]["props"] = [text_prop("ref", ref)]
        if link.file.origin != "builtin":
            entry["props"].append(text_prop("declared-in", link.file.label))
        by_framework.setdefault(framework, []).append(entry)
    for _file, _where, s in sufficiencies(cs):
        framework, ref = split_control(s.control)
        entry = {
            "uuid": uuid_of("sufficient", s.control, *sorted(s.checks)),
            "relationship": "superset-of",
            "sources": [{"type": "control", "id-ref": token(c)} for c in s.checks],
            "targets": [{"type": "control", "id-ref": token(ref)}],
            "props": [prop("sufficient", "true")],
            "remarks": s.rationale,
        }
        if token(ref) != ref:
            entry["targets"][0]["props"] = [text_prop("ref", ref)]
        by_framework.setdefault(framework, []).append(entry)
    mappings = []
    for fid, maps in sorted(by_framework.items()):
        res = frameworks[fid]
        mappings.append(
            {
                "uuid": uuid_of("mapping", checks.id, fid),
                "source-resource": {"type": "catalog", "href": f"#{checks_res['uuid']}"},
                "target-resource": {"type": "catalog", "href": f"#{res['uuid']}"},
                "maps": maps,
            }
        )
    sha = [cs.checks.file.sha256, *(m.file.sha256 for m in cs.mappings)]
    return {
        "mapping-collection": {
            "uuid": uuid_of("mapping-collection", checks.id, checks.version, *sha),
            "metadata": {
                "title": line(f"{checks.name}: mappings to the frameworks"),
                "last-modified": _day(checks.date),
                "version": checks.version,
                "oscal-version": OSCAL_VERSION,
                "props": [prop("checks-sha256", cs.checks.file.sha256)],
            },
            "provenance": {
                "method": "human",
                "matching-rationale": "semantic",
                "status": "complete",
                "mapping-description": (
                    "Each map relates one baseline check (source) to one framework control "
                    "(target); the relationship reads from the check's side (the check is a "
                    "subset of, a superset of, intersects with or is equivalent to the "
                    "control, in NIST IR 8477's set-theory vocabulary). A threat (an OWASP "
                    "ASI entry, a MAESTRO threat) is not a requirement: a check mitigates it, "
                    f"written as relationship mitigates in namespace {NS}. A map whose "
                    "sources are several checks, with prop sufficient, declares that those "
                    "partial checks together cover the control. The rationale of each map "
                    "is its remarks."
                ),
            },
            "mappings": mappings,
            "back-matter": {"resources": [checks_res, *frameworks.values()]},
        }
    }
