"""The audit chain covers the data (issue 13, findings 2 and 3): an assessment changed, deleted or
written in SQL is named by `audit verify`; re-importing its file restores a draft and refuses to
hide a finalized one; deleting or rewriting events is caught by the data check or by an anchor;
the audit table only grows unless its triggers are dropped first."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.exc import DBAPIError

from compliance.store import audit, db, integrity
from compliance.store.models import AuditEvent
from tests.conftest import Cli
from tests.tamper import audit_sql, before_guards, drop_guards, restore_guards, sql

EXAMPLES = Path(__file__).parent.parent / "examples"
PAYMENTS_Q4 = EXAMPLES / "payments-recon-agent" / "2026-Q4.yaml"
SUBJECT = "payments-recon-agent/2026-Q4"
HEAD = re.compile(r"OK: (\d+) events, head ([0-9a-f]{64}), chain intact")


def _head(run: Cli) -> str:
    out = run("audit", "verify")
    assert out.exit_code == 0, out.output
    m = HEAD.search(out.output)
    assert m, out.output
    return f"{m.group(1)}:{m.group(2)}"


@pytest.fixture
def payments(run: Cli) -> Cli:
    """payments-recon-agent 2026-Q4 imported alone: BLOCK (IDN-02 fails, its acceptance expired)."""
    result = run("import", str(PAYMENTS_Q4))
    assert result.exit_code == 0, result.output
    assert run("gate", "payments-recon-agent", "--as-of", "2026-11-20").exit_code == 4
    return run


def test_every_data_event_records_the_state_it_left(payments: Cli, engine: Engine) -> None:
    assert payments("assessment", "finalize", "payments-recon-agent", "2026-Q4").exit_code == 0
    log = json.loads(payments("audit", "log", "--json", "--limit", "0").output)
    finalize, imported = log[0], log[1]
    assert (finalize["action"], imported["action"]) == ("assessment.finalize", "assessment.import")
    for event in (finalize, imported):
        assert event["detail"]["state_form"] == integrity.FORM
        assert re.fullmatch(r"[0-9a-f]{64}", event["detail"]["state"])
    assert finalize["detail"]["state"] != imported["detail"]["state"]  # the state column changed
    with db.transaction(engine) as s:
        [aid] = integrity.subjects_of(s)
        assert integrity.state_hashes(s)[aid] == finalize["detail"]["state"]
        form = integrity.state_forms(s)[aid]
    # The canonical form: stable keys instead of ids, children ordered by position.
    assert form["form"] == "compliance-state/1" and form["columns"]["deployment_id"] == (
        "payments-recon-agent"
    )
    assert "id" not in form["columns"]
    results = form["children"]["results"]
    assert [r["columns"]["position"] for r in results] == list(range(len(results)))
    assert re.fullmatch(r"[A-Z]+-\d\d@[0-9a-f]{64}", results[0]["columns"]["check_id"])
    assert any("evidence" in r.get("children", {}) for r in results)
    assert all(
        re.fullmatch(r"[0-9a-f]{64}", c["columns"]["catalog_id"])
        for c in form["children"]["assessment_catalogs"]
    )


def test_sql_edit_of_a_finalized_assessment_is_tampering_and_reimport_does_not_hide_it(
    payments: Cli, engine: Engine
) -> None:
    """Finding 2: UPDATE results SET status='pass' after finalize turned BLOCK into APPROVE,
    `audit verify` said OK and re-importing the original file said `unchanged`."""
    run = payments
    assert run("assessment", "finalize", "payments-recon-agent", "2026-Q4").exit_code == 0
    sql(engine, "UPDATE results SET status = 'pass'")
    # The attack works on the rows: BLOCK becomes CONDITIONAL (only the stale log sample is left).
    assert run("gate", "payments-recon-agent", "--as-of", "2026-11-20").exit_code == 3
    verify = run("audit", "verify")
    assert verify.exit_code == 1, verify.output
    assert f"tampered: {SUBJECT}: finalized, yet its rows were changed" in verify.output
    again = run("import", str(PAYMENTS_Q4))
    assert again.exit_code == 1, again.output
    assert "unchanged" not in again.output
    assert "is finalized and its rows were changed outside the tool" in again.output
    assert "it is tampered" in again.output and "Nothing was written" in again.output
    # The tampered rows are kept as evidence, and still named.
    assert run("gate", "payments-recon-agent", "--as-of", "2026-11-20").exit_code == 3
    assert "tampered: " + SUBJECT in run("audit", "verify").output


def test_acceptance_moved_to_2099_is_named(payments: Cli, engine: Engine) -> None:
    """Finding 2: moving an acceptance's expiry turned BLOCK into CONDITIONAL unseen."""
    run = payments
    assert run("assessment", "finalize", "payments-recon-agent", "2026-Q4").exit_code == 0
    sql(engine, "UPDATE risk_acceptances SET expires = '2099-12-31'")
    # The policy's limit (90 days at the critical tier) already refuses to count it ...
    assert run("gate", "payments-recon-agent", "--as-of", "2026-11-20").exit_code == 4
    verify = run("audit", "verify")
    assert verify.exit_code == 1 and f"tampered: {SUBJECT}" in verify.output
    # ... and an edit within the limit flips the decision, and is named all the same.
    sql(engine, "UPDATE risk_acceptances SET approved_on = '2026-11-01', expires = '2026-12-31'")
    assert run("gate", "payments-recon-agent", "--as-of", "2026-11-20").exit_code == 3
    verify = run("audit", "verify")
    assert verify.exit_code == 1 and f"tampered: {SUBJECT}" in verify.output


