"""Catalog, check and mapping files: their schemas, discovery and cross-validation.

Built-in data lives in `mappings/`; an organisation adds its own catalog and mapping files in
folders it names. All of it passes through the same schemas before anything reaches the database.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, StrictBool, model_validator

from compliance.documents import read_bounded
from compliance.errors import InvalidInput, Problem
from compliance.resources import mappings_dir
from compliance.validation import StrictModel, validate

CATALOG_SCHEMA = "compliance-catalog/1"
CHECKS_SCHEMA = "compliance-checks/2"
MAPPINGS_SCHEMA = "compliance-mappings/2"
POLICY_SCHEMA = "compliance-policy/2"
# Earlier versions of the formats, still read (see README, "Catalogs and where they came from").
CHECKS_SCHEMAS = ("compliance-checks/1", CHECKS_SCHEMA)
MAPPINGS_SCHEMAS = ("compliance-mappings/1", MAPPINGS_SCHEMA)
POLICY_SCHEMAS = ("compliance-policy/1", POLICY_SCHEMA)

Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9.\-]*$", max_length=64)]
Ref = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^\S(.*\S)?$")]
CheckId = Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9]*-[A-Z0-9]+$", max_length=32)]
Text = Annotated[str, Field(min_length=1, max_length=20_000)]
# NIST IR 8477 set-theory relationships, from the check's side, for requirements; `mitigates`
# for threats and risks (an ASI entry, a MAESTRO threat), which a check cannot "cover part of".
Relationship = Literal["equal", "subset", "superset", "intersects", "mitigates"]
SET_RELATIONSHIPS: tuple[str, ...] = ("equal", "subset", "superset", "intersects")
RELATIONSHIPS: tuple[str, ...] = (*SET_RELATIONSHIPS, "mitigates")
# A passing check with one of these relationships covers the whole control by itself.
COVERING_RELATIONSHIPS: tuple[str, ...] = ("equal", "superset")
Nature = Literal["requirement", "threat"]
NATURES: tuple[str, ...] = ("requirement", "threat")
ControlPath = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9.\-]*/\S.*$", max_length=200)]
ThresholdName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]


class FrameworkInfo(StrictModel):
    id: Slug
    name: Text
    short_name: str | None = None
    version: Annotated[str, Field(min_length=1, max_length=64)]


class CatalogInfo(StrictModel):
    revision: int = Field(ge=1)
    date: str | None = None
    built_from: str | None = None


class ControlEntry(StrictModel):
    ref: Ref
    kind: Annotated[str, Field(min_length=1, max_length=32)]
    parent: Ref | None = None
    title: str | None = None
    text: str | None = None
    assessable: StrictBool
    # Optional official detail kept with some catalogs.
    implementation_examples: list[str] | None = None
    risk_scope_tags: list[str] | None = None
    id_with_year: str | None = None
    pdf_page: int | None = None
    title_as_listed: str | None = None
    vertical: bool | None = None
    cross_layer: bool | None = None
    properties: dict[str, str | int | float | bool | list[str]] | None = None


class CatalogFile(StrictModel):
    schema_: Literal["compliance-catalog/1"] = Field(alias="schema")
    framework: FrameworkInfo
    catalog: CatalogInfo
    source: dict[str, Any]
    notes: str | list[str] | None = None
    levels: list[str] | None = None
    # What the assessable entries of each kind are: requirements (a check is `equal`, `subset`,
    # `superset` or `intersects` to one) or threats (a check `mitigates` one). Kinds not listed,
    # and every kind of a catalog without this key, are requirements.
    entry_nature: dict[Annotated[str, Field(min_length=1, max_length=32)], Nature] | None = None
    controls: list[ControlEntry] = Field(min_length=1)

    def nature_of(self, kind: str) -> str:
        return (self.entry_nature or {}).get(kind, "requirement")

    @model_validator(mode="after")
    def _tree(self) -> CatalogFile:
        seen: set[str] = set()
        for i, control in enumerate(self.controls):
            if control.ref in seen:
                raise ValueError(f"controls[{i}].ref: duplicate control ref {control.ref!r}")
            if control.parent is not None and control.parent not in seen:
                raise ValueError(
                    f"controls[{i}].parent: {control.parent!r} is not a control listed before "
                    f"{control.ref!r}"
                )
            seen.add(control.ref)
        if not any(c.assessable for c in self.controls):
            raise ValueError("controls: expected at least one assessable control")
        for key in ("publisher", "title"):
            if not self.source.get(key):
                raise ValueError(f"source.{key}: required field is missing")
        if not (self.source.get("license") or self.source.get("licence")):
            raise ValueError("source.license: required field is missing")
        return self


class MappingEntry(StrictModel):
    control: ControlPath
    relationship: Relationship
    rationale: Text
    origin: str = "ours"


Method = Literal["examine", "interview", "test"]
METHODS: tuple[str, ...] = ("examine", "interview", "test")


class Criteria(StrictModel):
    """What counts as each result of a check."""

    pass_: Text = Field(alias="pass")
    partial: Text
    fail: Text


class Procedure(StrictModel):
    """How to test a check, so that two assessors reach the same result (as in SP 800-53A)."""

    method: list[Method] = Field(min_length=1, max_length=3)
    steps: list[Text] = Field(min_length=1, max_length=50)
    criteria: Criteria
    # Policy thresholds the criteria refer to by name, e.g. `revocation_minutes`; their values
    # per tier are in the policy, never in the procedure.
    thresholds: list[ThresholdName] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> Procedure:
        if len(set(self.method)) != len(self.method):
            raise ValueError("method: a method is listed twice")
        if len(set(self.thresholds)) != len(self.thresholds):
            raise ValueError("thresholds: a threshold is listed twice")
        return self


class CheckEntry(StrictModel):
    id: CheckId
    title: Text
    domain: str | None = None
    objective: Text
    evidence: Text
    remediation: Text
    procedure: Procedure | None = None
    mappings: list[MappingEntry] = Field(default_factory=list)


class Sufficiency(StrictModel):
    """A declaration that a control's `subset`/`intersects` checks together cover all of it."""

    control: ControlPath
    checks: list[CheckId] = Field(min_length=2, max_length=50)
    rationale: Text

    @model_validator(mode="after")
    def _unique(self) -> Sufficiency:
        if len(set(self.checks)) != len(self.checks):
            raise ValueError("checks: a check is listed twice")
        return self


