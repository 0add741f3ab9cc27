"""Every policy rule, as pure functions and through the CLI on both databases."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest
import yaml

from compliance.catalogs import DataFile
from compliance.gate import (
    Acceptance,
    CheckResult,
    Profile,
    Score,
    Tool,
    acceptance_problem,
    decide,
    tier_of,
)
from compliance.policy import parse_policy
from compliance.resources import mappings_dir
from tests import examples_expected, factories

POLICY = parse_policy(
    DataFile(
        mappings_dir() / "policy.yaml",
        "policy.yaml",
        (mappings_dir() / "policy.yaml").read_bytes(),
        "builtin",
    )
).policy
DATA = Path(__file__).parent / "data"
AS_OF = date(2026, 11, 20)
LOW = ["GOV-01", "GOV-02", "GOV-03", "MOD-01", "TOOL-01", "DATA-01", "AUD-01"]
MEDIUM = [*LOW, "IDN-01", "IDN-03", "TOOL-02", "SUP-01", "SUP-02", "DATA-03", "GOV-05"]
HIGH = [
    *MEDIUM,
    "IDN-02",
    "TOOL-03",
    "RUN-01",
    "RUN-03",
    "RUN-04",
    "RUN-05",
    "RUN-06",
    "REV-01",
    "REV-02",
    "AUD-02",
    "SEC-01",
    "GOV-04",
]
CRITICAL = [*HIGH, "RUN-02", "RUN-07", "MOD-02", "IR-01"]
GOOD_SCORE = [Score("suite", "1", 0.95)]


def profile(**kw) -> Profile:  # type: ignore[no-untyped-def]
    base = dict(
        tools=(Tool("search", "read"),),
        data=("internal",),
        authority=(),
        autonomy="human_in_loop",
        customer_facing=False,
        audit_logging="siem://x",
        memory="none",
        agents=(),
    )
    base.update(kw)
    return Profile(**base)  # type: ignore[arg-type]


def passing(checks: list[str]) -> dict[str, str | CheckResult]:
    return dict.fromkeys(checks, "pass")


def test_policy_file_is_version_2() -> None:
    assert POLICY.schema_ == "compliance-policy/2" and POLICY.version == "2.0.0"


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
        ({"tools": (Tool("t", "write"),)}, HIGH),
        ({"authority": ("initiate_payments",)}, CRITICAL),
    ],
)
def test_required_checks_are_cumulative(kw, required: list[str]) -> None:  # type: ignore[no-untyped-def]
    d = decide(profile(**kw), passing(required), [], GOOD_SCORE, POLICY, AS_OF)
    assert set(d.required_checks) == set(required)
    assert d.decision == "APPROVE", d.blockers


def test_requirement_reasons_name_the_tier_they_come_from() -> None:
    d = decide(profile(authority=("initiate_payments",)), {}, [], GOOD_SCORE, POLICY, AS_OF)
    reasons = {b.check: b.reason for b in d.blockers}
    assert "required at the critical tier" in reasons["IR-01"]
    assert "required from the high tier up" in reasons["REV-01"]
    assert "required from the low tier up" in reasons["GOV-01"]


@pytest.mark.parametrize(
    ("kw", "check", "why"),
    [
        ({"data": ("regulated",)}, "DATA-02", "regulated data is reachable"),
        ({"tools": (Tool("sh", "execute"),)}, "SEC-02", "execute or admin access"),
        ({"tools": (Tool("k8s", "admin"),)}, "SEC-02", "execute or admin access"),
        ({"memory": "persistent"}, "SEC-03", "keeps memory"),
        ({"memory": None}, "SEC-03", "does not say"),
        ({"agents": ("planner",)}, "SEC-04", "exchanges messages with other agents"),
        ({"agents": None}, "SEC-04", "does not say"),
        ({"customer_facing": True}, "GOV-06", "customer-facing"),
    ],
)
def test_required_whatever_the_tier_when_the_profile_says_so(kw, check: str, why: str) -> None:  # type: ignore[no-untyped-def]
    p = profile(**kw)
    tier = tier_of(p, POLICY)[0]
    base = {"low": LOW, "medium": MEDIUM, "high": HIGH, "critical": CRITICAL}[tier]
    d = decide(p, passing(base), [], GOOD_SCORE, POLICY, AS_OF)
    assert d.decision == "BLOCK" and [b.check for b in d.blockers] == [check]
    assert why in d.blockers[0].reason
    assert decide(p, passing([*base, check]), [], GOOD_SCORE, POLICY, AS_OF).decision == "APPROVE"


@pytest.mark.parametrize(
    ("kw", "check"),
    [({"memory": "session"}, "SEC-03"), ({"memory": "none"}, "SEC-03"), ({"agents": ()}, "SEC-04")],
)
def test_stated_memory_and_no_agents_need_no_extra_check(kw, check: str) -> None:  # type: ignore[no-untyped-def]
    assert check not in decide(profile(**kw), {}, [], GOOD_SCORE, POLICY, AS_OF).required_checks


def test_all_required_passing_approves_and_one_missing_blocks() -> None:
    p = profile(tools=(Tool("crm", "write"),))
    results = passing(HIGH)
    assert decide(p, results, [], GOOD_SCORE, POLICY, AS_OF).decision == "APPROVE"
    del results["REV-01"]
    d = decide(p, results, [], GOOD_SCORE, POLICY, AS_OF)
    assert d.decision == "BLOCK"
    assert [b.check for b in d.blockers] == ["REV-01"]
    assert "no result recorded for required check REV-01" in d.blockers[0].reason


@pytest.mark.parametrize("status", ["fail", "partial"])
def test_fail_or_partial_required_check_blocks(status: str) -> None:
    results = passing(LOW) | {"AUD-01": status}
    d = decide(profile(), results, [], GOOD_SCORE, POLICY, AS_OF)
    assert d.decision == "BLOCK" and d.blockers[0].check == "AUD-01"
    verb = "failed" if status == "fail" else "is only partially met"
    assert f"required check AUD-01 {verb}" in d.blockers[0].reason


def test_not_applicable_with_justification_is_listed_not_blocking() -> None:
    results = passing(LOW) | {"GOV-02": CheckResult("not_applicable", "No workflow of its own")}
    d = decide(profile(), results, [], GOOD_SCORE, POLICY, AS_OF)
    assert d.decision == "APPROVE"
    assert [(n.check, n.justification) for n in d.not_applicable] == [
        ("GOV-02", "No workflow of its own")
    ]


def test_not_applicable_without_justification_counts_as_no_result() -> None:
    results = passing(LOW) | {"GOV-02": CheckResult("not_applicable", "  ")}
    d = decide(profile(), results, [], GOOD_SCORE, POLICY, AS_OF)
    assert d.decision == "BLOCK" and "without a justification" in d.blockers[0].reason


@pytest.mark.parametrize("check", ["GOV-01", "TOOL-01", "DATA-01", "AUD-01"])
def test_checks_that_are_never_not_applicable(check: str) -> None:
    results = passing(LOW) | {check: CheckResult("not_applicable", "We think so")}
    d = decide(profile(), results, [], GOOD_SCORE, POLICY, AS_OF)
    assert d.decision == "BLOCK" and d.blockers[0].check == check
    assert (
        "does not allow" in d.blockers[0].reason and "counts as no result" in d.blockers[0].reason
    )
    assert not d.not_applicable


def test_failing_optional_check_does_not_block() -> None:
    results = passing(LOW) | {"SEC-02": "fail"}
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
    results = passing(LOW) | {"TOOL-01": "fail"}
    acc = [
        Acceptance(
            "TOOL-01", "ciso@example.com", "Inventory lands next sprint", expires, date(2026, 11, 1)
        )
    ]
    d = decide(profile(), results, acc, GOOD_SCORE, POLICY, AS_OF, AS_OF, "a@example.com")
    assert d.decision == decision
    if decision == "CONDITIONAL":
        assert d.conditions[0].check == "TOOL-01" and d.conditions[0].expires == expires
        assert "ciso@example.com" in d.conditions[0].reason
    else:
        assert "expired on 2026-11-19 and covers nothing" in d.blockers[0].reason


def test_acceptance_as_of_a_later_date_expires() -> None:
    results = passing(LOW) | {"TOOL-01": "partial"}
    acc = [Acceptance("TOOL-01", "ciso@example.com", "why", date(2026, 12, 31))]
    assert (
        decide(profile(), results, acc, GOOD_SCORE, POLICY, date(2026, 12, 31), AS_OF).decision
        == "CONDITIONAL"
    )
    late = decide(profile(), results, acc, GOOD_SCORE, POLICY, date(2027, 1, 1), AS_OF)
    assert late.decision == "BLOCK"


def test_acceptance_approved_after_the_as_of_date_covers_nothing_then() -> None:
    results = passing(LOW) | {"TOOL-01": "fail"}
    acc = [Acceptance("TOOL-01", "ciso@example.com", "why", date(2027, 1, 31), date(2026, 12, 1))]
    early = decide(profile(), results, acc, GOOD_SCORE, POLICY, date(2026, 11, 25), AS_OF)
    assert early.decision == "BLOCK" and "after 2026-11-25" in early.blockers[0].reason
    assert decide(
        profile(), results, acc, GOOD_SCORE, POLICY, date(2026, 12, 2), AS_OF
    ).decision == ("CONDITIONAL")


@pytest.mark.parametrize(
    ("kw", "days", "decision"),
    [
        ({"authority": ("initiate_payments",)}, 90, "CONDITIONAL"),
        ({"authority": ("initiate_payments",)}, 91, "BLOCK"),
        ({"tools": (Tool("crm", "write"),)}, 180, "CONDITIONAL"),
        ({"tools": (Tool("crm", "write"),)}, 181, "BLOCK"),
        ({"data": ("confidential",)}, 365, "CONDITIONAL"),
        ({}, 366, "BLOCK"),
    ],
)
def test_acceptance_duration_is_limited_by_tier(kw, days: int, decision: str) -> None:  # type: ignore[no-untyped-def]
    p = profile(**kw)
    tier = tier_of(p, POLICY)[0]
    base = {"low": LOW, "medium": MEDIUM, "high": HIGH, "critical": CRITICAL}[tier]
    results = passing(base) | {"GOV-01": "fail"}
    acc = [Acceptance("GOV-01", "ciso@example.com", "why", AS_OF + timedelta(days=days), AS_OF)]
    d = decide(p, results, acc, GOOD_SCORE, POLICY, AS_OF, AS_OF, "a@example.com")
    assert d.decision == decision
    if decision == "BLOCK":
        assert f"lasts {days} days" in d.blockers[0].reason and f"at the {tier} tier" in (
            d.blockers[0].reason
        )
        problem = acceptance_problem(acc[0], tier, POLICY, AS_OF, "a@example.com")
        assert problem is not None and "at most" in problem


def test_the_assessor_cannot_accept_the_risk() -> None:
    results = passing(LOW) | {"GOV-01": "fail"}
    acc = [Acceptance("GOV-01", "A@Example.com ", "why", date(2026, 12, 31))]
    d = decide(profile(), results, acc, GOOD_SCORE, POLICY, AS_OF, AS_OF, "a@example.com")
    assert d.decision == "BLOCK" and "approved by the assessor" in d.blockers[0].reason


def test_approvers_named_by_the_policy() -> None:
    policy = POLICY.model_copy(
        update={
            "tiers": [
                t.model_copy(update={"approvers": ["ciso@example.com"]}) if t.id == "low" else t
                for t in POLICY.tiers
            ]
        }
    )
    results = passing(LOW) | {"GOV-01": "fail"}
    ok = [Acceptance("GOV-01", "CISO@example.com", "why", date(2026, 12, 31))]
    other = [Acceptance("GOV-01", "cto@example.com", "why", date(2026, 12, 31))]
    assert decide(profile(), results, ok, GOOD_SCORE, policy, AS_OF).decision == "CONDITIONAL"
    d = decide(profile(), results, other, GOOD_SCORE, policy, AS_OF)
    assert d.decision == "BLOCK" and "not among those the policy lets approve" in (
        d.blockers[0].reason
    )


def test_acceptance_for_another_check_covers_nothing() -> None:
    results = passing(LOW) | {"TOOL-01": "fail"}
    acc = [Acceptance("GOV-01", "ciso@example.com", "why", date(2027, 1, 1))]
    assert decide(profile(), results, acc, GOOD_SCORE, POLICY, AS_OF).decision == "BLOCK"


def _with_evidence(check: str, *collected: date | None) -> dict[str, str | CheckResult]:
    return passing(LOW) | {check: CheckResult("pass", None, tuple(collected))}


def test_stale_evidence_is_a_condition() -> None:
    # AUD-01 evidence may be 90 days old; the as-of date is 91 days after collection.
    results = _with_evidence("AUD-01", date(2026, 8, 21))
    d = decide(profile(), results, [], GOOD_SCORE, POLICY, date(2026, 11, 20))
    assert d.decision == "CONDITIONAL"
    (c,) = d.conditions
    assert (c.check, c.kind) == ("AUD-01", "stale_evidence") and "91 days old" in c.reason
    fresh = _with_evidence("AUD-01", date(2026, 8, 22))
    assert decide(profile(), fresh, [], GOOD_SCORE, POLICY, date(2026, 11, 20)).decision == (
        "APPROVE"
    )


def test_one_fresh_item_keeps_a_pass_fresh_and_unstated_dates_count_from_the_assessment() -> None:
    mixed = _with_evidence("AUD-01", date(2025, 1, 1), date(2026, 11, 1))
    assert decide(profile(), mixed, [], GOOD_SCORE, POLICY, AS_OF).decision == "APPROVE"
    unstated = _with_evidence("AUD-01", None)
    later = AS_OF + timedelta(days=91)
    d = decide(profile(), unstated, [], GOOD_SCORE, POLICY, later, AS_OF)
    assert [c.kind for c in d.conditions] == ["stale_evidence"]


def test_policy_can_make_stale_evidence_and_overdue_reassessment_blockers() -> None:
    assert POLICY.evidence_freshness is not None
    strict = POLICY.model_copy(
        update={
            "evidence_freshness": POLICY.evidence_freshness.model_copy(
                update={"severity": "blocker"}
            ),
            "reassessment": POLICY.reassessment.model_copy(update={"severity": "blocker"}),
        }
    )
    stale = _with_evidence("AUD-01", date(2025, 1, 1))
    d = decide(profile(), stale, [], GOOD_SCORE, strict, AS_OF)
    assert d.decision == "BLOCK" and d.blockers[0].kind == "stale_evidence"
    overdue = decide(profile(), passing(LOW), [], GOOD_SCORE, strict, date(2027, 11, 21), AS_OF)
    assert overdue.decision == "BLOCK" and overdue.blockers[0].kind == "reassessment"


@pytest.mark.parametrize(
    ("kw", "days"),
    [({}, 365), ({"data": ("confidential",)}, 365), ({"customer_facing": True}, 180)],
)
def test_reassessment_overdue_is_a_condition(kw, days: int) -> None:  # type: ignore[no-untyped-def]
    p = profile(**kw)
    tier = tier_of(p, POLICY)[0]
    base = {"low": LOW, "medium": MEDIUM, "high": [*HIGH, "GOV-06"]}[tier]
    due = AS_OF + timedelta(days=days)
    on_time = decide(p, passing(base), [], GOOD_SCORE, POLICY, due, AS_OF)
    assert on_time.decision == "APPROVE" and on_time.reassessment_due == due
    late = decide(p, passing(base), [], GOOD_SCORE, POLICY, due + timedelta(days=1), AS_OF)
    assert late.decision == "CONDITIONAL"
    (c,) = late.conditions
    assert c.check is None and c.kind == "reassessment" and due.isoformat() in c.reason


@pytest.mark.parametrize(
    ("tier_kw", "score", "decision"),
    [
        ({}, 0.6, "APPROVE"),
        ({}, 0.59, "BLOCK"),
        ({"data": ("confidential",)}, 0.7, "APPROVE"),
        ({"data": ("confidential",)}, 0.69, "BLOCK"),
        ({"tools": (Tool("crm", "write"),)}, 0.8, "APPROVE"),
        ({"tools": (Tool("crm", "write"),)}, 0.79, "BLOCK"),
        ({"authority": ("initiate_payments",)}, 0.9, "APPROVE"),
        ({"authority": ("initiate_payments",)}, 0.89, "BLOCK"),
    ],
)
def test_safety_score_floor_per_tier(tier_kw, score: float, decision: str) -> None:  # type: ignore[no-untyped-def]
    p = profile(**tier_kw)
    d = decide(p, passing(CRITICAL), [], [Score("suite", "1", score)], POLICY, AS_OF)
    assert d.decision == decision
    if decision == "BLOCK":
        assert "below the" in d.blockers[0].reason and d.blockers[0].check is None


def test_per_benchmark_minimums_replace_the_tier_minimum() -> None:
    policy = POLICY.model_copy(
        update={"benchmark_minimums": {"harm-bench": {"low": 0.3, "high": 0.5}}}
    )
    results = passing(LOW)
    ok = decide(profile(), results, [], [Score("harm-bench", "2", 0.35)], policy, AS_OF)
    assert ok.decision == "APPROVE" and ok.safety_scores[0].minimum == 0.3
    low = decide(profile(), results, [], [Score("harm-bench", "2", 0.29)], policy, AS_OF)
    assert (
        low.decision == "BLOCK" and "minimum of 0.30 set for harm-bench" in low.blockers[0].reason
    )
    # Other benchmarks, and tiers the benchmark has no minimum for, keep the tier's.
    other = decide(profile(), results, [], [Score("suite", "1", 0.35)], policy, AS_OF)
    assert other.decision == "BLOCK" and other.safety_scores[0].minimum == 0.6
    medium = decide(
        profile(data=("confidential",)),
        passing(MEDIUM),
        [],
        [Score("harm-bench", "2", 0.65)],
        policy,
        AS_OF,
    )
    assert medium.decision == "BLOCK" and medium.safety_scores[0].minimum == 0.7


def test_any_low_score_blocks_and_missing_score_blocks() -> None:
    results = passing(LOW)
    scores = [Score("a", "1", 0.99), Score("b", "2", 0.5)]
    assert decide(profile(), results, [], scores, POLICY, AS_OF).decision == "BLOCK"
    d = decide(profile(), results, [], [], POLICY, AS_OF)
    assert d.decision == "BLOCK" and "no safety score is recorded" in d.blockers[0].reason


def test_high_score_never_waives_a_check() -> None:
    results = passing(LOW) | {"GOV-01": "fail"}
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
    d = decide(profile(**kw), passing(CRITICAL), [], GOOD_SCORE, POLICY, AS_OF)
    assert d.decision == "BLOCK"
    assert any(text in b.reason and b.check is None for b in d.blockers)


def test_empty_lists_are_defined() -> None:
    d = decide(profile(tools=(), data=()), passing(LOW), [], GOOD_SCORE, POLICY, AS_OF)
    assert d.decision == "APPROVE"


def test_blockers_and_conditions_are_all_listed() -> None:
    results = passing(LOW) | {"GOV-01": "fail", "GOV-02": "partial"}
    del results["AUD-01"]
    acc = [Acceptance("GOV-02", "ciso@example.com", "why", date(2027, 1, 1))]
    d = decide(profile(tools=None), results, acc, [], POLICY, AS_OF)
    assert d.decision == "BLOCK"
    assert [b.check for b in d.blockers] == [None, None, "GOV-01", "AUD-01"]
    assert [c.check for c in d.conditions] == ["GOV-02"]


def test_a_version_1_policy_still_loads_and_decides() -> None:
    old = DATA / "policy-v1.yaml"
    loaded = parse_policy(DataFile(old, old.name, old.read_bytes(), "organisation")).policy
    assert loaded.schema_ == "compliance-policy/1"
    old_low = ["GOV-01", "GOV-02", "MOD-01", "TOOL-01", "DATA-01", "AUD-01"]
    d = decide(profile(memory=None, agents=None), passing(old_low), [], GOOD_SCORE, loaded, AS_OF)
    assert d.decision == "APPROVE" and d.reassessment_due is None
    # No acceptance limits in the first format: a long acceptance still counts.
    acc = [Acceptance("GOV-01", "a@example.com", "why", date(2030, 1, 1))]
    d = decide(
        profile(),
        passing(old_low) | {"GOV-01": "fail"},
        acc,
        GOOD_SCORE,
        loaded,
        AS_OF,
        AS_OF,
        "a@example.com",
    )
    assert d.decision == "CONDITIONAL"


# Through the CLI and the database -------------------------------------------------------------

EXIT = {"APPROVE": 0, "CONDITIONAL": 3, "BLOCK": 4}


def test_examples_get_the_decision_the_policy_prescribes(run) -> None:  # type: ignore[no-untyped-def]
    """examples/EXPECTED.yaml, through the database: every file imports cleanly in one import;
    each gets its decision as of its own date, and each deployment the decision as of the date
    `make demo` uses."""
    expected = examples_expected.load()
    files = expected["files"]
    assert sorted(e["file"] for e in files) == examples_expected.assessment_files()
    assert {e["tier"] for e in files} == {"low", "medium", "high", "critical"}
    assert {e["decision"] for e in expected["deployments"]} == set(EXIT)

    imported = run("import", str(examples_expected.EXAMPLES))
    assert imported.exit_code == 0, imported.output
    lines = imported.output.splitlines()
    assert sorted(
        Path(line.split(None, 1)[1]).relative_to(examples_expected.EXAMPLES).as_posix()
        for line in lines
        if line.startswith("imported ")
    ) == sorted(e["file"] for e in files), imported.output
    assert [line for line in lines if line.startswith("skipped ")] == [
        f"skipped    {examples_expected.EXAMPLES / 'EXPECTED.yaml'} (not an assessment document)"
    ]

    def gate(deployment: str, *args: str) -> dict:  # type: ignore[type-arg]
        result = run("gate", deployment, *args, "--json")
        data = json.loads(result.output)
        assert result.exit_code == EXIT[data["decision"]], result.output
        return examples_expected.outcome(data)

    for e in files:
        got = gate(e["deployment"], "--assessment", str(e["assessment"]), "--as-of", e["date"])
        assert got == examples_expected.expected(e), e["file"]

    as_of = expected["as_of"]
    for e in expected["deployments"]:
        assert gate(e["deployment"], "--as-of", as_of) == examples_expected.expected(e), e
    portfolio = json.loads(run("deployments", "--as-of", as_of, "--json").output)
    assert {
        (d["deployment"], d["assessment"], d["tier"], d["decision"], d["blockers"], d["conditions"])
        for d in portfolio
    } == {
        (
            e["deployment"],
            str(e["assessment"]),
            e["tier"],
            e["decision"],
            len(e["blockers"]),
            len(e["conditions"]),
        )
        for e in expected["deployments"]
    }


def test_gate_json_contract_and_as_of(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    results = factories.results(LOW)
    results[4]["status"] = "fail"  # TOOL-01
    results[1] = {"check": "GOV-02", "status": "not_applicable", "notes": "No workflow of its own"}
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
    result = run("gate", "test-agent", "--as-of", "2026-11-20", "--json")
    data = json.loads(result.output)
    assert result.exit_code == 3
    assert {
        "deployment",
        "assessment",
        "as_of",
        "tier",
        "tier_reasons",
        "decision",
        "blockers",
        "conditions",
        "not_applicable",
        "safety_scores",
        "required_checks",
        "policy",
    } <= set(data)
    assert data["as_of"] == "2026-11-20" and data["conditions"][0]["expires"] == "2026-12-31"
    assert data["conditions"][0]["check"] == "TOOL-01" and data["conditions"][0]["reason"]
    assert data["not_applicable"] == [
        {"check": "GOV-02", "justification": "No workflow of its own"}
    ]
    assert data["safety_scores"]["minimum"] == 0.6
    assert data["safety_scores"]["scores"][0] == {
        "benchmark": "example-safety-suite",
        "version": "3.1",
        "score": 0.95,
        "minimum": 0.6,
        "below_minimum": False,
    }
    assert data["policy"]["id"] == "baseline-policy" and data["policy"]["version"] == "2.0.0"
    later = run("gate", "test-agent", "--as-of", "2027-01-01", "--json")
    assert later.exit_code == 4
    assert json.loads(later.output)["blockers"][0]["check"] == "TOOL-01"
    human = run("gate", "test-agent", "--as-of", "2026-11-20")
    assert human.exit_code == 3 and "CONDITIONAL" in human.output and "one input" in human.output
    assert "Policy: baseline-policy 2.0.0 (sha256 " in human.output
    assert "decided as of 2026-11-20" in human.output
    assert "GOV-02: No workflow of its own" in human.output


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
    assert run("gate", "test-agent", "--as-of", factories.AS_OF).exit_code == 0
    strict = run("gate", "test-agent", "--as-of", factories.AS_OF, "--policy", str(path), "--json")
    assert strict.exit_code == 4
    assert json.loads(strict.output)["blockers"][0]["check"] == "SEC-01"
    policy["tiers"][0]["requires"].append("NOPE-99")
    path.write_text(yaml.safe_dump(policy))
    bad = run("gate", "test-agent", "--as-of", factories.AS_OF, "--policy", str(path))
    assert bad.exit_code == 1 and "unknown check 'NOPE-99'" in bad.output


def test_gate_errors_exit_1(run) -> None:  # type: ignore[no-untyped-def]
    result = run("gate", "no-such-agent")
    assert result.exit_code == 1 and "unknown deployment 'no-such-agent'" in result.output
    assert run("gate", "x", "--as-of", "tomorrow").exit_code == 2


# Every policy rule once more end to end: imported into each database, decided by `compliance gate`.
HIGH_TOOLS = {"tools": [{"name": "ticketing-api", "access": "write"}]}  # high tier
ACCEPT_TOOL01 = {
    "check": "TOOL-01",
    "approved_by": "ciso@example.com",
    "justification": "Q1",
    "expires": "2026-12-31",
}
EXPIRED_TOOL01 = dict(ACCEPT_TOOL01, expires="2026-11-19", approved_on="2026-10-01")
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
        "never-not-applicable",
        {},
        {
            **dict.fromkeys(LOW, "pass"),
            "AUD-01": ("not_applicable", "Logging is the platform's job"),
        },
        [],
        None,
        "BLOCK",
        "low",
        ["AUD-01"],
    ),
    (
        "stale-evidence",
        {},
        {**dict.fromkeys(LOW, "pass"), "AUD-01": ("pass", "sampled", "2026-07-01")},
        [],
        None,
        "CONDITIONAL",
        "low",
        [],
    ),
    ("reassessment-overdue", {}, LOW, [], "2027-11-21", "CONDITIONAL", "low", []),
    ("before-the-assessment", {}, LOW, [], "2026-11-19", None, None, []),
    (
        "memory-unstated",
        {"memory": None},
        LOW,
        [],
        None,
        "BLOCK",
        "low",
        ["SEC-03"],
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
        result_list = []
        for c, s in results.items():
            status, notes, collected = (
                (s, f"{c} reviewed", None) if isinstance(s, str) else (*s, None)[:3]
            )
            item = {"check": c, "status": status, "notes": notes}
            if collected:
                item["evidence"] = [{"url": f"https://example.com/{c}", "collected": collected}]
            result_list.append(item)
    else:
        result_list = factories.results(list(results))
    deployment = {k: v for k, v in overrides.items() if v is not None}
    doc = factories.assessment_doc(
        results_list=result_list, acceptances=acceptances, deployment_overrides=deployment
    )
    for key in [k for k, v in overrides.items() if v is None]:
        del doc["deployment"][key]  # a missing key is undefined
    assert run("import", str(factories.write(tmp_path / "a", doc))).exit_code == 0
    result = run("gate", "test-agent", "--json", "--as-of", as_of or factories.AS_OF)
    if decision is None:  # no assessment on or before the as-of date: an error, not BLOCK
        assert result.exit_code == 1
        assert "no assessment dated on or before 2026-11-19" in result.output
        return
    data = json.loads(result.output)
    assert (data["decision"], data["tier"]) == (decision, tier)
    assert result.exit_code == EXIT[decision]
    assert sorted(b["check"] for b in data["blockers"] if b["check"]) == sorted(blocking)
