"""The set-based SQL roll-up agrees with the rule stated in Python, for any results."""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import date
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compliance.catalogs import links, load_catalog_set, nature_of, sufficiencies
from compliance.evidence import EvidenceStore
from compliance.importer.core import import_paths
from compliance.rollup import DIRECT_STATUS, Mapped, coverage, framework_score, rollup_status
from compliance.store import catalog_store, db, queries
from compliance.store.rollup import control_statuses, group_scores, portfolio_matrix
from tests import factories

ORG = Path(__file__).parent / "data" / "rollup-org"
CS = load_catalog_set([ORG])
assert CS.checks is not None
CHECK_IDS = [c.id for c in CS.checks.doc.checks]
MAPPED_TO: dict[str, list[tuple[str, str]]] = defaultdict(list)
for _link in links(CS):
    MAPPED_TO[_link.control].append((_link.check, _link.relationship))
SUFFICIENT: dict[str, list[list[str]]] = defaultdict(list)
for _f, _w, _s in sufficiencies(CS):
    SUFFICIENT[_s.control].append(list(_s.checks))
ALL_CONTROLS = [
    f"{fid}/{c.ref}"
    for fid, cat in sorted(CS.catalogs.items())
    for c in cat.doc.controls
    if c.assessable
]

status_or_none = st.sampled_from([None, "pass", "fail", "partial", "not_applicable"])


def m(status: str | None, relationship: str = "subset", check: str = "X-1") -> Mapped:
    return Mapped(check, relationship, status)


def test_rollup_rule_table() -> None:
    assert rollup_status([]) == "unmapped"
    assert rollup_status([m("not_applicable"), m("not_applicable")]) == "not_applicable"
    assert rollup_status([m("pass"), m("fail"), m(None)]) == "gap"
    assert rollup_status([m(None), m(None), m("not_applicable")]) == "not_assessed"
    # One narrow check never makes a broad control met.
    assert rollup_status([m("pass", "subset")]) == "partial"
    assert rollup_status([m("pass", "intersects"), m("pass", "subset")]) == "partial"
    # A check asking all of the control does.
    assert rollup_status([m("pass", "equal")]) == "met"
    assert rollup_status([m("pass", "superset"), m("pass", "subset")]) == "met"
    assert rollup_status([m("pass", "superset"), m("not_applicable", "subset")]) == "met"
    # ... but only when nothing else mapped falls short.
    assert rollup_status([m("pass", "equal"), m("partial", "subset")]) == "partial"
    assert rollup_status([m("pass", "equal"), m(None, "subset")]) == "partial"
    # A threat is met when every check mitigating it passed.
    threat = [m("pass", "mitigates", "A-1"), m("pass", "mitigates", "B-1")]
    assert rollup_status(threat, "threat") == "met"
    assert rollup_status([*threat, m(None, "mitigates", "C-1")], "threat") == "partial"
    # Declared sufficient sets of partial checks.
    pair = [m("pass", "subset", "A-1"), m("pass", "intersects", "B-1")]
    assert rollup_status(pair, sufficient=[{"A-1", "B-1"}]) == "met"
    assert rollup_status(pair, sufficient=[{"C-1", "D-1"}]) == "partial"
    assert (
        rollup_status(
            [m("pass", "subset", "A-1"), m("not_applicable", "subset", "B-1")],
            sufficient=[{"A-1", "B-1"}],
        )
        == "met"
    )
    assert framework_score(["met", "partial", "gap", "not_applicable", "unmapped"]) == 0.5
    assert framework_score(["unmapped"]) is None
    cov = coverage(["met", "partial", "gap", "not_assessed", "not_applicable", "unmapped"])
    assert cov.as_dict() == {"assessable": 6, "mapped": 5, "assessed": 4}
    assert cov.text() == "4 of 6 assessed"


relationships = st.sampled_from(["equal", "subset", "superset", "intersects"])
mapped_lists = st.lists(
    st.builds(Mapped, st.sampled_from(["A-1", "B-1", "C-1", "D-1"]), relationships, status_or_none),
    max_size=6,
    unique_by=lambda x: x.check,
)


@given(mapped_lists, st.sampled_from(["requirement", "threat"]))
def test_rollup_properties(mapped: list[Mapped], nature: str) -> None:
    if nature == "threat":
        mapped = [Mapped(x.check, "mitigates", x.status) for x in mapped]
    s = rollup_status(mapped, nature)
    considered = [x for x in mapped if x.status != "not_applicable"]
    if any(x.status == "fail" for x in considered):
        assert s == "gap"
    if s == "met":
        assert considered and {x.status for x in considered} == {"pass"}
        assert nature == "threat" or any(
            x.relationship in ("equal", "superset") for x in considered
        )
    if nature == "requirement" and all(x.relationship in ("subset", "intersects") for x in mapped):
        assert s != "met"  # partial checks alone never make a control met
    # Order never matters, and adding a not_applicable result never changes a status.
    assert rollup_status(list(reversed(mapped)), nature) == s
    if mapped:
        extra = Mapped(
            "Z-9", "subset" if nature == "requirement" else "mitigates", "not_applicable"
        )
        assert rollup_status([*mapped, extra], nature) == s


def expected_status(ref: str, by_check: dict[str, str | None]) -> str:
    mapped = [Mapped(c, rel, by_check[c]) for c, rel in MAPPED_TO.get(ref, [])]
    return rollup_status(mapped, nature_of(CS, ref), SUFFICIENT.get(ref, []))


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
        {"check": c, "status": s, "notes": "drawn"}
        for c, s in zip(CHECK_IDS, check_statuses, strict=True)
        if s
    ]
    results += [{"control": ref, "status": s, "notes": "drawn"} for ref, s in direct.items()]
    doc = factories.assessment_doc(results_list=results, deployment_overrides={"id": f"prop-{n}"})
    path = factories.write(tmp_path / f"p{n}", doc)
    with db.transaction(engine) as s:
        catalog_store.sync(s, [ORG])
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
            expected = (expected_status(ref, by_check), "rollup")
        assert got[ref] == expected, ref
    # The aggregates the summary reads agree with scoring the matrix control by control: per
    # group of controls (here: by framework and by the first character of the ref) and overall.
    with db.transaction(engine) as s:
        statuses = control_statuses(s, [a.id])
        keys = sorted({(c.framework, c.ref[:1]) for c in statuses})
        groups = {c.control_id: keys.index((c.framework, c.ref[:1])) for c in statuses}
        rows = group_scores(s, [a.id], groups)
        matrix = portfolio_matrix(s, date(2026, 11, 30))
    by_group: dict[int, list[str]] = defaultdict(list)
    for c in statuses:
        by_group[groups[c.control_id]].append(c.status)
    sql = {g: (pts / (2 * counted) if counted else None) for _aid, g, pts, counted, _m, _a in rows}
    assert {g: framework_score(v) for g, v in by_group.items() if g in sql} == sql
    assert all(framework_score(v) is None for g, v in by_group.items() if g not in sql)
    sql_cov = {g: (mapped, assessed) for _aid, g, _p, _c, mapped, assessed in rows}
    for g, v in by_group.items():
        cov = coverage(v)
        assert sql_cov.get(g, (0, 0)) == (cov.mapped, cov.assessed), g
    # The portfolio matrix holds this assessment's cells as the per-assessment query does (it
    # is its deployment's only assessment, so its latest).
    mine = [r for r in matrix.rows if r[0] == a.id]
    assert {(r[1], r[2], r[3]) for r in mine} == {
        (c.control_id, c.status, c.source) for c in statuses
    }