def test_sql_edit_of_a_draft_is_named_and_reimport_restores_it(
    payments: Cli, engine: Engine
) -> None:
    run = payments
    sql(engine, "UPDATE results SET status = 'pass'")
    assert run("gate", "payments-recon-agent", "--as-of", "2026-11-20").exit_code == 3
    verify = run("audit", "verify")
    assert verify.exit_code == 1
    assert f"changed: {SUBJECT}: changed outside the tool" in verify.output
    with db.transaction(engine) as s:
        [found] = integrity.state_hashes(s).values()
    again = run("import", str(PAYMENTS_Q4))
    assert again.exit_code == 0, again.output
    assert f"restored   {PAYMENTS_Q4}" in again.output and "1 restored" in again.output
    assert run("gate", "payments-recon-agent", "--as-of", "2026-11-20").exit_code == 4
    assert run("audit", "verify").exit_code == 0
    # The chain keeps the hash of the rows that were found changed.
    last = json.loads(run("audit", "log", "--json", "--limit", "1").output)[0]
    assert last["detail"]["found_state"] == found
    # Finalizing a changed draft is refused: it would seal the change.
    sql(engine, "UPDATE results SET notes = 'edited'")
    refused = run("assessment", "finalize", "payments-recon-agent", "2026-Q4")
    assert refused.exit_code == 1 and "changed outside the tool" in refused.output


def test_changing_the_state_column_or_deleting_or_inserting_assessments_is_named(
    run: Cli, engine: Engine, tmp_path: Path
) -> None:
    assert run("import", str(EXAMPLES)).exit_code == 0
    assert run("assessment", "finalize", "payments-recon-agent", "2026-Q3").exit_code == 0
    # Unfinalize in SQL, then import a changed file: refused as tampered, not replaced.
    sql(
        engine,
        "UPDATE assessments SET state = 'draft' WHERE key = '2026-Q3' AND deployment_id ="
        " (SELECT id FROM deployments WHERE key = 'payments-recon-agent')",
    )
    changed = tmp_path / "payments"
    changed.mkdir()
    source = (EXAMPLES / "payments-recon-agent" / "2026-Q3.yaml").read_text()
    (changed / "2026-Q3.yaml").write_text(source.replace("status: fail", "status: pass"))
    shutil.copytree(EXAMPLES / "payments-recon-agent" / "evidence", changed / "evidence")
    refused = run("import", str(changed / "2026-Q3.yaml"))
    assert refused.exit_code == 1 and "it is tampered" in refused.output, refused.output
    # Delete one assessment's rows, copy another in under a new key.
    kb = "(SELECT a.id FROM assessments a JOIN deployments d ON d.id = a.deployment_id WHERE d.key = 'kb-search-assistant')"
    sql(
        engine,
        f"DELETE FROM evidence WHERE result_id IN (SELECT id FROM results WHERE assessment_id IN {kb})",
        f"DELETE FROM results WHERE assessment_id IN {kb}",
        f"DELETE FROM safety_scores WHERE assessment_id IN {kb}",
        f"DELETE FROM risk_acceptances WHERE assessment_id IN {kb}",
        f"DELETE FROM assessment_catalogs WHERE assessment_id IN {kb}",
        f"DELETE FROM assessment_documents WHERE assessment_id IN {kb}",
        f"DELETE FROM assessments WHERE id IN {kb}",
    )
    sql(
        engine,
        "UPDATE assessments SET key = '2027-Q1' WHERE key = '2026-Q4' AND deployment_id ="
        " (SELECT id FROM deployments WHERE key = 'platform-ops-agent')",
    )
    out = run("audit", "verify")
    assert out.exit_code == 1
    assert "tampered: payments-recon-agent/2026-Q3:" in out.output
    assert "deleted: kb-search-assistant/2026-Q4: recorded by event" in out.output
    assert "deleted: platform-ops-agent/2026-Q4" in out.output
    assert "unrecorded: platform-ops-agent/2027-Q1: no event records this assessment" in out.output
    assert "FAILED: 4 finding(s)" in out.output


