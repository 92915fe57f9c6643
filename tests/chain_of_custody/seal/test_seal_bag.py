"""A sealed bag: external validators, the VERIFY.md commands with real tools, tampering."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import sealkit

from chain_of_custody.seal import minisig, sshsig, verify_bag
from chain_of_custody.seal.checks import Report
from chain_of_custody.seal.verifymd import SEAL_NAMESPACE

REPO = Path(__file__).resolve().parents[3]
TOOLS = ("ssh-keygen", "sha512sum", "sha256sum", "minisign", "bash", "find", "diff", "cut")


@pytest.fixture(scope="module")
def sealed(tmp_path_factory) -> Path:
    return sealkit.make_bag(tmp_path_factory.mktemp("sealed"))


@pytest.fixture
def bag(sealed: Path, tmp_path: Path) -> Path:
    dest = tmp_path / sealed.name
    shutil.copytree(sealed, dest)
    for p in dest.rglob("*"):
        os.chmod(p, 0o755 if p.is_dir() else 0o644)
    return dest


def failures(report: Report, check: str | None = None):
    return [c for c in report.failures if check is None or c.check == check]


def test_untouched_bag_verifies(bag):
    report = verify_bag(bag)
    assert report.ok, [str(c) for c in report.failures]
    assert {c.check for c in report.checks} >= {
        "signature",
        "seal",
        "tag-manifest",
        "payload",
        "bag-info",
        "merkle",
        "custody",
        "case-graph",
    }
    assert report.signer_fingerprint == sealkit.key().public.fingerprint
    assert not report.pinned
    assert verify_bag(bag, sealkit.key().public).pinned


def test_layout(bag):
    assert (bag / "bagit.txt").read_bytes() == (
        b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
    )
    names = (bag / "manifest-sha256.txt").read_text().splitlines()
    paths = [ln.split("  ", 1)[1] for ln in names]
    assert paths == sorted(paths, key=str.encode)
    assert all(re.fullmatch(r"data/[A-Za-z0-9._/-]+", p) for p in paths)
    fmap = (bag / "metadata" / "file-map.tsv").read_text()
    # the original name with its '%' survives, escaped, in the file map
    assert "Media/été/voix message%250A.m4a" in fmap
    info = (bag / "bag-info.txt").read_text()
    assert "Payload-Oxum: " in info and "VMF-Signer-Key-SHA256: SHA256:" in info


def test_bagit_python_full_validation(bag):
    bagit = pytest.importorskip("bagit")
    b = bagit.Bag(str(bag))
    assert b.version_info == (1, 0)
    b.validate(fast=False)  # raises on any problem
    target = next((bag / "data").rglob("1.amr"))
    data = bytearray(target.read_bytes())
    data[10] ^= 1
    target.write_bytes(bytes(data))
    with pytest.raises(bagit.BagValidationError):
        bagit.Bag(str(bag)).validate(fast=False)


def test_case_validate_accepts_graph(bag):
    exe = Path(sys.executable).with_name("case_validate")
    if not exe.exists():
        pytest.skip(f"{exe} missing: pip install case-utils")
    res = subprocess.run(
        [str(exe), str(bag / "metadata" / "case.jsonld")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert "Conforms: True" in res.stdout


def test_graph_and_dfxml_are_deterministic(tmp_path):
    a = sealkit.make_bag(tmp_path / "a")
    b = sealkit.make_bag(tmp_path / "b")
    for rel in (
        "metadata/case.jsonld",
        "metadata/dfxml.xml",
        "seal/SEAL.sha512",
        "seal/SEAL.sha512.sshsig",
        "tagmanifest-sha512.txt",
    ):
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
    graph = json.loads((a / "metadata" / "case.jsonld").read_text())
    ids = [n["@id"] for n in graph["@graph"]]
    assert all(
        re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$", i) for i in ids
    )


def verify_md_blocks(bag: Path) -> list[str]:
    return re.findall(r"```sh\n(.*?)```", (bag / "VERIFY.md").read_text(), re.S)


def run_block(block: str, cwd: Path, env: dict[str, str] | None = None):
    return subprocess.run(
        ["bash", "-c", "set -eo pipefail\n" + block],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


def test_verify_md_commands_pass_with_standard_tools(bag):
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        pytest.skip(
            f"standard tools missing: {missing} (apt-get install openssh-client minisign "
            "coreutils diffutils)"
        )
    blocks = verify_md_blocks(bag)
    assert len(blocks) == 7
    text = "\n".join(blocks)
    for needed in (
        "ssh-keygen -Y verify",
        "sha512sum -c --strict",
        "sha256sum -c --strict",
        "minisign -V",
        "age -d",
    ):
        assert needed in text
    for block in blocks[1:]:  # block 0 is for the encrypted package, tested with the CLI
        res = run_block(block, bag.parent)
        assert res.returncode == 0, block + res.stdout + res.stderr
    assert 'Good "vmforensics-seal-v1" signature' in run_block(blocks[2], bag.parent).stdout


@pytest.mark.parametrize(
    ("edit", "block"),
    [
        ("payload", 3),  # sha256sum -c of the manifest
        ("extra", 4),  # the completeness diff
        ("custody", 5),  # custody chain loop
        ("seal", 2),  # the signatures
    ],
)
def test_verify_md_commands_catch_tampering(bag, edit, block):
    if shutil.which("minisign") is None or shutil.which("ssh-keygen") is None:
        pytest.skip("ssh-keygen or minisign missing")
    if edit == "payload":
        flip(next((bag / "data").rglob("2.amr")), 7)
    elif edit == "extra":
        (bag / "data" / "S1" / "original" / "planted.amr").write_bytes(b"#!AMR\n")
    elif edit == "custody":
        lines = (bag / "custody" / "custody.jsonl").read_bytes().splitlines(keepends=True)
        (bag / "custody" / "custody.jsonl").write_bytes(lines[1] + lines[0] + b"".join(lines[2:]))
    else:
        seal = bag / "seal" / "SEAL.sha512"
        seal.write_bytes(seal.read_bytes().replace(b"# case: CASE-1", b"# case: CASE-2"))
    res = run_block(verify_md_blocks(bag)[block], bag.parent)
    assert res.returncode != 0


def flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def line_of(path: Path, needle: str) -> int:
    for i, line in enumerate(path.read_text().splitlines(), start=1):
        if needle in line:
            return i
    raise AssertionError(needle)


# -- tamper matrix: each caught by verify_bag, with the right message ----------------------


def test_tamper_byte_flipped_in_payload(bag):
    target = bag / "data/S1/original/HomeDomain/Library/Voicemail/1.amr"
    before = hashlib.sha256(target.read_bytes()).hexdigest()
    flip(target, 100)
    report = verify_bag(bag)
    bad = failures(report, "payload")
    assert len(bad) == 2  # sha256 and sha512 manifests
    c = next(c for c in bad if c.file == "manifest-sha256.txt")
    assert "data/S1/original/HomeDomain/Library/Voicemail/1.amr" in c.message
    assert c.line == line_of(bag / "manifest-sha256.txt", "Voicemail/1.amr")
    assert c.expected == before
    assert c.found == hashlib.sha256(target.read_bytes()).hexdigest()
    assert {c.check for c in report.failures} == {"payload"}


def test_tamper_file_added(bag):
    (bag / "data/S1/original/extra.amr").write_bytes(b"#!AMR\n")
    report = verify_bag(bag)
    assert [c.file for c in failures(report, "completeness")] == ["data/S1/original/extra.amr"]
    assert "not in the manifests" in failures(report)[0].message


def test_tamper_file_removed(bag):
    (bag / "data/S1/original/empty.txt").unlink()
    report = verify_bag(bag)
    bad = failures(report, "completeness")
    assert len(bad) == 1 and "data/S1/original/empty.txt is missing" in bad[0].message
    assert bad[0].line == line_of(bag / "manifest-sha256.txt", "empty.txt")


def test_tamper_file_renamed(bag):
    src = bag / "data/S1/original/HomeDomain/Library/Voicemail/2.amr"
    src.rename(src.with_name("3.amr"))
    messages = " | ".join(c.message for c in failures(verify_bag(bag), "completeness"))
    assert "Voicemail/2.amr is missing" in messages
    assert "added or renamed" in messages


def test_tamper_manifest_line_edited(bag):
    m = bag / "manifest-sha256.txt"
    lines = m.read_text().splitlines(keepends=True)
    lines[0] = "0" * 64 + lines[0][64:]
    m.write_text("".join(lines))
    report = verify_bag(bag)
    tag = failures(report, "tag-manifest")
    assert tag and all("manifest-sha256.txt was modified" in c.message for c in tag)
    pay = [c for c in failures(report, "payload") if c.file == "manifest-sha256.txt"]
    assert pay[0].line == 1 and pay[0].expected == "0" * 64
    assert failures(report, "merkle")


def test_tamper_tag_manifest_edited(bag):
    t = bag / "tagmanifest-sha256.txt"
    t.write_text(t.read_text().replace("bagit.txt", "bagit.txt ", 1))
    bad = failures(verify_bag(bag), "seal")
    assert bad and "tagmanifest-sha256.txt differs from the sealed hash" in bad[0].message
    assert bad[0].file == "seal/SEAL.sha512" and bad[0].line == line_of(
        bag / "seal/SEAL.sha512", "tagmanifest-sha256.txt"
    )


def test_tamper_seal_edited(bag):
    s = bag / "seal" / "SEAL.sha512"
    s.write_bytes(s.read_bytes().replace(b"# source: S1", b"# source: S9"))
    bad = failures(verify_bag(bag), "signature")
    assert len(bad) == 2
    assert all("does not match the signed bytes" in c.message for c in bad)


def test_tamper_signature_swapped_for_another_key(bag):
    other = sealkit.key(2)
    seal = (bag / "seal" / "SEAL.sha512").read_bytes()
    (bag / "seal" / "SEAL.sha512.sshsig").write_text(sshsig.sign(other, seal, SEAL_NAMESPACE))
    (bag / "seal" / "SEAL.sha512.minisig").write_text(minisig.sign(other, seal, "x"))
    bad = failures(verify_bag(bag), "signature")
    assert len(bad) == 2
    assert f"signed by {other.public.fingerprint}" in bad[0].message


def test_tamper_signer_keys_replaced_too(bag):
    """An attacker replacing signature and key files: the seal and bag-info still name the
    real signer; with the signer pinned the swap is plain."""
    other = sealkit.key(2)
    seal = (bag / "seal" / "SEAL.sha512").read_bytes()
    (bag / "seal" / "SEAL.sha512.sshsig").write_text(sshsig.sign(other, seal, SEAL_NAMESPACE))
    (bag / "seal" / "SEAL.sha512.minisig").write_text(minisig.sign(other, seal, "x"))
    (bag / "seal" / "signer.ossh.pub").write_text(other.public.openssh())
    (bag / "seal" / "signer.pub.pem").write_text(other.public.pem())
    (bag / "seal" / "signer.minisign.pub").write_text(other.public.minisign())
    unpinned = verify_bag(bag)
    assert not unpinned.ok
    assert {c.check for c in unpinned.failures} == {"seal", "bag-info"}
    assert unpinned.signer_fingerprint == other.public.fingerprint
    pinned = verify_bag(bag, sealkit.key().public)
    sig = failures(pinned, "signer")
    assert sig and sig[0].expected == sealkit.key().public.fingerprint
    assert len(failures(pinned, "signature")) == 2


@pytest.mark.parametrize("how", ["edited", "reordered", "deleted"])
def test_tamper_custody(bag, how):
    log = bag / "custody" / "custody.jsonl"
    lines = log.read_bytes().splitlines(keepends=True)
    if how == "edited":
        lines[1] = lines[1].replace(b'"files":5', b'"files":4')
    elif how == "reordered":
        lines[0], lines[1] = lines[1], lines[0]
    else:
        del lines[1]
    log.write_bytes(b"".join(lines))
    report = verify_bag(bag)
    cust = failures(report, "custody")
    assert cust and cust[0].file == "custody/custody.jsonl"
    assert cust[0].line == (1 if how == "reordered" else 2 if how == "deleted" else 3)
    assert "broken link" in cust[0].message
    assert any(
        c.file == "custody/custody.jsonl" or "custody/custody.jsonl" in c.message
        for c in failures(report, "tag-manifest")
    )


def test_tamper_metadata_edited(bag):
    meta = bag / "metadata" / "acquisition.json"
    meta.write_bytes(b'{"edited": true}\n')
    bad = failures(verify_bag(bag))
    assert bad and all(c.check == "tag-manifest" for c in bad)
    assert "metadata/acquisition.json was modified" in bad[0].message


def test_tamper_metadata_added(bag):
    (bag / "metadata" / "note.txt").write_text("planted")
    bad = failures(verify_bag(bag))
    assert bad and bad[0].file == "metadata/note.txt"


def test_tamper_case_graph_hash_caught_even_if_tag_manifests_rebuilt(bag):
    """A CASE graph disagreeing with the manifests is named by its own check."""
    g = bag / "metadata" / "case.jsonld"
    doc = json.loads(g.read_text())
    for node in doc["@graph"]:
        for facet in node.get("uco-core:hasFacet", []):
            for h in facet.get("uco-observable:hash", []):
                if h["uco-types:hashMethod"] == "SHA256":
                    h["uco-types:hashValue"]["@value"] = "00" * 32
    g.write_text(json.dumps(doc))
    assert failures(verify_bag(bag), "case-graph")


def test_symlink_in_payload_is_reported(bag):
    (bag / "data" / "S1" / "link").symlink_to("/etc/passwd")
    bad = failures(verify_bag(bag), "completeness")
    assert any("symlink" in c.message for c in bad)


def test_hostile_manifest_path_is_refused(bag):
    m = bag / "manifest-sha256.txt"
    m.write_text(m.read_text() + "0" * 64 + "  data/../../etc/passwd\n")
    bad = failures(verify_bag(bag), "payload")
    assert any("escapes the bag" in c.message for c in bad)


def test_report_json_is_machine_readable(bag):
    flip(next((bag / "data").rglob("2.amr")), 3)
    doc = verify_bag(bag).to_json()
    json.dumps(doc)
    assert doc["ok"] is False and doc["failures"] == 2
    bad = next(c for c in doc["checks"] if not c["ok"])
    assert set(bad) >= {"check", "ok", "message", "file", "line", "expected", "found"}


def test_tar_is_deterministic_and_round_trips(tmp_path):
    from chain_of_custody.seal import tarball

    a = sealkit.make_bag(tmp_path / "a")
    b = sealkit.make_bag(tmp_path / "b")
    ta, tb = io.BytesIO(), io.BytesIO()
    tarball.write_tar(a, ta, 1767225600)
    tarball.write_tar(b, tb, 1767225600)
    assert ta.getvalue() == tb.getvalue()
    ta.seek(0)
    out = tarball.extract_tar(ta, tmp_path / "x")
    assert out.name == a.name
    assert verify_bag(out).ok
    import tarfile

    with tarfile.open(fileobj=io.BytesIO(tb.getvalue())) as t:
        members = t.getmembers()
    assert [m.name for m in members] == sorted(
        (m.name for m in members), key=lambda n: [p.encode() for p in n.split("/")]
    )
    assert {(m.uid, m.gid, m.uname, m.mtime) for m in members} == {(0, 0, "root", 1767225600)}


def test_empty_payload_bag_still_verifies_with_every_tool(tmp_path):
    """A raw image with nothing carved: the bag has no payload, only the image's hash."""
    bag = sealkit.make_bag(tmp_path, files={})
    assert (bag / "manifest-sha256.txt").read_bytes() == b""
    assert verify_bag(bag).ok
    bagit = pytest.importorskip("bagit")
    bagit.Bag(str(bag)).validate(fast=False)
    if any(shutil.which(t) is None for t in TOOLS):
        pytest.skip("standard tools missing")
    for block in verify_md_blocks(bag)[1:]:
        res = run_block(block, bag.parent)
        assert res.returncode == 0, block + res.stdout + res.stderr
