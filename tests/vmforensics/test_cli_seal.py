"""End to end: keygen, scan, seal, verify, prove, custody add, as an examiner and counsel do.

Real tools throughout: the CLI in a subprocess, ssh-keygen, minisign, coreutils and age
from Debian for the VERIFY.md commands, pyrage identities for the recipients.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pyrage
import pytest

from chain_of_custody.custody_log import verify_chain

pytestmark = pytest.mark.timeout(300)

REPO = Path(__file__).resolve().parents[2]
IMAGE = REPO / "testdata" / "images" / "ios-plain"
EPOCH = "1767225600"
PASS = "examiner passphrase"


def vmf(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None):
    full = {k: v for k, v in os.environ.items() if not k.startswith("VMF_")}
    full["SOURCE_DATE_EPOCH"] = EPOCH
    full.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "vmforensics", *args],
        capture_output=True,
        text=True,
        env=full,
        cwd=cwd or REPO,
        stdin=subprocess.DEVNULL,
        timeout=300,
    )


def ok(res) -> str:
    assert res.returncode == 0, f"exit {res.returncode}\n{res.stdout}\n{res.stderr}"
    return res.stdout


class Lab:
    """Keys and identities: the examiner's key, counsel's age key, escrow's SSH key."""

    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.root = root
        self.passfile = root / "pass"
        self.passfile.write_text(PASS + "\n")
        self.key = root / "examiner"
        ok(
            vmf(
                "keygen",
                "--out",
                str(self.key),
                "--passphrase-file",
                str(self.passfile),
                "--kdf-rounds",
                "1",
            )
        )
        counsel = pyrage.x25519.Identity.generate()
        self.age_identity = root / "counsel.key"
        self.age_identity.write_text(str(counsel) + "\n")
        self.age_recipient = str(counsel.to_public())
        self.ssh_identity = root / "escrow"
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(self.ssh_identity)],
            check=True,
        )
        self.ssh_recipient = (root / "escrow.pub").read_text().strip()


def scanned_case(where: Path) -> Path:
    if not IMAGE.is_dir():
        pytest.skip(f"{IMAGE} is absent (run testdata/images/build.py)")
    case = where / "case"
    ok(vmf("scan", str(IMAGE), "--case", str(case), "--quiet", "--examiner", "Jane Examiner"))
    return case


@pytest.fixture(scope="module")
def sealed(tmp_path_factory):
    if shutil.which("ssh-keygen") is None:
        pytest.skip("ssh-keygen missing (apt-get install openssh-client)")
    top = tmp_path_factory.mktemp("sealed")
    lab = Lab(top / "lab")
    case = scanned_case(top)
    out = top / "out"
    res = vmf(
        "seal",
        "--case",
        str(case),
        "--key",
        str(lab.key),
        "--out",
        str(out),
        "--recipient",
        lab.age_recipient,
        "--recipient",
        lab.ssh_recipient,
        "--json",
        env={"VMF_KEY_PASSPHRASE": PASS},
    )
    doc = json.loads(ok(res))
    return top, lab, case, out, doc


def test_keygen_outputs(tmp_path):
    lab = Lab(tmp_path)
    for suffix in ("", ".pub", ".pub.pem", ".minisign.pub"):
        assert lab.key.with_name(lab.key.name + suffix).is_file()
    listed = subprocess.run(
        ["ssh-keygen", "-l", "-f", f"{lab.key}.pub"], capture_output=True, text=True, check=True
    ).stdout
    fp = listed.split()[1]
    res = vmf(
        "keygen",
        "--out",
        str(tmp_path / "k2"),
        "--kdf-rounds",
        "1",
        "--json",
        env={"VMF_KEY_PASSPHRASE": "x"},
    )
    assert json.loads(ok(res))["fingerprint"].startswith("SHA256:")
    assert fp.startswith("SHA256:")
    again = vmf("keygen", "--out", str(lab.key), "--passphrase-file", str(lab.passfile))
    assert again.returncode == 2 and "already exists" in again.stderr
    nopass = vmf("keygen", "--out", str(tmp_path / "k3"))
    assert nopass.returncode == 3 and "--passphrase-file" in nopass.stderr
    assert not (tmp_path / "k3").exists()


