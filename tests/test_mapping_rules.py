"""The mapping rules, and the review of the baseline mappings, held as tests.

Broken data is refused naming the file and the place; the built-in checks carry test procedures
whose thresholds the baseline policy defines; the reviewed links stay as decided.
"""

from __future__ import annotations

import csv
import re
import shutil
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from compliance.catalogs import (
    COVERING_RELATIONSHIPS,
    CatalogSet,
    Link,
    links,
    load_catalog_set,
    nature_of,
    sufficiencies,
)
from compliance.errors import InvalidInput
from compliance.policy import Policy, parse_policy, threshold_problems
from compliance.resources import mappings_dir

REFERENCE = Path(__file__).parent / "data" / "reference"
REVIEW = Path(__file__).parent.parent / "docs" / "MAPPING-REVIEW.md"
FRAMEWORKS = ("nist-csf-2.0", "nist-ai-rmf-1.0", "owasp-asi-2026", "csa-maestro")
RELATIONSHIPS = ("equal", "superset", "subset", "intersects", "mitigates")

# The baseline checks of the domain contract, in order.
CHECK_IDS = [
    "GOV-01", "GOV-02", "GOV-03", "MOD-01", "MOD-02", "IDN-01", "IDN-02", "IDN-03", "TOOL-01",
    "TOOL-02", "TOOL-03", "DATA-01", "DATA-02", "RUN-01", "RUN-02", "RUN-03", "RUN-04", "REV-01",
    "REV-02", "AUD-01", "AUD-02", "SUP-01", "SEC-01", "SEC-02", "SEC-03", "SEC-04", "IR-01",
    "GOV-04", "GOV-05", "GOV-06", "DATA-03", "RUN-05", "RUN-06", "RUN-07", "SUP-02",
]  # fmt: skip


@cache
def baseline() -> CatalogSet:
    return load_catalog_set()


def all_links() -> list[Link]:
    return links(baseline())


def mapped(check: str, control: str) -> Link | None:
    return next((x for x in all_links() if x.check == check and x.control == control), None)


def policy() -> Policy:
    cs = baseline()
    assert cs.policy_file is not None
    return parse_policy(cs.policy_file).policy


# ---------------------------------------------------------------------------------------------
# Broken mapping data is refused, naming the file and the place


def _copy(tmp_path: Path) -> Path:
    root = tmp_path / "mappings"
    shutil.copytree(mappings_dir(), root)
    return root


def _index(doc: dict[str, Any], check: str) -> int:
    return next(i for i, c in enumerate(doc["checks"]) if c["id"] == check)


def _mapping(doc: dict[str, Any], check: str, control: str) -> tuple[int, int]:
    i = _index(doc, check)
    j = next(j for j, m in enumerate(doc["checks"][i]["mappings"]) if m["control"] == control)
    return i, j


def _refused(tmp_path: Path, change: Callable[[dict[str, Any]], str]) -> tuple[str, str]:
    """Apply `change` to a copy of the checks file; return the expected place and the problems."""
    root = _copy(tmp_path)
    path = root / "checks.yaml"
    doc = yaml.safe_load(path.read_text())
    place = change(doc)
    path.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))
    with pytest.raises(InvalidInput) as exc:
        load_catalog_set(builtin=root)
    return place, str(exc.value)


def test_unknown_relationship_is_refused(tmp_path: Path) -> None:
    def change(doc: dict[str, Any]) -> str:
        i, j = _mapping(doc, "GOV-01", "nist-csf-2.0/GV.RR-02")
        doc["checks"][i]["mappings"][j]["relationship"] = "covers"
        return f"checks[{i}].mappings[{j}].relationship"

    place, text = _refused(tmp_path, change)
    assert f"mappings/checks.yaml: {place}: expected one of equal, subset" in text
    assert "mitigates, got 'covers'" in text


@pytest.mark.parametrize("rationale", [None, "", "   "])
def test_missing_or_blank_rationale_is_refused(tmp_path: Path, rationale: str | None) -> None:
    def change(doc: dict[str, Any]) -> str:
        i, j = _mapping(doc, "TOOL-02", "nist-csf-2.0/PR.AA-05")
        if rationale is None:
            del doc["checks"][i]["mappings"][j]["rationale"]
        else:
            doc["checks"][i]["mappings"][j]["rationale"] = rationale
        return f"checks[{i}].mappings[{j}].rationale"

    place, text = _refused(tmp_path, change)
    expected = "required field is missing" if rationale is None else "expected non-empty text"
    assert f"mappings/checks.yaml: {place}: {expected}" in text


