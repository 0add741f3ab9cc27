"""Packs that cannot be changed quietly (issue 13, findings 1, 3, 4 and 5).

- Finding 1: `pack verify` read the zip with Python's zipfile while unzip honours fields zipfile
  ignores; a forged report got past it. Each forgery below must be named.
- Finding 3: building a pack wrote no event; now the event carries the SHA-256 of SHA256SUMS
  and the data head the pack records.
- Finding 4: evidence files in the store were trusted.
- Finding 5: nothing tied a pack to who made it; a signed pack's SHA256SUMS is an SSHSIG that
  `ssh-keygen -Y verify` checks, with the exact commands of VERIFY.txt.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import struct
import subprocess
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from compliance import sshsig
from compliance.pack import SIGNATURE, SSHSIG_NAMESPACE, Trust, verify_pack
from tests.conftest import Cli

EXAMPLES = Path(__file__).parent.parent / "examples"
KB = EXAMPLES / "kb-search-assistant" / "assessment.json"
SCOPE = [
    "--deployment",
    "kb-search-assistant",
    "--framework",
    "owasp-asi-2026",
    "--as-of",
    "2026-11-30",
]
GAP = "reports/deployments/kb-search-assistant/gap.pdf"
HAS_UNZIP = shutil.which("unzip") is not None
HAS_SSH_KEYGEN = shutil.which("ssh-keygen") is not None
# `make test` installs both (and sets this); a bare pytest run skips what needs them.
REQUIRED = os.environ.get("COMPLIANCE_REQUIRE_PG") == "1"


def _need(tool: str) -> None:
    if shutil.which(tool) is None:
        if REQUIRED:
            pytest.fail(f"{tool} is not installed; `make test` installs it")
        pytest.skip(f"{tool} is not installed")


def _keygen(folder: Path, name: str) -> Path:
    """An Ed25519 key pair made by ssh-keygen when it is there, else by cryptography."""
    folder.mkdir(parents=True, exist_ok=True)
    key = folder / name
    if HAS_SSH_KEYGEN:
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(key)], check=True
        )
        return key
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    private = Ed25519PrivateKey.generate()
    key.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        )
    )
    public = private.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    (folder / f"{name}.pub").write_bytes(public + b" " + name.encode() + b"\n")
    return key


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> dict[str, Path]:
    """One database, a signing key and two packs of the same data: unsigned and signed."""
    folder = tmp_path_factory.mktemp("signed")
    shutil.copyfile(sqlite_template, folder / "compliance.db")
    run = Cli(f"sqlite:///{folder / 'compliance.db'}", folder / "store")
    assert run("import", str(KB)).exit_code == 0
    key = _keygen(folder / "keys", "grc")
    other = _keygen(folder / "keys", "other")
    plain, signed = folder / "plain.zip", folder / "signed.zip"
    assert run("pack", *SCOPE, "--include-drafts", "-o", str(plain)).exit_code == 0
    result = run("pack", *SCOPE, "--include-drafts", "--sign", str(key), "-o", str(signed))
    assert result.exit_code == 0, result.output
    return dict(plain=plain, signed=signed, key=key, other=other, db=folder / "compliance.db")


def _entries(path: Path) -> list[tuple[zipfile.ZipInfo, bytes]]:
    with zipfile.ZipFile(path) as zf:
        return [(i, zf.read(i)) for i in zf.infolist()]


def _write(path: Path, entries: list[tuple[zipfile.ZipInfo, bytes]]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for info, data in entries:
            zf.writestr(info, data)
    return path


def _info(name: str, like: zipfile.ZipInfo, extra: bytes = b"") -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=like.date_time)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = like.external_attr
    info.create_system = 3
    info.extra = extra
    return info


def _unicode_path(header_name: str, unicode_name: str) -> bytes:
    payload = b"\x01" + struct.pack("<I", zlib.crc32(header_name.encode())) + unicode_name.encode()
    return struct.pack("<HH", 0x7075, len(payload)) + payload


def _findings(path: Path, trust: Trust | None = None) -> list[tuple[str, str, str]]:
    return [(f.kind, f.path, f.detail) for f in verify_pack(path, trust).findings]


FORGED = b"%PDF-1.7 forged report: APPROVE\n"


def _unicode_path_forgery(src: Path, dst: Path) -> Path:
    """Finding 1, as filed: SHA256SUMS untouched; the real gap.pdf renamed for unzip by a
    Unicode Path field; a directory entry holding the forged bytes named gap.pdf for unzip."""
    out = []
    for info, data in _entries(src):
        if info.filename == GAP:
            hidden = GAP.replace("gap.pdf", ".orig-gap.pdf")
            out.append((_info(GAP, info, _unicode_path(GAP, hidden)), data))
            forged_name = GAP + ".d/"
            out.append((_info(forged_name, info, _unicode_path(forged_name, GAP)), FORGED))
        else:
            out.append((_info(info.filename, info), data))
    return _write(dst, out)


def test_unicode_path_forgery_is_named(built: dict[str, Path], tmp_path: Path) -> None:
    forged = _unicode_path_forgery(built["plain"], tmp_path / "forged.zip")
    with zipfile.ZipFile(forged) as zf:  # what Python's zipfile (and the old verifier) read
        assert zf.read(GAP) == zipfile.ZipFile(built["plain"]).read(GAP)
        assert zf.read("SHA256SUMS") == zipfile.ZipFile(built["plain"]).read("SHA256SUMS")
    found = _findings(forged)
    assert any(
        kind == "unsafe"
        and path == GAP
        and "extra field 0x7075 (Info-ZIP Unicode Path)" in detail
        and ".orig-gap.pdf" in detail
        for kind, path, detail in found
    ), found
    assert any(
        kind == "unsafe"
        and path == GAP + ".d/"
        and f"a directory entry holding {len(FORGED)} bytes" in detail
        and f"unzip would create {GAP!r}" in detail
        for kind, path, detail in found
    ), found
    assert not verify_pack(forged).ok


def test_unzip_really_extracts_the_forgery_and_the_manual_steps_catch_it(
    built: dict[str, Path], tmp_path: Path
) -> None:
    """What UnZip makes of finding 1: the forged bytes under gap.pdf. The coreutils steps of
    VERIFY.txt check what unzip extracted, so they fail too."""
    _need("unzip")
    forged = _unicode_path_forgery(built["plain"], tmp_path / "forged.zip")
    folder = tmp_path / "x"
    subprocess.run(["unzip", "-q", "-o", str(forged), "-d", str(folder)], check=False)
    extracted = (folder / GAP).read_bytes()
    if extracted != FORGED:
        pytest.skip("this unzip does not honour the Unicode Path field")
    assert (folder / GAP.replace("gap.pdf", ".orig-gap.pdf")).is_file()
    check = subprocess.run(
        ["sha256sum", "--strict", "-c", "SHA256SUMS"], cwd=folder, capture_output=True, text=True
    )
    assert check.returncode != 0 and f"{GAP}: FAILED" in check.stdout


def _patch(data: bytes, old: bytes, new: bytes, count: int = -1) -> bytes:
    assert len(old) == len(new) and old in data
    return data.replace(old, new, count)


def _extra_entry(src: Path, dst: Path, name: str, data: bytes, extra: bytes = b"") -> Path:
    entries = [(_info(i.filename, i), d) for i, d in _entries(src)]
    like = entries[0][0]
    entries.append((_info(name, like, extra), data))
    return _write(dst, entries)


FORGERIES: dict[str, tuple[Callable[[Path, Path], bytes | Path], str, str]] = {
    "unicode comment extra field 0x6375": (
        lambda src, dst: _write(
            dst,
            [
                (
                    _info(
                        i.filename,
                        i,
                        struct.pack("<HH", 0x6375, 9) + b"\x01" + b"\0" * 4 + b"hi!!"
                        if i.filename == GAP
                        else b"",
                    ),
                    d,
                )
                for i, d in _entries(src)
            ],
        ),
        GAP,
        "extra field 0x6375 (Info-ZIP Unicode Comment)",
    ),
    "an unknown extra field": (
        lambda src, dst: _write(
            dst,
            [
                (_info(i.filename, i, b"\x34\x12\x02\x00ab" if i.filename == GAP else b""), d)
                for i, d in _entries(src)
            ],
        ),
        GAP,
        "extra field 0x1234",
    ),
    "a directory entry holding data": (
        lambda src, dst: _extra_entry(src, dst, "reports/hidden/", b"payload"),
        "reports/hidden/",
        "a directory entry holding 7 bytes",
    ),
    "an empty directory entry": (
        lambda src, dst: _extra_entry(src, dst, "reports/empty/", b""),
        "reports/empty/",
        "a directory entry (the builder writes none)",
    ),
    "a name read differently as CP437 and UTF-8": (
        lambda src, dst: _patch(
            _extra_entry(src, dst, "evidence/ABC.txt", b"x").read_bytes(), b"ABC", b"\xe2\x80\xae"
        ),
        b"evidence/\xe2\x80\xae.txt".decode("cp437"),
        "reads differently as CP437",
    ),
    "an encrypted entry": (
        lambda src, dst: _encrypt_flag(
            dst, _write(dst, [(_info(i.filename, i), d) for i, d in _entries(src)])
        ),
        GAP,
        "it is encrypted",
    ),
    "an entry not in SHA256SUMS": (
        lambda src, dst: _extra_entry(src, dst, "reports/extra.pdf", b"%PDF"),
        "reports/extra.pdf",
        "in the pack but not listed in SHA256SUMS",
    ),
    "local header naming another file than the central directory": (
        lambda src, dst: _patch_local_name(src, dst),
        GAP,
        "its local header names it",
    ),
    "the same name twice": (
        lambda src, dst: _extra_entry(src, dst, GAP, FORGED),
        GAP,
        "twice",
    ),
    "a backslash name unzip maps to a listed file": (
        lambda src, dst: _extra_entry(src, dst, GAP.replace("/", "\\"), FORGED),
        GAP.replace("/", "\\"),
        "backslash",
    ),
    "bytes hidden before the first entry": (
        lambda src, dst: b"hidden" + src.read_bytes(),
        "",
        "",
    ),
    "a zip comment": (
        lambda src, dst: _comment(src, dst),
        "",
        "comment",
    ),
}


def _encrypt_flag(dst: Path, _written: Path) -> bytes:
    data = bytearray(dst.read_bytes())
    with zipfile.ZipFile(dst) as zf:
        info = zf.getinfo(GAP)
        pos = zf.start_dir
        for i in zf.infolist():
            if i.filename == GAP:
                break
            pos += 46 + len(i.filename.encode()) + len(i.extra) + len(i.comment)
    data[info.header_offset + 6] |= 0x01
    data[pos + 8] |= 0x01
    return bytes(data)


def _patch_local_name(src: Path, dst: Path) -> bytes:
    data = src.read_bytes()
    with zipfile.ZipFile(src) as zf:
        offset = zf.getinfo(GAP).header_offset
    name = GAP.encode()
    start = offset + 30
    assert data[start : start + len(name)] == name
    forged = name.replace(b"gap.pdf", b"gap.pdg")
    return data[:start] + forged + data[start + len(name) :]


def _comment(src: Path, dst: Path) -> Path:
    shutil.copyfile(src, dst)
    with zipfile.ZipFile(dst, "a") as zf:
        zf.comment = b"see also evil.pdf"
    return dst


@pytest.mark.filterwarnings("ignore:Duplicate name")
@pytest.mark.parametrize("forgery", sorted(FORGERIES))
def test_each_forgery_is_named(forgery: str, built: dict[str, Path], tmp_path: Path) -> None:
    make, path, words = FORGERIES[forgery]
    dst = tmp_path / "forged.zip"
    made = make(built["plain"], dst)
    if isinstance(made, bytes):
        dst.write_bytes(made)
    found = _findings(dst)
    assert found, forgery
    if path:
        assert any(p == path and words in d for _k, p, d in found), found
    else:
        assert any(p == str(dst) and words in d for _k, p, d in found), found
    result = Cli("sqlite://", tmp_path)("pack", "verify", str(dst))
    assert result.exit_code == 1 and "Traceback" not in result.output


# Signatures (finding 5) ------------------------------------------------------------------------


def test_signed_pack_verifies_with_its_signer_only(built: dict[str, Path], tmp_path: Path) -> None:
    signed, key, other = built["signed"], built["key"], built["other"]
    pub = sshsig.load_public_key(key.with_suffix(".pub"))
    report = verify_pack(signed, Trust(pub))
    assert report.ok, report.findings
    assert report.signed_by == pub and report.signer_trusted
    with zipfile.ZipFile(signed) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        names = zf.namelist()
        sums = zf.read("SHA256SUMS")
    assert SIGNATURE in names
    assert manifest["signature"]["fingerprint"] == pub.fingerprint
    assert manifest["signature"]["namespace"] == SSHSIG_NAMESPACE
    assert SIGNATURE.encode() not in sums  # the signature signs SHA256SUMS, which cannot list it
    run = Cli("sqlite://", tmp_path)
    ok = run("pack", "verify", str(signed), "--signer", str(key.with_suffix(".pub")))
    assert ok.exit_code == 0 and f"signed by {pub.fingerprint}: the expected signer" in ok.output
    wrong = run("pack", "verify", str(signed), "--signer", str(other.with_suffix(".pub")))
    assert wrong.exit_code == 1 and "not by the expected signer" in wrong.output
    unsigned = run("pack", "verify", str(built["plain"]), "--signer", str(key.with_suffix(".pub")))
    assert unsigned.exit_code == 1 and "the pack is not signed" in unsigned.output
    # An allowed-signers file, as ssh-keygen reads it.
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(f'grc@example.com namespaces="{SSHSIG_NAMESPACE}" {pub.openssh}\n')
    ok = run("pack", "verify", str(signed), "--allowed-signers", str(allowed))
    assert ok.exit_code == 0 and "(grc@example.com)" in ok.output
    allowed.write_text(f'grc@example.com namespaces="file" {pub.openssh}\n')
    assert run("pack", "verify", str(signed), "--allowed-signers", str(allowed)).exit_code == 1


def _resum(src: Path, dst: Path, change: Callable[[str, bytes], bytes]) -> Path:
    """The forgery of finding 5: change files, recompute SHA256SUMS and the manifest."""
    entries = _entries(src)
    contents = {i.filename: change(i.filename, d) for i, d in entries}
    manifest = json.loads(contents["manifest.json"])
    for f in manifest["files"]:
        data = contents[f["path"]]
        f["sha256"], f["size"] = hashlib.sha256(data).hexdigest(), len(data)
    for e in manifest["evidence"]:
        if e["path"] is None:  # a link without a snapshot: nothing in the pack to re-hash
            continue
        e["sha256"] = hashlib.sha256(contents[e["path"]]).hexdigest()
    contents["manifest.json"] = (json.dumps(manifest, indent=2) + "\n").encode()
    listed = [n for n in contents if n not in ("SHA256SUMS", SIGNATURE)]
    contents["SHA256SUMS"] = "".join(
        f"{hashlib.sha256(contents[n]).hexdigest()}  {n}\n" for n in sorted(listed)
    ).encode()
    return _write(dst, [(_info(i.filename, i), contents[i.filename]) for i, _d in entries])


def _alter_evidence(name: str, data: bytes) -> bytes:
    return data + b"\nforged line" if name.startswith("evidence/") else data


def test_altered_and_resummed_pack_fails_on_its_signature(
    built: dict[str, Path], tmp_path: Path
) -> None:
    """Finding 5: alter an evidence file, recompute SHA256SUMS and the manifest."""
    pub = sshsig.load_public_key(built["key"].with_suffix(".pub"))
    unsigned = _resum(built["plain"], tmp_path / "u.zip", _alter_evidence)
    assert verify_pack(unsigned).ok  # self-consistent: only a signature (or anchor) tells
    found = _findings(unsigned, Trust(pub))
    assert ("signature", SIGNATURE, "the pack is not signed") in found
    signed = _resum(built["signed"], tmp_path / "s.zip", _alter_evidence)
    found = _findings(signed)  # even without --signer: the signature no longer holds
    assert any(k == "signature" and "does not match the signed file" in d for k, _p, d in found)
    stripped = tmp_path / "stripped.zip"
    _write(
        stripped,
        [(_info(i.filename, i), d) for i, d in _entries(signed) if i.filename != SIGNATURE],
    )
    assert (
        "missing",
        SIGNATURE,
        "the manifest says the pack is signed; the signature is gone",
    ) in (_findings(stripped))
    broken = bytearray(zipfile.ZipFile(built["signed"]).read(SIGNATURE))
    broken[100] = ord("A") if broken[100] != ord("A") else ord("B")
    flipped = _write(
        tmp_path / "flipped.zip",
        [
            (_info(i.filename, i), bytes(broken) if i.filename == SIGNATURE else d)
            for i, d in _entries(built["signed"])
        ],
    )
    assert any(k == "signature" for k, _p, _d in _findings(flipped, Trust(pub)))


def _commands(verify_txt: str) -> list[str]:
    """The shell commands of VERIFY.txt, in order, from its section for verifying without the tool."""
    section = verify_txt.split("Without the tool", 1)[1]
    return [line[6:] for line in section.splitlines() if line.startswith("    $ ")]


def test_verify_txt_commands_run_literally(built: dict[str, Path], tmp_path: Path) -> None:
    """The commands VERIFY.txt gives pass on the signed pack with unzip, coreutils and
    ssh-keygen, and fail on the forgery of finding 5."""
    _need("unzip")
    _need("ssh-keygen")
    verify_txt = zipfile.ZipFile(built["signed"]).read("VERIFY.txt").decode()
    commands = _commands(verify_txt)
    assert any(c.startswith("ssh-keygen -Y verify") for c in commands), verify_txt
    script = "set -euo pipefail\n" + "\n".join(commands) + "\n"

    def run_in(pack: Path, name: str) -> subprocess.CompletedProcess[str]:
        folder = tmp_path / name
        folder.mkdir()
        shutil.copyfile(pack, folder / "PACK.zip")
        shutil.copyfile(built["key"].with_suffix(".pub"), folder / "signer.pub")
        return subprocess.run(
            ["bash", "-c", script], cwd=folder, capture_output=True, text=True, timeout=120
        )

    good = run_in(built["signed"], "good")
    assert good.returncode == 0, good.stdout + good.stderr
    assert f'Good "{SSHSIG_NAMESPACE}" signature for pack-signer' in good.stdout + good.stderr
    forged = _resum(built["signed"], tmp_path / "forged.zip", _alter_evidence)
    bad = run_in(forged, "bad")
    assert bad.returncode != 0 and "Good" not in bad.stdout + bad.stderr
    # The unsigned pack's VERIFY.txt runs too (no signature step).
    plain_cmds = _commands(zipfile.ZipFile(built["plain"]).read("VERIFY.txt").decode())
    assert not any("ssh-keygen" in c for c in plain_cmds)
    folder = tmp_path / "plain"
    folder.mkdir()
    shutil.copyfile(built["plain"], folder / "PACK.zip")
    done = subprocess.run(
        ["bash", "-c", "set -euo pipefail\n" + "\n".join(plain_cmds)],
        cwd=folder,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _readme_commands(readme: str) -> list[str]:
    """The shell commands of the pack README's "How to verify" section, in order: every line of
    its ```sh blocks."""
    section = readme.split("## How to verify", 1)[1]
    out: list[str] = []
    for block in re.findall(r"```sh\n(.*?)```", section, flags=re.S):
        out += [line.strip() for line in block.splitlines() if line.strip()]
    return out


def test_readme_commands_run_literally(built: dict[str, Path], tmp_path: Path) -> None:
    """The pack's README.md, written for an auditor who has never seen the tool, gives the same
    steps as VERIFY.txt: its commands, run as written, pass on the signed pack and fail on a
    forgery; the README also explains what the pack holds."""
    _need("unzip")
    _need("ssh-keygen")
    readme = zipfile.ZipFile(built["signed"]).read("README.md").decode()
    for heading in (
        "## Layout",
        "## Statuses",
        "## The decision",
        "## The policy applied",
        "## Catalog versions",
        "## The audit trail",
        "## How to verify",
    ):
        assert heading in readme, heading
    commands = _readme_commands(readme)
    verify_txt = zipfile.ZipFile(built["signed"]).read("VERIFY.txt").decode()
    assert [c for c in commands if not c.startswith("compliance ")] == _commands(verify_txt)
    shell = [c for c in commands if not c.startswith("compliance ")]
    script = "set -euo pipefail\n" + "\n".join(shell) + "\n"

    def run_in(pack: Path, name: str) -> subprocess.CompletedProcess[str]:
        folder = tmp_path / name
        folder.mkdir()
        shutil.copyfile(pack, folder / "PACK.zip")
        shutil.copyfile(built["key"].with_suffix(".pub"), folder / "signer.pub")
        return subprocess.run(
            ["bash", "-c", script], cwd=folder, capture_output=True, text=True, timeout=120
        )

    good = run_in(built["signed"], "good")
    assert good.returncode == 0, good.stdout + good.stderr
    assert "Good" in good.stdout + good.stderr
    bad = run_in(_resum(built["signed"], tmp_path / "forged.zip", _alter_evidence), "bad")
    assert bad.returncode != 0
    # The one step that needs the tool and the database: the audit head, as written.
    head = json.loads(zipfile.ZipFile(built["signed"]).read("manifest.json"))["audit"]["data_head"]
    expect = f"compliance audit verify --expect {head['events']}:{head['hash']}"
    assert expect in commands
    run = Cli(f"sqlite:///{built['db']}", built["db"].parent / "store")
    done = run(*expect.split()[1:])
    assert done.exit_code == 0, done.output


def test_signature_is_what_ssh_keygen_writes(built: dict[str, Path], tmp_path: Path) -> None:
    """Ed25519 signing is deterministic: ssh-keygen -Y sign of the same SHA256SUMS with the same
    key gives the very bytes in the pack."""
    _need("ssh-keygen")
    with zipfile.ZipFile(built["signed"]) as zf:
        (tmp_path / "SHA256SUMS").write_bytes(zf.read("SHA256SUMS"))
        ours = zf.read(SIGNATURE)
    subprocess.run(
        ["ssh-keygen", "-Y", "sign", "-f", str(built["key"]), "-n", SSHSIG_NAMESPACE, "SHA256SUMS"],
        cwd=tmp_path,
        check=True,
        capture_output=True,
    )
    assert (tmp_path / "SHA256SUMS.sig").read_bytes() == ours


def test_signing_refuses_unusable_keys(run: Cli, tmp_path: Path) -> None:
    assert run("import", str(KB)).exit_code == 0
    bad = tmp_path / "not-a-key"
    bad.write_text("hello")
    r = run("pack", *SCOPE, "--include-drafts", "--sign", str(bad), "-o", str(tmp_path / "p.zip"))
    assert r.exit_code == 1 and "not an OpenSSH private key" in r.output
    assert not (tmp_path / "p.zip").exists()


# The pack event and the data head (finding 3) -------------------------------------------------


def test_pack_event_records_sums_and_data_head_and_rebuilds_identically(
    run: Cli, tmp_path: Path
) -> None:
    assert run("import", str(KB)).exit_code == 0
    head = re.search(r"OK: \d+ events, head [0-9a-f]{64}", run("audit", "verify").output)
    assert head
    before = json.loads(run("audit", "log", "--json", "--limit", "1").output)[0]
    first, second = tmp_path / "a.zip", tmp_path / "b.zip"
    assert run("pack", *SCOPE, "--include-drafts", "-o", str(first)).exit_code == 0
    assert run("pack", *SCOPE, "--include-drafts", "-o", str(second)).exit_code == 0
    assert first.read_bytes() == second.read_bytes()  # pack events change no data
    with zipfile.ZipFile(first) as zf:
        sums = hashlib.sha256(zf.read("SHA256SUMS")).hexdigest()
        manifest = json.loads(zf.read("manifest.json"))
        verify_txt = zf.read("VERIFY.txt").decode()
    count = len(json.loads(run("audit", "log", "--json", "--limit", "0").output)) - 2
    anchor = f"{count}:{before['hash']}"
    assert manifest["audit"]["data_head"] == {"events": count, "hash": before["hash"]}
    assert f"compliance audit verify --expect {anchor}" in verify_txt
    log = json.loads(run("audit", "log", "--json", "--limit", "2").output)
    for event, name in zip(log, ["b.zip", "a.zip"], strict=True):
        assert event["action"] == "pack.build" and event["subject"] == name
        assert event["detail"]["sha256sums"] == sums
        assert event["detail"]["data_head"] == {"events": count, "hash": before["hash"]}
    text = run("audit", "log", "--limit", "2").output
    assert f"SHA256SUMS {sums}  built from data head {anchor}" in text
    verified = run("audit", "verify", "--expect", anchor)
    assert verified.exit_code == 0, verified.output
    packed = run("pack", "verify", str(first))
    assert f"built from the audit trail up to event {anchor}" in packed.output


# Evidence integrity (finding 4) ---------------------------------------------------------------


def _blob(store: Path, sha: str) -> Path:
    return store / sha[:2] / sha[2:]


def _kb_evidence(run: Cli) -> dict[str, str]:
    doc = json.loads(KB.read_text())
    out = {}
    for r in doc["assessment"]["results"]:
        for e in r.get("evidence", []):
            if "file" in e:
                data = (KB.parent / e["file"]).read_bytes()
                out[e["file"]] = hashlib.sha256(data).hexdigest()
    return out


def test_altered_or_missing_blob_is_named_refused_by_pack_and_restored_by_import(
    run: Cli, tmp_path: Path
) -> None:
    """Finding 4: an overwritten blob was shipped and `pack verify` said OK; a blob that exists
    was never replaced; a deleted one was not restored by re-import."""
    assert run("import", str(KB)).exit_code == 0
    files = _kb_evidence(run)
    (name_a, sha_a), (name_b, sha_b) = sorted(files.items())[:2]
    altered, missing = _blob(run.evidence, sha_a), _blob(run.evidence, sha_b)
    os.chmod(altered, 0o644)
    altered.write_bytes(b"forged evidence")
    missing.unlink()
    check = run("evidence", "verify")
    assert check.exit_code == 1
    assert f"altered: {sha_a}: now hashes to {hashlib.sha256(b'forged evidence').hexdigest()}" in (
        check.output
    )
    assert f"missing: {sha_b}: used by kb-search-assistant/2026-Q4: {name_b}" in check.output
    out = tmp_path / "p.zip"
    refused = run("pack", *SCOPE, "--include-drafts", "-o", str(out))
    assert refused.exit_code == 1 and not out.exists()
    assert f"(sha256 {sha_a}): altered in the evidence store" in refused.output
    assert f"(sha256 {sha_b}): missing from the evidence store" in refused.output
    again = run("import", str(KB))
    assert again.exit_code == 0 and "unchanged" in again.output
    assert (
        "2 evidence file(s) were missing or altered in the store and were put back" in again.output
    )
    assert run("evidence", "verify").exit_code == 0
    assert hashlib.sha256(altered.read_bytes()).hexdigest() == sha_a
    assert run("pack", *SCOPE, "--include-drafts", "-o", str(out)).exit_code == 0
    # A document naming the file by hash only cannot use an altered copy.
    doc = json.loads(KB.read_text())
    for r in doc["assessment"]["results"]:
        for e in r.get("evidence", []):
            if e.get("file") == name_a:
                e["sha256"] = sha_a
    doc["assessment"]["id"] = "2026-Q4"
    by_hash = tmp_path / "by-hash" / "assessment.json"
    by_hash.parent.mkdir()
    by_hash.write_text(json.dumps(doc))
    shutil.copytree(KB.parent / "evidence", by_hash.parent / "evidence")
    (by_hash.parent / name_a).unlink()
    os.chmod(altered, 0o644)
    altered.write_bytes(b"forged again")
    refused = run("import", str(by_hash))
    assert refused.exit_code == 1
    assert f"the evidence store's copy of sha256 {sha_a} was altered" in refused.output


def test_manifest_evidence_record_must_match_the_file(
    built: dict[str, Path], tmp_path: Path
) -> None:
    """Finding 4: the manifest's evidence[].sha256 and files[].sha256 disagreed unflagged."""

    def keep_records(src: Path, dst: Path) -> Path:
        entries = _entries(src)
        contents = {i.filename: d for i, d in entries}
        manifest = json.loads(contents["manifest.json"])
        target = next(e["path"] for e in manifest["evidence"] if e["path"])
        contents[target] = b"forged"
        for f in manifest["files"]:
            if f["path"] == target:
                f["sha256"], f["size"] = hashlib.sha256(b"forged").hexdigest(), 6
        contents["manifest.json"] = json.dumps(manifest).encode()
        contents["SHA256SUMS"] = "".join(
            f"{hashlib.sha256(contents[n]).hexdigest()}  {n}\n"
            for n in sorted(contents)
            if n != "SHA256SUMS"
        ).encode()
        return _write(dst, [(_info(i.filename, i), contents[i.filename]) for i, _d in entries])

    forged = keep_records(built["plain"], tmp_path / "f.zip")
    assert any("the evidence record says sha256" in d for _k, _p, d in _findings(forged))


def test_evidence_gc_removes_only_unreferenced_files(run: Cli, tmp_path: Path) -> None:
    folder = tmp_path / "kb"
    shutil.copytree(KB.parent, folder)
    assert run("import", str(folder / "assessment.json")).exit_code == 0
    before = sorted(p for p in run.evidence.rglob("*") if p.is_file())
    # Replace one evidence file of the draft: its old copy is referenced no more.
    evidence_file = sorted((folder / "evidence").iterdir())[0]
    old_sha = hashlib.sha256(evidence_file.read_bytes()).hexdigest()
    evidence_file.write_bytes(evidence_file.read_bytes() + b"\nrevised")
    assert run("import", str(folder / "assessment.json")).exit_code == 0
    leftover = run.evidence / "ab" / ".incoming-123-0-deadbeef"
    leftover.parent.mkdir(exist_ok=True)
    leftover.write_bytes(b"half a copy")
    dry = run("evidence", "gc", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert f"would remove {_blob(run.evidence, old_sha)}" in dry.output
    assert f"would remove {leftover}" in dry.output
    assert "would remove 1 unreferenced file(s) and 1 temporary file(s)" in dry.output
    assert _blob(run.evidence, old_sha).exists() and leftover.exists()
    done = run("evidence", "gc")
    assert done.exit_code == 0 and "removed 1 unreferenced file(s) and 1 temporary file(s)" in (
        done.output
    )
    assert not _blob(run.evidence, old_sha).exists() and not leftover.exists()
    assert run("evidence", "verify").exit_code == 0
    remaining = sorted(p for p in run.evidence.rglob("*") if p.is_file())
    assert len(remaining) == len(before)
    assert "removed 0 unreferenced file(s)" in run("evidence", "gc").output