def test_seal_output_and_custody_events(sealed):
    _, _, case, out, doc = sealed
    [bag] = doc["bags"]
    assert Path(bag["bag"]).name == "case_S1"
    assert Path(bag["package"]).is_file()
    assert (out / "case_S1.tar.age.sha256").read_text().startswith(bag["package_sha256"])
    events = [json.loads(x) for x in (case / "custody.jsonl").read_text().splitlines()]
    assert [e["event"] for e in events[-2:]] == ["sealed", "exported"]
    assert events[-1]["detail"]["ciphertext_sha256"] == bag["package_sha256"]
    assert len(events[-1]["detail"]["recipients"]) == 2
    genesis = hashlib.sha256((case / "custody.genesis.json").read_bytes()).hexdigest()
    assert verify_chain(case / "custody.jsonl", genesis).ok
    # the bag holds the case log up to and including "sealed", byte for byte
    in_bag = (out / "case_S1" / "custody" / "custody.jsonl").read_bytes()
    assert (case / "custody.jsonl").read_bytes().startswith(in_bag)
    assert json.loads(in_bag.splitlines()[-1])["event"] == "sealed"
    info = (out / "case_S1" / "bag-info.txt").read_text()
    assert re.search(r"^VMF-Tool-SHA256: [0-9a-f]{64}$", info, re.M)
    assert "Contact-Name: Jane Examiner" in info and "Bag-Count: 1 of 1" in info
    # originals stay apart from everything else
    assert all(
        p.startswith("data/S1/original/")
        for p in [
            ln.split("  ", 1)[1]
            for ln in (out / "case_S1" / "manifest-sha256.txt").read_text().splitlines()
        ]
    )


def test_verify_folder_unpinned_is_loud(sealed):
    _, lab, _, out, _ = sealed
    res = vmf("verify", str(out / "case_S1"))
    assert res.returncode == 0, res.stdout + res.stderr
    fp = subprocess.run(
        ["ssh-keygen", "-l", "-f", f"{lab.key}.pub"], capture_output=True, text=True
    ).stdout.split()[1]
    assert "SIGNER NOT PINNED" in res.stderr and fp in res.stderr
    assert "VERIFIED" in res.stdout
    assert "NOTE the source's listing was identical before and after the run" in res.stdout
    pinned = vmf("verify", str(out / "case_S1"), "--signer", f"{lab.key}.pub.pem")
    assert pinned.returncode == 0 and "NOT PINNED" not in pinned.stderr


def test_verify_whole_out_folder_json(sealed):
    _, lab, _, out, _ = sealed
    res = vmf("verify", str(out), "--signer", f"{lab.key}.minisign.pub", "--json")
    doc = json.loads(ok(res))
    assert doc["ok"] and len(doc["reports"]) == 1
    checks = {c["check"] for c in doc["reports"][0]["checks"]}
    assert {"signature", "payload", "custody", "merkle", "case-graph", "sidecar"} <= checks


