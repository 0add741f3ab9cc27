"""The set-based SQL roll-up agrees with the rule stated in Python, for any results."""

from __future__ import annotations

import itertools
from collections import defaultdict
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compliance.catalogs import load_catalog_set
from compliance.evidence import EvidenceStore
from compliance.importer.core import import_paths
from compliance.rollup import DIRECT_STATUS, framework_score, rollup_status
from compliance.store import db, queries
from compliance.store.rollup import control_statuses, group_scores, portfolio_matrix
from tests import factories

CS = load_catalog_set()
assert CS.checks is not None
CHECK_IDS = [c.id for c in CS.checks.doc.checks]
MAPPED_TO: dict[str, list[str]] = defaultdict(list)
for _check in CS.checks.doc.checks:
    for _m in _check.mappings:
        MAPPED_TO[_m.control].append(_check.id)
ALL_CONTROLS = [
    f"{fid}/{c.ref}"
    for fid, cat in sorted(CS.catalogs.items())
    for c in cat.doc.controls
    if c.assessable
]

status_or_none = st.sampled_from([None, "pass", "fail", "partial", "not_applicable"])


def test_rollup_rule_table() -> None:
    assert rollup_status([]) == "unmapped"
    assert rollup_status(["not_applicable", "not_applicable"]) == "not_applicable"
    assert rollup_status(["pass", "fail", None]) == "gap"
    assert rollup_status(["pass", "not_applicable"]) == "met"
    assert rollup_status([None, None, "not_applicable"]) == "not_assessed"
    assert rollup_status(["pass", None]) == "partial"
    assert rollup_status(["pass", "partial"]) == "partial"
    assert framework_score(["met", "partial", "gap", "not_applicable", "unmapped"]) == 0.5
    assert framework_score(["unmapped"]) is None


@given(st.lists(status_or_none, max_size=8))
def test_rollup_properties(statuses: list[str | None]) -> None:
    s = rollup_status(statuses)
    considered = [x for x in statuses if x != "not_applicable"]
    if "fail" in considered:
        assert s == "gap"
    if s == "met":
        assert considered and set(considered) == {"pass"}
    # Order never matters, and adding a not_applicable result never changes a status.
    assert rollup_status(list(reversed(statuses))) == s
    if statuses:
        assert rollup_status([*statuses, "not_applicable"]) == s


counter = itertools.count()


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    check_statuses=st.lists(status_or_none, min_size=len(CHECK_IDS), max_size=len(CHECK_IDS)),
    direct=st.dictionaries(
        st.sampled_from(ALL_CONTROLS), st.sampled_from(list(DIRECT_STATUS)), max_size=6
    ),
)
def test_sql_rollup_matches_python(engine, tmp_path: Path, check_statuses, direct) -> None:  # type: ignore[no-untyped-def]
    n = next(counter)
    results = [
        {"check": c, "status": s} for c, s in zip(CHECK_IDS, check_statuses, strict=True) if s
    ]
    results += [{"control": ref, "status": s} for ref, s in direct.items()]
    doc = factories.assessment_doc(results_list=results, deployment_overrides={"id": f"prop-{n}"})
    path = factories.write(tmp_path / f"p{n}", doc)
    with db.transaction(engine) as s:
        import_paths(s, EvidenceStore(tmp_path / "ev"), [path])
    by_check = dict(zip(CHECK_IDS, check_statuses, strict=True))
    with db.transaction(engine) as s:
        a = queries.assessment(s, queries.deployment(s, f"prop-{n}"))
        got = {f"{r.framework}/{r.ref}": (r.status, r.source) for r in control_statuses(s, [a.id])}
    assert set(got) == set(ALL_CONTROLS)
    for ref in ALL_CONTROLS:
        if ref in direct:
            expected = (DIRECT_STATUS[direct[ref]], "direct")
        else:
            expected = (rollup_status(by_check[c] for c in MAPPED_TO.get(ref, [])), "rollup")
        assert got[ref] == expected, ref
    # The aggregates the summary reads agree with scoring the matrix control by control: per
    # group of controls (here: by framework and by the first character of the ref) and overall.
    with db.transaction(engine) as s:
        statuses = control_statuses(s, [a.id])
        keys = sorted({(c.framework, c.ref[:1]) for c in statuses})
        groups = {c.control_id: keys.index((c.framework, c.ref[:1])) for c in statuses}
        rows = group_scores(s, [a.id], groups)
        matrix = portfolio_matrix(s)
    by_group: dict[int, list[str]] = defaultdict(list)
    for c in statuses:
        by_group[groups[c.control_id]].append(c.status)
    sql = {g: (pts / (2 * counted) if counted else None) for _aid, g, pts, counted in rows}
    assert {g: framework_score(v) for g, v in by_group.items() if g in sql} == sql
    assert all(framework_score(v) is None for g, v in by_group.items() if g not in sql)
    # The portfolio matrix holds this assessment's cells as the per-assessment query does (it
    # is its deployment's only assessment, so its latest).
    mine = [r for r in matrix.rows if r[0] == a.id]
    assert {(r[1], r[2], r[3]) for r in mine} == {
        (c.control_id, c.status, c.source) for c in statuses
    }
