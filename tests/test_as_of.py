"""One meaning of "as of": every command decides as DOMAIN.md says, at any date.

A property test draws portfolios (several assessments per deployment, acceptances, evidence
dates) and dates, and checks `gate`, `deployments` and the posture summary against the plain
rendering of DOMAIN.md's rules in `tests/domain_reference.py`. The other tests are the cases
that once gave a wrong decision or a misleading report, each on SQLite and PostgreSQL.
"""

from __future__ import annotations

import io
import itertools
import json
import zipfile
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from compliance.dates import today
from compliance.reports import model
from compliance.store import catalog_store, db
from tests import domain_reference as ref
from tests import factories

EXIT = {"APPROVE": 0, "CONDITIONAL": 3, "BLOCK": 4}
counter = itertools.count()
START = date(2025, 1, 1)
LAST = date(2026, 11, 20)  # no assessment or record dated after it (all before the import day)

# Profiles of every tier, with and without the fields that add requirements.
PROFILES: list[dict[str, Any]] = [
    {},
    {"data": ["confidential"]},
    {"tools": [{"name": "crm", "access": "write"}]},
    {"customer_facing": True},
    {"authority": ["initiate_payments"], "data": ["internal", "regulated"]},
    {"tools": [{"name": "k8s", "access": "admin"}], "memory": "persistent"},
    {"memory": None, "agents": None},
    {"agents": ["planner-agent"]},
]
CHECKS = sorted(set().union(*ref.REQUIRED.values()) | {"DATA-02", "SEC-02", "SEC-03", "SEC-04"})


def days(lo: date, hi: date) -> st.SearchStrategy[date]:
    return st.integers(0, (hi - lo).days).map(lambda n: lo + timedelta(days=n))


@st.composite
def assessment_docs(draw: st.DrawFn, dep_id: str, profile: dict[str, Any]) -> list[dict[str, Any]]:
    """One to three assessments of one deployment, in import order."""
    docs = []
    deployment = factories.deployment(id=dep_id, **profile)
    for key in [k for k in profile if profile[k] is None]:
        del deployment[key]  # a missing key is not stated
    t = ref.tier(deployment)
    # Mostly passing, so that every decision is reached.
    statuses = st.sampled_from(["pass"] * 6 + ["fail", "partial", "not_applicable", None])
    for n in range(draw(st.integers(1, 3))):
        on = draw(days(START, LAST))
        results = []
        acceptances = []
        for check in CHECKS:
            status = draw(statuses)
            if status is None:
                continue
            r: dict[str, Any] = {"check": check, "status": status, "notes": f"{check} tested"}
            if status == "pass" and draw(st.booleans()):
                collected = draw(st.one_of(st.none(), days(START, LAST)))
                r["evidence"] = [
                    {
                        "url": f"https://example.com/{check}",
                        **({"collected": collected} if collected else {}),
                    }
                ]
            results.append(r)
            if status in ("fail", "partial") and draw(st.booleans()):
                approved = draw(days(on - timedelta(days=30), min(LAST, on + timedelta(days=60))))
                length = draw(st.integers(0, ref.ACCEPTANCE_DAYS[t]))
                acceptances.append(
                    {
                        "check": check,
                        "approved_by": "ciso@example.com",
                        "justification": "Fix planned",
                        "approved_on": approved,
                        "expires": approved + timedelta(days=length),
                    }
                )
        docs.append(
            {
                "deployment": deployment,
                "assessment": {
                    "id": f"A{n}",
                    "date": on,
                    "assessor": "assessor@example.com",
                    "results": results,
                    "acceptances": acceptances,
                },
            }
        )
    return docs


portfolios = st.lists(st.sampled_from(range(len(PROFILES))), min_size=1, max_size=3).flatmap(
    lambda picks: st.tuples(
        *(assessment_docs(f"dep-{i}", PROFILES[p]) for i, p in enumerate(picks))
    )
)


def _fresh(portfolio: Any) -> list[list[dict[str, Any]]]:
    """The drawn portfolio under deployment ids of its own: every example of a test shares one
    database, and must not meet an earlier example's deployments."""
    n = next(counter)
    out = []
    for docs in portfolio:
        renamed = []
        for doc in docs:
            doc = dict(doc, deployment=dict(doc["deployment"]))
            doc["deployment"]["id"] = f"{doc['deployment']['id']}-x{n}"
            renamed.append(doc)
        out.append(renamed)
    return out