def test_layer_and_one_of_its_own_threats_from_one_check_is_refused(tmp_path: Path) -> None:
    def change(doc: dict[str, Any]) -> str:
        i = _index(doc, "TOOL-02")
        doc["checks"][i]["mappings"].append(
            {
                "control": "csa-maestro/L7",
                "relationship": "subset",
                "rationale": "Tool scopes apply where the agent acts on business applications.",
                "origin": "ours",
            }
        )
        _i, j = _mapping(doc, "TOOL-02", "csa-maestro/L7-agent-tool-misuse")
        return f"checks[{i}].mappings[{j}].control"

    place, text = _refused(tmp_path, change)
    assert (
        f"mappings/checks.yaml: {place}: TOOL-02 maps to csa-maestro/L7 and to "
        "csa-maestro/L7-agent-tool-misuse, which lies under it"
    ) in text


@pytest.mark.parametrize("relationship", ["subset", "intersects", "equal", "superset"])
def test_set_relationship_to_a_threat_is_refused(tmp_path: Path, relationship: str) -> None:
    def change(doc: dict[str, Any]) -> str:
        i, j = _mapping(doc, "SEC-01", "owasp-asi-2026/ASI01")
        doc["checks"][i]["mappings"][j]["relationship"] = relationship
        return f"checks[{i}].mappings[{j}].relationship"

    place, text = _refused(tmp_path, change)
    assert (
        f"mappings/checks.yaml: {place}: owasp-asi-2026/ASI01 is a threat: a check mitigates it "
        f"(relationship mitigates), got '{relationship}'"
    ) in text


def test_mitigates_to_a_maestro_threat_only(tmp_path: Path) -> None:
    def change(doc: dict[str, Any]) -> str:
        i, j = _mapping(doc, "SUP-01", "csa-maestro/L3-supply-chain-attacks")
        doc["checks"][i]["mappings"][j]["relationship"] = "subset"
        return f"checks[{i}].mappings[{j}].relationship"

    place, text = _refused(tmp_path, change)
    assert f"{place}: csa-maestro/L3-supply-chain-attacks is a threat" in text


@pytest.mark.parametrize(
    ("check", "control"),
    [("GOV-01", "nist-csf-2.0/GV.RR-02"), ("GOV-01", "csa-maestro/L6")],
)
def test_mitigates_to_a_requirement_is_refused(tmp_path: Path, check: str, control: str) -> None:
    def change(doc: dict[str, Any]) -> str:
        i, j = _mapping(doc, check, control)
        doc["checks"][i]["mappings"][j]["relationship"] = "mitigates"
        return f"checks[{i}].mappings[{j}].relationship"

    place, text = _refused(tmp_path, change)
    assert (
        f"mappings/checks.yaml: {place}: {control} is a requirement: expected one of "
        "equal, subset, superset, intersects, got 'mitigates'"
    ) in text


def test_sufficient_set_naming_an_unmapped_check_is_refused(tmp_path: Path) -> None:
    def change(doc: dict[str, Any]) -> str:
        k = next(k for k, s in enumerate(doc["sufficient"]) if s["control"].endswith("PR.AA-05"))
        doc["sufficient"][k]["checks"].append("GOV-06")
        return f"sufficient[{k}].checks[{len(doc['sufficient'][k]['checks']) - 1}]"

    place, text = _refused(tmp_path, change)
    assert (
        f"mappings/checks.yaml: {place}: GOV-06 is not mapped to nist-csf-2.0/PR.AA-05 as subset "
        "or intersects"
    ) in text


def test_sufficient_set_for_a_threat_is_refused(tmp_path: Path) -> None:
    def change(doc: dict[str, Any]) -> str:
        doc["sufficient"].append(
            {
                "control": "owasp-asi-2026/ASI02",
                "checks": ["TOOL-02", "TOOL-03"],
                "rationale": "Together they bound tool misuse.",
            }
        )
        return f"sufficient[{len(doc['sufficient']) - 1}].control"

    place, text = _refused(tmp_path, change)
    assert f"mappings/checks.yaml: {place}: owasp-asi-2026/ASI02 is a threat" in text


def test_sufficient_set_of_one_check_is_refused(tmp_path: Path) -> None:
    def change(doc: dict[str, Any]) -> str:
        doc["sufficient"].append(
            {"control": "nist-csf-2.0/RC.RP-05", "checks": ["REV-02"], "rationale": "Alone."}
        )
        return f"sufficient[{len(doc['sufficient']) - 1}].checks"

    place, text = _refused(tmp_path, change)
    assert f"mappings/checks.yaml: {place}: " in text and "at least 2" in text


