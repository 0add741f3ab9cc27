"""CISO Assistant libraries: the checks, ASI and MAESTRO out as libraries, framework libraries in.

Out (`export_libraries`), one YAML library per file, in CISO Assistant's library format:

- `owasp-asi-2026.yaml`, `csa-maestro.yaml`: each framework's entries as requirement nodes (the
  entry's kind as its implementation group), and every threat entry also as a `threat` object
  that its node lists in `threats`.
- `agent-compliance-checks.yaml`: the checks as requirement nodes (objective as description, the
  test procedure as annotation, the evidence as typical evidence); a check's `threats` are the
  ASI and MAESTRO threats it mitigates (CISO Assistant's own way of saying a requirement
  addresses a threat: its set-theory relationships have no `mitigates`).
- `mapping-agent-compliance-checks-to-FRAMEWORK.yaml`: a requirement mapping set from the checks
  to NIST CSF 2.0 and NIST AI RMF 1.0, whose targets are CISO Assistant's own URNs for those
  frameworks, and to the MAESTRO layers. Relationships as CISO Assistant spells them (`equal`,
  `subset`, `superset`, `intersect`), from the check (source) to the control (target), rationale
  `semantic`, this tool's rationale as the annotation.

In (`to_catalog_document`): a library with one framework becomes a catalog of schema
compliance-catalog/1. The framework id is the last part of the framework's URN (other characters
than letters, digits, `.` and `-` as `-`, at most 64); a node's ref is
its `ref_id`, else (no ref_id, or one that two nodes share) its URN after the framework's prefix
(`urn:intuitem:risk:req_node:ai-act:node271` -> `node271`); its kind is its single implementation
group, else `level-N` (its depth); a kind whose every node lists exactly one of the library's
threats, the one with the node's own ref_id, is a kind of threat entries.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from compliance.catalogs import RELATIONSHIPS, CatalogFile, CatalogSet, split_control
from compliance.errors import InvalidInput, Problem

NAMESPACE = "agent-compliance"
PACKAGER = "agent-compliance"
URN_PATTERN = re.compile(
    r"^urn:([a-zA-Z0-9_-]+):([a-zA-Z0-9_-]+):([a-zA-Z0-9_-]+)(?::([a-zA-Z0-9_-]+))?:"
    r"([0-9A-Za-z\[\]\(\)\-\._:]+)$"
)
# CISO Assistant's own libraries of the two NIST frameworks the checks map to; their node URNs
# are the lower-case ref with spaces as hyphens (checked against the libraries by a test).
CISO_FRAMEWORKS = {
    "nist-csf-2.0": ("urn:intuitem:risk:library:nist-csf-2.0", "nist-csf-2.0"),
    "nist-ai-rmf-1.0": ("urn:intuitem:risk:library:nist-ai-rmf-1.0", "nist-ai-rmf-1.0"),
}
# Our relationships as CISO Assistant spells them (RequirementMapping.Relationship).
RELATIONSHIP_NAMES = {
    "equal": "equal",
    "subset": "subset",
    "superset": "superset",
    "intersects": "intersect",
}
OWN_FRAMEWORKS = ("owasp-asi-2026", "csa-maestro")
CHECKS_LIBRARY = "agent-compliance-checks"


def _segment(ref: str) -> str:
    """A ref as the last part of a URN: lower case, anything else than letters, digits and
    `.-_` as `-` (`GOVERN 1.1` -> `govern-1.1`)."""
    return re.sub(r"[^0-9a-z.\-_]", "-", ref.lower())


def node_urn(framework: str, ref: str) -> str:
    """The URN of a framework entry: CISO Assistant's own for NIST CSF 2.0 and AI RMF 1.0,
    this tool's for the others."""
    if framework in CISO_FRAMEWORKS:
        return f"urn:intuitem:risk:req_node:{CISO_FRAMEWORKS[framework][1]}:{_segment(ref)}"
    return f"urn:{NAMESPACE}:risk:req_node:{framework}:{_segment(ref)}"


def _threat_urn(framework: str, ref: str) -> str:
    return f"urn:{NAMESPACE}:risk:threat:{framework}:{_segment(ref)}"


def _library_urn(name: str) -> str:
    return f"urn:{NAMESPACE}:risk:library:{name}"