def test_deleting_the_tail_or_every_event_is_caught(payments: Cli, engine: Engine) -> None:
    """Finding 3: deleting the last N events passed; deleting every event gave
    "OK: 0 events, chain intact" with assessments in the database."""
    run = payments
    anchor = _head(run)
    assert run("assessment", "finalize", "payments-recon-agent", "2026-Q4").exit_code == 0
    later = _head(run)
    assert run("audit", "verify", "--expect", anchor).exit_code == 0  # extends the anchor
    # Delete the last event (the finalize): the rows say final, the chain says draft.
    audit_sql(engine, "DELETE FROM audit_events WHERE id = (SELECT max(id) FROM audit_events)")
    out = run("audit", "verify")
    assert out.exit_code == 1 and f"tampered: {SUBJECT}" in out.output
    # With the anchor taken after it, even a consistent deletion is caught.
    anchored = run("audit", "verify", "--expect", later)
    assert anchored.exit_code == 1 and "events were deleted" in anchored.output
    # Every event gone: every assessment and catalog is named.
    audit_sql(engine, "DELETE FROM audit_events")
    out = run("audit", "verify")
    assert out.exit_code == 1 and "OK" not in out.output
    assert f"unrecorded: {SUBJECT}: no event records this assessment" in out.output
    assert "unrecorded: catalog framework:nist-csf-2.0" in out.output
    assert "0 events, head " + audit.GENESIS in out.output


def test_a_recomputed_chain_with_forged_actors_is_caught_by_the_anchor(
    payments: Cli, engine: Engine
) -> None:
    """Finding 3: a rewrite that recomputed the chain with forged actors passed. Without an
    anchor nothing can tell (the rewrite is self-consistent); with one it fails."""
    run = payments
    anchor = _head(run)
    drop_guards(engine)
    with db.transaction(engine) as s:
        prev = audit.GENESIS
        for ev in s.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars():
            ev.actor = "forged"
            ev.prev_hash = prev
            ev.hash = audit.event_hash(
                prev, ev.occurred_at, ev.actor, ev.action, ev.subject, ev.detail
            )
            prev = ev.hash
    restore_guards(engine)
    assert run("audit", "verify").exit_code == 0  # self-consistent: only an anchor tells
    out = run("audit", "verify", "--expect", anchor)
    assert out.exit_code == 1 and "the history up to the anchor was rewritten" in out.output
    assert run("audit", "verify", "--expect", "nonsense").exit_code == 1


def test_verify_prints_the_head_and_the_data_head(payments: Cli, engine: Engine) -> None:
    out = payments("audit", "verify")
    m = HEAD.search(out.output)
    assert m, out.output
    with db.transaction(engine) as s:
        events = s.execute(select(AuditEvent.hash).order_by(AuditEvent.id)).scalars().all()
    assert int(m.group(1)) == len(events) and m.group(2) == events[-1]
    assert f"data head {len(events)}:{events[-1]}" in out.output


def test_the_audit_table_only_grows(db_url: str, engine: Engine) -> None:
    """Migration 0003: UPDATE, DELETE (and TRUNCATE on PostgreSQL) are rejected; `audit verify`
    reports missing or disabled triggers; a downgrade removes them, an upgrade puts them back."""
    statements = ["UPDATE audit_events SET actor = 'x'", "DELETE FROM audit_events"]
    if engine.dialect.name == "postgresql":
        statements.append("TRUNCATE audit_events")
    for statement in statements:
        with pytest.raises(DBAPIError, match="append-only"):
            sql(engine, statement)
    with db.transaction(engine) as s:
        assert audit.missing_guards(s) == []
    if engine.dialect.name == "postgresql":
        sql(engine, "ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only")
        with db.transaction(engine) as s:
            assert audit.missing_guards(s) == ["audit_events_append_only"]
    db.downgrade(engine, before_guards())
    with db.transaction(engine) as s:
        assert len(audit.missing_guards(s)) == 2
    sql(engine, "UPDATE audit_events SET actor = actor")  # no trigger before 0003
    db.upgrade(engine)
    with db.transaction(engine) as s:
        assert audit.missing_guards(s) == []
    drop_guards(engine)
    out = Cli(db_url, Path("unused"))("audit", "verify")
    assert out.exit_code == 1
    assert (
        "guard: audit_events: the triggers that reject UPDATE and DELETE are missing" in out.output
    )


def test_baseline_covers_assessments_imported_before_content_hashes(
    payments: Cli, engine: Engine
) -> None:
    run = payments
    # What an older version recorded: the import event without a state.
    drop_guards(engine)
    with db.transaction(engine) as s:
        prev = audit.GENESIS
        for ev in s.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars():
            detail = json.loads(ev.detail)
            detail.pop("state", None)
            detail.pop("state_form", None)
            ev.detail = audit.canonical(detail)
            ev.prev_hash = prev
            ev.hash = audit.event_hash(
                prev, ev.occurred_at, ev.actor, ev.action, ev.subject, ev.detail
            )
            prev = ev.hash
    restore_guards(engine)
    out = run("audit", "verify")
    assert out.exit_code == 1 and f"uncovered: {SUBJECT}" in out.output
    assert run("import", str(PAYMENTS_Q4)).output.startswith("unchanged")
    base = run("audit", "baseline")
    assert base.exit_code == 0 and f"baseline   {SUBJECT}" in base.output
    assert run("audit", "verify").exit_code == 0
    assert "0 assessment(s)" in run("audit", "baseline").output