@pytest.mark.parametrize("who", ["age", "ssh"])
def test_round_trip_decrypt_with_each_identity(sealed, who):
    _, lab, _, out, _ = sealed
    ident = lab.age_identity if who == "age" else lab.ssh_identity
    res = vmf(
        "verify",
        str(out / "case_S1.tar.age"),
        "--identity",
        str(ident),
        "--signer",
        f"{lab.key}.pub",
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert "ciphertext matches its .sha256 file" in res.stdout


def test_verify_md_commands_run_as_written_on_the_package(sealed, tmp_path):
    _, lab, _, out, _ = sealed
    missing = [
        t
        for t in ("age", "ssh-keygen", "minisign", "sha512sum", "sha256sum", "tar")
        if shutil.which(t) is None
    ]
    if missing:
        pytest.skip(f"missing {missing}: apt-get install age openssh-client minisign coreutils")
    # counsel receives only the package and its checksum
    for name in ("case_S1.tar.age", "case_S1.tar.age.sha256"):
        shutil.copy(out / name, tmp_path / name)
    shutil.copytree(out / "case_S1.custody", tmp_path / "case_S1.custody")
    text = (out / "case_S1" / "VERIFY.md").read_text()
    blocks = re.findall(r"```sh\n(.*?)```", text, re.S)
    for ident in (lab.age_identity, lab.ssh_identity):
        shutil.rmtree(tmp_path / "case_S1", ignore_errors=True)
        for block in blocks:
            res = subprocess.run(
                ["bash", "-c", "set -eo pipefail\n" + block],
                cwd=tmp_path,
                capture_output=True,
                text=True,
                env={**os.environ, "AGE_IDENTITY": str(ident)},
            )
            assert res.returncode == 0, block + res.stdout + res.stderr
    assert (tmp_path / "case_S1" / "bagit.txt").is_file()


def test_determinism_two_copies_same_tar(sealed, tmp_path):
    _, lab, case, _, _ = sealed
    tars = []
    for n in (1, 2):
        copy = tmp_path / f"copy{n}" / "case"
        shutil.copytree(case, copy)
        # seal the state before the first seal: drop its two events
        lines = (copy / "custody.jsonl").read_bytes().splitlines(keepends=True)
        os.chmod(copy / "custody.jsonl", 0o600)
        (copy / "custody.jsonl").write_bytes(b"".join(lines[:-2]))
        out = tmp_path / f"out{n}"
        ok(
            vmf(
                "seal",
                "--case",
                str(copy),
                "--key",
                str(lab.key),
                "--out",
                str(out),
                "--recipient",
                lab.age_recipient,
                "--passphrase-file",
                str(lab.passfile),
            )
        )
        plain = io.BytesIO()
        with open(out / "case_S1.tar.age", "rb") as src:
            pyrage.decrypt_io(
                src, plain, [pyrage.x25519.Identity.from_str(lab.age_identity.read_text().strip())]
            )
        tars.append(plain.getvalue())
    assert tars[0] == tars[1]
    # the copies live at different paths (copy1/, copy2/): no case path leaks into the tar
    with tarfile.open(fileobj=io.BytesIO(tars[0])) as t:
        assert {m.mtime for m in t.getmembers()} == {int(EPOCH)}


def test_exit_codes(sealed, tmp_path):
    _, lab, case, out, _ = sealed
    r = vmf(
        "seal",
        "--case",
        str(tmp_path / "nope"),
        "--key",
        str(lab.key),
        "--out",
        str(tmp_path / "o"),
        "--passphrase-file",
        str(lab.passfile),
    )
    assert r.returncode == 3 and "not a vmforensics case" in r.stderr
    bad = tmp_path / "bad"
    bad.write_text("wrong\n")
    r = vmf(
        "seal",
        "--case",
        str(case),
        "--key",
        str(lab.key),
        "--out",
        str(tmp_path / "o"),
        "--passphrase-file",
        str(bad),
    )
    assert r.returncode == 3 and "wrong passphrase" in r.stderr
    r = vmf("seal", "--case", str(case), "--key", str(lab.key), "--out", str(tmp_path / "o"))
    assert r.returncode == 3 and "VMF_KEY_PASSPHRASE" in r.stderr
    r = vmf(
        "seal", "--case", str(case), "--key", str(tmp_path / "nokey"), "--out", str(tmp_path / "o")
    )
    assert r.returncode == 3 and "cannot read key" in r.stderr
    r = vmf(
        "seal",
        "--case",
        str(case),
        "--key",
        str(lab.key),
        "--out",
        str(out),
        "--passphrase-file",
        str(lab.passfile),
    )
    assert r.returncode == 2 and "already exists" in r.stderr
    r = vmf(
        "seal",
        "--case",
        str(case),
        "--key",
        str(lab.key),
        "--out",
        str(tmp_path / "o"),
        "--recipient",
        "age1bogus",
        "--passphrase-file",
        str(lab.passfile),
    )
    assert r.returncode == 2
    assert vmf("verify", str(tmp_path / "missing")).returncode == 3
    r = vmf("verify", str(out / "case_S1.tar.age"))
    assert r.returncode == 3 and "--identity" in r.stderr
    stranger = tmp_path / "stranger.key"
    stranger.write_text(str(pyrage.x25519.Identity.generate()) + "\n")
    assert vmf("verify", str(out / "case_S1.tar.age"), "--identity", str(stranger)).returncode == 3
    assert vmf("verify", "a", "--bogus").returncode == 2


def test_verify_tampered_bag_names_file_line_expected_found(sealed, tmp_path):
    _, lab, _, out, _ = sealed
    bag = tmp_path / "case_S1"
    shutil.copytree(out / "case_S1", bag)
    target = next((bag / "data").rglob("1.amr"))
    os.chmod(target, 0o644)
    data = bytearray(target.read_bytes())
    data[50] ^= 0xFF
    target.write_bytes(bytes(data))
    res = vmf("verify", str(bag), "--signer", f"{lab.key}.pub", "--json")
    assert res.returncode == 4
    doc = json.loads(res.stdout)
    bad = [c for c in doc["reports"][0]["checks"] if not c["ok"]]
    rel = target.relative_to(bag).as_posix()
    assert {(c["check"], c["file"]) for c in bad} == {
        ("payload", "manifest-sha256.txt"),
        ("payload", "manifest-sha512.txt"),
    }
    assert all(rel in c["message"] and c["line"] >= 1 and c["expected"] != c["found"] for c in bad)
    assert "manifest-sha256.txt line" in res.stderr
    other = tmp_path / "other"
    ok(vmf("keygen", "--out", str(other), "--kdf-rounds", "1", env={"VMF_KEY_PASSPHRASE": "x"}))
    r = vmf("verify", str(out / "case_S1"), "--signer", f"{other}.pub")
    assert r.returncode == 4 and "another signer" in r.stdout


def test_truncated_package_fails_verification(sealed, tmp_path):
    _, lab, _, out, _ = sealed
    pkg = tmp_path / "case_S1.tar.age"
    data = (out / "case_S1.tar.age").read_bytes()
    pkg.write_bytes(data[: len(data) // 2])
    res = vmf("verify", str(pkg), "--identity", str(lab.age_identity))
    assert res.returncode == 4
    assert "damaged or truncated" in res.stdout


def test_prove_and_verify_proof(sealed, tmp_path):
    _, lab, _, out, _ = sealed
    bag = out / "case_S1"
    member = next(p for p in (bag / "data").rglob("*.amr"))
    proof = tmp_path / "proof.json"
    ok(vmf("prove", str(bag), str(member), "--out", str(proof)))
    disclosed = tmp_path / "vm.amr"
    shutil.copy(member, disclosed)
    res = vmf("verify-proof", str(proof), str(disclosed), "--signer", f"{lab.key}.pub")
    assert res.returncode == 0, res.stdout + res.stderr
    wrong = tmp_path / "wrong.amr"
    wrong.write_bytes(disclosed.read_bytes()[:-1])
    assert vmf("verify-proof", str(proof), str(wrong)).returncode == 4
    doc = json.loads(proof.read_text())
    doc["path"] = doc["path"].replace(".amr", "x.amr")
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(doc))
    res = vmf("verify-proof", str(forged), str(disclosed), "--json")
    assert res.returncode == 4 and json.loads(res.stdout)["ok"] is False
    assert vmf("prove", str(bag), "data/none", "--out", str(proof)).returncode == 2


def test_custody_add_after_sealing(sealed, tmp_path):
    _, lab, _, out, _ = sealed
    work = tmp_path / "w"
    work.mkdir()
    shutil.copytree(out / "case_S1", work / "case_S1")
    shutil.copytree(out / "case_S1.custody", work / "case_S1.custody")
    for n in ("case_S1.tar.age", "case_S1.tar.age.sha256"):
        shutil.copy(out / n, work / n)
    courier = tmp_path / "courier"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(courier)], check=True)
    ok(
        vmf(
            "custody",
            "add",
            str(work / "case_S1.tar.age"),
            "--event",
            "transferred",
            "--actor",
            "Courier Co",
            "--location",
            "Lab dock",
            "--key",
            str(courier),
        )
    )
    ok(
        vmf(
            "custody",
            "add",
            str(work / "case_S1"),
            "--event",
            "received",
            "--actor",
            "Counsel",
            "--note",
            "seals intact",
            "--key",
            str(lab.key),
            "--passphrase-file",
            str(lab.passfile),
        )
    )
    res = vmf("verify", str(work / "case_S1"), "--signer", f"{lab.key}.pub")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "3 signed events after sealing" in res.stdout
    assert "000002.json transferred by Courier Co at 2026-01-01T00:00:00Z, signed by SHA256:" in (
        res.stdout
    )
    ev = work / "case_S1.custody" / "000002.json"
    ev.write_bytes(ev.read_bytes().replace(b"Lab dock", b"Elsewhere"))
    res = vmf("verify", str(work / "case_S1.tar.age"), "--identity", str(lab.ssh_identity))
    assert res.returncode == 4 and "case_S1.custody/000002.json" in res.stdout
    bad = vmf(
        "custody",
        "add",
        str(work / "case_S1"),
        "--event",
        "lost",
        "--actor",
        "x",
        "--key",
        str(courier),
    )
    assert bad.returncode == 2


