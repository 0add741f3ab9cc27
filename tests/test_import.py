"""Import semantics: idempotence, drafts, finalized assessments, evidence store."""

from __future__ import annotations

import hashlib
import json
import stat
from pathlib import Path

import pytest
from sqlalchemy import func, select

from compliance.documents import MAX_DEPTH, parse_document
from compliance.errors import ComplianceError, InvalidInput
from compliance.evidence import EvidenceStore, FileDigest, digest
from compliance.store import db
from compliance.store.models import Assessment, AuditEvent, Evidence, Result
from tests import factories


def _count(engine, model) -> int:  # type: ignore[no-untyped-def]
    with db.transaction(engine) as s:
        return int(s.execute(select(func.count()).select_from(model)).scalar_one())


def _doc_with_evidence(folder: Path) -> dict:  # type: ignore[type-arg]
    (folder / "evidence").mkdir(parents=True, exist_ok=True)
    (folder / "evidence" / "manifest.json").write_text('{"tools": ["search-api"]}')
    results = factories.results(factories.LOW_REQUIRED)
    results[3]["evidence"] = [
        {"file": "evidence/manifest.json", "description": "Gateway export"},
        {"url": "https://wiki.example.com/agent/tools"},
    ]
    return factories.assessment_doc(results_list=results)


