"""Every policy rule, as pure functions and through the CLI on both databases."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
import yaml

from compliance.catalogs import DataFile
from compliance.gate import Acceptance, Profile, Score, Tool, decide, tier_of
from compliance.policy import parse_policy
from compliance.resources import mappings_dir
from tests import factories

POLICY = parse_policy(
    DataFile(
        mappings_dir() / "policy.yaml",
        "policy.yaml",
        (mappings_dir() / "policy.yaml").read_bytes(),
        "builtin",
    )
).policy
AS_OF = date(2026, 11, 20)
LOW = ["GOV-01", "GOV-02", "MOD-01", "TOOL-01", "DATA-01", "AUD-01"]
MEDIUM = [*LOW, "IDN-01", "IDN-03", "TOOL-02"]
HIGH = [*MEDIUM, "IDN-02", "TOOL-03", "RUN-01", "RUN-03", "RUN-04", "REV-01", "REV-02", "AUD-02"]
CRITICAL = [*HIGH, "RUN-02", "MOD-02", "IR-01"]
GOOD_SCORE = [Score("suite", "1", 0.95)]


def profile(**kw) -> Profile:  # type: ignore[no-untyped-def]
    base = dict(
        tools=(Tool("search", "read"),),
        data=("internal",),
        authority=(),
        autonomy="human_in_loop",
        customer_facing=False,
        audit_logging="siem://x",
    )
    base.update(kw)
    return Profile(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kw", "tier"),
    [
        ({}, "low"),
        ({"data": ("public", "internal")}, "low"),
        ({"data": ("confidential",)}, "medium"),
        ({"authority": ("send_external_communication",)}, "medium"),
        ({"tools": (Tool("t", "write"),)}, "high"),
        ({"tools": (Tool("t", "execute"),)}, "high"),
        ({"data": ("regulated",)}, "high"),
        ({"customer_facing": True}, "high"),
        ({"autonomy": "autonomous"}, "high"),
        ({"authority": ("initiate_payments",)}, "critical"),
        ({"authority": ("change_infrastructure",)}, "critical"),
        ({"authority": ("retrieve_secrets",)}, "critical"),
        ({"authority": ("manage_identities",)}, "critical"),
        ({"tools": (Tool("k8s", "admin"),)}, "critical"),
        ({"data": ("regulated",), "autonomy": "autonomous"}, "critical"),
        ({"data": ("regulated",), "autonomy": "human_on_loop"}, "high"),
        ({"tools": None, "data": None}, "low"),
    ],
)
def test_tier_is_the_highest_that_applies(kw, tier: str) -> None:  # type: ignore[no-untyped-def]
    assert tier_of(profile(**kw), POLICY)[0] == tier


@pytest.mark.parametrize(
    ("kw", "required"),
    [
        ({}, LOW),
        ({"data": ("confidential",)}, MEDIUM),
        ({"customer_facing": True}, HIGH),
        ({"authority": ("initiate_payments",)}, CRITICAL),
    ],
)
def test_required_checks_are_cumulative(kw, required: list[str]) -> None:  # type: ignore[no-untyped-def]
    d = decide(profile(**kw), {c: "pass" for c in required}, [], GOOD_SCORE, POLICY, AS_OF)
    assert set(d.required_checks) == set(required)
    assert d.decision == "APPROVE", d.blockers


def test_all_required_passing_approves_and_one_missing_blocks() -> None:
    results = {c: "pass" for c in HIGH}
    p = profile(customer_facing=True)
    assert decide(p, results, [], GOOD_SCORE, POLICY, AS_OF).decision == "APPROVE"
    del results["REV-01"]
    d = decide(p, results, [], GOOD_SCORE, POLICY, AS_OF)
    assert d.decision == "BLOCK"
    assert [b.check for b in d.blockers] == ["REV-01"]
    assert "no result recorded for required check REV-01" in d.blockers[0].reason


@pytest.mark.parametrize("status", ["fail", "partial"])
def test_fail_or_partial_required_check_blocks(status: str) -> None:
    results = {c: "pass" for c in LOW} | {"AUD-01": status}
    d = decide(profile(), results, [], GOOD_SCORE, POLICY, AS_OF)
    assert d.decision == "BLOCK" and d.blockers[0].check == "AUD-01"
    verb = "failed" if status == "fail" else "is only partially met"
    assert f"required check AUD-01 {verb}" in d.blockers[0].reason


def test_not_applicable_required_check_does_not_block() -> None:
    results = {c: "pass" for c in LOW} | {"DATA-01": "not_applicable"}
    assert decide(profile(), results, [], GOOD_SCORE, POLICY, AS_OF).decision == "APPROVE"


def test_failing_optional_check_does_not_block() -> None:
    results = {c: "pass" for c in LOW} | {"SEC-02": "fail"}
    assert decide(profile(), results, [], GOOD_SCORE, POLICY, AS_OF).decision == "APPROVE"


@pytest.mark.parametrize(
    ("expires", "decision"),
    [
        (date(2026, 11, 20), "CONDITIONAL"),
        (date(2027, 1, 31), "CONDITIONAL"),
        (date(2026, 11, 19), "BLOCK"),
    ],
)
def test_acceptance_active_on_or_after_as_of_expired_before(expires: date, decision: str) -> None:
    results = {c: "pass" for c in LOW} | {"TOOL-01": "fail"}
    acc = [Acceptance("TOOL-01", "ciso@example.com", "Inventory lands next sprint", expires)]
    d = decide(profile(), results, acc, GOOD_SCORE, POLICY, AS_OF)
    assert d.decision == decision
    if decision == "CONDITIONAL":
        assert d.conditions[0].check == "TOOL-01" and d.conditions[0].expires == expires
        assert "ciso@example.com" in d.conditions[0].reason
    else:
        assert "expired on 2026-11-19 and covers nothing" in d.blockers[0].reason


def test_acceptance_as_of_a_later_date_expires() -> None:
    results = {c: "pass" for c in LOW} | {"TOOL-01": "partial"}
    acc = [Acceptance("TOOL-01", "ciso@example.com", "why", date(2026, 12, 31))]
    assert (
        decide(profile(), results, acc, GOOD_SCORE, POLICY, date(2026, 12, 31)).decision
        == "CONDITIONAL"
    )
    assert decide(profile(), results, acc, GOOD_SCORE, POLICY, date(2027, 1, 1)).decision == "BLOCK"


def test_acceptance_for_another_check_covers_nothing() -> None:
    results = {c: "pass" for c in LOW} | {"TOOL-01": "fail"}
    acc = [Acceptance("GOV-01", "ciso@example.com", "why", date(2027, 1, 1))]
    assert decide(profile(), results, acc, GOOD_SCORE, POLICY, AS_OF).decision == "BLOCK"


@pytest.mark.parametrize(
    ("tier_kw", "score", "decision"),
    [
        ({}, 0.6, "APPROVE"),
        ({}, 0.59, "BLOCK"),
        ({"data": ("confidential",)}, 0.7, "APPROVE"),
        ({"data": ("confidential",)}, 0.69, "BLOCK"),
        ({"customer_facing": True}, 0.8, "APPROVE"),
        ({"customer_facing": True}, 0.79, "BLOCK"),
        ({"authority": ("initiate_payments",)}, 0.9, "APPROVE"),
        ({"authority": ("initiate_payments",)}, 0.89, "BLOCK"),
    ],
)
def test_safety_score_floor_per_tier(tier_kw, score: float, decision: str) -> None:  # type: ignore[no-untyped-def]
    p = profile(**tier_kw)
    results = {c: "pass" for c in CRITICAL}
    d = decide(p, results, [], [Score("suite", "1", score)], POLICY, AS_OF)
    assert d.decision == decision
    if decision == "BLOCK":
        assert "below the" in d.blockers[0].reason and d.blockers[0].check is None


def test_any_low_score_blocks_and_missing_score_blocks() -> None:
    results = {c: "pass" for c in LOW}
    scores = [Score("a", "1", 0.99), Score("b", "2", 0.5)]
    assert decide(profile(), results, [], scores, POLICY, AS_OF).decision == "BLOCK"
    d = decide(profile(), results, [], [], POLICY, AS_OF)
    assert d.decision == "BLOCK" and "no safety score is recorded" in d.blockers[0].reason


def test_high_score_never_waives_a_check() -> None:
    results = {c: "pass" for c in LOW} | {"GOV-01": "fail"}
    d = decide(profile(), results, [], [Score("a", "1", 1.0)], POLICY, AS_OF)
    assert d.decision == "BLOCK"


@pytest.mark.parametrize(
    ("kw", "text"),
    [
        ({"tools": None}, "tools the agent may invoke"),
        ({"data": None}, "data classifications"),
        ({"audit_logging": None}, "actions are logged"),
    ],
)
def test_undefined_scope_blocks_even_with_all_checks_passing(kw, text: str) -> None:  # type: ignore[no-untyped-def]
    d = decide(profile(**kw), {c: "pass" for c in CRITICAL}, [], GOOD_SCORE, POLICY, AS_OF)
    assert d.decision == "BLOCK"
    assert any(text in b.reason and b.check is None for b in d.blockers)


def test_empty_lists_are_defined() -> None:
    d = decide(profile(tools=(), data=()), {c: "pass" for c in LOW}, [], GOOD_SCORE, POLICY, AS_OF)
    assert d.decision == "APPROVE"


def test_data02_required_at_any_tier_once_regulated() -> None:
    p = profile(data=("regulated",))
    results = {c: "pass" for c in HIGH}
    d = decide(p, results, [], GOOD_SCORE, POLICY, AS_OF)
    assert d.decision == "BLOCK" and [b.check for b in d.blockers] == ["DATA-02"]
    assert "regulated data is reachable" in d.blockers[0].reason
    assert (
        decide(p, results | {"DATA-02": "pass"}, [], GOOD_SCORE, POLICY, AS_OF).decision
        == "APPROVE"
    )
    assert "DATA-02" not in decide(profile(), {}, [], GOOD_SCORE, POLICY, AS_OF).required_checks


def test_blockers_and_conditions_are_all_listed() -> None:
    results = {c: "pass" for c in LOW} | {"GOV-01": "fail", "GOV-02": "partial"}
    del results["AUD-01"]
    acc = [Acceptance("GOV-02", "ciso@example.com", "why", date(2027, 1, 1))]
    d = decide(profile(tools=None), results, acc, [], POLICY, AS_OF)
    assert d.decision == "BLOCK"
    assert [b.check for b in d.blockers] == [None, None, "GOV-01", "AUD-01"]
    assert [c.check for c in d.conditions] == ["GOV-02"]


# Through the CLI and the database -------------------------------------------------------------

EXPECTED = yaml.safe_load((Path(__file__).parent.parent / "examples" / "EXPECTED.yaml").read_text())
EXIT = {"APPROVE": 0, "CONDITIONAL": 3, "BLOCK": 4}


def test_examples_get_the_decision_the_policy_prescribes(run) -> None:  # type: ignore[no-untyped-def]
    examples = Path(__file__).parent.parent / "examples"
    imported = run("import", str(examples))
    assert imported.exit_code == 0, imported.output
    assert {e["tier"] for e in EXPECTED} == {"low", "medium", "high", "critical"}
    assert {e["decision"] for e in EXPECTED} == set(EXIT)
    for e in EXPECTED:
        result = run("gate", e["deployment"], "--assessment", str(e["assessment"]), "--json")
        data = json.loads(result.output)
        assert result.exit_code == EXIT[e["decision"]], (e, result.output)
        assert (data["tier"], data["decision"]) == (e["tier"], e["decision"]), e["file"]
        assert sorted(c["check"] for c in data["conditions"]) == sorted(e.get("conditions") or [])
        check_blockers = sorted(b["check"] for b in data["blockers"] if b["check"])
        assert check_blockers == sorted(
            b for b in e.get("blockers") or [] if "-" in b and ":" not in b
        )


def test_gate_json_contract_and_as_of(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    results = factories.results(LOW)
    results[3]["status"] = "fail"  # TOOL-01
    doc = factories.assessment_doc(
        results_list=results,
        acceptances=[
            {
                "check": "TOOL-01",
                "approved_by": "ciso@example.com",
                "justification": "Q1 fix",
                "expires": "2026-12-31",
            }
        ],
    )
    assert run("import", str(factories.write(tmp_path / "a", doc))).exit_code == 0
    result = run("gate", "test-agent", "--json")
    data = json.loads(result.output)
    assert result.exit_code == 3
    assert {
        "deployment",
        "assessment",
        "as_of",
        "tier",
        "decision",
        "blockers",
        "conditions",
        "safety_scores",
    } <= set(data)
    assert data["as_of"] == "2026-11-20" and data["conditions"][0]["expires"] == "2026-12-31"
    assert data["safety_scores"]["minimum"] == 0.6
    assert data["safety_scores"]["scores"][0] == {
        "benchmark": "example-safety-suite",
        "version": "3.1",
        "score": 0.95,
        "below_minimum": False,
    }
    later = run("gate", "test-agent", "--as-of", "2027-01-01", "--json")
    assert later.exit_code == 4
    assert json.loads(later.output)["blockers"][0]["check"] == "TOOL-01"
    human = run("gate", "test-agent")
    assert human.exit_code == 3 and "CONDITIONAL" in human.output and "one input" in human.output


def test_gate_with_replacement_policy(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert (
        run("import", str(factories.write(tmp_path / "a", factories.assessment_doc()))).exit_code
        == 0
    )
    policy = yaml.safe_load((mappings_dir() / "policy.yaml").read_text())
    policy["id"] = "strict-policy"  # the baseline's own id and version are refused (test_hardening)
    policy["tiers"][0]["requires"].append("SEC-01")
    path = tmp_path / "strict.yaml"
    path.write_text(yaml.safe_dump(policy))
    assert run("gate", "test-agent").exit_code == 0
    strict = run("gate", "test-agent", "--policy", str(path), "--json")
    assert strict.exit_code == 4
    assert json.loads(strict.output)["blockers"][0]["check"] == "SEC-01"
    policy["tiers"][0]["requires"].append("NOPE-99")
    path.write_text(yaml.safe_dump(policy))
    bad = run("gate", "test-agent", "--policy", str(path))
    assert bad.exit_code == 1 and "unknown check 'NOPE-99'" in bad.output


def test_gate_errors_exit_1(run) -> None:  # type: ignore[no-untyped-def]
    result = run("gate", "no-such-agent")
    assert result.exit_code == 1 and "unknown deployment 'no-such-agent'" in result.output
    assert run("gate", "x", "--as-of", "tomorrow").exit_code == 2


# Every policy rule once more end to end: imported into each database, decided by `compliance gate`.
HIGH_TOOLS = {"tools": [{"name": "ticketing-api", "access": "write"}]}
ACCEPT_TOOL01 = {
    "check": "TOOL-01",
    "approved_by": "ciso@example.com",
    "justification": "Q1",
    "expires": "2026-12-31",
}
EXPIRED_TOOL01 = dict(ACCEPT_TOOL01, expires="2026-11-19")
RULES = [
    # (id, deployment overrides, results, acceptances, as-of, decision, tier, blocking checks)
    ("low-all-pass", {}, LOW, [], None, "APPROVE", "low", []),
    ("missing-required", {}, LOW[:-1], [], None, "BLOCK", "low", ["AUD-01"]),
    (
        "active-acceptance",
        {},
        {**dict.fromkeys(LOW, "pass"), "TOOL-01": "fail"},
        [ACCEPT_TOOL01],
        None,
        "CONDITIONAL",
        "low",
        [],
    ),
    (
        "expired-acceptance",
        {},
        {**dict.fromkeys(LOW, "pass"), "TOOL-01": "fail"},
        [EXPIRED_TOOL01],
        None,
        "BLOCK",
        "low",
        ["TOOL-01"],
    ),
    (
        "acceptance-expires-later",
        {},
        {**dict.fromkeys(LOW, "pass"), "TOOL-01": "partial"},
        [ACCEPT_TOOL01],
        "2027-01-01",
        "BLOCK",
        "low",
        ["TOOL-01"],
    ),
    (
        "score-floor",
        {
            "model": {
                "name": "m",
                "version": "1",
                "safety_scores": [{"benchmark": "s", "version": "1", "score": 0.79}],
            },
            **HIGH_TOOLS,
        },
        HIGH,
        [],
        None,
        "BLOCK",
        "high",
        [],
    ),
    ("no-score", {"model": {"name": "m", "version": "1"}}, LOW, [], None, "BLOCK", "low", []),
    ("undefined-tools", {"tools": None}, LOW, [], None, "BLOCK", "low", []),
    ("undefined-audit", {"audit": None}, LOW, [], None, "BLOCK", "low", []),
    (
        "regulated-needs-data02",
        {"data": ["regulated"]},
        HIGH,
        [],
        None,
        "BLOCK",
        "high",
        ["DATA-02"],
    ),
    (
        "regulated-with-data02",
        {"data": ["regulated"]},
        [*HIGH, "DATA-02"],
        [],
        None,
        "APPROVE",
        "high",
        [],
    ),
    (
        "critical-authority",
        {"authority": ["retrieve_secrets"]},
        CRITICAL,
        [],
        None,
        "APPROVE",
        "critical",
        [],
    ),
    (
        "critical-missing-ir01",
        {"authority": ["retrieve_secrets"]},
        CRITICAL[:-1],
        [],
        None,
        "BLOCK",
        "critical",
        ["IR-01"],
    ),
]


@pytest.mark.parametrize(
    ("overrides", "results", "acceptances", "as_of", "decision", "tier", "blocking"),
    [r[1:] for r in RULES],
    ids=[r[0] for r in RULES],
)
def test_policy_rules_through_the_database(
    run,
    tmp_path: Path,
    overrides,
    results,
    acceptances,
    as_of,  # type: ignore[no-untyped-def]
    decision: str,
    tier: str,
    blocking: list[str],
) -> None:
    if isinstance(results, dict):
        result_list = [{"check": c, "status": s} for c, s in results.items()]
    else:
        result_list = factories.results(list(results))
    deployment = {k: v for k, v in overrides.items() if v is not None}
    doc = factories.assessment_doc(
        results_list=result_list, acceptances=acceptances, deployment_overrides=deployment
    )
    for key in [k for k, v in overrides.items() if v is None]:
        del doc["deployment"][key]  # a missing key is undefined
    assert run("import", str(factories.write(tmp_path / "a", doc))).exit_code == 0
    args = ["gate", "test-agent", "--json"] + (["--as-of", as_of] if as_of else [])
    result = run(*args)
    data = json.loads(result.output)
    assert (data["decision"], data["tier"]) == (decision, tier)
    assert result.exit_code == EXIT[decision]
    assert sorted(b["check"] for b in data["blockers"] if b["check"]) == sorted(blocking)
