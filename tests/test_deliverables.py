"""Audit-grade deliverables (issue 15): one regression test per defect, and what each reader
needs, read back from the PDFs, HTML, workbooks and packs the demo produces.

The demo's reports (as of 2026-11-30, every deployment, every framework) are rendered once for
the module, on SQLite, from the examples, exactly as `make demo` renders them.
"""

from __future__ import annotations

import html as htmllib
import json
import re
import shutil
import subprocess
import zipfile
from collections.abc import Iterator
from datetime import date
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from pypdf import PdfReader
from sqlalchemy import event, func, select

from compliance.reports import model, render
from compliance.reports.xlsx import write_workbook
from compliance.store import catalog_store, db
from compliance.store.models import Assessment, Deployment, Evidence, Result
from tests.conftest import Cli
from tests.pdfcheck import header_texts, overlaps, page_sizes

EXAMPLES = Path(__file__).parent.parent / "examples"
AS_OF = date(2026, 11, 30)  # the date `make demo` decides at
FRAMEWORKS = ("nist-csf-2.0", "nist-ai-rmf-1.0", "owasp-asi-2026", "csa-maestro")
DEPLOYMENTS = (
    "claims-intake-agent",
    "code-review-agent",
    "hr-helpdesk-agent",
    "kb-search-assistant",
    "meeting-notes-agent",
    "payments-recon-agent",
    "platform-ops-agent",
    "support-chat-agent",
)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> dict[str, Any]:
    """The demo's database and every report it writes: models, PDF, HTML and workbooks."""
    folder = tmp_path_factory.mktemp("demo")
    shutil.copyfile(sqlite_template, folder / "compliance.db")
    url = f"sqlite:///{folder / 'compliance.db'}"
    run = Cli(url, folder / "store")
    assert run("import", str(EXAMPLES)).exit_code == 0
    engine = db.make_engine(url)
    models: dict[str, dict[str, Any]] = {}
    with db.snapshot(engine) as s:
        policy = catalog_store.resolve_policy(s, None)
        models["summary"] = model.summary_report(s, AS_OF, policy)
        models["plan"] = model.plan_report(s, AS_OF, policy)
        for dep in DEPLOYMENTS:
            models[f"gap-{dep}"] = model.gap_report(s, dep, None, AS_OF, policy)
        for fw in FRAMEWORKS:
            models[f"evidence-{fw}"] = model.evidence_report(s, fw, None, AS_OF, None, policy)
        in_force = [a.id for _d, a, _p in model.latest_assessments(s, AS_OF) if a is not None]
        counts = dict(
            evidence=dict(
                s.execute(
                    select(Deployment.key, func.count())
                    .select_from(Evidence)
                    .join(Result, Result.id == Evidence.result_id)
                    .join(Assessment, Assessment.id == Result.assessment_id)
                    .join(Deployment, Deployment.id == Assessment.deployment_id)
                    .where(Assessment.id.in_(in_force))
                    .group_by(Deployment.key)
                ).all()
            )
        )
    engine.dispose()
    pdfs, htmls, books = {}, {}, {}
    for name, report in models.items():
        pdfs[name] = folder / f"{name}.pdf"
        render.render_pdf(report, pdfs[name])
        htmls[name] = render.render_html(report)
        books[name] = folder / f"{name}.xlsx"
        write_workbook(report, books[name])
    return dict(
        run=run,
        folder=folder,
        models=models,
        pdfs=pdfs,
        html=htmls,
        books=books,
        counts=counts,
    )


def pages(path: Path) -> list[str]:
    return [p.extract_text() or "" for p in PdfReader(str(path)).pages]


def text(path: Path) -> str:
    return "\n".join(pages(path))


def flat(value: str) -> str:
    """Text with every run of white space removed: words broken across lines join again."""
    return re.sub(r"\s+", "", value)


def table(ws: Any) -> list[dict[str, Any]]:
    rows = [list(r) for r in ws.iter_rows(values_only=True)]
    return [dict(zip(rows[0], r, strict=False)) for r in rows[1:]]


def facts(ws: Any) -> dict[str, Any]:
    return {r[0]: r[1] for r in ws.iter_rows(values_only=True) if r and r[0] and len(r) > 1}