def test_import_stores_evidence_content_addressed(run, engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "a"
    path = factories.write(folder, _doc_with_evidence(folder))
    result = run("import", str(path))
    assert result.exit_code == 0, result.output
    content = (folder / "evidence" / "manifest.json").read_bytes()
    sha = hashlib.sha256(content).hexdigest()
    stored = run.evidence / sha[:2] / sha[2:]
    assert stored.read_bytes() == content
    with db.transaction(engine) as s:
        rows = s.execute(select(Evidence).order_by(Evidence.position)).scalars().all()
        assert [(e.kind, e.sha256, e.size, e.media_type) for e in rows] == [
            ("file", sha, len(content), "application/json"),
            ("url", None, None, None),
        ]
        assert rows[1].url == "https://wiki.example.com/agent/tools"
        # No collection date was stated: none is invented; the time of receipt is kept.
        assert rows[0].collected_on is None and rows[0].received_at is not None


def test_reimport_unchanged_changes_nothing(run, engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "a"
    path = factories.write(folder, _doc_with_evidence(folder))
    assert run("import", str(path)).exit_code == 0
    events = _count(engine, AuditEvent)
    with db.transaction(engine) as s:
        before = s.execute(
            select(Assessment.id, Assessment.fingerprint, Assessment.imported_at)
        ).all()
    again = run("import", str(path))
    assert again.exit_code == 0 and "1 unchanged" in again.output
    with db.transaction(engine) as s:
        assert (
            s.execute(select(Assessment.id, Assessment.fingerprint, Assessment.imported_at)).all()
            == before
        )
    assert _count(engine, AuditEvent) == events


def test_changed_draft_replaces_old(run, engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    doc = factories.assessment_doc()
    path = factories.write(tmp_path / "a", doc)
    assert run("import", str(path)).exit_code == 0
    doc["assessment"]["results"] = doc["assessment"]["results"][:2]
    doc["assessment"]["results"][0]["status"] = "fail"
    factories.write(tmp_path / "a", doc)
    result = run("import", str(path))
    assert result.exit_code == 0 and "replaced" in result.output
    assert _count(engine, Assessment) == 1
    assert _count(engine, Result) == 2
    gate = json.loads(run("gate", "test-agent", "--json").output)
    assert gate["decision"] == "BLOCK"


def test_changed_evidence_content_counts_as_change(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "a"
    path = factories.write(folder, _doc_with_evidence(folder))
    assert run("import", str(path)).exit_code == 0
    (folder / "evidence" / "manifest.json").write_text('{"tools": ["search-api", "new-tool"]}')
    assert "1 replaced" in run("import", str(path)).output


def test_finalized_assessment_is_immutable(run, engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    doc = factories.assessment_doc()
    path = factories.write(tmp_path / "a", doc)
    assert run("import", str(path)).exit_code == 0
    fin = run("assessment", "finalize", "test-agent", "2026-Q4")
    assert fin.exit_code == 0, fin.output
    assert "unchanged" in run("import", str(path)).output  # same content is fine
    doc["assessment"]["results"][0]["status"] = "fail"
    factories.write(tmp_path / "a", doc)
    refused = run("import", str(path))
    assert refused.exit_code == 1
    assert (
        "assessment.id: assessment 2026-Q4 of deployment test-agent is finalized" in refused.output
    )
    assert json.loads(run("gate", "test-agent", "--json").output)["decision"] == "APPROVE"
    assert run("assessment", "finalize", "test-agent", "2026-Q4").exit_code == 1
    with db.transaction(engine) as s:
        a = s.execute(select(Assessment)).scalar_one()
        assert a.state == "final" and a.finalized_by


def test_new_assessment_updates_profile_and_keeps_history(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    q3 = factories.assessment_doc(id="2026-Q3", date="2026-08-20")
    q4 = factories.assessment_doc(
        id="2026-Q4",
        date="2026-11-20",
        deployment_overrides={"name": "Renamed agent", "customer_facing": True},
    )
    assert (
        run(
            "import",
            str(factories.write(tmp_path / "q3", q3)),
            str(factories.write(tmp_path / "q4", q4)),
        ).exit_code
        == 0
    )
    listing = json.loads(run("assessment", "list", "test-agent", "--json").output)
    assert [a["assessment"] for a in listing] == ["2026-Q4", "2026-Q3"]
    assert json.loads(run("gate", "test-agent", "--json").output)["tier"] == "high"
    assert (
        json.loads(run("gate", "test-agent", "--assessment", "2026-Q3", "--json").output)["tier"]
        == "low"
    )
    deps = json.loads(run("deployments", "--json").output)
    assert deps[0]["name"] == "Renamed agent"


def test_same_assessment_twice_in_one_import_is_refused(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    doc = factories.assessment_doc()
    a = factories.write(tmp_path / "a", doc)
    b = factories.write(tmp_path / "b", doc, name="copy.json")
    result = run("import", str(a), str(b))
    assert result.exit_code == 1 and "is also in" in result.output


def test_folder_import_skips_other_documents(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    factories.write(tmp_path / "dep", factories.assessment_doc())
    (tmp_path / "notes.yaml").write_text("- just\n- a list\n")
    result = run("import", str(tmp_path))
    assert result.exit_code == 0
    assert "skipped" in result.output and "1 imported" in result.output


def test_gaps_json_lists_every_control(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    results = factories.results(factories.LOW_REQUIRED)
    results.append(
        {"control": "nist-csf-2.0/GV.OC-01", "status": "partial", "notes": "Mission doc is old"}
    )
    doc = factories.assessment_doc(results_list=results)
    assert run("import", str(factories.write(tmp_path / "a", doc))).exit_code == 0
    data = json.loads(run("gaps", "test-agent", "--json").output)
    fws = {f["id"]: f for f in data["frameworks"]}
    assert {k: len(v["controls"]) for k, v in fws.items()} == {
        "csa-maestro": 62,
        "nist-ai-rmf-1.0": 72,
        "nist-csf-2.0": 106,
        "owasp-asi-2026": 10,
    }
    oc01 = next(c for c in fws["nist-csf-2.0"]["controls"] if c["ref"] == "GV.OC-01")
    assert oc01["status"] == "partial" and oc01["source"] == "direct"
    assert oc01["direct"] == {"status": "partial", "notes": "Mission doc is old"}
    for fw in fws.values():
        assert sum(fw["counts"].values()) == len(fw["controls"])
        cov = fw["coverage"]
        assert cov["assessable"] == len(fw["controls"])
        assert 0 <= cov["assessed"] <= cov["mapped"] <= cov["assessable"]
        assert 0 <= cov["share"] <= 1
        for fn in fw["functions"]:
            assert set(fn) == {"id", "score", "coverage"}
    only = json.loads(run("gaps", "test-agent", "--framework", "owasp-asi-2026", "--json").output)
    assert [f["id"] for f in only["frameworks"]] == ["owasp-asi-2026"]
    assert run("gaps", "test-agent", "--framework", "nope").exit_code == 1


# A file whose fingerprint was computed before the importer was made faster. Fingerprints are
# stored and compared on every later import, so the same content must keep the same value.
FINGERPRINT_DOC = {
    "deployment": {
        "id": "fingerprint-agent",
        "name": "  Fingerprint agent ",
        "owner": "owner@example.com",
        "model": {
            "name": "example-model",
            "version": "2026-05",
            "safety_scores": [{"benchmark": "example-safety-suite", "version": "3.1", "score": 1}],
        },
        "tools": [{"name": "search-api", "access": "read"}],
        "autonomy": "human_in_loop",
        "customer_facing": False,
    },
    "assessment": {
        "id": "2026-Q4",
        "date": "2026-11-20",
        "assessor": "assessor@example.com",
        "results": [
            {
                "check": "GOV-01",
                "status": "pass",
                "notes": "Revue signée — ok",
                "evidence": [
                    {"file": "evidence/log.txt", "description": "export"},
                    {"url": "https://wiki.example.com/gov-01", "collected": "2026-11-01"},
                ],
            },
            {"check": "GOV-02", "status": "fail"},
        ],
        "acceptances": [
            {
                "check": "GOV-02",
                "approved_by": "ciso@example.com",
                "justification": "later",
                "expires": "2027-01-31",
            }
        ],
    },
}
FINGERPRINT = "50ee44d63706fde00b1cee4076a0ca2623b5abec2e309cd1f2e19054472a5edd"


def test_fingerprint_of_known_content_does_not_change(run, engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "a"
    (folder / "evidence").mkdir(parents=True)
    (folder / "evidence" / "log.txt").write_bytes(b"line one\nline two\n")
    path = factories.write(folder, FINGERPRINT_DOC, "assessment.json")
    result = run("import", str(path))
    assert result.exit_code == 0, result.output
    with db.transaction(engine) as s:
        assert s.execute(select(Assessment.fingerprint)).scalar_one() == FINGERPRINT


def _refusal(text: str, name: str) -> tuple[str, str] | None:
    try:
        parse_document(text.encode(), name)
    except InvalidInput as exc:
        (problem,) = exc.problems
        return problem.location, problem.message
    return None


@pytest.mark.parametrize(
    ("levels", "inner", "refused"),
    [
        (MAX_DEPTH - 1, "1", False),  # the number is at the deepest level allowed
        (MAX_DEPTH, "1", True),
        (MAX_DEPTH, "", False),  # the innermost list is empty: nothing below it
        (MAX_DEPTH + 1, "", True),
    ],
)
def test_json_nesting_limit_is_exact(levels: int, inner: str, refused: bool) -> None:
    found = _refusal("[" * levels + inner + "]" * levels, "deep.json")
    if refused:
        assert found == ("", f"document refused: nested deeper than {MAX_DEPTH} levels")
    else:
        assert found is None


@pytest.mark.parametrize(
    ("name", "text", "location"),
    [
        ("a.json", '{"a": ["x", "y\\u0000"]}', "a[1]"),
        ("a.json", '{"a": "\\\\u0000"}', None),  # an escaped backslash, then "u0000": no NUL
        ("a.yaml", 'a:\n  b: "x\\0y"\n', "a.b"),
        ("a.yaml", "a: [1, '\\0']\n", None),  # single quotes: a backslash and a zero
        ("a.yaml", 'a: "\\U00000000"\n', "a"),
    ],
)
def test_nul_in_text_is_refused_where_it_is(name: str, text: str, location: str | None) -> None:
    found = _refusal(text, name)
    if location is None:
        assert found is None
    else:
        assert found == (location, "text contains a NUL character, which cannot be stored")


def test_duplicate_json_key_is_named() -> None:
    assert _refusal('{"a": 1, "b": {"c": 2, "c": 3}}', "a.json") == (
        "",
        "invalid JSON: duplicate key 'c' in an object",
    )


def test_evidence_store_keeps_one_read_only_copy(tmp_path: Path) -> None:
    source = tmp_path / "export.csv"
    source.write_bytes(b"a,b\n1,2\n")
    store = EvidenceStore(tmp_path / "store")
    found = digest(source)
    assert store.put(source, found, sync=False) is True
    assert store.put(source, found) is False  # already there
    blob = store.path_for(found.sha256)
    assert blob.read_bytes() == b"a,b\n1,2\n"
    assert stat.S_IMODE(blob.stat().st_mode) == 0o444
    assert [p.name for p in blob.parent.iterdir()] == [blob.name]  # no temporary file left
    # A file that no longer hashes as it did is refused, and leaves nothing behind.
    other = FileDigest("ab" + "0" * 62, found.size, found.media_type)
    with pytest.raises(ComplianceError, match="changed while it was being imported"):
        store.put(source, other)
    assert list((tmp_path / "store" / "ab").iterdir()) == []
