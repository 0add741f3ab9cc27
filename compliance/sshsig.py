"""OpenSSH signatures (SSHSIG) with Ed25519 keys: what `ssh-keygen -Y sign` writes and
`ssh-keygen -Y verify` checks, so that anyone with OpenSSH can verify a signed pack.

The format is OpenSSH's PROTOCOL.sshsig: an armored blob holding the magic `SSHSIG`, version 1,
the public key, a namespace, a reserved string, the hash algorithm and the signature; the
signature covers `SSHSIG` + namespace + reserved + hash algorithm + H(message). Keys are read
with `cryptography`; only Ed25519 is supported (deterministic signatures: the same key and file
give the same bytes).
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import hashlib
import struct
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from compliance.errors import ComplianceError

MAGIC = b"SSHSIG"
VERSION = 1
HASH_ALGORITHM = "sha512"
KEY_TYPE = "ssh-ed25519"
BEGIN = "-----BEGIN SSH SIGNATURE-----"
END = "-----END SSH SIGNATURE-----"
MAX_SIGNATURE_BYTES = 64 * 1024


class SignatureError(ComplianceError):
    """A signature, key or allowed-signers file that cannot be used, and why."""


def _string(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise SignatureError("the signature is truncated")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def uint32(self) -> int:
        value: int = struct.unpack(">I", self.take(4))[0]
        return value

    def string(self) -> bytes:
        return self.take(self.uint32())

    def done(self) -> bool:
        return self.pos == len(self.data)


@dataclass(frozen=True)
class PublicKey:
    """An Ed25519 public key: its raw 32 bytes."""

    raw: bytes

    @property
    def blob(self) -> bytes:
        """The SSH wire encoding (RFC 8709): string "ssh-ed25519", string key."""
        return _string(KEY_TYPE.encode()) + _string(self.raw)

    @property
    def openssh(self) -> str:
        """As in a `.pub` file or an allowed-signers line: `ssh-ed25519 AAAA...`."""
        return f"{KEY_TYPE} {base64.b64encode(self.blob).decode()}"

    @property
    def fingerprint(self) -> str:
        """As `ssh-keygen -l` prints it: `SHA256:` and the unpadded base64 of the blob's SHA-256."""
        digest = base64.b64encode(hashlib.sha256(self.blob).digest()).decode().rstrip("=")
        return f"SHA256:{digest}"

    @classmethod
    def from_blob(cls, blob: bytes) -> PublicKey:
        r = _Reader(blob)
        kind = r.string()
        if kind != KEY_TYPE.encode():
            raise SignatureError(
                f"the key is {kind.decode(errors='replace')!r}; only {KEY_TYPE} is supported"
            )
        raw = r.string()
        if len(raw) != 32 or not r.done():
            raise SignatureError("the Ed25519 key is malformed")
        return cls(raw)

    @classmethod
    def parse(cls, text: str) -> PublicKey:
        """`ssh-ed25519 BASE64 [comment]`."""
        parts = text.split()
        if len(parts) < 2 or parts[0] != KEY_TYPE:
            raise SignatureError(f"not an OpenSSH {KEY_TYPE} public key")
        try:
            blob = base64.b64decode(parts[1], validate=True)
        except binascii.Error:
            raise SignatureError("the public key is not valid base64") from None
        return cls.from_blob(blob)