def _version_number(version: str) -> int:
    """CISO Assistant versions are whole numbers: `2.0.0` -> 20000, `2026` -> 2026."""
    parts = [int(p) for p in re.findall(r"\d+", version)[:3]] or [1]
    if len(parts) == 1:
        return max(parts[0], 1)
    parts += [0] * (3 - len(parts))
    return max(parts[0] * 10_000 + parts[1] * 100 + parts[2], 1)


def _dump(doc: dict[str, Any]) -> bytes:
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100).encode("utf-8")


def _framework_library(cat: CatalogFile) -> dict[str, Any]:
    fw = cat.framework
    by_ref = {c.ref: c for c in cat.controls}
    depth: dict[str, int] = {}
    threats: list[dict[str, Any]] = []
    nodes: list[dict[str, Any]] = []
    kinds: list[str] = []
    for c in cat.controls:
        depth[c.ref] = depth[c.parent] + 1 if c.parent else 1
        if c.kind not in kinds:
            kinds.append(c.kind)
        node: dict[str, Any] = {"urn": node_urn(fw.id, c.ref), "assessable": c.assessable}
        node["depth"] = depth[c.ref]
        if c.parent is not None:
            node["parent_urn"] = node_urn(fw.id, by_ref[c.parent].ref)
        node["ref_id"] = c.ref
        if c.title:
            node["name"] = c.title
        if c.text:
            node["description"] = c.text
        node["implementation_groups"] = [c.kind]
        if c.assessable and cat.nature_of(c.kind) == "threat":
            urn = _threat_urn(fw.id, c.ref)
            threat: dict[str, Any] = {"urn": urn, "ref_id": c.ref, "name": c.title or c.ref}
            if c.text:
                threat["description"] = c.text
            threats.append(threat)
            node["threats"] = [urn]
        nodes.append(node)
    source = cat.source
    objects: dict[str, Any] = {}
    if threats:
        objects["threats"] = threats
    objects["framework"] = {
        "urn": f"urn:{NAMESPACE}:risk:framework:{fw.id}",
        "ref_id": fw.id,
        "name": fw.name,
        "description": f"{fw.name}, version {fw.version}, as kept by agent-compliance.",
        "implementation_groups_definition": [
            {"ref_id": k, "name": k.replace("_", " ").capitalize()} for k in kinds
        ],
        "requirement_nodes": nodes,
    }
    return {
        "urn": _library_urn(fw.id),
        "locale": "en",
        "ref_id": fw.id,
        "name": fw.name,
        "description": f"{fw.name} (version {fw.version}): every entry as a requirement node"
        + (", and every threat as a threat object." if threats else "."),
        "copyright": str(source.get("license") or source.get("licence")),
        "version": cat.catalog.revision,
        "publication_date": str(cat.catalog.date or source.get("date") or "")[:10] or None,
        "provider": str(source.get("publisher")),
        "packager": PACKAGER,
        "objects": objects,
    }


def _procedure_text(check: Any) -> str | None:
    p = check.procedure
    if p is None:
        return None
    lines = [f"Method: {', '.join(p.method)}.", "Steps:"]
    lines += [f"{n}. {step}" for n, step in enumerate(p.steps, start=1)]
    lines += [
        f"Pass: {p.criteria.pass_}",
        f"Partial: {p.criteria.partial}",
        f"Fail: {p.criteria.fail}",
    ]
    if p.thresholds:
        lines.append(f"Thresholds (values per tier in the policy): {', '.join(p.thresholds)}.")
    return "\n".join(lines)