def _write(folder: Path, docs: list[dict[str, Any]]) -> None:
    for n, doc in enumerate(docs):
        factories.write(folder / doc["deployment"]["id"], doc, f"a{n:02d}.yaml")


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(portfolio=portfolios, as_of=days(date(2024, 12, 1), date(2027, 12, 31)))
def test_every_command_decides_as_domain_md_says(
    run, tmp_path: Path, portfolio, as_of: date
) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / f"p{next(counter)}"
    portfolio = _fresh(portfolio)
    for docs in portfolio:
        _write(folder, docs)
    imported = run("import", str(folder))
    assert imported.exit_code == 0, imported.output
    listed = {
        r["deployment"]: r
        for r in json.loads(run("deployments", "--as-of", as_of.isoformat(), "--json").output)
    }
    for docs in portfolio:
        dep = docs[0]["deployment"]["id"]
        doc = ref.in_force(docs, as_of)
        result = run("gate", dep, "--as-of", as_of.isoformat(), "--json")
        if doc is None:  # nothing assessed on or before D: no decision, an error
            assert result.exit_code == 1 and "no assessment dated on or before" in result.output
            assert listed[dep]["status"] == "not_assessed" and listed[dep]["decision"] is None
            continue
        want = ref.decide(doc, as_of)
        got = json.loads(result.output)
        assert result.exit_code == EXIT[want.decision], (want, got)
        assert (got["assessment"], got["tier"], got["decision"]) == (
            doc["assessment"]["id"],
            want.tier,
            want.decision,
        )
        assert {b["check"] for b in got["blockers"] if b["check"]} == want.blocking
        assert sum(1 for b in got["blockers"] if not b["check"]) == want.other_blockers
        assert {c["check"] for c in got["conditions"] if c["check"]} == want.conditional
        assert any(c["kind"] == "reassessment" for c in got["conditions"]) == want.overdue
        assert {n["check"] for n in got["not_applicable"]} == want.not_applicable
        assert (listed[dep]["assessment"], listed[dep]["decision"]) == (
            doc["assessment"]["id"],
            want.decision,
        )


@settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(portfolio=portfolios, as_of=days(date(2025, 6, 1), date(2027, 6, 30)))
def test_the_summary_decides_at_its_date_and_trends_tell_the_truth(
    run, engine, tmp_path: Path, portfolio, as_of: date
) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / f"s{next(counter)}"
    portfolio = _fresh(portfolio)
    for docs in portfolio:
        _write(folder, docs)
    assert run("import", str(folder)).exit_code == 0
    with db.transaction(engine) as s:
        report = model.summary_report(s, as_of, catalog_store.current_policy(s))
    rows = {r["deployment"]: r for r in report["deployments"]}
    mine = {docs[0]["deployment"]["id"] for docs in portfolio}
    assert report["as_of"] == as_of.isoformat()
    unassessed = {d["deployment"] for d in report["not_assessed"]}
    assert report["totals"]["not_assessed"] >= len(unassessed & mine)
    for docs in portfolio:
        dep = docs[0]["deployment"]["id"]
        doc = ref.in_force(docs, as_of)
        if doc is None:
            assert dep in unassessed and dep not in rows
            continue
        assert rows[dep]["decision"] == ref.decide(doc, as_of).decision
        earlier = [
            d for d in docs if d is not doc and d["assessment"]["date"] <= doc["assessment"]["date"]
        ]
        previous = (
            ref.in_force(
                [
                    d
                    for d in docs
                    if d is not doc
                    and (d["assessment"]["date"], docs.index(d))
                    < (doc["assessment"]["date"], docs.index(doc))
                ],
                doc["assessment"]["date"],
            )
            if earlier
            else None
        )
        if previous is None:
            assert rows[dep]["previous"] is None
        else:
            # "Before" is the decision in force then: the previous assessment as of its own date.
            p = rows[dep]["previous"]
            assert p["assessment"] == previous["assessment"]["id"]
            assert p["decision"] == ref.decide(previous, previous["assessment"]["date"]).decision


# The cases that once gave a wrong answer ------------------------------------------------------


def _import(run, tmp_path: Path, doc: dict[str, Any], name: str = "a") -> Any:  # type: ignore[no-untyped-def]
    return run("import", str(factories.write(tmp_path / name, doc)))


