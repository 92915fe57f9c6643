# ruff: noqa: E501  (shell commands in VERIFY.md are shown exactly as an expert types them)
"""VERIFY.md: the exact standard-tool commands an outside expert runs, no vmforensics needed."""

from __future__ import annotations

SEAL_NAMESPACE = "vmforensics-seal-v1"
CUSTODY_NAMESPACE = "vmforensics-custody-v1"


def render(
    *, bag: str, identity: str, fingerprint: str, minisign_id: str, payload_files: int = 1
) -> bytes:
    if payload_files:
        payload = (
            "sha256sum -c --strict manifest-sha256.txt\nsha512sum -c --strict manifest-sha512.txt\n"
        )
    else:  # sha256sum -c refuses an empty list; say so and check the manifests are empty
        payload = (
            "# this bag has no payload files (Payload-Oxum 0.0): the manifests must be empty\n"
            "test ! -s manifest-sha256.txt && test ! -s manifest-sha512.txt\n"
        )
    text = f"""# Verifying sealed evidence bag `{bag}`

This folder is a BagIt 1.0 bag (RFC 8493) sealed by vmforensics. Everything below uses
standard tools only: GNU coreutils, OpenSSH `ssh-keygen` (8.1 or later), `minisign` and
`age`. Every code block is meant to be run as written, with `bash`, from the folder that
holds the bag (`{bag}/`) and, if you received it, the package `{bag}.tar.age`.

How the pieces hold each other: the signatures cover `seal/SEAL.sha512`; the seal lists
the SHA-512 of both tag manifests and, in signed `#` lines, the Merkle root of the payload
manifest and the head of the custody chain; the tag manifests cover `bagit.txt`,
`bag-info.txt`, the payload manifests, `VERIFY.md`, `metadata/` and `custody/`; the
payload manifests cover every file under `data/`.

## 0. If you received the encrypted package

Set `AGE_IDENTITY` to your age identity file (or your SSH private key), then:

```sh
sha256sum -c --strict {bag}.tar.age.sha256
age -d -i "$AGE_IDENTITY" {bag}.tar.age | tar -x
```

## 1. Who sealed it

Compare this fingerprint with the examiner's key in the lab's records; the key files in
`seal/` are a convenience, not the root of trust.

```sh
cd {bag}
ssh-keygen -l -f seal/signer.ossh.pub | grep -F '{fingerprint}'
```

Expected: `{fingerprint}` (minisign key id `{minisign_id}`).

## 2. The signature over the seal (either command is enough; both should pass)

```sh
cd {bag}
ssh-keygen -Y verify -f seal/allowed_signers -I {identity} -n {SEAL_NAMESPACE} -s seal/SEAL.sha512.sshsig < seal/SEAL.sha512
minisign -V -m seal/SEAL.sha512 -x seal/SEAL.sha512.minisig -p seal/signer.minisign.pub
```

## 3. Seal, tag manifests, payload

```sh
cd {bag}
sha512sum -c --strict seal/SEAL.sha512
sha512sum -c --strict tagmanifest-sha512.txt
sha256sum -c --strict tagmanifest-sha256.txt
{payload}```

## 4. Completeness: nothing missing, nothing extra

`sha256sum -c` does not notice files that are not listed; this comparison does.

```sh
cd {bag}
diff <(find data -type f | LC_ALL=C sort) <(cut -d' ' -f3- manifest-sha256.txt | LC_ALL=C sort) && echo "payload complete"
```

## 5. Custody chain up to sealing

Each line of `custody/custody.jsonl` carries `prev_sha256`, the SHA-256 of the previous
line's bytes (the first line: of `custody/genesis.json`, the case header as first
written); the last line's position and hash are in the signed seal.

```sh
cd {bag}
prev=$(sha256sum custody/genesis.json | cut -d' ' -f1); n=0
while IFS= read -r line; do
  n=$((n+1))
  case "$line" in *"\\"prev_sha256\\":\\"$prev\\""*) ;; *) echo "custody line $n: broken link"; exit 1;; esac
  prev=$(printf '%s' "$line" | sha256sum | cut -d' ' -f1)
done < custody/custody.jsonl
grep -qx "# custody-head: $n $prev" seal/SEAL.sha512 || {{ echo "custody head differs from the seal"; exit 1; }}
echo "custody chain OK: $n events, head $prev"
```

## 6. Custody after sealing (sidecar `{bag}.custody/`, if present)

Events after sealing are files `NNNNNN.json` beside the bag, each signed by its actor
(SSHSIG, namespace `{CUSTODY_NAMESPACE}`) and chained: the first to the seal ID (the
SHA-256 of `seal/SEAL.sha512`), each later one to the SHA-256 of the previous file.
Compare each printed key fingerprint with the `signer` named inside the event.

```sh
prev=$(sha256sum {bag}/seal/SEAL.sha512 | cut -d' ' -f1)
for f in {bag}.custody/[0-9]*.json; do
  [ -e "$f" ] || break
  grep -qF "\\"prev_sha256\\":\\"$prev\\"" "$f" || {{ echo "$f: broken link"; exit 1; }}
  ssh-keygen -Y check-novalidate -n {CUSTODY_NAMESPACE} -s "$f.sshsig" < "$f" || exit 1
  prev=$(sha256sum "$f" | cut -d' ' -f1)
done
echo "sidecar custody chain OK"
```

## 7. Optional second opinions

`bagit.py --validate {bag}` (LoC bagit-python, full validation) and
`case_validate {bag}/metadata/case.jsonld` (CASE 1.5). The Merkle root in the seal
(RFC 6962, leaves = the lines of `manifest-sha256.txt`) lets one payload file be proven
part of this bag without the others: `vmforensics verify-proof`, or any RFC 6962
implementation.
"""
    return text.encode()