def test_raw_image_by_reference_or_included_with_derived_audio(tmp_path):
    sys.path.insert(0, str(REPO / "testdata" / "images"))
    try:
        from builders import audio
    except ImportError:
        pytest.skip("testdata/images/builders is absent")
    amr = audio.amr_nb(1.0, 3)
    data = bytearray(hashlib.sha256(b"seed").digest() * 4000)[:120_000]
    data[5000 : 5000 + len(amr)] = amr
    img = tmp_path / "memory.dump"
    img.write_bytes(bytes(data))
    case = tmp_path / "case"
    ok(vmf("scan", str(img), "--case", str(case), "--quiet"))
    # a problem the scan recorded becomes a row of not-acquired.tsv
    err = {
        "type": "error",
        "id": "error-0123456789abcdef",
        "source": "S1",
        "evidence_path": "memory.dump",
        "origin_path": None,
        "stage": "carve",
        "offset": 77,
        "message": "truncated\tframe",
    }
    with open(case / "sources" / "S1" / "artifacts.jsonl", "a") as f:
        f.write(json.dumps(err) + "\n")
    lab = Lab(tmp_path / "lab")
    env = {"VMF_KEY_PASSPHRASE": PASS}
    ok(
        vmf(
            "seal",
            "--case",
            str(case),
            "--key",
            str(lab.key),
            "--out",
            str(tmp_path / "ref"),
            env=env,
        )
    )
    ok(
        vmf(
            "seal",
            "--case",
            str(case),
            "--key",
            str(lab.key),
            "--out",
            str(tmp_path / "full"),
            "--include-images",
            env=env,
        )
    )
    ref, full = tmp_path / "ref" / "case_S1", tmp_path / "full" / "case_S1"
    ref_paths = [
        ln.split("  ", 1)[1] for ln in (ref / "manifest-sha256.txt").read_text().splitlines()
    ]
    assert len(ref_paths) == 1 and re.fullmatch(
        r"data/S1/derived/audio/[0-9a-f]{16}\.amr", ref_paths[0]
    )
    assert (ref / ref_paths[0]).read_bytes() == amr
    fmap = (ref / "metadata" / "file-map.tsv").read_text()
    image_sha = hashlib.sha256(bytes(data)).hexdigest()
    assert f"\treference\tfile\t120000\t{image_sha}" in fmap
    assert "offset 5000" in fmap
    na = (ref / "metadata" / "not-acquired.tsv").read_text().splitlines()
    assert na[1].split("\t")[:5] == ["memory.dump", "", "carve", "77", "truncated%09frame"]
    full_lines = (full / "manifest-sha256.txt").read_text()
    assert f"{image_sha}  data/S1/original/memory.dump\n" in full_lines
    graph = json.loads((ref / "metadata" / "case.jsonld").read_text())
    assert image_sha in json.dumps(graph)  # the source image's hash, referenced
    for bag in (ref, full):
        res = vmf("verify", str(bag), "--signer", f"{lab.key}.pub")
        assert res.returncode == 0, res.stdout + res.stderr


