"""Custody after sealing (sidecar), inclusion proofs, and the age-encrypted package."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pyrage
import pytest
import sealkit

from chain_of_custody.seal import (
    export,
    parse_recipients,
    proof,
    sidecar,
    verify_bag,
    verify_path,
)
from chain_of_custody.seal.verify import Unopenable


@pytest.fixture
def bag(tmp_path: Path) -> Path:
    return sealkit.make_bag(tmp_path)


def seal_id(bag: Path) -> str:
    return hashlib.sha256((bag / "seal" / "SEAL.sha512").read_bytes()).hexdigest()


def add_events(bag: Path, n: int = 3) -> Path:
    side = sidecar.sidecar_for(bag.parent, bag.name)
    events = ["transferred", "received", "opened", "returned"]
    for i in range(n):
        sidecar.append(
            side,
            seal_id(bag),
            sealkit.key(10 + i),
            event=events[i],
            actor=f"person {i}",
            tool="test",
            time_utc=f"2026-12-0{i + 1}T10:00:00Z",
            detail={"location": "court"},
        )
    return side


def test_sidecar_chain_verifies_and_is_linked_to_the_seal(bag):
    side = add_events(bag)
    report = verify_bag(bag, sidecar_dir=side)
    assert report.ok, [str(c) for c in report.failures]
    first = json.loads((side / "000001.json").read_bytes())
    assert first["prev_sha256"] == seal_id(bag)
    assert first["signer"]["fingerprint"] == sealkit.key(10).public.fingerprint
    assert sidecar.seal_id_from(side) == seal_id(bag)


def test_sidecar_commands_in_verify_md_pass(bag):
    if shutil.which("ssh-keygen") is None:
        pytest.skip("ssh-keygen missing (apt-get install openssh-client)")
    add_events(bag)
    import re

    block = re.findall(r"```sh\n(.*?)```", (bag / "VERIFY.md").read_text(), re.S)[6]
    ok = subprocess.run(
        ["bash", "-c", "set -eo pipefail\n" + block], cwd=bag.parent, capture_output=True, text=True
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    ev = bag.parent / f"{bag.name}.custody" / "000002.json"
    ev.write_bytes(ev.read_bytes().replace(b"court", b"COURT"))
    bad = subprocess.run(
        ["bash", "-c", "set -eo pipefail\n" + block], cwd=bag.parent, capture_output=True, text=True
    )
    assert bad.returncode != 0


@pytest.mark.parametrize("how", ["edited", "deleted", "reordered", "resigned", "extra"])
def test_sidecar_tampering_is_named(bag, how):
    side = add_events(bag)
    e2 = side / "000002.json"
    if how == "edited":
        e2.write_bytes(e2.read_bytes().replace(b"person 1", b"person X"))
    elif how == "deleted":
        e2.unlink()
        (side / "000002.json.sshsig").unlink()
    elif how == "reordered":
        e3 = side / "000003.json"
        a, b = e2.read_bytes(), e3.read_bytes()
        e2.write_bytes(b)
        e3.write_bytes(a)
    elif how == "resigned":  # someone else signs an event in person 1's name
        from chain_of_custody.seal import sshsig
        from chain_of_custody.seal.verifymd import CUSTODY_NAMESPACE

        (side / "000002.json.sshsig").write_text(
            sshsig.sign(sealkit.key(99), e2.read_bytes(), CUSTODY_NAMESPACE)
        )
    else:
        (side / "notes.txt").write_text("x")
    report = verify_bag(bag, sidecar_dir=side)
    bad = [c for c in report.failures if c.check == "sidecar"]
    assert bad, how
    text = " ".join(c.message for c in bad)
    expected = {
        "edited": "signature invalid",
        "deleted": "out of sequence",
        "reordered": "broken link",
        "resigned": "signature invalid",
        "extra": "unexpected file",
    }[how]
    assert expected in text


def test_inclusion_proof_without_the_other_files(bag, tmp_path):
    target = "data/S1/original/HomeDomain/Library/Voicemail/2.amr"
    p = proof.make(bag, target)
    disclosed = tmp_path / "disclosed.amr"
    shutil.copy(bag / target, disclosed)
    shutil.rmtree(bag)  # the other files are gone: the proof stands alone
    report = proof.verify(json.loads(json.dumps(p)), disclosed, sealkit.key().public)
    assert report.ok, [str(c) for c in report.failures]
    assert report.pinned
    # a wrong file
    other = tmp_path / "other.amr"
    other.write_bytes(disclosed.read_bytes() + b"\x00")
    bad = proof.verify(p, other)
    assert any(c.check == "proof" and "SHA-256 differs" in c.message for c in bad.failures)
    # a tampered path in the proof
    forged = dict(p, path="data/S1/original/HomeDomain/Library/Voicemail/9.amr")
    bad = proof.verify(forged, disclosed)
    assert [c.check for c in bad.failures] == ["merkle"]
    # a tampered root (with a matching forged path) fails against the signed seal
    forged = dict(p, merkle_root_sha256="00" * 32)
    assert {c.check for c in proof.verify(forged, disclosed).failures} >= {"merkle", "seal"}
    # another signer pinned
    assert any(
        c.check == "signature" for c in proof.verify(p, disclosed, sealkit.key(5).public).failures
    )


def test_proof_for_unknown_file(bag):
    with pytest.raises(proof.ProofError):
        proof.make(bag, "data/nothing")


def test_export_decrypts_with_each_identity_and_truncation_is_detected(bag, tmp_path):
    ids = [pyrage.x25519.Identity.generate() for _ in range(2)]
    recips = parse_recipients([str(i.to_public()) for i in ids])
    exp = export(bag, recips, 1767225600)
    assert exp.sha256_file.read_text() == f"{exp.sha256}  {exp.path.name}\n"
    for ident in ids:
        report = verify_path(exp.path, sealkit.key().public, [ident])
        assert report.ok, [str(c) for c in report.failures]
    with pytest.raises(Unopenable):
        verify_path(exp.path, None, [pyrage.x25519.Identity.generate()])
    with pytest.raises(Unopenable):
        verify_path(exp.path, None, None)
    data = exp.path.read_bytes()
    exp.path.write_bytes(data[: len(data) - 100])
    report = verify_path(exp.path, None, [ids[0]])
    bad = [c for c in report.failures if c.check == "package"]
    assert any("ciphertext does not match" in c.message for c in bad)
    assert any("damaged or truncated" in c.message for c in bad)


def test_recipients_file_and_ssh_keys(tmp_path):
    ident = pyrage.x25519.Identity.generate()
    f = tmp_path / "recipients.txt"
    ssh_pub = sealkit.key(3).public.openssh("counsel").strip()
    f.write_text(f"# counsel and lab escrow\n{ident.to_public()}\n\n{ssh_pub}\n")
    rs = parse_recipients([str(f), str(ident.to_public())])
    assert len(rs) == 2
    assert rs[1].label == "ssh-ed25519 " + sealkit.key(3).public.fingerprint
    from chain_of_custody.seal.envelope import RecipientError

    with pytest.raises(RecipientError):
        parse_recipients(["age1notakey"])
    with pytest.raises(RecipientError):
        parse_recipients([str(tmp_path / "missing")])


def test_plain_tar_truncated(bag, tmp_path):
    from chain_of_custody.seal import tarball

    tar = tmp_path / f"{bag.name}.tar"
    with open(tar, "wb") as f:
        tarball.write_tar(bag, f, 0)
    assert verify_path(tar).ok
    tar.write_bytes(tar.read_bytes()[:3000])
    report = verify_path(tar)
    assert not report.ok and report.failures[0].check == "package"


def test_export_never_replaces_an_existing_package(bag):
    ident = pyrage.x25519.Identity.generate()
    target = bag.with_name(bag.name + ".tar.age")
    target.write_bytes(b"earlier package")
    with pytest.raises(FileExistsError):
        export(bag, parse_recipients([str(ident.to_public())]), 0)
    assert target.read_bytes() == b"earlier package"


def test_proof_seal_checks_with_ssh_keygen_alone(bag, tmp_path):
    if shutil.which("ssh-keygen") is None:
        pytest.skip("ssh-keygen missing (apt-get install openssh-client)")
    p = proof.make(bag, "data/S1/original/empty.txt")
    (tmp_path / "seal").write_bytes(p["seal"].encode())
    (tmp_path / "seal.sig").write_text(p["seal_sshsig"])
    (tmp_path / "allowed").write_text(f"examiner {p['signer']}\n")
    res = subprocess.run(
        ["ssh-keygen", "-Y", "verify", "-f", str(tmp_path / "allowed"), "-I", "examiner",
         "-n", "vmforensics-seal-v1", "-s", str(tmp_path / "seal.sig")],
        stdin=open(tmp_path / "seal", "rb"), capture_output=True, text=True,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert f"# merkle-root-sha256: {p['merkle_root_sha256']}" in p["seal"]
