"""HTML and PDF reports: golden HTML, PDF text, reproducibility, escaping and no fetching."""

from __future__ import annotations

import http.server
import os
import re
import threading
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import ClassVar

import pytest
from pypdf import PdfReader

from compliance.reports import model, render
from compliance.store import catalog_store, db
from tests import factories

EXAMPLES = Path(__file__).parent.parent / "examples"
GOLDEN = Path(__file__).parent / "data" / "golden"
AS_OF = "2026-11-30"  # the date `make demo` decides at


def _normalise(html: str) -> str:
    # Evidence collection time is the import time: the only value that differs between databases.
    return re.sub(r"collected \d{4}-\d{2}-\d{2}", "collected YYYY-MM-DD", html)


def _check_golden(name: str, html: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_normalise(html), encoding="utf-8")
    assert _normalise(html) == path.read_text(encoding="utf-8"), (
        f"{name} differs from its golden copy"
    )


@pytest.fixture
def examples(run) -> None:  # type: ignore[no-untyped-def]
    assert run("import", str(EXAMPLES)).exit_code == 0


def test_gap_html_matches_golden_and_is_reproducible(run, examples, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out1, out2 = tmp_path / "a.html", tmp_path / "b.html"
    for out in (out1, out2):
        r = run(
            "report",
            "gap",
            "payments-recon-agent",
            "--format",
            "html",
            "-o",
            str(out),
            "--as-of",
            AS_OF,
        )
        assert r.exit_code == 0, r.output
    assert out1.read_bytes() == out2.read_bytes()
    _check_golden("gap-payments-recon-agent.html", out1.read_text())


def test_summary_and_evidence_html_match_golden(run, examples, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    s = tmp_path / "s.html"
    e = tmp_path / "e.html"
    assert (
        run("report", "summary", "--format", "html", "-o", str(s), "--as-of", AS_OF).exit_code == 0
    )
    assert (
        run(
            "report",
            "evidence",
            "--framework",
            "owasp-asi-2026",
            "--format",
            "html",
            "-o",
            str(e),
            "--as-of",
            AS_OF,
        ).exit_code
        == 0
    )
    _check_golden("summary.html", s.read_text())
    _check_golden("evidence-owasp-asi-2026.html", e.read_text())


def _pdf_text(path: Path) -> tuple[int, str]:
    reader = PdfReader(str(path))
    return len(reader.pages), "\n".join(page.extract_text() for page in reader.pages)


def test_pdf_reports_read_back(run, examples, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    gap = tmp_path / "gap.pdf"
    assert (
        run("report", "gap", "payments-recon-agent", "-o", str(gap), "--as-of", AS_OF).exit_code
        == 0
    )
    pages, text = _pdf_text(gap)
    assert gap.read_bytes().startswith(b"%PDF")
    for expected in (
        "Payments reconciliation agent",
        "BLOCK",
        "IDN-02",
        "Short-lived credentials only",
        "one input, not the decision",
        "Page 1 of",
        "Appendix B",
        "GV.OC-01",
        "ASI10",
    ):
        assert expected in text, expected
    summary = tmp_path / "summary.pdf"
    assert run("report", "summary", "-o", str(summary), "--as-of", AS_OF).exit_code == 0
    pages, text = _pdf_text(summary)
    assert pages == 6  # the same whatever the portfolio's size
    assert "Decisions by risk tier" in text and "Risk acceptances expired" in text
    ev = tmp_path / "ev.pdf"
    assert (
        run(
            "report",
            "evidence",
            "--framework",
            "nist-csf-2.0",
            "--deployment",
            "payments-recon-agent",
            "-o",
            str(ev),
        ).exit_code
        == 0
    )
    _pages, text = _pdf_text(ev)
    assert "GV.OC-01" in text and "RC.CO-04" in text  # first and last subcategory: none dropped
    assert "No check maps to this control" in text


class _Recorder(http.server.BaseHTTPRequestHandler):
    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        _Recorder.hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def local_server() -> Iterator[str]:
    _Recorder.hits = []
    server = http.server.HTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_user_text_is_rendered_literally_and_nothing_is_fetched(
    run, tmp_path: Path, local_server: str
) -> None:  # type: ignore[no-untyped-def]
    hostile = (
        f'<script>alert(1)</script><img src="{local_server}/img"> '
        f'</style><style>@import url("{local_server}/css"); body {{ background: url({local_server}/bg) }}</style> '
        f'<svg><image href="{local_server}/svg"/></svg> <link rel="stylesheet" href="file:///etc/passwd">'
    )
    results = factories.results(factories.LOW_REQUIRED)
    results[0]["notes"] = hostile
    results[0]["status"] = "fail"
    results[1]["evidence"] = [{"url": f"{local_server}/evidence", "description": hostile}]
    doc = factories.assessment_doc(
        results_list=results, deployment_overrides={"name": f"Agent {hostile}"}
    )
    assert run("import", str(factories.write(tmp_path / "h", doc))).exit_code == 0
    html_path, pdf_path = tmp_path / "h.html", tmp_path / "h.pdf"
    assert (
        run("report", "gap", "test-agent", "--format", "html", "-o", str(html_path)).exit_code == 0
    )
    assert run("report", "gap", "test-agent", "--format", "pdf", "-o", str(pdf_path)).exit_code == 0
    assert (
        run(
            "report", "evidence", "--framework", "nist-csf-2.0", "-o", str(tmp_path / "e.pdf")
        ).exit_code
        == 0
    )
    html = html_path.read_text()
    assert (
        "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    )
    assert f'<img src="{local_server}' not in html and "&lt;/style&gt;&lt;style&gt;@import" in html
    _pages, text = _pdf_text(pdf_path)
    assert "<script>alert(1)</script>" in text.replace("\n", "")
    assert _Recorder.hits == []


def test_pdf_renderer_fetches_nothing_even_if_a_template_asks(
    run, examples, tmp_path: Path, local_server: str
) -> None:  # type: ignore[no-untyped-def]
    override = tmp_path / "brand"
    override.mkdir()
    (override / "base.html").write_text(
        (render.templates_dir() / "base.html")
        .read_text()
        .replace(
            "<body>",
            f'<body><img src="{local_server}/x"><img src="file:///etc/hostname">'
            f'<link rel="stylesheet" href="{local_server}/y.css">',
        )
    )
    out = tmp_path / "gap.pdf"
    result = run(
        "report", "gap", "kb-search-assistant", "-o", str(out), "--templates", str(override)
    )
    assert result.exit_code == 0, result.output
    assert _Recorder.hits == []


def test_templates_override_brands_the_report(run, examples, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    override = tmp_path / "brand"
    override.mkdir()
    (override / "theme.css").write_text(
        (render.templates_dir() / "theme.css")
        .read_text()
        .replace("--brand: #1f4e79", "--brand: #7a1fa2")
    )
    (override / "logo.svg").write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>'
    )
    out = tmp_path / "gap.html"
    assert (
        run(
            "report",
            "gap",
            "kb-search-assistant",
            "--format",
            "html",
            "-o",
            str(out),
            "--templates",
            str(override),
        ).exit_code
        == 0
    )
    html = out.read_text()
    assert "--brand: #7a1fa2" in html and 'src="data:image/svg+xml;base64,' in html
    assert (
        run(
            "report",
            "gap",
            "kb-search-assistant",
            "-o",
            str(out),
            "--templates",
            str(tmp_path / "nope"),
        ).exit_code
        == 2
    )


def test_report_errors(run, examples, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert run("report", "gap", "nope", "-o", str(tmp_path / "x.pdf")).exit_code == 1
    assert (
        run("report", "evidence", "--framework", "nope", "-o", str(tmp_path / "x.pdf")).exit_code
        == 1
    )
    assert not (tmp_path / "x.pdf").exists()


def test_view_model_is_built_once_from_the_store(engine, run, examples) -> None:  # type: ignore[no-untyped-def]
    with db.transaction(engine) as s:
        policy = catalog_store.current_policy(s)
        gap = model.gap_report(s, "payments-recon-agent", None, date.fromisoformat(AS_OF), policy)
    assert [g["id"] for g in gap["gaps"]][:2] == ["IDN-02", "REV-02"]
    assert gap["gaps"][0]["rank"] == 0 and gap["gaps"][1]["rank"] == 1
    assert {f["id"] for f in gap["frameworks"]} == {
        "nist-csf-2.0",
        "nist-ai-rmf-1.0",
        "owasp-asi-2026",
        "csa-maestro",
    }
    html = render.render_html(gap)
    assert "IDN-02" in html


def test_stale_evidence_is_flagged_in_reports_and_pack(run, examples, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    html = tmp_path / "gap.html"
    args = ["--as-of", "2026-11-20"]
    assert (
        run(
            "report", "gap", "payments-recon-agent", *args, "--format", "html", "-o", str(html)
        ).exit_code
        == 0
    )
    text = html.read_text()
    # AUD-01's sample was collected 2026-07-29: 114 days before 2026-11-20, the policy allows 90.
    assert "Stale evidence" in text and (
        "114 days old at the as-of date (counted from the collection date); the policy allows 90"
        in text
    )
    # The August drill record for REV-01 is 98 days old and REV-01 allows 180: not stale.
    assert text.count("stale evidence") == 1
    out = tmp_path / "pack.zip"
    assert (
        run(
            "pack",
            "--include-drafts",
            "--deployment",
            "payments-recon-agent",
            "--framework",
            "owasp-asi-2026",
            *args,
            "-o",
            str(out),
        ).exit_code
        == 0
    )
    import json
    import zipfile

    manifest = json.loads(zipfile.ZipFile(out).read("manifest.json"))
    drill = next(e for e in manifest["evidence"] if e["target"] == "REV-01")
    assert drill["stale"] is False
    later = tmp_path / "later.html"
    assert (
        run(
            "report",
            "gap",
            "payments-recon-agent",
            "--format",
            "html",
            "-o",
            str(later),
            "--as-of",
            "2027-03-01",
        ).exit_code
        == 0
    )
    assert (
        "199 days old at the as-of date (counted from the collection date); the policy allows 180"
        in later.read_text()
    )


def test_reports_and_pack_decide_with_a_replacement_policy(run, examples, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import json
    import zipfile

    import yaml

    policy = yaml.safe_load(
        (render.templates_dir().parent / "mappings" / "policy.yaml").read_text()
    )
    policy["id"] = "strict-policy"
    policy["tiers"][0]["requires"].append("SEC-01")
    path = tmp_path / "strict.yaml"
    path.write_text(yaml.safe_dump(policy))
    html = tmp_path / "gap.html"
    assert (
        run(
            "report",
            "gap",
            "kb-search-assistant",
            "--format",
            "html",
            "-o",
            str(html),
            "--policy",
            str(path),
        ).exit_code
        == 0
    )
    assert "strict-policy" in html.read_text() and "SEC-01" in html.read_text()
    rows = json.loads(run("deployments", "--json", "--policy", str(path)).output)
    assert next(r for r in rows if r["deployment"] == "kb-search-assistant")["decision"] == "BLOCK"
    out = tmp_path / "pack.zip"
    assert (
        run(
            "pack",
            "--include-drafts",
            "--deployment",
            "kb-search-assistant",
            "--framework",
            "owasp-asi-2026",
            "--policy",
            str(path),
            "-o",
            str(out),
        ).exit_code
        == 0
    )
    manifest = json.loads(zipfile.ZipFile(out).read("manifest.json"))
    assert manifest["policy"]["id"] == "strict-policy"
    assert zipfile.ZipFile(out).read(manifest["policy"]["path"]) == path.read_bytes()


def _portfolio(folder: Path, n: int) -> None:
    """n deployments, each with a previous and a latest assessment and an acceptance about to expire."""
    for i in range(n):
        for quarter, day in (("2026-Q3", "2026-08-20"), ("2026-Q4", "2026-11-20")):
            results = factories.results(factories.LOW_REQUIRED)
            results[3]["status"] = "fail" if (i + len(quarter)) % 2 else "partial"
            doc = factories.assessment_doc(
                results_list=results,
                id=quarter,
                date=day,
                acceptances=[
                    {
                        "check": "TOOL-01",
                        "approved_by": "ciso@example.com",
                        "justification": "Inventory export lands next sprint " * 3,
                        "expires": f"2026-12-{(i % 28) + 1:02d}",
                    }
                ],
                deployment_overrides={
                    "id": f"agent-{i:03d}",
                    "name": f"A rather long deployment name for agent number {i}",
                },
            )
            factories.write(folder / f"agent-{i:03d}", doc, name=f"{quarter}.yaml")


@pytest.mark.parametrize("backend", ["sqlite"])
def test_summary_page_count_does_not_grow_with_the_portfolio(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _portfolio(tmp_path / "small", 2)
    assert run("import", "-q", str(tmp_path / "small")).exit_code == 0
    small = tmp_path / "small.pdf"
    assert run("report", "summary", "-o", str(small)).exit_code == 0
    _portfolio(tmp_path / "large", 40)
    assert run("import", "-q", str(tmp_path / "large")).exit_code == 0
    large = tmp_path / "large.pdf"
    assert run("report", "summary", "-o", str(large)).exit_code == 0
    pages_small, _ = _pdf_text(small)
    pages_large, text = _pdf_text(large)
    assert pages_small == pages_large == 6
    assert "more deployments with a previous assessment are in the workbook" in text
    assert "other deployments (average)" in text


@pytest.mark.parametrize("backend", ["sqlite"])
def test_summary_page_count_holds_for_a_varied_portfolio(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The benchmarks' portfolio (300 deployments): names, owners, blockers, acceptances and
    stale evidence of every length, enough of each to fill every bounded list to its limit."""
    from benchmarks import generate
    from benchmarks.run import AS_OF as BENCH_AS_OF

    generate.write_portfolio(tmp_path / "varied", 300, 4, seed=2026)
    assert run("import", "-q", str(tmp_path / "varied")).exit_code == 0
    out = tmp_path / "varied.pdf"
    assert run("report", "summary", "-o", str(out), "--as-of", BENCH_AS_OF).exit_code == 0
    pages, text = _pdf_text(out)
    assert pages == 6
    assert "the workbook lists every expiring one" in " ".join(text.split())