def test_corrupt_stored_copy_refuses_to_seal(tmp_path):
    case = scanned_case(tmp_path)
    stored = sorted((case / "evidence").rglob("*"))
    victim = next(p for p in stored if p.is_file())
    os.chmod(victim, 0o600)
    victim.write_bytes(victim.read_bytes() + b"x")
    lab = Lab(tmp_path / "lab")
    res = vmf(
        "seal",
        "--case",
        str(case),
        "--key",
        str(lab.key),
        "--out",
        str(tmp_path / "o"),
        env={"VMF_KEY_PASSPHRASE": PASS},
    )
    assert res.returncode == 4
    assert victim.name in res.stderr and "the case records" in res.stderr
    assert not (tmp_path / "o" / "case_S1").exists()  # no half-written bag is left behind


def test_external_validators_accept_the_real_bag(sealed):
    _, _, _, out, _ = sealed
    bag = out / "case_S1"
    bagit = pytest.importorskip("bagit")
    b = bagit.Bag(str(bag))
    assert b.version_info == (1, 0)
    b.validate(fast=False)
    exe = Path(sys.executable).with_name("case_validate")
    if not exe.exists():
        pytest.skip(f"{exe} missing: pip install case-utils")
    res = subprocess.run(
        [str(exe), str(bag / "metadata" / "case.jsonld")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0 and "Conforms: True" in res.stdout, res.stdout + res.stderr