def load_public_key(path: Path) -> PublicKey:
    """Read a `.pub` file (the first key line)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SignatureError(f"{path}: cannot read the public key: {exc}") from None
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            try:
                return PublicKey.parse(line)
            except SignatureError as exc:
                raise SignatureError(f"{path}: {exc}") from None
    raise SignatureError(f"{path}: no public key in the file")


@dataclass(frozen=True)
class SigningKey:
    private: Ed25519PrivateKey
    public: PublicKey


def load_signing_key(path: Path) -> SigningKey:
    """Read an OpenSSH Ed25519 private key file (unencrypted; `ssh-keygen -t ed25519 -N ''`)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SignatureError(f"{path}: cannot read the key: {exc.strerror}") from None
    try:
        key = serialization.load_ssh_private_key(data, password=None)
    except TypeError:
        raise SignatureError(
            f"{path}: the key is protected by a passphrase; sign with a key without one "
            "(kept where only the signer can read it)"
        ) from None
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise SignatureError(f"{path}: not an OpenSSH private key: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SignatureError(f"{path}: the key is not Ed25519 (ssh-keygen -t ed25519 makes one)")
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return SigningKey(key, PublicKey(raw))


def _signed_data(message: bytes, namespace: str, reserved: bytes, algorithm: str) -> bytes:
    digest = hashlib.new(algorithm, message).digest()
    return (
        MAGIC
        + _string(namespace.encode())
        + _string(reserved)
        + _string(algorithm.encode())
        + _string(digest)
    )


def sign(message: bytes, key: SigningKey, namespace: str) -> bytes:
    """The armored SSHSIG signature of `message`, as `ssh-keygen -Y sign -n NAMESPACE` writes it."""
    if not namespace:
        raise SignatureError("the namespace must not be empty")
    signature = key.private.sign(_signed_data(message, namespace, b"", HASH_ALGORITHM))
    blob = (
        MAGIC
        + struct.pack(">I", VERSION)
        + _string(key.public.blob)
        + _string(namespace.encode())
        + _string(b"")
        + _string(HASH_ALGORITHM.encode())
        + _string(_string(KEY_TYPE.encode()) + _string(signature))
    )
    text = base64.b64encode(blob).decode()
    lines = [text[i : i + 70] for i in range(0, len(text), 70)]
    return (BEGIN + "\n" + "\n".join(lines) + "\n" + END + "\n").encode()


def verify(message: bytes, armored: bytes, namespace: str) -> PublicKey:
    """Check an armored SSHSIG signature of `message` in `namespace`; return the key that made
    it, or raise SignatureError saying what is wrong. Whether that key is trusted is the
    caller's question."""
    if len(armored) > MAX_SIGNATURE_BYTES:
        raise SignatureError("the signature file is implausibly large")
    try:
        text = armored.decode("ascii").strip()
    except UnicodeDecodeError:
        raise SignatureError("the signature is not ASCII armor") from None
    if not text.startswith(BEGIN) or not text.endswith(END):
        raise SignatureError(f"the signature does not start with {BEGIN} and end with {END}")
    body = "".join(text[len(BEGIN) : -len(END)].split())
    try:
        blob = base64.b64decode(body, validate=True)
    except binascii.Error:
        raise SignatureError("the signature is not valid base64") from None
    r = _Reader(blob)
    if r.take(6) != MAGIC:
        raise SignatureError("the signature does not start with SSHSIG")
    version = r.uint32()
    if version != VERSION:
        raise SignatureError(f"unsupported signature version {version}")
    key = PublicKey.from_blob(r.string())
    signed_namespace = r.string().decode(errors="replace")
    reserved = r.string()
    algorithm = r.string().decode(errors="replace")
    inner = _Reader(r.string())
    if not r.done():
        raise SignatureError("the signature has trailing data")
    if signed_namespace != namespace:
        raise SignatureError(
            f"the signature is for namespace {signed_namespace!r}, not {namespace!r}"
        )
    if algorithm not in ("sha256", "sha512"):
        raise SignatureError(f"unsupported hash algorithm {algorithm!r}")
    if inner.string() != KEY_TYPE.encode():
        raise SignatureError(f"the signature is not an {KEY_TYPE} signature")
    raw = inner.string()
    if len(raw) != 64 or not inner.done():
        raise SignatureError("the Ed25519 signature is malformed")
    try:
        Ed25519PublicKey.from_public_bytes(key.raw).verify(
            raw, _signed_data(message, namespace, reserved, algorithm)
        )
    except InvalidSignature:
        raise SignatureError(
            f"the signature does not match the signed file (key {key.fingerprint})"
        ) from None
    return key


# Allowed-signers files (ssh-keygen(1), ALLOWED SIGNERS) ----------------------------------------


@dataclass(frozen=True)
class AllowedSigner:
    principals: str
    key: PublicKey
    namespaces: tuple[str, ...] | None
    valid_after: datetime | None
    valid_before: datetime | None
    line: int


def _split_options(text: str) -> tuple[str, str]:
    """The options field (which may quote spaces) and the rest of the line."""
    in_quote = False
    for i, ch in enumerate(text):
        if ch == '"':
            in_quote = not in_quote
        elif ch in " \t" and not in_quote:
            return text[:i], text[i:].strip()
    return text, ""


def _time(value: str, where: str) -> datetime:
    value = value.strip('"').rstrip("Z")
    for fmt in ("%Y%m%d%H%M%S", "%Y%m%d%H%M", "%Y%m%d"):
        try:
            return datetime.strptime(value, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise SignatureError(f"{where}: cannot read the time {value!r}")


def parse_allowed_signers(path: Path) -> list[AllowedSigner]:
    """Read an allowed-signers file: `principals [options] ssh-ed25519 KEY [comment]` per line.
    Options understood: namespaces, valid-after, valid-before; cert-authority is refused."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise SignatureError(f"{path}: cannot read the allowed signers: {exc}") from None
    out: list[AllowedSigner] = []
    for n, line in enumerate(lines, 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        where = f"{path}:{n}"
        principals, _, rest = text.partition(" ")
        rest = rest.strip()
        options = ""
        if (
            not rest.startswith(KEY_TYPE)
            and not rest.startswith("ssh-")
            and not rest.startswith("ecdsa-")
        ):
            options, rest = _split_options(rest)
        namespaces: tuple[str, ...] | None = None
        after = before = None
        for option in filter(None, _comma_split(options)):
            name, _, value = option.partition("=")
            name = name.lower()
            if name == "cert-authority":
                raise SignatureError(f"{where}: certificate authorities are not supported")
            if name == "namespaces":
                namespaces = tuple(v.strip() for v in value.strip('"').split(","))
            elif name == "valid-after":
                after = _time(value, where)
            elif name == "valid-before":
                before = _time(value, where)
        try:
            key = PublicKey.parse(rest)
        except SignatureError as exc:
            if rest.split()[:1] and rest.split()[0] != KEY_TYPE:
                continue  # another key type: never the signer of a pack
            raise SignatureError(f"{where}: {exc}") from None
        out.append(AllowedSigner(principals, key, namespaces, after, before, n))
    return out


def _comma_split(options: str) -> list[str]:
    parts, current, in_quote = [], "", False
    for ch in options:
        if ch == '"':
            in_quote = not in_quote
        if ch == "," and not in_quote:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    return parts


def allowed(
    signers: list[AllowedSigner], key: PublicKey, namespace: str, now: datetime | None = None
) -> AllowedSigner | None:
    """The allowed-signers entry that lets `key` sign in `namespace` now, if any."""
    now = now or datetime.now(UTC)
    for s in signers:
        if s.key != key:
            continue
        if s.namespaces is not None and not any(
            fnmatch.fnmatchcase(namespace, pattern) for pattern in s.namespaces
        ):
            continue
        if (s.valid_after and now < s.valid_after) or (s.valid_before and now > s.valid_before):
            continue
        return s
    return None
