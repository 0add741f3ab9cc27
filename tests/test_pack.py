"""Audit packs: reproducible, verifiable with and without the tool, and tamper-evident."""

from __future__ import annotations

import hashlib
import itertools
import json
import stat
import subprocess
import zipfile
from pathlib import Path

import pytest

from compliance.pack import verify_pack
from tests.tamper import audit_sql

EXAMPLES = Path(__file__).parent.parent / "examples"
# The pack format does not depend on the database: tests that only take a built pack apart run on
# SQLite alone to keep the suite quick; building and reproducing a pack runs on both.
ONE_BACKEND = pytest.mark.parametrize("backend", ["sqlite"])
SCOPE = [
    "--deployment",
    "kb-search-assistant",
    "--deployment",
    "payments-recon-agent",
    "--framework",
    "owasp-asi-2026",
    "--as-of",
    "2026-11-30",
]


@pytest.fixture
def pack(run, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    assert run("import", str(EXAMPLES)).exit_code == 0
    out = tmp_path / "pack.zip"
    result = run("pack", *SCOPE, "--include-drafts", "-o", str(out))
    assert result.exit_code == 0, result.output
    return out


def test_pack_contents_and_manifest(pack: Path) -> None:
    with zipfile.ZipFile(pack) as zf:
        names = zf.namelist()
        manifest = json.loads(zf.read("manifest.json"))
        sums = dict(
            reversed(line.split("  ", 1)) for line in zf.read("SHA256SUMS").decode().splitlines()
        )
    assert names == sorted(names)
    assert {
        "reports/summary.pdf",
        "reports/summary.xlsx",
        "reports/evidence/owasp-asi-2026.pdf",
        "reports/deployments/payments-recon-agent/gap.pdf",
        "reports/deployments/kb-search-assistant/gap.xlsx",
        "data/checks/checks.yaml",
        "data/framework/nist-csf-2.0.yaml",
        "data/policy/policy.yaml",
        "evidence/payments-recon-agent/IDN-02/iam-policy-export.json",
    } <= set(names)
    assert manifest["scope"]["deployments"] == ["kb-search-assistant", "payments-recon-agent"]
    assert manifest["scope"]["frameworks"] == ["owasp-asi-2026"]
    assert manifest["as_of"] == "2026-11-30" and manifest["tool"]["name"] == "compliance"
    assert {c["id"] for c in manifest["catalogs"] if c["kind"] == "framework"} == {
        "nist-csf-2.0",
        "nist-ai-rmf-1.0",
        "owasp-asi-2026",
        "csa-maestro",
    }
    listed = {f["path"] for f in manifest["files"]}
    assert set(sums) == listed | {"manifest.json", "VERIFY.txt"}
    assert set(names) == set(sums) | {"SHA256SUMS"}
    with zipfile.ZipFile(pack) as zf:
        for f in manifest["files"]:
            data = zf.read(f["path"])
            assert hashlib.sha256(data).hexdigest() == f["sha256"] == sums[f["path"]]
            assert len(data) == f["size"]
    # Evidence files keep their original names and bytes.
    ev = next(e for e in manifest["evidence"] if e["target"] == "IDN-02")
    original = EXAMPLES / "payments-recon-agent" / ev["original_name"]
    assert hashlib.sha256(original.read_bytes()).hexdigest() == ev["sha256"]


def test_two_packs_are_byte_identical_and_verify(run, pack: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    again = tmp_path / "again.zip"
    assert run("pack", *SCOPE, "--include-drafts", "-o", str(again)).exit_code == 0
    assert pack.read_bytes() == again.read_bytes()
    result = run("pack", "verify", str(pack))
    assert result.exit_code == 0 and result.output.startswith("OK:")


@ONE_BACKEND
def test_pack_verifies_without_the_tool(pack: Path, tmp_path: Path) -> None:
    folder = tmp_path / "unzipped"
    with zipfile.ZipFile(pack) as zf:
        zf.extractall(folder)
    done = subprocess.run(
        ["sha256sum", "-c", "SHA256SUMS"], cwd=folder, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    on_disk = sorted(
        str(p.relative_to(folder))
        for p in folder.rglob("*")
        if p.is_file() and p.name != "SHA256SUMS"
    )
    listed = sorted(line[66:] for line in (folder / "SHA256SUMS").read_text().splitlines())
    assert on_disk == listed


def _rewrite(src: Path, dst: Path, change) -> None:  # type: ignore[no-untyped-def]
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = change(info.filename, zin.read(info.filename))
            if data is not None:
                zout.writestr(info, data)


@ONE_BACKEND
def test_every_single_byte_change_is_named(pack: Path, tmp_path: Path) -> None:
    with zipfile.ZipFile(pack) as zf:
        names = [n for n in zf.namelist() if n != "SHA256SUMS"]
    for name in names:
        bad = tmp_path / "bad.zip"

        def flip(n: str, data: bytes, target: str = name) -> bytes:
            if n != target:
                return data
            i = len(data) // 2
            return data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1 :]

        _rewrite(pack, bad, flip)
        report = verify_pack(bad)
        assert not report.ok
        assert any(f.kind == "changed" and f.path == name for f in report.findings), (
            name,
            report.findings,
        )


@ONE_BACKEND
def test_removed_and_added_files_are_named(run, pack: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    removed = tmp_path / "removed.zip"
    _rewrite(pack, removed, lambda n, d: None if n == "reports/summary.pdf" else d)
    report = verify_pack(removed)
    assert [(f.kind, f.path) for f in report.findings] == [("missing", "reports/summary.pdf")]
    added = tmp_path / "added.zip"
    _rewrite(pack, added, lambda n, d: d)
    with zipfile.ZipFile(added, "a") as zf:
        zf.writestr("evidence/extra.txt", b"planted")
    report = verify_pack(added)
    assert [(f.kind, f.path) for f in report.findings] == [("extra", "evidence/extra.txt")]
    result = run("pack", "verify", str(added))
    assert result.exit_code == 1 and "extra: evidence/extra.txt" in result.output


@ONE_BACKEND
def test_hostile_archives_are_refused(pack: Path, tmp_path: Path) -> None:
    slip = tmp_path / "slip.zip"
    _rewrite(pack, slip, lambda n, d: d)
    with zipfile.ZipFile(slip, "a") as zf:
        zf.writestr("../../etc/evil.txt", b"x")
        zf.writestr("/abs/evil.txt", b"x")
    kinds = {(f.kind, f.path) for f in verify_pack(slip).findings}
    assert ("unsafe", "../../etc/evil.txt") in kinds and ("unsafe", "/abs/evil.txt") in kinds

    link = tmp_path / "link.zip"
    _rewrite(pack, link, lambda n, d: d)
    with zipfile.ZipFile(link, "a") as zf:
        info = zipfile.ZipInfo("evidence/link")
        info.create_system = 3
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "/etc/passwd")
    assert ("unsafe", "evidence/link") in {(f.kind, f.path) for f in verify_pack(link).findings}

    bomb = tmp_path / "bomb.zip"
    _rewrite(pack, bomb, lambda n, d: d)
    with zipfile.ZipFile(bomb, "a", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("reports/bomb.bin", b"\0" * (64 * 1024 * 1024))
    findings = verify_pack(bomb).findings
    assert any(
        f.kind == "unsafe" and f.path == "reports/bomb.bin" and "ratio" in f.detail
        for f in findings
    )

    assert not verify_pack(tmp_path / "nope.zip").ok
    (tmp_path / "garbage.zip").write_bytes(b"not a zip")
    assert verify_pack(tmp_path / "garbage.zip").findings[0].kind == "unsafe"


def test_pack_scope_errors(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert run("import", str(EXAMPLES / "kb-search-assistant")).exit_code == 0
    r = run("pack", "--deployment", "nope", "-o", str(tmp_path / "x.zip"))
    assert r.exit_code == 1 and "nope" in r.output
    r = run("pack", "--framework", "nope", "-o", str(tmp_path / "x.zip"))
    assert r.exit_code == 1 and "unknown framework" in r.output
    assert run("pack").exit_code == 2
    assert not (tmp_path / "x.zip").exists()


def test_audit_log_and_verify_name_the_broken_event(run, engine) -> None:  # type: ignore[no-untyped-def]
    assert run("import", str(EXAMPLES / "kb-search-assistant")).exit_code == 0
    assert run("assessment", "finalize", "kb-search-assistant", "2026-Q4").exit_code == 0
    log = json.loads(run("audit", "log", "--json", "--limit", "0").output)
    assert [e["action"] for e in log[:2]] == ["assessment.finalize", "assessment.import"]
    assert all(a["prev_hash"] == b["hash"] for a, b in itertools.pairwise(log))
    ok = run("audit", "verify")
    assert ok.exit_code == 0 and "chain intact" in ok.output
    target = log[1]["id"]
    audit_sql(engine, f"UPDATE audit_events SET detail = '{{}}' WHERE id = {target}")
    broken = run("audit", "verify")
    assert broken.exit_code == 1 and f"BROKEN at event #{target}" in broken.output
    with engine.begin() as conn:
        conn.exec_driver_sql(f"DELETE FROM audit_events WHERE id = {target}")
    gone = run("audit", "verify")
    assert gone.exit_code == 1 and f"BROKEN at event #{target + 1}" in gone.output