def section(all_text: str, start: str, end: str) -> str:
    after = all_text.split(start, 1)[1]
    return after.split(end, 1)[0] if end in after else after


# ------------------------------------------------------------------------------------------
# Defect 1: text over text


def test_defect_1_no_two_words_overlap_on_any_page_of_any_demo_report(demo: dict[str, Any]) -> None:
    """Appendix B's long MAESTRO ids ran over the Title column; the heat map's names and column
    heads, the plan's badges: no two words' boxes overlap on any page of any report."""
    found = []
    for name, path in demo["pdfs"].items():
        found += [f"{name}: {o}" for o in overlaps(path)]
    assert found == [], "\n".join(found[:20])
    gap = text(demo["pdfs"]["gap-payments-recon-agent"])
    assert "L5-denial-of-service-on-evaluation-infrastructure" in flat(gap)


# ------------------------------------------------------------------------------------------
# Defect 2: a cut column, and a text layer reading other than the page


def test_defect_2_trend_reads_back_whole_and_is_a_chart(demo: dict[str, Any]) -> None:
    summary = demo["pdfs"]["summary"]
    all_text = text(summary)
    lines = [flat(line) for line in all_text.splitlines()]
    support = [x for x in lines if "Customersupportchatagent" in x and "→" in x]
    payments = [x for x in lines if "Paymentsreconciliationagent" in x and "→" in x]
    assert support and "2026-Q2→2026-Q3" in support[0], support
    assert payments and "2026-Q3→2026-Q4" in payments[0], payments
    assert "2026-Q2→2026-Q4" not in flat(all_text)  # the old text layer's wrong pair
    assert "…" not in all_text  # nothing is cut with an ellipsis
    # The portfolio trend: decisions by tier over the last quarters, a vector chart, with its
    # numbers as text.
    trend = demo["models"]["summary"]["history"]["points"]
    assert len(trend) >= 5
    assert [p["label"][:7] for p in trend[-4:]] == ["2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4"]
    assert trend[-1]["block"] == 4 and trend[-1]["approve"] == 2
    q3 = next(p for p in trend if p["label"] == "2026-Q3")
    # At 2026-09-30: payments Q3 CONDITIONAL, support Q3 CONDITIONAL, code review BLOCK (its
    # score), hr CONDITIONAL, each as decided on its own date.
    assert (q3["block"], q3["conditional"], q3["approve"]) == (1, 3, 0)
    assert "Decisions by tier, quarter by quarter" in all_text
    assert 'aria-label="decisions by tier per quarter"' in demo["html"]["summary"]


# ------------------------------------------------------------------------------------------
# Defect 3: blockers that are not checks


def test_defect_3_blockers_outside_the_checks_are_shown_everywhere(demo: dict[str, Any]) -> None:
    code = text(demo["pdfs"]["gap-code-review-agent"])
    urgent = section(code, "Gaps, most urgent first", "Appendix A")
    assert "Safety score" in urgent and "0.74" in urgent and "WHAT TO DO" in urgent
    notes = text(demo["pdfs"]["gap-meeting-notes-agent"])
    urgent = section(notes, "Gaps, most urgent first", "Appendix A")
    assert "logged is not defined in the profile" in urgent
    summary = text(demo["pdfs"]["summary"])
    blocked = section(summary, "Why each blocked deployment is blocked", "Draft assessments")
    for name in (
        "Payments reconciliation agent",
        "Pull request review agent",
        "Health claims intake triage",
        "Meeting notes summariser",
    ):
        assert name in blocked, name
    assert "safety score 0.74" in blocked
    assert demo["models"]["summary"]["blocked"]["total"] == 4
    top = section(summary, "Top gaps across the portfolio", "Why each blocked")
    assert "Safety score" in top and "Profile" in top
    # The workbook's row for such a blocker has what to do and the reason.
    book = openpyxl.load_workbook(demo["books"]["gap-code-review-agent"], read_only=True)
    first = table(book["Gaps"])[0]
    assert first["Item"] == "Safety score"
    assert first["Remediation"] and "Re-evaluate" in first["Remediation"]
    assert first["Decision reason"] and "0.74" in first["Decision reason"]
    deployments = table(
        openpyxl.load_workbook(demo["books"]["summary"], read_only=True)["Deployments"]
    )
    code_row = next(r for r in deployments if r["Deployment"] == "code-review-agent")
    assert "safety score 0.74" in code_row["Why blocked"]