def test_procedure_is_required_by_the_second_format(tmp_path: Path) -> None:
    def change(doc: dict[str, Any]) -> str:
        i = _index(doc, "RUN-05")
        del doc["checks"][i]["procedure"]
        return f"checks[{i}].procedure"

    place, text = _refused(tmp_path, change)
    assert f"mappings/checks.yaml: {place}: required field is missing" in text


def test_procedure_method_outside_sp_800_53a_is_refused(tmp_path: Path) -> None:
    def change(doc: dict[str, Any]) -> str:
        i = _index(doc, "REV-01")
        doc["checks"][i]["procedure"]["method"] = ["examine", "observe"]
        return f"checks[{i}].procedure.method[1]"

    place, text = _refused(tmp_path, change)
    assert f"{place}: expected one of examine, interview, test, got 'observe'" in text


def test_organisation_mapping_file_is_held_to_the_same_rules(tmp_path: Path) -> None:
    org = tmp_path / "org"
    org.mkdir()
    (org / "extra.yaml").write_text(
        yaml.safe_dump(
            {
                "schema": "compliance-mappings/2",
                "id": "extra",
                "name": "Extra links",
                "version": "1",
                "mappings": [
                    {
                        "check": "RUN-01",
                        "control": "csa-maestro/L7",
                        "relationship": "subset",
                        "rationale": "Enforcement sits in front of business applications.",
                    },
                    {
                        "check": "RUN-06",
                        "control": "owasp-asi-2026/ASI02",
                        "relationship": "intersects",
                        "rationale": "Validated outputs are safer tool inputs.",
                    },
                ],
            },
            sort_keys=False,
        )
    )
    with pytest.raises(InvalidInput) as exc:
        load_catalog_set([org])
    text = str(exc.value)
    assert "extra.yaml: mappings[1].relationship: owasp-asi-2026/ASI02 is a threat" in text
    # RUN-01 mitigates csa-maestro/L7-agent-tool-misuse in the checks file; the organisation
    # file's entry is the one named.
    assert (
        "extra.yaml: mappings[0].control: RUN-01 maps to csa-maestro/L7 and to "
        "csa-maestro/L7-agent-tool-misuse, which lies under it"
    ) in text


# ---------------------------------------------------------------------------------------------
# The built-in checks and their procedures

# Policy values a procedure may name that are set per tier rather than under `thresholds:`.
TIER_FIELDS = {"min_safety_score", "benchmark_minimums", "acceptance_max_days", "reassessment_days"}
SAMPLE_UNITS = {"calls", "cases"}


def test_the_checks_are_the_baseline_checks_in_the_second_format() -> None:
    checks = baseline().checks
    assert checks is not None
    assert checks.doc.schema_ == "compliance-checks/2"
    assert [c.id for c in checks.doc.checks] == CHECK_IDS


def test_every_check_has_a_procedure_with_steps_and_criteria() -> None:
    checks = baseline().checks
    assert checks is not None
    for check in checks.doc.checks:
        p = check.procedure
        assert p is not None, check.id
        assert p.method and p.steps, check.id
        assert p.criteria.pass_ and p.criteria.partial and p.criteria.fail, check.id
        texts = [*p.steps, p.criteria.pass_, p.criteria.partial, p.criteria.fail]
        assert not any(re.search(r"\ba target\b", t) for t in texts), check.id


def test_every_threshold_named_exists_in_the_baseline_policy_for_every_tier() -> None:
    checks = baseline().checks
    cs = baseline()
    assert checks is not None and cs.policy_file is not None
    needed: dict[str, list[str]] = {}
    for check in checks.doc.checks:
        assert check.procedure is not None
        for name in check.procedure.thresholds:
            needed.setdefault(name, []).append(check.id)
    assert threshold_problems(parse_policy(cs.policy_file), needed) == []
    tiers = [t.id for t in policy().tiers]
    for name in needed:
        th = policy().thresholds[name]
        assert list(th.values) == tiers, name
        assert th.description and th.unit, name