def _no_repeated_sets(declared: list[Sufficiency]) -> None:
    seen: dict[tuple[str, frozenset[str]], int] = {}
    for i, s in enumerate(declared):
        key = (s.control, frozenset(s.checks))
        if key in seen:
            raise ValueError(
                f"sufficient[{i}]: the same set is declared at sufficient[{seen[key]}]"
            )
        seen[key] = i


class ChecksFile(StrictModel):
    schema_: Literal["compliance-checks/1", "compliance-checks/2"] = Field(alias="schema")
    id: Slug
    name: Text
    version: Annotated[str, Field(min_length=1, max_length=64)]
    date: str | None = None
    source: dict[str, Any]
    relationships: dict[str, str] | None = None
    checks: list[CheckEntry] = Field(min_length=1)
    sufficient: list[Sufficiency] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> ChecksFile:
        seen: set[str] = set()
        for i, check in enumerate(self.checks):
            if check.id in seen:
                raise ValueError(f"checks[{i}].id: duplicate check id {check.id!r}")
            seen.add(check.id)
            if self.schema_ == CHECKS_SCHEMA and check.procedure is None:
                raise ValueError(f"checks[{i}].procedure: required field is missing")
            pairs: set[str] = set()
            for j, m in enumerate(check.mappings):
                if m.control in pairs:
                    raise ValueError(f"checks[{i}].mappings[{j}]: {m.control} is mapped twice")
                pairs.add(m.control)
        _no_repeated_sets(self.sufficient)
        return self


class OrgMappingEntry(MappingEntry):
    check: CheckId


class MappingsFile(StrictModel):
    schema_: Literal["compliance-mappings/1", "compliance-mappings/2"] = Field(alias="schema")
    id: Slug
    name: Text
    version: Annotated[str, Field(min_length=1, max_length=64)]
    source: dict[str, Any] | None = None
    mappings: list[OrgMappingEntry] = Field(min_length=1)
    sufficient: list[Sufficiency] = Field(default_factory=list)

    @model_validator(mode="after")
    def _sets(self) -> MappingsFile:
        _no_repeated_sets(self.sufficient)
        return self


@dataclass(frozen=True)
class DataFile:
    """A data file as read from disk: where it came from and its exact bytes."""

    path: Path
    label: str
    raw: bytes
    origin: str  # "builtin" or "organisation"

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.raw).hexdigest()


@dataclass(frozen=True)
class Catalog:
    file: DataFile
    doc: CatalogFile

    @property
    def id(self) -> str:
        return self.doc.framework.id