# ------------------------------------------------------------------------------------------
# Defect 4: link evidence missing from the pack's manifest


PACK_SCOPE = (
    "--deployment",
    "payments-recon-agent",
    "--deployment",
    "kb-search-assistant",
    "--framework",
    "owasp-asi-2026",
)


@pytest.fixture(scope="module")
def full_pack(demo: dict[str, Any]) -> dict[str, Any]:
    out = demo["folder"] / "pack.zip"
    result = demo["run"](
        "pack",
        "--as-of",
        AS_OF.isoformat(),
        "--include-drafts",
        *PACK_SCOPE,
        "-o",
        str(out),
    )
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(out) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        names = zf.namelist()
        readme = zf.read("README.md").decode()
    return dict(path=out, output=result.output, manifest=manifest, names=names, readme=readme)


def test_defect_4_every_evidence_item_is_in_the_manifest(
    demo: dict[str, Any], full_pack: dict[str, Any]
) -> None:
    index = full_pack["manifest"]["evidence"]
    wanted = demo["counts"]["evidence"]
    assert len(index) == wanted["payments-recon-agent"] + wanted["kb-search-assistant"]
    assert len(index) > len([e for e in index if e["kind"] == "file"])  # links too
    links = [e for e in index if e["kind"] == "url"]
    assert links and all(e["url"] for e in links)
    aud = next(
        e for e in index if e["deployment"] == "payments-recon-agent" and e["target"] == "AUD-01"
    )
    assert aud["kind"] == "url" and aud["stale"] is True
    assert (aud["age_days"], aud["max_age_days"]) == (124, 90)
    assert aud["snapshot"] and aud["path"] in full_pack["names"]  # the snapshot is packed
    with zipfile.ZipFile(full_pack["path"]) as zf:
        data = zf.read(aud["path"])
    assert (
        data
        == (
            EXAMPLES / "payments-recon-agent" / "evidence" / "audit-sample-2026-07-29.csv"
        ).read_bytes()
    )


# ------------------------------------------------------------------------------------------
# Defect 5: three counts of the same pack


def test_defect_5_pack_verify_and_the_zip_count_the_same_files(
    demo: dict[str, Any], full_pack: dict[str, Any]
) -> None:
    built = int(re.search(r": (\d+) files \(", full_pack["output"]).group(1))  # type: ignore[union-attr]
    verified = demo["run"]("pack", "verify", str(full_pack["path"]))
    assert verified.exit_code == 0, verified.output
    checked = int(re.search(r"OK: (\d+) files", verified.output).group(1))  # type: ignore[union-attr]
    listing = (
        subprocess.run(
            ["unzip", "-Z1", str(full_pack["path"])], capture_output=True, text=True
        ).stdout.split()
        if shutil.which("unzip")
        else full_pack["names"]
    )
    assert built == checked == len(full_pack["names"]) == len(listing)
    assert full_pack["manifest"]["zip_files"] == built
    as_json = json.loads(demo["run"]("pack", "verify", "--json", str(full_pack["path"])).output)
    assert as_json["files"] == built


# ------------------------------------------------------------------------------------------
# Defect 6: wording and layout


def test_defect_6_running_header_names_deployment_and_control(demo: dict[str, Any]) -> None:
    path = demo["pdfs"]["evidence-nist-csf-2.0"]
    headers = header_texts(path)
    names = [demo["models"][f"gap-{d}"]["deployment"]["name"] for d in DEPLOYMENTS]
    refs = {c["ref"] for c in demo["models"]["evidence-nist-csf-2.0"]["by_control"]}
    continuation = [
        h for h in headers if any(n in h for n in names) and any(f"· {r}" in h for r in refs)
    ]
    assert len(continuation) > len(headers) // 2, headers[:10]
    # Part 1 names the control too.
    assert any("Part 1" in h and any(f"· {r}" in h for r in refs) for h in headers)