def test_procedure_text_names_exactly_the_thresholds_it_lists() -> None:
    """A name in backticks is a policy value; every one is listed and every listed one is used,
    so no result depends on a value the policy does not define."""
    known = set(policy().thresholds)
    checks = baseline().checks
    assert checks is not None
    for check in checks.doc.checks:
        p = check.procedure
        assert p is not None
        criteria = " ".join([p.criteria.pass_, p.criteria.partial, p.criteria.fail])
        named = set(re.findall(r"`([a-z][a-z0-9_]*)`", " ".join([*p.steps, criteria])))
        assert named - known <= TIER_FIELDS, f"{check.id}: unknown names {named - known}"
        assert named & known == set(p.thresholds), check.id
        # A limit (a time, a share) decides the result, so the criteria state it; a sample size
        # may be stated where the steps draw the sample.
        used = set(re.findall(r"`([a-z][a-z0-9_]*)`", criteria))
        limits = {t for t in p.thresholds if policy().thresholds[t].unit not in SAMPLE_UNITS}
        assert limits <= used, f"{check.id}: a limit is not stated in the criteria"
        for other in (check.evidence, check.remediation):
            assert set(re.findall(r"`([a-z][a-z0-9_]*)`", other)) <= known | TIER_FIELDS


@pytest.mark.parametrize(
    ("check", "threshold"),
    [
        ("RUN-03", "halt_minutes"),
        ("REV-01", "revocation_minutes"),
        ("AUD-02", "log_retention_days"),
        ("IDN-02", "credential_ttl_minutes"),
        ("REV-02", "rollback_hours"),
        ("AUD-01", "log_sample_size"),
    ],
)
def test_time_and_size_targets_are_policy_thresholds(check: str, threshold: str) -> None:
    checks = baseline().checks
    assert checks is not None
    entry = next(c for c in checks.doc.checks if c.id == check)
    assert entry.procedure is not None and threshold in entry.procedure.thresholds
    assert "target" not in entry.evidence + entry.remediation
    assert "as required" not in entry.evidence


# ---------------------------------------------------------------------------------------------
# The review of the baseline mappings


def test_threats_are_only_mitigated_and_requirements_never() -> None:
    cs = baseline()
    for link in all_links():
        nature = nature_of(cs, link.control)
        assert (link.relationship == "mitigates") == (nature == "threat"), link
    for link in all_links():
        if link.control.startswith("owasp-asi-2026/"):
            assert link.relationship == "mitigates", link


@pytest.mark.parametrize(
    ("check", "control"),
    [
        # wrong
        ("SEC-02", "nist-csf-2.0/PR.PS-05"),
        ("REV-02", "owasp-asi-2026/ASI01"),
        # doubtful, removed after review (docs/MAPPING-REVIEW.md)
        ("GOV-01", "owasp-asi-2026/ASI10"),
        ("GOV-02", "owasp-asi-2026/ASI09"),
        ("GOV-03", "owasp-asi-2026/ASI10"),
        ("DATA-01", "owasp-asi-2026/ASI06"),
        ("RUN-02", "owasp-asi-2026/ASI09"),
        ("MOD-01", "owasp-asi-2026/ASI01"),
    ],
)
def test_wrong_and_rejected_links_are_gone(check: str, control: str) -> None:
    assert mapped(check, control) is None


OMITTED = [
    "nist-csf-2.0/GV.SC-04",
    "nist-csf-2.0/GV.SC-07",
    "nist-csf-2.0/GV.SC-08",
    "nist-csf-2.0/ID.AM-08",
    "nist-csf-2.0/ID.RA-05",
    "nist-csf-2.0/ID.RA-10",
    "nist-csf-2.0/PR.PS-01",
    "nist-csf-2.0/PR.PS-02",
    "nist-csf-2.0/DE.AE-02",
    "nist-csf-2.0/DE.AE-06",
    "nist-csf-2.0/RS.MA-02",
    "nist-csf-2.0/RS.CO-02",
    "nist-csf-2.0/RS.MI-02",
    "nist-csf-2.0/RC.RP-03",
    "nist-csf-2.0/RC.RP-05",
    "nist-ai-rmf-1.0/GOVERN 1.5",
    "nist-ai-rmf-1.0/GOVERN 4.3",
    "nist-ai-rmf-1.0/GOVERN 6.2",
    "nist-ai-rmf-1.0/MAP 2.1",
    "nist-ai-rmf-1.0/MAP 2.2",
    "nist-ai-rmf-1.0/MAP 3.4",
    "nist-ai-rmf-1.0/MEASURE 1.1",
    "nist-ai-rmf-1.0/MEASURE 3.1",
    "nist-ai-rmf-1.0/MEASURE 4.2",
    "nist-ai-rmf-1.0/MANAGE 1.2",
    "nist-ai-rmf-1.0/MANAGE 1.3",
    "nist-ai-rmf-1.0/MANAGE 3.2",
    "csa-maestro/L3-compromised-framework-components",
    "csa-maestro/L3-backdoor-attacks",
    "csa-maestro/L4-compromised-container-images",
    "csa-maestro/L5-poisoning-observability-data",
    "csa-maestro/L5-manipulation-of-evaluation-metrics",
    "csa-maestro/L7-compromised-agent-registry",
    "csa-maestro/L1-denial-of-service-dos-attacks",
    "csa-maestro/L2-denial-of-service-on-data-infrastructure",
    "csa-maestro/L3-denial-of-service-on-framework-apis",
    "csa-maestro/L4-denial-of-service-dos-attacks",
    "csa-maestro/L5-denial-of-service-on-evaluation-infrastructure",
]


