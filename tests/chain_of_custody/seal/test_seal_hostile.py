"""Hostile packages: garbage in every file the verifier reads gives a failure, not a crash."""

from __future__ import annotations

import io
import os
import shutil
import tarfile
import tracemalloc
from pathlib import Path

import pytest
import sealkit

from chain_of_custody.seal import verify_bag, verify_path

GARBAGE = {
    "bagit.txt": b"\xff\xfe\x00garbage",
    "seal/SEAL.sha512": os.urandom(300),
    "seal/SEAL.sha512.sshsig": b"-----BEGIN SSH SIGNATURE-----\n!!!\n-----END SSH SIGNATURE-----\n",
    "seal/SEAL.sha512.minisig": b"untrusted comment: x\n\n\n",
    "seal/signer.ossh.pub": b"ssh-ed25519 AAAA\n",
    "manifest-sha256.txt": b"\x00\xff" * 1000 + b"\n" + b"a" * 64 + b"  /etc/passwd\n",
    "tagmanifest-sha512.txt": b"zz  bagit.txt\n",
    "custody/custody.jsonl": b"[" * 100_000 + b"\n{}\n",
    "metadata/case.jsonld": b'{"@graph": [{"@type": "uco-observable:File", '
    b'"uco-core:hasFacet": {"uco-observable:hash": 5}}]}',
    "bag-info.txt": b"\x00" * 50,
}


@pytest.fixture(scope="module")
def sealed(tmp_path_factory) -> Path:
    return sealkit.make_bag(tmp_path_factory.mktemp("h"))


@pytest.mark.parametrize("rel", sorted(GARBAGE))
def test_garbage_file_is_a_failure_not_a_crash(sealed, tmp_path, rel):
    bag = tmp_path / sealed.name
    shutil.copytree(sealed, bag)
    target = bag / rel
    os.chmod(target, 0o644)
    target.write_bytes(GARBAGE[rel])
    report = verify_bag(bag)
    assert not report.ok
    report.to_json()
    for c in report.failures:
        str(c)


def test_missing_everything(tmp_path):
    (tmp_path / "empty").mkdir()
    report = verify_bag(tmp_path / "empty")
    assert not report.ok and {"structure", "seal", "custody"} <= {c.check for c in report.failures}


def _tar_with(tmp_path: Path, member: tarfile.TarInfo, data: bytes = b"") -> Path:
    path = tmp_path / "evil.tar"
    with tarfile.open(path, "w") as t:
        top = tarfile.TarInfo("evil")
        top.type = tarfile.DIRTYPE
        t.addfile(top)
        t.addfile(member, io.BytesIO(data) if data else None)
    return path


@pytest.mark.parametrize("kind", ["absolute", "dotdot", "symlink", "device", "other-top"])
def test_hostile_tar_members_are_refused(tmp_path, kind):
    m = tarfile.TarInfo(
        {"absolute": "/etc/evil", "dotdot": "evil/../../x", "other-top": "another/x"}.get(
            kind, "evil/x"
        )
    )
    if kind == "symlink":
        m.type, m.linkname = tarfile.SYMTYPE, "/etc/passwd"
    elif kind == "device":
        m.type = tarfile.CHRTYPE
    else:
        m.size = 3
    path = _tar_with(tmp_path, m, b"abc" if m.size else b"")
    report = verify_path(path)
    assert not report.ok and report.failures[0].check == "package"
    assert not (tmp_path / "x").exists() and not Path("/etc/evil").exists()


def test_memory_stays_bounded_for_a_large_payload(tmp_path):
    """Sealing and verifying stream: a 48 MiB payload does not enter memory whole."""
    from chain_of_custody.seal import PayloadItem

    big = tmp_path / "big.bin"
    with open(big, "wb") as f:
        for i in range(48):
            f.write(bytes([i]) * (1 << 20))
    extra = [
        PayloadItem(
            "S1/original/big.bin",
            lambda: open(big, "rb"),
            None,
            {"role": "original", "kind": "file", "evidence_path": "big.bin"},
        )
    ]
    tracemalloc.start()
    try:
        bag = sealkit.make_bag(tmp_path / "b", extra=extra)
        report = verify_bag(bag)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert report.ok
    assert peak < 8 * (1 << 20), f"peak {peak} bytes"