def test_defect_6_words_are_defined_and_values_are_words(demo: dict[str, Any]) -> None:
    summary = text(demo["pdfs"]["summary"])
    for defined in ("Score", "B, C, A", "BLOCK, CONDITIONAL, APPROVE", '"other" holds', "coverage"):
        assert flat(defined) in flat(summary), defined
    assert " pts" not in summary and "percentage points" in summary
    for dep in DEPLOYMENTS:
        gap = text(demo["pdfs"][f"gap-{dep}"])
        for raw in ("human_on_loop", "human_in_loop", "short_lived", "per_task"):
            assert raw not in gap, (dep, raw)
    payments = text(demo["pdfs"]["gap-payments-recon-agent"])
    assert "human on the loop" in payments
    assert "required at the high tier" not in payments  # a critical deployment
    assert "required from the high tier up" in payments
    # Portrait throughout: the heat map is no longer a landscape page in a portrait document.
    assert all(w < h for w, h in page_sizes(demo["pdfs"]["summary"]))


def test_defect_6_evidence_workbook_counts_say_what_they_count(demo: dict[str, Any]) -> None:
    book = openpyxl.load_workbook(demo["books"]["evidence-nist-csf-2.0"], read_only=True)
    f = facts(book["Summary"])
    sections = demo["models"]["evidence-nist-csf-2.0"]["sections"]
    assert f["Control × deployment pairs"] == sum(len(s["controls"]) for s in sections)
    open_pairs = f["Pairs gap"] + f["Pairs partial"] + f["Pairs not assessed"]
    assert len(table(book["Gaps"])) == open_pairs
    assert f["Gaps sheet"].startswith(f"{open_pairs} rows")
    by_control = table(book["By control"])
    assert len(by_control) == len(sections[0]["controls"])  # one row per control
    assert all(r["Deployments"] == len(sections) for r in by_control)


# ------------------------------------------------------------------------------------------
# Defect 7: drafts


def test_defect_7_drafts_are_refused_and_say_so_on_every_page(
    demo: dict[str, Any], full_pack: dict[str, Any], tmp_path: Path
) -> None:
    refused = demo["run"]("pack", "--as-of", AS_OF.isoformat(), "-o", str(tmp_path / "p.zip"))
    assert refused.exit_code == 1
    assert "are drafts, not finalized" in refused.output and "--include-drafts" in refused.output
    assert not (tmp_path / "p.zip").exists()
    # Every page of every demo report says DRAFT (every example assessment is a draft).
    for name, path in demo["pdfs"].items():
        for n, page in enumerate(pages(path), 1):
            assert "DRAFT" in page, (name, n)
    # So does every page of every report in a pack built with --include-drafts.
    assert "DRAFT" in full_pack["output"] and "**DRAFT.**" in full_pack["readme"]
    assert len(full_pack["manifest"]["drafts"]) == 2
    with zipfile.ZipFile(full_pack["path"]) as zf:
        for name in [n for n in full_pack["names"] if n.endswith(".pdf")]:
            (tmp_path / "r.pdf").write_bytes(zf.read(name))
            for n, page in enumerate(pages(tmp_path / "r.pdf"), 1):
                assert "DRAFT" in page, (name, n)


