"""Examiner keys and signatures, checked by the real OpenSSH and minisign tools."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from chain_of_custody.seal import keys, minisig, sshsig

needs_ssh = pytest.mark.skipif(
    shutil.which("ssh-keygen") is None, reason="ssh-keygen missing (apt-get install openssh-client)"
)
needs_minisign = pytest.mark.skipif(
    shutil.which("minisign") is None, reason="minisign missing (apt-get install minisign)"
)


@pytest.fixture
def keyfile(tmp_path: Path) -> tuple[keys.SigningKey, Path]:
    key = keys.generate()
    keys.write_key(key, tmp_path / "examiner", "correct horse", comment="jane@lab", rounds=1)
    return key, tmp_path / "examiner"


def test_key_round_trip_and_public_forms(keyfile):
    key, path = keyfile
    assert (path.stat().st_mode & 0o777) == 0o600
    assert keys.load_key(path, "correct horse").public == key.public
    for suffix in (".pub", ".pub.pem", ".minisign.pub"):
        assert keys.load_public(path.with_name(path.name + suffix)) == key.public
    assert path.read_bytes().startswith(b"-----BEGIN OPENSSH PRIVATE KEY-----")
    assert keys.is_encrypted(path.read_bytes())


def test_wrong_or_missing_passphrase_is_refused(keyfile):
    _, path = keyfile
    with pytest.raises(keys.WrongPassphrase):
        keys.load_key(path, "wrong")
    with pytest.raises(keys.WrongPassphrase):
        keys.load_key(path, None)


def test_refuses_to_overwrite(keyfile):
    _, path = keyfile
    with pytest.raises(FileExistsError):
        keys.write_key(keys.generate(), path, "x", rounds=1)


def test_not_a_key(tmp_path):
    (tmp_path / "k").write_bytes(b"hello")
    with pytest.raises(keys.KeyFileError):
        keys.load_key(tmp_path / "k", "x")
    with pytest.raises(keys.KeyFileError):
        keys.parse_public("ssh-rsa AAAAB3NzaC1yc2E")


@needs_ssh
def test_ssh_keygen_reads_our_private_key_and_agrees_on_fingerprint(keyfile):
    key, path = keyfile
    out = subprocess.run(
        ["ssh-keygen", "-y", "-P", "correct horse", "-f", str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.split()[:2] == key.public.openssh().split()[:2]
    listed = subprocess.run(
        ["ssh-keygen", "-l", "-f", str(path) + ".pub"], capture_output=True, text=True, check=True
    ).stdout
    assert key.public.fingerprint in listed
    bad = subprocess.run(
        ["ssh-keygen", "-y", "-P", "nope", "-f", str(path)], capture_output=True, text=True
    )
    assert bad.returncode != 0


@needs_ssh
def test_sshsig_verifies_with_ssh_keygen_and_fails_when_tampered(tmp_path, keyfile):
    key, _ = keyfile
    msg = tmp_path / "msg"
    msg.write_bytes(b"seal bytes\n")
    (tmp_path / "msg.sig").write_text(sshsig.sign(key, msg.read_bytes(), "file"))
    (tmp_path / "allowed").write_text(key.public.allowed_signers("jane"))
    cmd = [
        "ssh-keygen",
        "-Y",
        "verify",
        "-f",
        str(tmp_path / "allowed"),
        "-I",
        "jane",
        "-n",
        "file",
        "-s",
        str(tmp_path / "msg.sig"),
    ]
    assert subprocess.run(cmd, stdin=open(msg, "rb"), capture_output=True).returncode == 0
    msg.write_bytes(b"seal bytes!\n")
    assert subprocess.run(cmd, stdin=open(msg, "rb"), capture_output=True).returncode != 0
    # our own verifier agrees, and names the namespace and signer problems
    sig = (tmp_path / "msg.sig").read_text()
    assert sshsig.verify(sig, b"seal bytes\n", "file", key.public) == ""
    assert "namespace" in sshsig.verify(sig, b"seal bytes\n", "git", key.public)
    assert "not by" in sshsig.verify(sig, b"seal bytes\n", "file", keys.generate().public)
    assert "does not match" in sshsig.verify(sig, b"seal bytes!\n", "file", key.public)


@needs_minisign
def test_minisign_verifies_trusted_comment(tmp_path, keyfile):
    key, path = keyfile
    msg = tmp_path / "m"
    msg.write_bytes(b"x" * 1000)
    sig = minisig.sign(key, msg.read_bytes(), "case C | root abc")
    (tmp_path / "m.minisig").write_text(sig)
    res = subprocess.run(
        ["minisign", "-V", "-m", str(msg), "-p", str(path) + ".minisign.pub"],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stderr
    assert "case C | root abc" in res.stdout
    assert minisig.verify(sig, msg.read_bytes(), key.public) == ("", "case C | root abc")
    forged = sig.replace("case C | root abc", "case D | root abc")
    (tmp_path / "m.minisig").write_text(forged)
    res = subprocess.run(
        ["minisign", "-V", "-m", str(msg), "-p", str(path) + ".minisign.pub"],
        capture_output=True,
        text=True,
    )
    assert res.returncode != 0
    assert (
        minisig.verify(forged, msg.read_bytes(), key.public)[0] == "the trusted comment was altered"
    )