def export_libraries(cs: CatalogSet) -> dict[str, bytes]:
    """File name -> content of every library this tool writes for CISO Assistant."""
    from compliance.catalogs import links

    assert cs.checks is not None
    checks = cs.checks.doc
    version = _version_number(checks.version)
    out: dict[str, bytes] = {}
    for fid in OWN_FRAMEWORKS:
        if fid in cs.catalogs:
            out[f"{fid}.yaml"] = _dump(_framework_library(cs.catalogs[fid].doc))
    checks_framework = f"urn:{NAMESPACE}:risk:framework:{CHECKS_LIBRARY}"
    by_check: dict[str, list[Any]] = {}
    for link in links(cs):
        by_check.setdefault(link.check, []).append(link)
    nodes = []
    threat_deps: set[str] = set()
    for c in checks.checks:
        node: dict[str, Any] = {
            "urn": node_urn(CHECKS_LIBRARY, c.id),
            "assessable": True,
            "depth": 1,
            "ref_id": c.id,
            "name": c.title,
            "description": c.objective,
        }
        annotation = _procedure_text(c)
        if annotation:
            node["annotation"] = annotation
        node["typical_evidence"] = c.evidence
        threats = [
            _threat_urn(*split_control(link.control))
            for link in by_check.get(c.id, [])
            if link.relationship == "mitigates" and split_control(link.control)[0] in out_names(out)
        ]
        if threats:
            node["threats"] = threats
            threat_deps.update(split_control(link.control)[0] for link in by_check.get(c.id, []))
        nodes.append(node)
    deps = [_library_urn(f) for f in OWN_FRAMEWORKS if f in threat_deps and f"{f}.yaml" in out]
    library: dict[str, Any] = {
        "urn": _library_urn(CHECKS_LIBRARY),
        "locale": "en",
        "ref_id": CHECKS_LIBRARY,
        "name": checks.name,
        "description": (
            f"{checks.name} (version {checks.version}): each check with its objective, test "
            "procedure and typical evidence; the threats a check mitigates are its threats."
        ),
        "copyright": str(checks.source.get("license")),
        "version": version,
        "publication_date": checks.date,
        "provider": str(checks.source.get("publisher")),
        "packager": PACKAGER,
    }
    if deps:
        library["dependencies"] = deps
    library["objects"] = {
        "framework": {
            "urn": checks_framework,
            "ref_id": CHECKS_LIBRARY,
            "name": checks.name,
            "description": "Concrete, testable control objectives for an AI agent deployment.",
            "requirement_nodes": nodes,
        }
    }
    out[f"{CHECKS_LIBRARY}.yaml"] = _dump(library)
    targets = {
        "nist-csf-2.0": (
            CISO_FRAMEWORKS["nist-csf-2.0"][0],
            "urn:intuitem:risk:framework:nist-csf-2.0",
        ),
        "nist-ai-rmf-1.0": (
            CISO_FRAMEWORKS["nist-ai-rmf-1.0"][0],
            "urn:intuitem:risk:framework:nist-ai-rmf-1.0",
        ),
        "csa-maestro": (_library_urn("csa-maestro"), f"urn:{NAMESPACE}:risk:framework:csa-maestro"),
    }
    for fid, (library_urn, framework_urn) in targets.items():
        if fid not in cs.catalogs:
            continue
        mappings = []
        for c in checks.checks:
            for link in by_check.get(c.id, []):
                framework, ref = split_control(link.control)
                if framework != fid or link.relationship not in RELATIONSHIP_NAMES:
                    continue
                mappings.append(
                    {
                        "source_requirement_urn": node_urn(CHECKS_LIBRARY, c.id),
                        "target_requirement_urn": node_urn(fid, ref),
                        "relationship": RELATIONSHIP_NAMES[link.relationship],
                        "rationale": "semantic",
                        "annotation": link.rationale,
                    }
                )
        if not mappings:
            continue
        name = f"mapping-{CHECKS_LIBRARY}-to-{fid}"
        fw_name = cs.catalogs[fid].doc.framework.name
        description = (
            f"The baseline checks mapped to {fw_name}: relationship from the check (source) to "
            "the control (target); equal and superset mean the check covers the whole control. "
            "Declarations that several partial checks together cover a control are not carried."
        )
        out[f"{name}.yaml"] = _dump(
            {
                "urn": _library_urn(name),
                "locale": "en",
                "ref_id": name,
                "name": f"{checks.name} -> {fw_name}",
                "description": description,
                "copyright": str(checks.source.get("license")),
                "version": version,
                "publication_date": checks.date,
                "provider": str(checks.source.get("publisher")),
                "packager": PACKAGER,
                "dependencies": [_library_urn(CHECKS_LIBRARY), library_urn],
                "objects": {
                    "requirement_mapping_sets": [
                        {
                            "urn": f"urn:{NAMESPACE}:risk:req_mapping_set:{CHECKS_LIBRARY}-to-{fid}",
                            "ref_id": name,
                            "name": f"{checks.name} -> {fw_name}",
                            "description": description,
                            "source_framework_urn": checks_framework,
                            "target_framework_urn": framework_urn,
                            "requirement_mappings": mappings,
                        }
                    ]
                },
            }
        )
    return dict(sorted(out.items()))