def test_without_as_of_gate_decides_as_of_today_and_expired_acceptances_count_for_nothing(
    run, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    results = factories.results(factories.LOW_REQUIRED)
    results[4]["status"] = "fail"  # TOOL-01
    doc = factories.assessment_doc(
        results_list=results,
        date="2024-06-01",
        acceptances=[
            {
                "check": "TOOL-01",
                "approved_by": "ciso@example.com",
                "justification": "Q3 fix",
                "expires": "2024-08-31",
            }
        ],
    )
    assert _import(run, tmp_path, doc).exit_code == 0
    then = run("gate", "test-agent", "--as-of", "2024-06-01", "--json")
    assert then.exit_code == 3
    now = run("gate", "test-agent", "--json")
    data = json.loads(now.output)
    assert now.exit_code == 4 and data["as_of"] == today().isoformat()
    assert "expired on 2024-08-31 and covers nothing" in data["blockers"][0]["reason"]
    human = run("gate", "test-agent")
    assert f"decided as of {today().isoformat()}" in human.output


def test_future_dates_are_refused_at_import(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    tomorrow = (today() + timedelta(days=1)).isoformat()
    cases = {
        "assessment.date": factories.assessment_doc(date="9999-12-31"),
        "assessment.results[0].evidence[0].collected": factories.assessment_doc(
            results_list=[
                {
                    "check": "GOV-01",
                    "status": "pass",
                    "evidence": [{"url": "https://example.com/x", "collected": "2099-01-01"}],
                }
            ]
        ),
        "assessment.acceptances[0].approved_on": factories.assessment_doc(
            acceptances=[
                {
                    "check": "GOV-01",
                    "approved_by": "ciso@example.com",
                    "justification": "x",
                    "approved_on": tomorrow,
                    "expires": "2099-01-01",
                }
            ]
        ),
    }
    for place, doc in cases.items():
        result = _import(
            run, tmp_path, doc, place.replace(".", "_").replace("[", "").replace("]", "")
        )
        assert result.exit_code == 1, place
        assert f"{place}: " in result.output and "after the day of import" in result.output
    expired_before = factories.assessment_doc(
        acceptances=[
            {
                "check": "GOV-01",
                "approved_by": "ciso@example.com",
                "justification": "x",
                "approved_on": "2026-11-01",
                "expires": "2026-10-01",
            }
        ]
    )
    result = _import(run, tmp_path, expired_before, "order")
    assert result.exit_code == 1 and "before the acceptance was approved" in result.output


def test_a_future_dated_row_is_not_in_force_and_no_decision_before_the_first(
    run, engine, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    good = factories.assessment_doc(id="real", results_list=factories.results(["GOV-01"]))
    assert _import(run, tmp_path, good).exit_code == 0
    passing = factories.assessment_doc(id="forged", date="2026-11-19")
    assert _import(run, tmp_path, passing, "b").exit_code == 0
    # Someone moves the passing assessment into the future in SQL: at any real date it does not
    # exist yet, so the real BLOCK stands.
    with engine.begin() as conn:
        conn.execute(text("UPDATE assessments SET assessed_on = '9999-12-31' WHERE key = 'forged'"))
    assert run("gate", "test-agent", "--as-of", "2026-11-30").exit_code == 4
    assert run("gate", "test-agent").exit_code == 4
    listed = json.loads(run("deployments", "--as-of", "2026-11-30", "--json").output)
    assert listed[0]["assessment"] == "real"
    old = run("gate", "test-agent", "--as-of", "2000-01-01")
    assert old.exit_code == 1
    assert "no assessment dated on or before 2000-01-01" in old.output
    named = run("gate", "test-agent", "--assessment", "forged", "--as-of", "2026-11-30")
    assert named.exit_code == 1 and "after the as-of date" in named.output
    listed = json.loads(run("deployments", "--as-of", "2000-01-01", "--json").output)
    assert listed[0]["status"] == "not_assessed" and listed[0]["decision"] is None
    human = run("deployments", "--as-of", "2000-01-01")
    assert "not assessed as of 2000-01-01" in human.output


def test_evidence_without_a_collection_date_gets_none_invented(run, engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "a"
    (folder / "evidence").mkdir(parents=True)
    (folder / "evidence" / "log.csv").write_text("ts,call\n")
    results = factories.results(factories.LOW_REQUIRED)
    results[6]["evidence"] = [
        {"file": "evidence/log.csv"},
        {"url": "https://siem.example.com/saved-search/1"},
    ]
    doc = factories.assessment_doc(results_list=results, date="2026-08-01")
    assert run("import", str(factories.write(folder, doc))).exit_code == 0
    with engine.begin() as conn:
        rows = conn.execute(text("SELECT collected_on, received_at FROM evidence")).all()
    assert [r[0] for r in rows] == [None, None] and all(r[1] is not None for r in rows)
    # Not stated: the age counts from the assessment date. AUD-01 allows 90 days.
    fresh = json.loads(run("gate", "test-agent", "--as-of", "2026-10-30", "--json").output)
    assert fresh["decision"] == "APPROVE"
    stale = json.loads(run("gate", "test-agent", "--as-of", "2026-10-31", "--json").output)
    assert stale["decision"] == "CONDITIONAL"
    assert stale["conditions"][0]["check"] == "AUD-01"
    assert stale["conditions"][0]["kind"] == "stale_evidence"
    out = tmp_path / "gap.html"
    assert (
        run(
            "report",
            "gap",
            "test-agent",
            "--as-of",
            "2026-10-31",
            "--format",
            "html",
            "-o",
            str(out),
        ).exit_code
        == 0
    )
    html = out.read_text()
    assert "collection date not stated" in html


def test_reports_and_packs_say_when_they_were_made(run, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1796083200")  # 2026-12-01T00:00:00Z
    assert _import(run, tmp_path, factories.assessment_doc()).exit_code == 0
    html = tmp_path / "s.html"
    assert (
        run(
            "report", "summary", "--as-of", "2026-11-30", "--format", "html", "-o", str(html)
        ).exit_code
        == 0
    )
    text_ = html.read_text()
    assert "As of 2026-11-30" in text_ and "generated 2026-12-01T00:00:00Z" in text_
    packs = [tmp_path / "p1.zip", tmp_path / "p2.zip"]
    for p in packs:
        assert run("pack", "--as-of", "2026-11-30", "--include-drafts", "-o", str(p)).exit_code == 0
    assert packs[0].read_bytes() == packs[1].read_bytes()
    with zipfile.ZipFile(packs[0]) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        assert manifest["generated_at"] == "2026-12-01T00:00:00Z"
        assert manifest["as_of"] == "2026-11-30"
        assert {i.date_time for i in zf.infolist()} == {(2026, 12, 1, 0, 0, 0)}
        summary = zf.read(next(n for n in zf.namelist() if n.endswith("summary.xlsx")))
    # The summary in the pack is the one `report summary --as-of` of the pack's date gives.
    alone = tmp_path / "summary.xlsx"
    assert (
        run(
            "report", "summary", "--as-of", "2026-11-30", "--format", "xlsx", "-o", str(alone)
        ).exit_code
        == 0
    )
    assert alone.read_bytes() == summary
    assert io.BytesIO(summary).getbuffer().nbytes > 0


def test_oscal_exports_an_expired_acceptance_as_an_open_risk(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    results = factories.results(factories.LOW_REQUIRED)
    results[4]["status"] = "fail"
    doc = factories.assessment_doc(
        results_list=results,
        acceptances=[
            {
                "check": "TOOL-01",
                "approved_by": "ciso@example.com",
                "justification": "Fix lands in Q1",
                "approved_on": "2026-11-20",
                "expires": "2026-12-15",
            }
        ],
    )
    assert _import(run, tmp_path, doc).exit_code == 0
    for as_of, status, state in (
        ("2026-11-30", "deviation-approved", "active"),
        ("2026-12-20", "open", "expired"),
    ):
        out = tmp_path / f"{as_of}.json"
        assert run("export", "oscal", "test-agent", "--as-of", as_of, "-o", str(out)).exit_code == 0
        risk = json.loads(out.read_text())["assessment-results"]["results"][0]["risks"][0]
        assert risk["status"] == status
        props = {p["name"]: p["value"] for p in risk["props"]}
        assert props["acceptance-state"] == state and props["approved-on"] == "2026-11-20"
        for entry in risk["risk-log"]["entries"]:
            assert entry.get("end", entry["start"]) >= entry["start"]
        assert risk["risk-log"]["entries"][0]["start"] == "2026-11-20T00:00:00Z"