@dataclass(frozen=True)
class Checks:
    file: DataFile
    doc: ChecksFile


@dataclass(frozen=True)
class OrgMappings:
    file: DataFile
    doc: MappingsFile


@dataclass
class CatalogSet:
    """Every catalog, the checks and every mapping file that are in force together."""

    catalogs: dict[str, Catalog] = field(default_factory=dict)
    checks: Checks | None = None
    mappings: list[OrgMappings] = field(default_factory=list)
    policy_file: DataFile | None = None

    def files(self) -> list[DataFile]:
        out = [c.file for c in self.catalogs.values()]
        if self.checks:
            out.append(self.checks.file)
        out.extend(m.file for m in self.mappings)
        return out


def split_control(ref: str) -> tuple[str, str]:
    """`nist-csf-2.0/GV.OC-01` -> (`nist-csf-2.0`, `GV.OC-01`)."""
    framework, sep, local = ref.partition("/")
    if not sep or not framework or not local:
        raise ValueError(f"expected FRAMEWORK/REF, got {ref!r}")
    return framework, local


def _label(path: Path, base: Path | None) -> str:
    if base is not None:
        try:
            return str(path.relative_to(base.parent))
        except ValueError:
            pass
    return str(path)


def _data_files(folder: Path, origin: str, base: Path | None) -> list[DataFile]:
    if not folder.is_dir():
        raise InvalidInput([Problem(str(folder), "", "catalog folder does not exist")])
    files = sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and p.suffix.lower() in {".yaml", ".yml", ".json"}
    )
    out = []
    for p in files:
        label = _label(p, base)
        out.append(DataFile(p, label, read_bounded(p, label), origin))
    return out


def _parse(file: DataFile) -> tuple[str, Any]:
    from compliance.documents import parse_document

    value = parse_document(file.raw, file.label)
    if not isinstance(value, dict):
        raise InvalidInput(
            [
                Problem(
                    file.label,
                    "",
                    f"expected a mapping at the top level, got {type(value).__name__}",
                )
            ]
        )
    foreign = _foreign_catalog(value, file)
    if foreign is not None:
        return CATALOG_SCHEMA, foreign
    schema = value.get("schema")
    known = (CATALOG_SCHEMA, *CHECKS_SCHEMAS, *MAPPINGS_SCHEMAS, *POLICY_SCHEMAS)
    if schema not in known:
        raise InvalidInput(
            [Problem(file.label, "schema", f"expected one of {', '.join(known)}, got {schema!r}")]
        )
    return str(schema), value


def _foreign_catalog(value: dict[str, Any], file: DataFile) -> dict[str, Any] | None:
    """An OSCAL catalog or a CISO Assistant framework library as a catalog document of schema
    compliance-catalog/1 (the file itself is kept as it is); None for this tool's own formats."""
    if "schema" in value:
        return None
    from compliance.oscal import catalog as oscal_catalog

    if oscal_catalog.looks_like_catalog(value):
        return oscal_catalog.to_catalog_document(value, file.path, file.label)
    other = next((k for k in _OSCAL_MODELS if k in value), None)
    if other is not None:
        raise InvalidInput(
            [
                Problem(
                    file.label,
                    other,
                    f"an OSCAL {other} document cannot be loaded from a catalog folder; OSCAL "
                    "catalogs can (and assessment-results are imported with `compliance import`)",
                )
            ]
        )
    from compliance.interop import ciso_assistant

    if ciso_assistant.looks_like_library(value):
        return ciso_assistant.to_catalog_document(value, file.label)
    return None


_OSCAL_MODELS = (
    "profile",
    "mapping-collection",
    "assessment-results",
    "assessment-plan",
    "system-security-plan",
    "component-definition",
    "plan-of-action-and-milestones",
)


def discover(extra_dirs: Sequence[Path] = (), builtin: Path | None = None) -> list[DataFile]:
    """The built-in data files followed by those in each organisation folder."""
    builtin = builtin or mappings_dir()
    files = _data_files(builtin, "builtin", builtin)
    for folder in extra_dirs:
        files.extend(_data_files(Path(folder), "organisation", None))
    return files


def load_catalog_set(extra_dirs: Sequence[Path] = (), builtin: Path | None = None) -> CatalogSet:
    """Read, validate and cross-check the built-in data plus any organisation folders.

    Raises InvalidInput listing every problem found in every file.
    """
    return validate_files(discover(extra_dirs, builtin))