def out_names(out: dict[str, bytes]) -> set[str]:
    """The frameworks whose libraries are among `out`."""
    return {name[: -len(".yaml")] for name in out}


assert set(RELATIONSHIP_NAMES) | {"mitigates"} == set(RELATIONSHIPS)

# --------------------------------------------------------------------------------------------
# In


def looks_like_library(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and isinstance(value.get("urn"), str)
        and value["urn"].lower().startswith("urn:")
        and isinstance(value.get("objects"), dict)
    )


def _urn_tail(urn: str) -> str:
    return urn.rsplit(":", 1)[-1]


def to_catalog_document(value: dict[str, Any], label: str) -> dict[str, Any]:
    """A CISO Assistant framework library as a document of schema compliance-catalog/1 (validated
    by the caller), or InvalidInput saying what is wrong."""

    def fail(location: str, message: str) -> InvalidInput:
        return InvalidInput([Problem(label, location, message)])

    objects = value["objects"]
    if "framework" in objects and "frameworks" in objects:
        raise fail("objects", "a library cannot have both framework and frameworks")
    found = objects.get("framework", objects.get("frameworks"))
    where = "objects.framework" if "framework" in objects else "objects.frameworks"
    if isinstance(found, list):
        if len(found) != 1:
            raise fail(
                where,
                f"the library holds {len(found)} frameworks; one framework per file can be "
                "loaded as a catalog (split the library)",
            )
        found, where = found[0], f"{where}[0]"
    if not isinstance(found, dict):
        holds = ", ".join(sorted(objects)) or "nothing"
        raise fail(
            "objects",
            f"a CISO Assistant library without a framework (it holds: {holds}); only framework "
            "libraries load as catalogs",
        )
    framework_urn = found.get("urn")
    if not isinstance(framework_urn, str) or not URN_PATTERN.match(framework_urn):
        raise fail(f"{where}.urn", f"expected the framework's URN, got {framework_urn!r}")
    framework_key = _urn_tail(framework_urn.lower())
    framework_id = re.sub(r"[^a-z0-9.\-]+", "-", framework_key).strip("-.")[:64].rstrip("-.")
    if not framework_id:
        raise fail(f"{where}.urn", f"no framework id can be taken from the URN {framework_urn!r}")
    raw_nodes = found.get("requirement_nodes")
    if not isinstance(raw_nodes, list) or not raw_nodes:
        raise fail(f"{where}.requirement_nodes", "expected a non-empty list of requirement nodes")
    problems: list[Problem] = []
    nodes: list[tuple[int, dict[str, Any]]] = []
    for i, n in enumerate(raw_nodes):
        if not isinstance(n, dict) or not isinstance(n.get("urn"), str):
            problems.append(
                Problem(label, f"{where}.requirement_nodes[{i}].urn", "required field is missing")
            )
            continue
        nodes.append((i, n))
    if problems:
        raise InvalidInput(problems)
    prefix = ""
    for n in (n for _i, n in nodes):
        urn = n["urn"].lower()
        marker = f":req_node:{framework_key}:"
        if marker in urn:
            prefix = urn[: urn.index(marker) + len(marker)]
            break
    given: dict[str, int] = {}
    for _i, n in nodes:
        ref_id = n.get("ref_id")
        if isinstance(ref_id, str | int | float) and str(ref_id).strip():
            given[str(ref_id).strip()] = given.get(str(ref_id).strip(), 0) + 1

    def ref_of(n: dict[str, Any]) -> str:
        ref_id = n.get("ref_id")
        text = str(ref_id).strip() if isinstance(ref_id, str | int | float) else ""
        if text and given.get(text) == 1:
            return text
        urn = str(n["urn"]).lower()
        return urn[len(prefix) :] if prefix and urn.startswith(prefix) else urn

    ref_by_urn = {n["urn"].lower(): ref_of(n) for _i, n in nodes}
    if len(set(ref_by_urn.values())) != len(ref_by_urn):
        raise fail(f"{where}.requirement_nodes", "two requirement nodes have the same URN")
    threats = {
        str(t["urn"]).lower(): str(t.get("ref_id", "")).strip()
        for t in objects.get("threats") or []
        if isinstance(t, dict) and isinstance(t.get("urn"), str)
    }
    groups = {
        str(g.get("ref_id"))
        for g in found.get("implementation_groups_definition") or []
        if isinstance(g, dict) and g.get("ref_id")
    }
    by_urn = {n["urn"].lower(): (i, n) for i, n in nodes}
    depth: dict[str, int] = {}

    def depth_of(urn: str) -> int:
        """How deep a node lies (1: no parent), following parents without recursion."""
        chain: list[str] = []
        while urn not in depth:
            chain.append(urn)
            parent = by_urn[urn][1].get("parent_urn")
            if (
                not isinstance(parent, str)
                or parent.lower() not in by_urn
                or parent.lower() in chain
            ):
                depth[urn] = 1
                chain.pop()
                break
            urn = parent.lower()
        for below in reversed(chain):
            depth[below] = depth[urn] + 1
            urn = below
        return depth[urn]

    controls: list[dict[str, Any]] = []
    threat_nodes: dict[str, list[bool]] = {}
    for i, n in nodes:
        urn = n["urn"].lower()
        parent = n.get("parent_urn")
        parent_ref = None
        if isinstance(parent, str) and parent.strip():
            if parent.lower() not in by_urn:
                problems.append(
                    Problem(
                        label,
                        f"{where}.requirement_nodes[{i}].parent_urn",
                        f"no requirement node with URN {parent!r} in this framework",
                    )
                )
                continue
            parent_ref = ref_by_urn[parent.lower()]
        own_groups = n.get("implementation_groups")
        if (
            isinstance(own_groups, list)
            and len(own_groups) == 1
            and str(own_groups[0]) in groups
            and 0 < len(str(own_groups[0])) <= 32
        ):
            kind = str(own_groups[0])
        else:
            kind = f"level-{depth_of(urn)}"
        listed = [str(t).lower() for t in n.get("threats") or []]
        ref = ref_by_urn[urn]
        threat_nodes.setdefault(kind, []).append(
            len(listed) == 1 and listed[0] in threats and threats[listed[0]] == ref
        )
        controls.append(
            {
                "ref": ref,
                "kind": kind,
                "parent": parent_ref,
                "title": str(n["name"]) if n.get("name") is not None else None,
                "text": str(n["description"]) if n.get("description") is not None else None,
                "assessable": n.get("assessable") is True,
            }
        )
    if problems:
        raise InvalidInput(problems)
    controls = _parents_first(controls)
    version = value.get("version")
    source: dict[str, Any] = {
        "publisher": str(value.get("provider") or value.get("packager") or "not stated"),
        "title": str(value.get("name") or found.get("name") or framework_id),
        "license": str(value.get("copyright") or "not stated in the library"),
        "taken_from": {
            "format": "CISO Assistant library",
            "urn": value["urn"],
            "version": version,
            "packager": value.get("packager"),
            "publication_date": str(value.get("publication_date") or "") or None,
        },
    }
    natures = {k: "threat" for k, flags in threat_nodes.items() if flags and all(flags)}
    out: dict[str, Any] = {
        "schema": "compliance-catalog/1",
        "framework": {
            "id": framework_id,
            "name": str(found.get("name") or value.get("name") or framework_id),
            "version": str(version),
        },
        "catalog": {
            "revision": version if isinstance(version, int) and version >= 1 else 1,
            "date": str(value.get("publication_date") or "")[:10] or None,
        },
        "source": source,
        "controls": controls,
    }
    if natures:
        out["entry_nature"] = natures
    return out


def _parents_first(controls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The entries with every parent before its children, keeping the order otherwise."""
    refs = {c["ref"] for c in controls}
    children: dict[str | None, list[dict[str, Any]]] = {}
    for c in controls:
        parent = c["parent"] if c["parent"] in refs else None
        children.setdefault(parent, []).append(c)
    position = {c["ref"]: i for i, c in enumerate(controls)}
    if all(c["parent"] is None or position[c["parent"]] < i for i, c in enumerate(controls)):
        return controls
    out: list[dict[str, Any]] = []
    stack = list(reversed(children.get(None, [])))
    while stack:
        c = stack.pop()
        out.append(c)
        stack.extend(reversed(children.get(c["ref"], [])))
    seen = {c["ref"] for c in out}
    out += [dict(c, parent=None) for c in controls if c["ref"] not in seen]  # a cycle of parents
    return out
