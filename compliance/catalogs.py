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
CHECKS_SCHEMA = "compliance-checks/1"
MAPPINGS_SCHEMA = "compliance-mappings/1"
POLICY_SCHEMA = "compliance-policy/1"

Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9.\-]*$", max_length=64)]
Ref = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^\S(.*\S)?$")]
CheckId = Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9]*-[A-Z0-9]+$", max_length=32)]
Text = Annotated[str, Field(min_length=1, max_length=20_000)]
Relationship = Literal["equal", "subset", "superset", "intersects"]
RELATIONSHIPS: tuple[str, ...] = ("equal", "subset", "superset", "intersects")


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
    controls: list[ControlEntry] = Field(min_length=1)

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
    control: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9.\-]*/\S.*$", max_length=200)]
    relationship: Relationship
    rationale: Text
    origin: str = "ours"


class CheckEntry(StrictModel):
    id: CheckId
    title: Text
    domain: str | None = None
    objective: Text
    evidence: Text
    remediation: Text
    mappings: list[MappingEntry] = Field(default_factory=list)


class ChecksFile(StrictModel):
    schema_: Literal["compliance-checks/1"] = Field(alias="schema")
    id: Slug
    name: Text
    version: Annotated[str, Field(min_length=1, max_length=64)]
    date: str | None = None
    source: dict[str, Any]
    relationships: dict[str, str] | None = None
    checks: list[CheckEntry] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> ChecksFile:
        seen: set[str] = set()
        for i, check in enumerate(self.checks):
            if check.id in seen:
                raise ValueError(f"checks[{i}].id: duplicate check id {check.id!r}")
            seen.add(check.id)
            pairs: set[str] = set()
            for j, m in enumerate(check.mappings):
                if m.control in pairs:
                    raise ValueError(f"checks[{i}].mappings[{j}]: {m.control} is mapped twice")
                pairs.add(m.control)
        return self


class OrgMappingEntry(MappingEntry):
    check: CheckId


class MappingsFile(StrictModel):
    schema_: Literal["compliance-mappings/1"] = Field(alias="schema")
    id: Slug
    name: Text
    version: Annotated[str, Field(min_length=1, max_length=64)]
    source: dict[str, Any] | None = None
    mappings: list[OrgMappingEntry] = Field(min_length=1)


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
    schema = value.get("schema")
    known = (CATALOG_SCHEMA, CHECKS_SCHEMA, MAPPINGS_SCHEMA, POLICY_SCHEMA)
    if schema not in known:
        raise InvalidInput(
            [Problem(file.label, "schema", f"expected one of {', '.join(known)}, got {schema!r}")]
        )
    return str(schema), value


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
            elif schema == CHECKS_SCHEMA:
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
            elif schema == MAPPINGS_SCHEMA:
                result.mappings.append(OrgMappings(f, validate(MappingsFile, value, f.label)))
            elif f.origin == "organisation" or result.policy_file is None:
                # A policy in an organisation folder replaces the built-in default.
                result.policy_file = f
        except InvalidInput as exc:
            problems.extend(exc.problems)
    if not problems:
        problems.extend(_cross_check(result))
    if problems:
        raise InvalidInput(problems)
    return result


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


def _cross_check(cs: CatalogSet) -> Iterable[Problem]:
    if cs.checks is None:
        yield Problem("mappings", "", "no checks file (schema compliance-checks/1) was found")
        return
    if cs.policy_file is None:
        yield Problem("mappings", "", "no policy file (schema compliance-policy/1) was found")
    check_ids = {c.id for c in cs.checks.doc.checks}
    for i, check in enumerate(cs.checks.doc.checks):
        for j, m in enumerate(check.mappings):
            msg = _control_problem(cs, m.control)
            if msg:
                yield Problem(cs.checks.file.label, f"checks[{i}].mappings[{j}].control", msg)
    for om in cs.mappings:
        pairs: set[tuple[str, str]] = set()
        for j, entry in enumerate(om.doc.mappings):
            if entry.check not in check_ids:
                yield Problem(
                    om.file.label, f"mappings[{j}].check", f"unknown check {entry.check!r}"
                )
            msg = _control_problem(cs, entry.control)
            if msg:
                yield Problem(om.file.label, f"mappings[{j}].control", msg)
            if (entry.check, entry.control) in pairs:
                yield Problem(
                    om.file.label,
                    f"mappings[{j}]",
                    f"{entry.check} -> {entry.control} is mapped twice",
                )
            pairs.add((entry.check, entry.control))