def validate_files(files: Sequence[DataFile]) -> CatalogSet:
    """Validate data files and cross-check them as one set."""
    result = CatalogSet()
    problems: list[Problem] = []
    org_policies: list[DataFile] = []
    for f in files:
        try:
            schema, value = _parse(f)
            if schema == CATALOG_SCHEMA:
                cat = Catalog(f, validate(CatalogFile, value, f.label))
                if cat.id in result.catalogs:
                    other = result.catalogs[cat.id].file.label
                    problems.append(
                        Problem(
                            f.label,
                            "framework.id",
                            f"framework {cat.id!r} is already defined in {other}",
                        )
                    )
                else:
                    result.catalogs[cat.id] = cat
            elif schema in CHECKS_SCHEMAS:
                if result.checks is not None:
                    problems.append(
                        Problem(
                            f.label,
                            "schema",
                            f"a checks file is already defined in {result.checks.file.label}",
                        )
                    )
                else:
                    result.checks = Checks(f, validate(ChecksFile, value, f.label))
            elif schema in MAPPINGS_SCHEMAS:
                result.mappings.append(OrgMappings(f, validate(MappingsFile, value, f.label)))
            elif f.origin == "organisation":
                # A policy in an organisation folder replaces the built-in default; two of them
                # would leave which one applies to the order of file names.
                org_policies.append(f)
                result.policy_file = f
            elif result.policy_file is None:
                result.policy_file = f
        except InvalidInput as exc:
            problems.extend(exc.problems)
    if len(org_policies) > 1:
        names = ", ".join(p.label for p in org_policies)
        problems.extend(
            Problem(
                p.label,
                "schema",
                f"more than one policy file in the catalog folders ({names}); keep one",
            )
            for p in org_policies
        )
    if not problems:
        problems.extend(_cross_check(result))
    if problems:
        raise InvalidInput(problems)
    return result


@dataclass(frozen=True)
class Link:
    """One check-to-control mapping in force, with the relationship it is read with."""

    file: DataFile
    location: str  # where it is declared, e.g. `checks[3].mappings[1]`
    check: str
    control: str
    relationship: str
    rationale: str
    origin: str


def _find_control(cs: CatalogSet, control: str) -> ControlEntry | None:
    try:
        framework, ref = split_control(control)
    except ValueError:
        return None
    cat = cs.catalogs.get(framework)
    if cat is None:
        return None
    return next((c for c in cat.doc.controls if c.ref == ref), None)


def nature_of(cs: CatalogSet, control: str) -> str:
    """`requirement` or `threat`, as the control's catalog declares for its kind."""
    framework, _ref = split_control(control)
    found = _find_control(cs, control)
    cat = cs.catalogs.get(framework)
    return cat.doc.nature_of(found.kind) if cat and found else "requirement"


def effective_relationship(schema: str, relationship: str, nature: str) -> str:
    """The relationship a mapping is read with. Files of the first formats predate `mitigates`:
    their set-theory links to a threat are read as `mitigates` (nothing else has a meaning)."""
    if nature == "threat" and schema in ("compliance-checks/1", "compliance-mappings/1"):
        return "mitigates"
    return relationship


def links(cs: CatalogSet) -> list[Link]:
    """Every mapping in force: the checks file's, then each mapping file's."""
    out: list[Link] = []
    if cs.checks is not None:
        schema: str = cs.checks.doc.schema_
        for i, check in enumerate(cs.checks.doc.checks):
            for j, m in enumerate(check.mappings):
                rel = effective_relationship(schema, m.relationship, nature_of(cs, m.control))
                out.append(
                    Link(
                        cs.checks.file,
                        f"checks[{i}].mappings[{j}]",
                        check.id,
                        m.control,
                        rel,
                        m.rationale,
                        m.origin,
                    )
                )
    for om in cs.mappings:
        schema = om.doc.schema_
        for j, e in enumerate(om.doc.mappings):
            rel = effective_relationship(schema, e.relationship, nature_of(cs, e.control))
            out.append(
                Link(om.file, f"mappings[{j}]", e.check, e.control, rel, e.rationale, e.origin)
            )
    return out


def sufficiencies(cs: CatalogSet) -> list[tuple[DataFile, str, Sufficiency]]:
    """Every declaration that a control's partial checks together cover it, with its place."""
    out: list[tuple[DataFile, str, Sufficiency]] = []
    if cs.checks is not None:
        out += [
            (cs.checks.file, f"sufficient[{i}]", s) for i, s in enumerate(cs.checks.doc.sufficient)
        ]
    for om in cs.mappings:
        out += [(om.file, f"sufficient[{i}]", s) for i, s in enumerate(om.doc.sufficient)]
    return out


