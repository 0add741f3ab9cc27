"""OSCAL catalogs: the frameworks and the baseline checks out, OSCAL catalogs in.

Out (`export_framework`, `export_checks`): a framework's entries that are not assessable and
sit at the top or under other such entries become groups; every other entry is a control, nested
under its parent. Ids are OSCAL tokens of the refs (`GOVERN 1.1` -> `GOVERN_1.1`); the exact
ref is the `label` prop and, where the token differs, this tool's `ref` prop. The entry's kind is
the group's or control's `class`, its text the `statement` part (`overview` for a group).
Implementation examples are `example` parts; the other details are props of this tool. The
catalog's own data (source, notes, levels, entry natures) travels as a back-matter resource
(base64 JSON), so that loading the document gives back the catalog file it came from.

The checks catalog holds one control per check: the objective as the `statement`, one
`assessment-method` part per method, the procedure (steps, criteria, thresholds), evidence and
remediation as parts of this tool, and one link per mapping to the framework control
(`rel` = the relationship, `resource-fragment` = the control's id).

In (`to_catalog_document`): an OSCAL catalog read from `--catalog-dir` becomes a catalog of
schema compliance-catalog/1: groups are entries that are not assessable, controls assessable
entries (a withdrawn control is not assessable), nested as in the document. The framework id is
this tool's `framework-id` prop of the metadata, else the file name (lower case, other
characters than letters, digits, `.` and `-` as `-`); a control's ref is its `ref` prop, else
its id.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import date
from pathlib import Path
from typing import Any

from compliance.catalogs import CatalogFile, Checks, ChecksFile, ControlEntry, split_control
from compliance.documents import parse_document
from compliance.errors import InvalidInput, Problem
from compliance.oscal.common import (
    NS,
    OSCAL_VERSION,
    line,
    midnight,
    our_props,
    prop,
    text_prop,
    token,
    uuid_of,
)

RMF_NS = "http://csrc.nist.gov/ns/rmf"
CATALOG_DATA = "catalog-data"  # resource-kind of the back-matter resource with the catalog's data
_DETAIL_PROPS = {
    "id_with_year": "id-with-year",
    "pdf_page": "pdf-page",
    "title_as_listed": "title-as-listed",
    "vertical": "vertical",
    "cross_layer": "cross-layer",
}


def _day(*candidates: Any) -> str:
    """The first candidate that is a YYYY-MM-DD date, as an OSCAL date-time (for
    `last-modified`: the catalog's own date keeps the document the same run to run)."""
    for value in candidates:
        text = str(value) if value is not None else ""
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return midnight(date.fromisoformat(text))
    return midnight(date(1970, 1, 1))


def _resource_json(uuid: str, title: str, kind: str, data: Any, filename: str) -> dict[str, Any]:
    raw = json.dumps(data, sort_keys=True, ensure_ascii=False).encode("utf-8")
    return {
        "uuid": uuid,
        "title": title,
        "props": [prop("resource-kind", kind)],
        "base64": {
            "filename": filename,
            "media-type": "application/json",
            "value": base64.b64encode(raw).decode("ascii"),
        },
    }


def _ids(refs: list[str], what: str) -> dict[str, str]:
    """OSCAL ids for refs; two refs with the same token are an error (never seen in practice)."""
    out: dict[str, str] = {}
    seen: dict[str, str] = {}
    for ref in refs:
        ident = token(ref)
        if ident in seen:
            raise InvalidInput(
                [Problem(what, ref, f"{ref!r} and {seen[ident]!r} have the same OSCAL id {ident}")]
            )
        seen[ident] = ref
        out[ref] = ident
    return out


def _entry(c: ControlEntry, ident: str, group: bool) -> dict[str, Any]:
    props: list[dict[str, Any]] = [{"name": "label", "value": c.ref}]
    if ident != c.ref:
        props.append(text_prop("ref", c.ref))
    if not group and not c.assessable:
        props.append(prop("assessable", "false"))
    for key, name in _DETAIL_PROPS.items():
        value = getattr(c, key)
        if value is not None:
            props.append(
                text_prop(name, json.dumps(value) if not isinstance(value, str) else value)
            )
    for tag in c.risk_scope_tags or []:
        props.append(text_prop("risk-scope-tag", tag))
    for key, value in sorted((c.properties or {}).items()):
        props.append(text_prop(f"property.{key}", json.dumps(value)))
    out: dict[str, Any] = {"id": ident, "class": token(c.kind)}
    if c.kind != out["class"]:
        props.append(text_prop("kind", c.kind))
    out["title"] = line(c.title) if c.title else c.ref
    if c.title is not None and out["title"] != c.title:
        props.append(text_prop("title", c.title))
    elif c.title is None:
        props.append(prop("unset", "title"))
    out["props"] = props
    parts: list[dict[str, Any]] = []
    name = "overview" if group else "statement"
    part: dict[str, Any] = {"id": f"{ident}_{'ovw' if group else 'smt'}", "name": name}
    if c.text is not None:
        part["prose"] = c.text
    parts.append(part)
    for n, example in enumerate(c.implementation_examples or [], start=1):
        parts.append({"id": f"{ident}_ex{n}", "name": "example", "prose": example})
    out["parts"] = parts
    return out


def export_framework(cat: CatalogFile, sha256: str) -> dict[str, Any]:
    """A framework catalog as an OSCAL catalog document."""
    fw = cat.framework
    ids = _ids([c.ref for c in cat.controls], fw.id)
    nodes: dict[str, dict[str, Any]] = {}
    is_group: dict[str, bool] = {}
    top: list[tuple[bool, dict[str, Any]]] = []
    for c in cat.controls:
        group = not c.assessable and (c.parent is None or is_group[c.parent])
        is_group[c.ref] = group
        node = _entry(c, ids[c.ref], group)
        nodes[c.ref] = node
        if c.parent is None:
            top.append((group, node))
        else:
            nodes[c.parent].setdefault("groups" if group else "controls", []).append(node)
    data = {
        "framework": fw.model_dump(mode="json", exclude_none=True),
        "catalog": cat.catalog.model_dump(mode="json", exclude_none=True),
        "source": cat.source,
        "notes": cat.notes,
        "levels": cat.levels,
        "entry_nature": cat.entry_nature,
    }
    doc_uuid = uuid_of("catalog", fw.id, fw.version, sha256)
    data_uuid = uuid_of("catalog-data", fw.id, sha256)
    catalog: dict[str, Any] = {
        "uuid": doc_uuid,
        "metadata": _metadata(
            fw.name,
            fw.version,
            _day(cat.catalog.date, cat.source.get("date")),
            [
                prop("framework-id", fw.id),
                prop("catalog-kind", "framework"),
                text_prop("license", str(cat.source.get("license") or cat.source.get("licence"))),
                prop("sha256", sha256, remarks="SHA-256 of the catalog file this was written from"),
            ],
            str(cat.source.get("publisher")),
        ),
    }
    groups = [n for group, n in top if group]
    controls = [n for group, n in top if not group]
    if groups:
        catalog["groups"] = groups
    if controls:
        catalog["controls"] = controls
    catalog["back-matter"] = {
        "resources": [
            _resource_json(
                data_uuid,
                f"Catalog data of {fw.id}: source, notes, levels and entry natures",
                CATALOG_DATA,
                data,
                f"{fw.id}.catalog-data.json",
            )
        ]
    }
    return {"catalog": catalog}


def _metadata(
    title: str, version: str, modified: str, props: list[dict[str, Any]], publisher: str
) -> dict[str, Any]:
    party = uuid_of("party", "publisher", publisher)
    return {
        "title": line(title),
        "last-modified": modified,
        "version": version,
        "oscal-version": OSCAL_VERSION,
        "props": props,
        "roles": [{"id": "creator", "title": "Publisher"}],
        "parties": [{"uuid": party, "type": "organization", "name": line(publisher)}],
        "responsible-parties": [{"role-id": "creator", "party-uuids": [party]}],
    }


def framework_resource(framework: str, name: str, version: str) -> dict[str, Any]:
    """A back-matter resource standing for a framework catalog that links point to."""
    return {
        "uuid": uuid_of("framework", framework, version),
        "title": line(f"{name} ({framework}, version {version})"),
        "props": [prop("framework-id", framework), prop("framework-version", version)],
        "rlinks": [{"href": f"{framework}.oscal.json", "media-type": "application/oscal+json"}],
    }


def export_checks(checks: Checks, frameworks: dict[str, CatalogFile]) -> dict[str, Any]:
    """The baseline checks as an OSCAL catalog: objective, procedure, evidence, remediation and
    one link per mapping."""
    doc: ChecksFile = checks.doc
    resources = {
        fid: framework_resource(fid, cat.framework.name, cat.framework.version)
        for fid, cat in sorted(frameworks.items())
    }
    controls = []
    for c in doc.checks:
        ident = token(c.id)
        parts: list[dict[str, Any]] = [
            {"id": f"{ident}_smt", "name": "statement", "prose": c.objective}
        ]
        props: list[dict[str, Any]] = [{"name": "label", "value": c.id}]
        if c.domain:
            props.append(text_prop("domain", c.domain))
        if c.procedure is not None:
            p = c.procedure
            for method in p.method:
                parts.append(
                    {
                        "id": f"{ident}_asm-{method}",
                        "name": "assessment-method",
                        "props": [{"name": "method", "ns": RMF_NS, "value": method.upper()}],
                        "prose": f"{method.capitalize()}: follow the procedure's steps.",
                    }
                )
            procedure: dict[str, Any] = {
                "id": f"{ident}_procedure",
                "name": "procedure",
                "ns": NS,
                "title": "Test procedure",
                "parts": [
                    {"id": f"{ident}_step{n}", "name": "step", "ns": NS, "prose": step}
                    for n, step in enumerate(p.steps, start=1)
                ]
                + [
                    {
                        "id": f"{ident}_criteria-{result}",
                        "name": "criteria",
                        "ns": NS,
                        "class": result,
                        "title": f"What counts as {result}",
                        "prose": text,
                    }
                    for result, text in (
                        ("pass", p.criteria.pass_),
                        ("partial", p.criteria.partial),
                        ("fail", p.criteria.fail),
                    )
                ],
            }
            if p.thresholds:
                procedure["props"] = [
                    prop("threshold", name, remarks="its value per tier is in the policy")
                    for name in p.thresholds
                ]
            parts.append(procedure)
        parts.append({"id": f"{ident}_evidence", "name": "evidence", "ns": NS, "prose": c.evidence})
        parts.append(
            {"id": f"{ident}_remediation", "name": "remediation", "ns": NS, "prose": c.remediation}
        )
        control: dict[str, Any] = {
            "id": ident,
            "class": "check",
            "title": line(c.title),
            "props": props,
            "parts": parts,
        }
        links = []
        for m in c.mappings:
            framework, ref = split_control(m.control)
            res = resources.get(framework)
            if res is None:
                continue
            links.append(
                {
                    "href": f"#{res['uuid']}",
                    "rel": m.relationship,
                    "resource-fragment": token(ref),
                    "text": line(f"{m.control} ({m.relationship}): {m.rationale}"),
                }
            )
        if links:
            control["links"] = links
        controls.append(control)
    catalog: dict[str, Any] = {
        "uuid": uuid_of("catalog", doc.id, doc.version, checks.file.sha256),
        "metadata": _metadata(
            doc.name,
            doc.version,
            _day(doc.date),
            [
                prop("framework-id", doc.id),
                prop("catalog-kind", "checks"),
                text_prop("license", str(doc.source.get("license"))),
                prop("sha256", checks.file.sha256, remarks="SHA-256 of the checks file"),
            ],
            str(doc.source.get("publisher")),
        ),
        "controls": controls,
        "back-matter": {"resources": list(resources.values())},
    }
    catalog["metadata"]["remarks"] = (
        "Each link names a framework control (the back-matter resource of its framework, the "
        "control's id as resource-fragment) with the relationship from the check's side: equal, "
        "subset, superset and intersects as in NIST IR 8477 set theory; mitigates for a threat."
    )
    return {"catalog": catalog}


# --------------------------------------------------------------------------------------------
# In


def looks_like_catalog(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("catalog"), dict)


def framework_id_from_name(path: Path) -> str:
    """The framework id a file name gives: `NIST_CSF_v2.0.json` -> `nist-csf-v2.0`."""
    stem = path.name.rsplit(".", 1)[0].lower()
    slug = re.sub(r"[^a-z0-9.\-]+", "-", stem).strip("-.")
    return slug[:64].rstrip("-.") or "catalog"


class _Problems:
    def __init__(self, label: str) -> None:
        self.label = label
        self.found: list[Problem] = []

    def add(self, location: str, message: str) -> None:
        self.found.append(Problem(self.label, location, message))


def _prose(part: dict[str, Any]) -> list[str]:
    """The prose of a part and its sub-parts, in order, each sub-part's label before it."""
    out: list[str] = []
    if isinstance(part.get("prose"), str):
        out.append(part["prose"])
    for sub in part.get("parts") or []:
        if not isinstance(sub, dict) or sub.get("ns") not in (
            None,
            "http://csrc.nist.gov/ns/oscal",
        ):
            continue
        label = next(
            (
                p.get("value")
                for p in sub.get("props") or []
                if isinstance(p, dict) and p.get("name") == "label" and "ns" not in p
            ),
            None,
        )
        texts = _prose(sub)
        if texts and label:
            texts[0] = f"{label} {texts[0]}"
        out.extend(texts)
    return out


def _data_resource(p: _Problems, catalog: dict[str, Any]) -> dict[str, Any] | None:
    resources = (catalog.get("back-matter") or {}).get("resources") or []
    for r, res in enumerate(resources if isinstance(resources, list) else []):
        if not isinstance(res, dict) or our_props(res.get("props")).get("resource-kind") != (
            CATALOG_DATA
        ):
            continue
        where = f"catalog.back-matter.resources[{r}].base64.value"
        try:
            raw = base64.b64decode(str((res.get("base64") or {}).get("value", "")), validate=True)
        except (binascii.Error, ValueError) as exc:
            p.add(where, f"expected base64 of the catalog's data as JSON: {exc}")
            return None
        try:  # the limits of any document: size, depth, duplicate keys
            data = parse_document(raw, p.label, fmt="json")
        except InvalidInput as exc:
            p.found += [Problem(p.label, where, f"catalog data: {x.message}") for x in exc.problems]
            return None
        if not isinstance(data, dict):
            p.add(where, "expected the catalog's data as a JSON object")
            return None
        return data
    return None


def to_catalog_document(value: dict[str, Any], path: Path, label: str) -> dict[str, Any]:
    """An OSCAL catalog as a document of schema compliance-catalog/1 (validated by the caller),
    or InvalidInput saying what is missing."""
    p = _Problems(label)
    catalog = value["catalog"]
    metadata = catalog.get("metadata")
    if not isinstance(metadata, dict):
        raise InvalidInput([Problem(label, "catalog.metadata", "required field is missing")])
    meta = our_props(metadata.get("props"))
    if meta.get("catalog-kind") == "checks":
        raise InvalidInput(
            [
                Problem(
                    label,
                    "catalog.metadata.props",
                    "this OSCAL catalog holds the baseline checks (catalog-kind checks); the "
                    "checks are built in and cannot be loaded as a framework",
                )
            ]
        )
    data = _data_resource(p, catalog) or {}
    title = metadata.get("title")
    version = metadata.get("version")
    if not isinstance(title, str) or not title.strip():
        p.add("catalog.metadata.title", "required field is missing")
    if not isinstance(version, str) or not version.strip():
        p.add("catalog.metadata.version", "required field is missing")
    publisher = _publisher(metadata)
    framework: dict[str, Any] = dict(data.get("framework") or {})
    framework.setdefault("id", meta.get("framework-id") or framework_id_from_name(path))
    framework.setdefault("name", title)
    framework.setdefault("version", version)
    source = data.get("source") or {
        "publisher": publisher or "not stated in the OSCAL catalog",
        "title": title,
        "license": meta.get("license") or "not stated in the OSCAL catalog",
        "taken_from": {
            "format": "OSCAL catalog",
            "file": path.name,
            "uuid": catalog.get("uuid"),
            "oscal_version": metadata.get("oscal-version"),
            "last_modified": metadata.get("last-modified"),
        },
    }
    controls: list[dict[str, Any]] = []

    def walk(items: Any, where: str, parent: str | None, as_group: bool) -> None:
        for i, item in enumerate(items if isinstance(items, list) else []):
            loc = f"{where}[{i}]"
            if not isinstance(item, dict) or not isinstance(item.get("id"), str):
                p.add(f"{loc}.id", "required field is missing")
                continue
            props = our_props(item.get("props"))
            ref = props.get("ref", item["id"])
            withdrawn = any(
                isinstance(x, dict)
                and x.get("name") == "status"
                and x.get("ns") in (None, "http://csrc.nist.gov/ns/oscal")
                and str(x.get("value", "")).lower() == "withdrawn"
                for x in item.get("props") or []
            )
            assessable = not as_group and not withdrawn and props.get("assessable") != "false"
            texts: list[str] = []
            examples: list[str] = []
            for part in item.get("parts") or []:
                if not isinstance(part, dict) or part.get("ns") not in (
                    None,
                    "http://csrc.nist.gov/ns/oscal",
                ):
                    continue
                if part.get("name") in ("statement", "overview"):
                    texts += _prose(part)
                elif part.get("name") == "example" and isinstance(part.get("prose"), str):
                    examples.append(part["prose"])
            kind = props.get("kind") or item.get("class") or ("group" if as_group else "control")
            entry: dict[str, Any] = {
                "ref": ref,
                "kind": kind,
                "parent": parent,
                "title": None
                if props.get("unset") == "title"
                else props.get("title", item.get("title")),
                "text": "\n\n".join(texts) if texts else None,
                "assessable": assessable,
            }
            if examples:
                entry["implementation_examples"] = examples
            tags = [
                x.get("value") if x.get("class") != "in-remarks" else x.get("remarks")
                for x in item.get("props") or []
                if isinstance(x, dict) and x.get("ns") == NS and x.get("name") == "risk-scope-tag"
            ]
            if tags:
                entry["risk_scope_tags"] = tags
            for key, name in _DETAIL_PROPS.items():
                if name in props:
                    raw = props[name]
                    entry[key] = (
                        raw
                        if key == "title_as_listed" or key == "id_with_year"
                        else (_json_value(raw))
                    )
            details = {
                k[len("property.") :]: _json_value(v)
                for k, v in props.items()
                if k.startswith("property.")
            }
            if details:
                entry["properties"] = details
            controls.append(entry)
            walk(item.get("groups"), f"{loc}.groups", ref, True)
            walk(item.get("controls"), f"{loc}.controls", ref, False)

    walk(catalog.get("groups"), "catalog.groups", None, True)
    walk(catalog.get("controls"), "catalog.controls", None, False)
    if not controls:
        p.add("catalog", "no groups and no controls: nothing to load")
    if p.found:
        raise InvalidInput(p.found)
    out: dict[str, Any] = {
        "schema": "compliance-catalog/1",
        "framework": framework,
        "catalog": data.get("catalog")
        or {"revision": 1, "date": str(metadata.get("last-modified", ""))[:10] or None},
        "source": source,
        "controls": controls,
    }
    for key in ("notes", "levels", "entry_nature"):
        if data.get(key) is not None:
            out[key] = data[key]
    return out


def _json_value(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _publisher(metadata: dict[str, Any]) -> str | None:
    parties = {
        p.get("uuid"): p.get("name")
        for p in metadata.get("parties") or []
        if isinstance(p, dict) and isinstance(p.get("name"), str)
    }
    for rp in metadata.get("responsible-parties") or []:
        if isinstance(rp, dict) and rp.get("role-id") in ("creator", "publisher", "prepared-by"):
            for uid in rp.get("party-uuids") or []:
                name = parties.get(uid)
                if name:
                    return str(name)
    return None