def test_finalized_assessments_pack_without_draft(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert run("import", str(EXAMPLES / "kb-search-assistant")).exit_code == 0
    assert run("assessment", "finalize", "kb-search-assistant", "2026-Q4").exit_code == 0
    out = tmp_path / "p.zip"
    result = run("pack", "--as-of", "2026-11-30", "--framework", "owasp-asi-2026", "-o", str(out))
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(out) as zf:
        (tmp_path / "g.pdf").write_bytes(zf.read("reports/deployments/kb-search-assistant/gap.pdf"))
        readme = zf.read("README.md").decode()
        manifest = json.loads(zf.read("manifest.json"))
        doc = next(d for d in manifest["deployments"] if d["deployment"] == "kb-search-assistant")
        imported = zf.read(doc["document"]["path"])
        trail = json.loads(zf.read("audit/trail.json"))
    assert "DRAFT" not in text(tmp_path / "g.pdf") and "DRAFT" not in readme
    # The assessment file as imported, byte for byte, and its hash in the import event.
    original = (EXAMPLES / "kb-search-assistant" / "assessment.json").read_bytes()
    assert imported == original
    imports = [e for e in trail["events"] if e["action"] == "assessment.import"]
    assert imports[0]["detail"]["document"]["sha256"] == doc["document"]["sha256"]
    assert [e["action"] for e in trail["events"]][-1] == "assessment.finalize"


# ------------------------------------------------------------------------------------------
# What each reader needs


def test_auditor_sees_tests_acceptances_rationale_by_control_and_register(
    demo: dict[str, Any],
) -> None:
    path = demo["pdfs"]["evidence-nist-csf-2.0"]
    all_text = text(path)
    assert "Part 1: every control across every deployment" in all_text
    assert "Contents" in all_text and "Part 3: register" in all_text
    assert "HOW TESTED" in all_text and "population" in all_text and "sample" in all_text
    assert "MAPPING RATIONALE" in all_text
    assert "RISK ACCEPTANCE (ACTIVE)" in all_text and "Compensating controls" in all_text
    assert "Chief Information Security Officer" in all_text  # an approver's role
    # Bookmarks: parts, deployments and each control of the by-control part.
    outline = PdfReader(str(path)).outline

    def titles(items: Any) -> Iterator[str]:
        for item in items:
            if isinstance(item, list):
                yield from titles(item)
            else:
                yield item.title

    marks = list(titles(outline))
    assert any("Part 1" in m for m in marks) and any("GV.OC-01" in m for m in marks)
    assert any("Payments reconciliation agent" in m for m in marks)
    # The not-applicable register, with whether each counts.
    register = section(all_text, "Part 3: register", "\x00")
    assert "claims-intake-agent" in register and "REV-02" in register
    assert "meeting-notes-agent" in register and "neverletsAUD-01" in flat(register)
    # Link evidence with its snapshot and hash.
    assert "Snapshot of what it showed" in all_text


def test_ciso_sees_coverage_why_blocked_attention_and_where_risk_sits(demo: dict[str, Any]) -> None:
    summary = text(demo["pdfs"]["summary"])
    for heading in (
        "Why each blocked deployment is blocked",
        "Decisions by tier, quarter by quarter",
        "Re-assessments overdue (1)",
        "Risk acceptances expired (1)",
        "Stale evidence",
        "Draft assessments in force (8)",
        "By business process",
        "By owner",
        "By data class",
    ):
        assert heading in summary, heading
    assert "Days are counted from the as-of date, 2026-11-30" in summary
    # Every score carries its coverage.
    assert re.search(r"\(\d+% → \d+%\)\s+assessed \d+ → \d+ of \d+", summary)
    s = demo["models"]["summary"]
    assert all("coverage" in r for r in s["deployments"])
    assert s["attention"]["overdue"]["items"][0]["deployment"] == "code-review-agent"
    assert s["attention"]["expired"]["items"][0]["check"] == "IDN-02"


def test_grc_plan_of_action_calendar_and_requests(demo: dict[str, Any]) -> None:
    plan = demo["models"]["plan"]
    idn = next(
        x
        for x in plan["actions"]
        if x["deployment"] == "payments-recon-agent" and x["item"] == "IDN-02"
    )
    # The result's own remediation first.
    assert (idn["owner"], idn["due"]) == ("s.haddou@example.com", "2027-02-15")
    assert idn["status"] == "blocks approval"
    rev = next(
        x
        for x in plan["actions"]
        if x["deployment"] == "support-chat-agent" and x["item"] == "REV-02"
    )
    assert rev["status"] == "risk accepted"
    code = next(x for x in plan["actions"] if x["deployment"] == "code-review-agent")
    # No due date stated and no acceptance: the tier's remediation period from the assessment.
    assert code["item"] == "Safety score" and code["due_basis"].startswith("policy: ")
    assert code["status"] == "overdue"
    calendar = {x["deployment"]: x for x in plan["calendar"]}
    assert calendar["code-review-agent"]["window"] == "overdue"
    assert calendar["code-review-agent"]["due"] == "2026-11-24"
    owners = {o["owner"]: o for o in plan["requests"]}
    assert any(
        x["check"] == "AUD-01" and x["why"] == "stale"
        for o in owners.values()
        for x in o["items"]
        if x["deployment"] == "payments-recon-agent"
    )
    pdf = text(demo["pdfs"]["plan"])
    for heading in (
        "Plan of action and milestones",
        "Re-assessment calendar",
        "Evidence to request, by owner",
        "Register of results recorded as not applicable",
    ):
        assert heading in pdf
    assert "daysafter2026-11-30" in flat(pdf) and "daysbefore2026-11-30" in flat(pdf)


# ------------------------------------------------------------------------------------------
# HTML and PDF hold the same content; the workbook the same data


class _Text(HTMLParser):
    """The text a reader sees in an HTML report (no styles, no SVG tooltips)."""

    def __init__(self) -> None:
        super().__init__()
        self.skip = 0
        self.parts: list[str] = []
        self.stack: list[bool] = []

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        # The running strings are hidden: the PDF shows them in its page margins instead.
        hidden = tag in ("style", "title", "head") or (
            tag == "div" and "running" in (dict(attrs).get("class") or "").split()
        )
        if tag in ("meta", "img", "br", "col", "rect", "line"):
            return
        self.stack.append(hidden)
        self.skip += hidden

    def handle_endtag(self, tag: str) -> None:
        if tag in ("meta", "img", "br", "col", "rect", "line"):
            return
        if self.stack:
            self.skip -= self.stack.pop()

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.parts.append(data)


@pytest.mark.parametrize(
    "name", ["summary", "plan", "gap-payments-recon-agent", "evidence-owasp-asi-2026"]
)
def test_html_and_pdf_hold_the_same_content(demo: dict[str, Any], name: str) -> None:
    parser = _Text()
    parser.feed(demo["html"][name])
    html_words = {w for w in " ".join(parser.parts).split() if len(w) >= 3}
    # Letter case aside: labels are set in capitals by the style sheet, in both.
    pdf = flat(htmllib.unescape(text(demo["pdfs"][name]))).casefold()
    missing = sorted(w for w in html_words if flat(w).casefold() not in pdf)
    assert missing == [], missing[:20]


def test_workbooks_hold_the_same_data(demo: dict[str, Any]) -> None:
    plan = demo["models"]["plan"]
    book = openpyxl.load_workbook(demo["books"]["plan"], read_only=True)
    rows = table(book["Plan of action"])
    assert [(r["Deployment"], r["Item"], r["Status"]) for r in rows] == [
        (x["deployment"], x["item"], x["status"]) for x in plan["actions"]
    ]
    assert len(table(book["Re-assessment calendar"])) == len(plan["calendar"])
    assert len(table(book["Evidence requests"])) == sum(o["count"] for o in plan["requests"])
    assert len(table(book["Not applicable"])) == len(plan["not_applicable"])
    gap = demo["models"]["gap-payments-recon-agent"]
    results = {
        r["Item"]: r
        for r in table(
            openpyxl.load_workbook(demo["books"]["gap-payments-recon-agent"], read_only=True)[
                "Results"
            ]
        )
    }
    for c in gap["checks"]:
        if c["status"] and c["test"]["tested_by"]:
            assert results[c["id"]]["Tested by"] == c["test"]["tested_by"]
            assert results[c["id"]]["Exceptions"] == c["test"]["exceptions"]
    acc = table(
        openpyxl.load_workbook(demo["books"]["gap-payments-recon-agent"], read_only=True)[
            "Acceptances"
        ]
    )
    assert [a["Approver role"] for a in acc] == [x["approver_role"] for x in gap["acceptances"]]
    summary = openpyxl.load_workbook(demo["books"]["summary"], read_only=True)
    trend = table(summary["Trend by quarter"])
    assert len(trend) == sum(
        len(p["by_tier"]) for p in demo["models"]["summary"]["history"]["points"]
    )


# ------------------------------------------------------------------------------------------
# The summary stays bounded and set-based


def test_summary_model_issues_the_same_statements_whatever_the_portfolio(
    run, engine, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """The number of SQL statements building the summary does not grow with the number of
    deployments: no query per deployment."""
    from tests.test_reports import _portfolio

    def statements(folder: Path, n: int) -> int:
        _portfolio(folder, n)
        assert run("import", "-q", str(folder)).exit_code == 0
        count = 0

        def seen(*_args: Any) -> None:
            nonlocal count
            count += 1

        event.listen(engine, "before_cursor_execute", seen)
        try:
            with db.snapshot(engine) as s:
                model.summary_report(s, AS_OF, catalog_store.resolve_policy(s, None))
        finally:
            event.remove(engine, "before_cursor_execute", seen)
        return count

    small = statements(tmp_path / "small", 2)
    large = statements(tmp_path / "large", 30)
    assert large == small