def _control_problem(cs: CatalogSet, control: str) -> str | None:
    try:
        framework, ref = split_control(control)
    except ValueError as exc:
        return str(exc)
    cat = cs.catalogs.get(framework)
    if cat is None:
        return f"unknown framework {framework!r} (known: {', '.join(sorted(cs.catalogs))})"
    for c in cat.doc.controls:
        if c.ref == ref:
            return None if c.assessable else f"control {control} is not assessable"
    return f"unknown control {ref!r} in framework {framework}"


def _ancestors(cs: CatalogSet, control: str) -> list[str]:
    """The assessable controls above `control` in its catalog (a MAESTRO threat's layer)."""
    framework, _ref = split_control(control)
    cat = cs.catalogs[framework]
    by_ref = {c.ref: c for c in cat.doc.controls}
    out: list[str] = []
    found = by_ref.get(split_control(control)[1])
    while found is not None and found.parent is not None:
        found = by_ref.get(found.parent)
        if found is not None and found.assessable:
            out.append(f"{framework}/{found.ref}")
    return out


def _cross_check(cs: CatalogSet) -> Iterable[Problem]:
    if cs.checks is None:
        yield Problem("mappings", "", f"no checks file (schema {CHECKS_SCHEMA}) was found")
        return
    if cs.policy_file is None:
        yield Problem("mappings", "", f"no policy file (schema {POLICY_SCHEMA}) was found")
    check_ids = {c.id for c in cs.checks.doc.checks}
    pairs: dict[tuple[str, str], str] = {}
    valid: list[Link] = []
    for link in links(cs):
        label = link.file.label
        if link.file is not cs.checks.file and link.check not in check_ids:
            yield Problem(label, f"{link.location}.check", f"unknown check {link.check!r}")
            continue
        msg = _control_problem(cs, link.control)
        if msg:
            yield Problem(label, f"{link.location}.control", msg)
            continue
        key = (link.check, link.control)
        if key in pairs and link.file is not cs.checks.file:
            yield Problem(
                label,
                link.location,
                f"{link.check} -> {link.control} is mapped twice (also in {pairs[key]})",
            )
            continue
        pairs[key] = label
        nature = nature_of(cs, link.control)
        if nature == "threat" and link.relationship != "mitigates":
            yield Problem(
                label,
                f"{link.location}.relationship",
                f"{link.control} is a threat: a check mitigates it (relationship mitigates), "
                f"got {link.relationship!r}",
            )
            continue
        if nature == "requirement" and link.relationship == "mitigates":
            yield Problem(
                label,
                f"{link.location}.relationship",
                f"{link.control} is a requirement: expected one of "
                f"{', '.join(SET_RELATIONSHIPS)}, got 'mitigates'",
            )
            continue
        valid.append(link)
    # One check maps to a MAESTRO layer or to threats of that layer, never to both: the check
    # would count twice for the same thing.
    mapped: dict[str, dict[str, Link]] = {}
    for link in valid:
        mapped.setdefault(link.check, {})[link.control] = link
    for check, controls in mapped.items():
        for control, link in controls.items():
            for above in _ancestors(cs, control):
                if above in controls:
                    # Name the entry that brought the pair about: the one in an organisation
                    # mapping file when the other is in the checks file, else the part's own.
                    whole = controls[above]
                    at = whole if link.file is cs.checks.file is not whole.file else link
                    yield Problem(
                        at.file.label,
                        f"{at.location}.control",
                        f"{check} maps to {above} and to {control}, which lies under it; map the "
                        "whole or its parts, not both",
                    )
    partial_links = {
        (link.check, link.control)
        for link in valid
        if link.relationship in ("subset", "intersects")
    }
    for file, where, s in sufficiencies(cs):
        msg = _control_problem(cs, s.control)
        if msg:
            yield Problem(file.label, f"{where}.control", msg)
            continue
        if nature_of(cs, s.control) != "requirement":
            yield Problem(
                file.label,
                f"{where}.control",
                f"{s.control} is a threat; a threat is met when every check mitigating it passed",
            )
            continue
        for k, check in enumerate(s.checks):
            if (check, s.control) not in partial_links:
                yield Problem(
                    file.label,
                    f"{where}.checks[{k}]",
                    f"{check} is not mapped to {s.control} as subset or intersects",
                )