@pytest.mark.parametrize("control", OMITTED)
def test_each_omitted_control_now_has_a_mapping(control: str) -> None:
    assert any(link.control == control for link in all_links()), control


def test_resource_limits_mitigate_every_denial_of_service_threat() -> None:
    dos = [c for c in OMITTED if "denial-of-service" in c]
    assert len(dos) == 5
    for control in dos:
        link = mapped("RUN-05", control)
        assert link is not None and link.relationship == "mitigates", control


def test_whole_control_links_are_rare_and_deliberate() -> None:
    """`equal`/`superset` claim that one check asks all of a control; none does today. A new one
    must be added here and argued in the review record."""
    assert [x for x in all_links() if x.relationship in COVERING_RELATIONSHIPS] == []


def test_every_link_has_a_one_line_rationale_and_an_origin() -> None:
    for link in all_links():
        assert link.rationale and "\n" not in link.rationale, link
        assert link.origin == "ours" or link.origin.startswith("ours; informed by "), link


def _rows(name: str) -> list[dict[str, str]]:
    with (REFERENCE / "crosswalks" / name).open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def test_cited_crosswalk_rows_exist_and_match_the_link() -> None:
    appendix_a = {(r["source_id"], r["target_id"]) for r in _rows(
        "owasp-asi2026_mapping-matrix_appendix-a.csv"
    )}  # fmt: skip
    appendix_c = {(r["source_id"], r["target_id"]) for r in _rows(
        "owasp-nhi2025_to_asi2026_appendix-c.csv"
    )}  # fmt: skip
    community = {(r["source_id"], r["target_layer"]) for r in _rows(
        "owasp-t1-t15_to_maestro-layers_community.csv"
    )}  # fmt: skip
    by_ref = {c.ref: c for c in baseline().catalogs["csa-maestro"].doc.controls}
    cited = 0
    for link in all_links():
        ref = link.control.split("/", 1)[1]
        if m := re.search(r"Appendix A \((ASI\d\d) -> (T\d+) ", link.origin):
            assert m.group(1) == ref and m.groups() in appendix_a, link
        elif m := re.search(r"Appendix C \((NHI\d+) [^>]* -> (ASI\d\d)\)", link.origin):
            assert m.group(2) == ref and m.groups() in appendix_c, link
        elif m := re.search(r"Playbook matrix \((T\d+) [^>]* -> (L\d)\)", link.origin):
            assert m.groups() in community, link
            control = by_ref[ref]
            assert m.group(2) in (control.ref, control.parent), link
        else:
            assert link.origin == "ours", link
            continue
        cited += 1
    assert cited >= 10


def test_sufficiency_declarations_are_argued_check_by_check() -> None:
    declared = sufficiencies(baseline())
    assert 1 <= len(declared) <= 8, "sufficiency declarations should stay few and defensible"
    for _file, where, s in declared:
        assert len(s.checks) >= 2, where
        for check in s.checks:
            assert check in s.rationale, f"{where}: the rationale does not say what {check} adds"


# ---------------------------------------------------------------------------------------------
# The review record states the counts the data has


def _counts() -> dict[str, dict[str, int]]:
    out = {fw: dict.fromkeys(RELATIONSHIPS, 0) for fw in FRAMEWORKS}
    for link in all_links():
        out[link.control.split("/")[0]][link.relationship] += 1
    return out


def test_review_record_counts_match_the_mappings() -> None:
    text = REVIEW.read_text(encoding="utf-8")
    table = text.split("<!-- counts:start -->")[1].split("<!-- counts:end -->")[0]
    rows = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells and cells[0] in FRAMEWORKS:
            rows[cells[0]] = cells[1:]
    counts = _counts()
    assert set(rows) == set(FRAMEWORKS)
    for fw in FRAMEWORKS:
        want = [counts[fw][r] for r in RELATIONSHIPS]
        got = [int(c.split("->")[-1].strip()) for c in rows[fw][: len(RELATIONSHIPS) + 1]]
        assert got == [*want, sum(want)], fw
    assert f"{len(sufficiencies(baseline()))} sufficiency declarations" in text
