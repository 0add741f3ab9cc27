"""The fixed names of an audit pack's own files, in a module light enough for the command line
to import when it starts (the pack module itself pulls in the whole report stack)."""

from __future__ import annotations

PACK_FORMAT = "compliance-pack/1"
MANIFEST = "manifest.json"
CHECKSUMS = "SHA256SUMS"
SIGNATURE = "SHA256SUMS.sig"
VERIFY_TEXT = "VERIFY.txt"
# The SSHSIG namespace of a pack's signature: `ssh-keygen -Y verify -n` must name it, and an
# allowed-signers line may restrict a key to it (namespaces="...").
SSHSIG_NAMESPACE = "audit-pack@agent-compliance"
SIGNER_PRINCIPAL = "pack-signer"  # the identity VERIFY.txt's commands give the signer's key
