"""The verifier: every link from signature to payload byte, each failure named precisely.

Checks, in the order of the chain of proof: signer key, signatures over the seal, the
seal's hashes of the tag manifests, the tag manifests (and no unlisted tag file), the
payload manifests against every payload file, completeness (nothing missing, nothing
extra), Payload-Oxum, the Merkle root, the custody chain up to "sealed", the CASE graph's
hashes against the manifests, and the sidecar custody chain after sealing.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
import tempfile
import threading
from pathlib import Path
from typing import Any

from chain_of_custody.seal import casegraph, envelope, merkle, minisig, sidecar, sshsig, tarball
from chain_of_custody.seal.bag import BAGIT_TXT, CHUNK
from chain_of_custody.seal.checks import Report
from chain_of_custody.seal.keys import KeyFileError, PublicKey, load_public
from chain_of_custody.seal.sealfile import SealFormatError, parse, seal_id
from chain_of_custody.seal.verifymd import SEAL_NAMESPACE

ALGS = ("sha256", "sha512")
HEXLEN = {"sha256": 64, "sha512": 128}
_MLINE = re.compile(rb"^([0-9a-fA-F]+)[ \t]+(.+)$")
MAX_LINES = 10_000_000
Manifests = dict[str, dict[str, tuple[str, int]]]  # alg -> path -> (hex, line)


def _decode_path(raw: bytes) -> str:
    text = raw.decode("utf-8", "replace")
    return text.replace("%0A", "\n").replace("%0D", "\r").replace("%25", "%")


def _unsafe(path: str) -> bool:
    parts = path.split("/")
    return path.startswith(("/", "~")) or ".." in parts or "\\" in path or ":" in parts[0]


def read_manifest(
    root: Path, name: str, alg: str, report: Report, check: str
) -> dict[str, tuple[str, int]] | None:
    """path -> (hex, line) for a manifest; malformed lines are reported and skipped."""
    path = root / name
    try:
        f = open(path, "rb")
    except OSError:
        report.fail(check, "manifest missing", file=name)
        return None
    out: dict[str, tuple[str, int]] = {}
    with f:
        for number, raw in enumerate(f, start=1):
            if number > MAX_LINES:
                report.fail(check, "manifest has too many lines", file=name, line=number)
                break
            line = raw.rstrip(b"\n").rstrip(b"\r")
            m = _MLINE.match(line)
            if not m or len(m.group(1)) != HEXLEN[alg]:
                report.fail(
                    check,
                    "malformed manifest line",
                    file=name,
                    line=number,
                    found=line[:200].decode("utf-8", "replace"),
                )
                continue
            p = _decode_path(m.group(2))
            if _unsafe(p):
                report.fail(check, f"path escapes the bag: {p!r}", file=name, line=number)
                continue
            if p in out:
                report.fail(check, f"{p} listed twice", file=name, line=number)
                continue
            out[p] = (m.group(1).decode().lower(), number)
    return out


def _hash(path: Path) -> dict[str, str] | None:
    hs = {a: hashlib.new(a) for a in ALGS}
    try:
        with open(path, "rb") as f:
            while chunk := f.read(CHUNK):
                for h in hs.values():
                    h.update(chunk)
    except OSError:
        return None
    return {a: h.hexdigest() for a, h in hs.items()}


def _walk(root: Path, top: str, report: Report, check: str) -> set[str]:
    """Regular files under ``root/top`` as bag-relative paths; anything else is reported."""
    out: set[str] = set()
    base = root / top
    if not base.is_dir():
        return out
    for dirpath, dirnames, filenames in os.walk(base):
        for name in sorted(dirnames + filenames):
            full = Path(dirpath) / name
            rel = full.relative_to(root).as_posix()
            st = os.lstat(full)
            if stat.S_ISDIR(st.st_mode):
                continue
            if not stat.S_ISREG(st.st_mode):
                report.fail(check, "not a regular file (symlink or special file)", file=rel)
                continue
            out.add(rel)
    return out


def _signer(root: Path, pinned: PublicKey | None, report: Report) -> PublicKey | None:
    found: dict[str, PublicKey] = {}
    for name in ("signer.ossh.pub", "signer.pub.pem", "signer.minisign.pub"):
        try:
            found[name] = load_public(root / "seal" / name)
        except KeyFileError as exc:
            report.fail("signer", f"signer key unreadable: {exc}", file=f"seal/{name}")
    keys = set(found.values())
    if len(keys) > 1:
        report.fail(
            "signer",
            "the key files in seal/ name different keys",
            file="seal/",
            found=", ".join(sorted(k.fingerprint for k in keys)),
        )
    embedded = found.get("signer.ossh.pub") or next(iter(found.values()), None)
    if pinned is not None:
        report.pinned = True
        report.signer_fingerprint = pinned.fingerprint
        if embedded is not None and embedded != pinned:
            report.fail(
                "signer",
                "the bag names another signer than the pinned key",
                file="seal/signer.ossh.pub",
                expected=pinned.fingerprint,
                found=embedded.fingerprint,
            )
        return pinned
    if embedded is not None:
        report.signer_fingerprint = embedded.fingerprint
    return embedded


def verify_bag(
    bag: Path, signer: PublicKey | None = None, sidecar_dir: Path | None = None
) -> Report:
    root = Path(bag)
    report = Report(str(root))
    if not root.is_dir():
        report.fail("structure", "not a folder", file=str(root))
        return report
    # structure
    try:
        bagit_txt = (root / "bagit.txt").read_bytes()
    except OSError:
        bagit_txt = None
    if bagit_txt != BAGIT_TXT:
        report.fail(
            "structure",
            "bagit.txt is missing or not BagIt 1.0 UTF-8",
            file="bagit.txt",
            expected=BAGIT_TXT.decode().replace("\n", "\\n"),
            found=None if bagit_txt is None else bagit_txt[:200].decode("utf-8", "replace"),
        )
    # signer and signatures
    key = _signer(root, signer, report)
    try:
        seal_bytes = (root / "seal" / "SEAL.sha512").read_bytes()
    except OSError:
        report.fail("seal", "seal missing", file="seal/SEAL.sha512")
        seal_bytes = None
    if seal_bytes is not None:
        report.seal_id = seal_id(seal_bytes)
    if key is not None and seal_bytes is not None:
        try:
            armored = (root / "seal" / "SEAL.sha512.sshsig").read_bytes()
            why = sshsig.verify(armored, seal_bytes, SEAL_NAMESPACE, key)
        except OSError:
            why = "signature file missing"
        report.add(
            "signature",
            not why,
            why or f"SSHSIG over the seal holds for {key.fingerprint}",
            file="seal/SEAL.sha512.sshsig",
        )
        try:
            why, _ = minisig.verify(
                (root / "seal" / "SEAL.sha512.minisig").read_bytes(), seal_bytes, key
            )
        except OSError:
            why = "signature file missing"
        report.add(
            "signature",
            not why,
            why or f"minisign signature over the seal holds for {key.fingerprint}",
            file="seal/SEAL.sha512.minisig",
        )
    elif seal_bytes is not None:
        report.fail("signature", "no signer key to check the seal with", file="seal/")
    seal = None
    if seal_bytes is not None:
        try:
            seal = parse(seal_bytes)
        except SealFormatError as exc:
            report.fail("seal", str(exc), file="seal/SEAL.sha512")
    if seal is not None:
        if key is not None and seal.fields["signer"] != key.fingerprint:
            report.fail(
                "seal",
                "the seal names another signer",
                file="seal/SEAL.sha512",
                expected=key.fingerprint,
                found=seal.fields["signer"],
            )
        want = {"tagmanifest-sha256.txt", "tagmanifest-sha512.txt"}
        listed = {name for _, name, _ in seal.entries}
        for name in sorted(want - listed):
            report.fail("seal", f"seal does not cover {name}", file="seal/SEAL.sha512")
        for digest, name, line in seal.entries:
            if name not in want:
                report.fail(
                    "seal",
                    f"seal lists an unexpected file {name}",
                    file="seal/SEAL.sha512",
                    line=line,
                )
                continue
            try:
                actual = hashlib.sha512((root / name).read_bytes()).hexdigest()
            except OSError:
                report.fail("seal", f"{name} is missing", file="seal/SEAL.sha512", line=line)
                continue
            if actual != digest:
                report.fail(
                    "seal",
                    f"{name} differs from the sealed hash",
                    file="seal/SEAL.sha512",
                    line=line,
                    expected=digest,
                    found=actual,
                )
        if not any(c.check == "seal" and not c.ok for c in report.checks):
            report.add(
                "seal",
                True,
                "the seal's hashes of both tag manifests hold",
                file="seal/SEAL.sha512",
            )
    # tag manifests
    _check_tags(root, report)
    # payload
    manifests = _check_payload(root, report)
    # bag-info, oxum
    _check_bag_info(root, report, key, seal.fields if seal else None, manifests)
    # Merkle root
    _check_merkle(root, report, seal.fields if seal else None)
    # custody
    _check_custody(root, report, seal.fields if seal else None)
    # CASE graph
    if manifests is not None:
        _check_case_graph(root, report, manifests)
    _acquisition_notes(root, report)
    # sidecar
    if sidecar_dir is not None and sidecar_dir.is_dir():
        if report.seal_id is None:
            report.fail("sidecar", "no seal to chain the sidecar to", file=sidecar_dir.name)
        else:
            before = len(report.failures)
            n = sidecar.verify(sidecar_dir, report.seal_id, report)
            if len(report.failures) == before:
                report.add(
                    "sidecar",
                    True,
                    f"{n} signed events after sealing, chain intact",
                    file=sidecar_dir.name,
                )
    return report


def _acquisition_notes(root: Path, report: Report) -> None:
    """What the sealed metadata says about the acquisition itself (not package integrity)."""
    try:
        acq = json.loads((root / "metadata" / "acquisition.json").read_bytes())
        src = acq["source"]
    except (OSError, ValueError, RecursionError, KeyError, TypeError):
        return
    if not isinstance(src, dict):
        return
    if src.get("complete") is False:
        report.notes.append("the acquisition of this source was interrupted (complete: false)")
    before, after = src.get("listing_before"), src.get("listing_after")
    if before and after and before != after:
        report.notes.append("the source's listing changed between before and after the run")
    elif before and after:
        report.notes.append("the source's listing was identical before and after the run")
    for key in ("hashes_before", "hashes_after"):
        if not isinstance(src.get(key), dict):
            return
    if src["hashes_before"].get("sha256") != src["hashes_after"].get("sha256"):
        report.notes.append("the source image hashed differently before and after the run")


def _check_tags(root: Path, report: Report) -> None:
    actual: set[str] = set()
    for entry in sorted(os.listdir(root)):
        full = root / entry
        if entry in ("data", "seal") or entry.startswith("tagmanifest-"):
            continue
        if full.is_dir() and not full.is_symlink():
            actual |= _walk(root, entry, report, "tag-manifest")
        elif full.is_file() and not full.is_symlink():
            actual.add(entry)
        else:
            report.fail("tag-manifest", "not a regular file", file=entry)
    failures = len(report.failures)
    hashes: dict[str, dict[str, str] | None] = {}
    for alg in ALGS:
        name = f"tagmanifest-{alg}.txt"
        listed = read_manifest(root, name, alg, report, "tag-manifest")
        if listed is None:
            continue
        for p in (f"manifest-{a}.txt" for a in ALGS):
            if p not in listed:
                report.fail("tag-manifest", f"does not list {p}", file=name)
        for p, (digest, line) in sorted(listed.items()):
            if p.startswith("data/"):
                report.fail("tag-manifest", "lists a payload file", file=name, line=line)
                continue
            if p not in hashes:
                hashes[p] = _hash(root / p) if p in actual else None
            got = hashes[p]
            if got is None:
                report.fail(
                    "tag-manifest", f"{p} is missing", file=name, line=line, expected=digest
                )
            elif got[alg] != digest:
                report.fail(
                    "tag-manifest",
                    f"{p} was modified",
                    file=name,
                    line=line,
                    expected=digest,
                    found=got[alg],
                )
        for p in sorted(actual - set(listed)):
            report.fail("tag-manifest", f"{p} is not listed in {name}", file=p)
    if len(report.failures) == failures:
        report.add("tag-manifest", True, f"{len(actual)} tag files match both tag manifests")


def _check_payload(root: Path, report: Report) -> Manifests | None:
    failures = len(report.failures)
    manifests: dict[str, dict[str, tuple[str, int]]] = {}
    for alg in ALGS:
        m = read_manifest(root, f"manifest-{alg}.txt", alg, report, "payload")
        if m is not None:
            manifests[alg] = m
    if not manifests:
        return None
    on_disk = _walk(root, "data", report, "completeness")
    listed: set[str] = set()
    for alg, m in manifests.items():
        for p, (_, line) in m.items():
            if not p.startswith("data/"):
                report.fail(
                    "payload",
                    "lists a file outside data/",
                    file=f"manifest-{alg}.txt",
                    line=line,
                    found=p,
                )
        listed |= set(m)
    for alg, m in manifests.items():
        for p in sorted(listed - set(m)):
            report.fail(
                "completeness",
                f"{p} is not listed in manifest-{alg}.txt",
                file=f"manifest-{alg}.txt",
            )
    for p in sorted(on_disk - listed):
        report.fail(
            "completeness", "file in data/ is not in the manifests (added or renamed)", file=p
        )
    for p in sorted(listed):
        if p not in on_disk:
            alg, m = next((a, m) for a, m in manifests.items() if p in m)
            report.fail(
                "completeness",
                f"{p} is missing (removed or renamed)",
                file=f"manifest-{alg}.txt",
                line=m[p][1],
                expected=p,
                found="nothing",
            )
            continue
        got = _hash(root / p)
        for alg, m in manifests.items():
            if p in m and (got is None or got[alg] != m[p][0]):
                report.fail(
                    "payload",
                    f"{p} does not match its {alg}",
                    file=f"manifest-{alg}.txt",
                    line=m[p][1],
                    expected=m[p][0],
                    found=None if got is None else got[alg],
                )
    if len(report.failures) == failures:
        report.add(
            "payload",
            True,
            f"{len(listed)} payload files match both manifests; nothing missing, nothing extra",
        )
    return manifests


def _bag_info(root: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    try:
        text = (root / "bag-info.txt").read_text("utf-8", "replace")
    except OSError:
        return out
    for line in text.splitlines():
        label, sep, value = line.partition(":")
        if sep and not line[:1].isspace():
            out.setdefault(label.strip(), value.strip())
    return out


def _check_bag_info(
    root: Path,
    report: Report,
    key: PublicKey | None,
    fields: dict[str, str] | None,
    manifests: Manifests | None,
) -> None:
    info = _bag_info(root)
    failures = len(report.failures)
    if manifests and "sha256" in manifests:
        size = 0
        for p in manifests["sha256"]:
            try:
                size += os.lstat(root / p).st_size
            except OSError:
                pass
        oxum = f"{size}.{len(manifests['sha256'])}"
        if info.get("Payload-Oxum") != oxum:
            report.fail(
                "bag-info",
                "Payload-Oxum does not match the payload",
                file="bag-info.txt",
                expected=oxum,
                found=info.get("Payload-Oxum"),
            )
        if fields is not None and fields.get("payload-oxum") != oxum:
            report.fail(
                "seal",
                "the sealed Payload-Oxum does not match the payload",
                file="seal/SEAL.sha512",
                expected=fields.get("payload-oxum"),
                found=oxum,
            )
    if key is not None and info.get("VMF-Signer-Key-SHA256") != key.fingerprint:
        report.fail(
            "bag-info",
            "bag-info names another signer key",
            file="bag-info.txt",
            expected=key.fingerprint,
            found=info.get("VMF-Signer-Key-SHA256"),
        )
    if len(report.failures) == failures:
        report.add(
            "bag-info", True, "Payload-Oxum and signer fingerprint agree", file="bag-info.txt"
        )


def _check_merkle(root: Path, report: Report, fields: dict[str, str] | None) -> None:
    try:
        lines = (root / "manifest-sha256.txt").read_bytes().splitlines()
    except OSError:
        return
    r = merkle.root(lines).hex()
    if fields is None:
        return
    expected = fields.get("merkle-root-sha256")
    size = fields.get("merkle-tree-size")
    if r != expected or str(len(lines)) != size:
        report.fail(
            "merkle",
            "Merkle root of manifest-sha256.txt differs from the sealed root",
            file="manifest-sha256.txt",
            expected=f"{expected} ({size} leaves)",
            found=f"{r} ({len(lines)} leaves)",
        )
    else:
        report.add("merkle", True, f"Merkle root {r} over {len(lines)} leaves matches the seal")


def _check_custody(root: Path, report: Report, fields: dict[str, str] | None) -> None:
    failures = len(report.failures)
    name = "custody/custody.jsonl"
    try:
        genesis = (root / "custody" / "genesis.json").read_bytes()
        log = (root / name).read_bytes()
    except OSError as exc:
        report.fail("custody", f"custody log missing: {exc.filename}", file="custody/")
        return
    prev = hashlib.sha256(genesis).hexdigest()
    lines = log.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    last: dict[str, Any] | None = None
    for number, line in enumerate(lines, start=1):
        try:
            entry = json.loads(line)
            if not isinstance(entry, dict):
                raise ValueError
        except (ValueError, RecursionError):
            report.fail("custody", "line is not a JSON object", file=name, line=number)
            prev = hashlib.sha256(line).hexdigest()
            continue
        if entry.get("prev_sha256") != prev:
            report.fail(
                "custody",
                (
                    f"broken link: prev_sha256 is not the hash of line {number - 1} "
                    f"(line {number - 1} edited, or entries deleted or reordered)"
                    if number > 1
                    else "broken link: line 1 is not chained to custody/genesis.json "
                    "(edited, or entries deleted or reordered)"
                ),
                file=name,
                line=number,
                expected=prev,
                found=str(entry.get("prev_sha256")),
            )
        if entry.get("seq") != number:
            report.fail(
                "custody",
                "sequence number out of order",
                file=name,
                line=number,
                expected=str(number),
                found=str(entry.get("seq")),
            )
        prev = hashlib.sha256(line).hexdigest()
        last = entry
    if last is None or last.get("event") != "sealed":
        report.fail(
            "custody",
            "the custody log does not end with the sealed event",
            file=name,
            line=len(lines),
            expected="sealed",
            found=None if last is None else str(last.get("event")),
        )
    if fields is not None:
        head = f"{len(lines)} {prev}"
        if fields.get("custody-head") != head:
            report.fail(
                "custody",
                "custody head differs from the sealed head",
                file=name,
                line=len(lines),
                expected=fields.get("custody-head"),
                found=head,
            )
        if last is not None and isinstance(last.get("detail"), dict):
            root_in_event = last["detail"].get("merkle_root_sha256")
            if root_in_event is not None and root_in_event != fields.get("merkle-root-sha256"):
                report.fail(
                    "custody",
                    "the sealed event names another Merkle root",
                    file=name,
                    line=len(lines),
                    expected=fields.get("merkle-root-sha256"),
                    found=str(root_in_event),
                )
    if len(report.failures) == failures:
        report.add(
            "custody",
            True,
            f"{len(lines)} events chained from the case header to the sealed event",
            file=name,
        )


def _check_case_graph(root: Path, report: Report, manifests: Manifests) -> None:
    name = "metadata/case.jsonld"
    try:
        graph = casegraph.file_hashes((root / name).read_bytes())
    except OSError:
        report.fail("case-graph", "CASE graph missing", file=name)
        return
    except ValueError as exc:
        report.fail("case-graph", f"CASE graph is not JSON: {exc}", file=name)
        return
    failures = len(report.failures)
    listed = set().union(*(set(m) for m in manifests.values()))
    for p in sorted(listed - set(graph)):
        report.fail("case-graph", f"{p} has no File node in the CASE graph", file=name)
    for p in sorted(set(graph) - listed):
        report.fail("case-graph", f"the CASE graph names {p}, which no manifest lists", file=name)
    for p in sorted(listed & set(graph)):
        for alg, m in manifests.items():
            if p in m and graph[p].get(alg) != m[p][0]:
                report.fail(
                    "case-graph",
                    f"{alg} of {p} in the CASE graph differs from the manifest",
                    file=name,
                    expected=m[p][0],
                    found=graph[p].get(alg),
                )
    if len(report.failures) == failures:
        report.add(
            "case-graph", True, f"{len(graph)} File hashes agree with the manifests", file=name
        )


class Unopenable(Exception):
    """The package cannot be opened at all (missing, wrong identity): not a tamper finding."""


def _decrypt_extract(path: Path, identities: list[Any], dest: Path) -> Path:
    """Decrypt straight into the tar reader through a pipe: no plaintext tar on disk.

    A decryption error wins over the tar error it causes (age releases only authenticated
    chunks, so a truncated ciphertext looks like a short tar to the reader).
    """
    r_fd, w_fd = os.pipe()
    failure: list[BaseException] = []

    def decrypt() -> None:
        try:
            with open(path, "rb") as src, open(w_fd, "wb") as sink:
                envelope.decrypt(src, sink, identities)
        except BaseException as exc:
            failure.append(exc)

    worker = threading.Thread(target=decrypt, name="age-decrypt", daemon=True)
    worker.start()
    tar_error: tarball.TarError | None = None
    bag: Path | None = None
    try:
        with open(r_fd, "rb") as source:
            try:
                bag = tarball.extract_tar(source, dest)
            except tarball.TarError as exc:
                tar_error = exc
            while source.read(1 << 20):  # drain, so the decryptor checks the last chunk
                pass
    finally:
        worker.join()
    if failure:
        if isinstance(failure[0], (envelope.NoMatchingIdentity, envelope.DecryptFailed)):
            raise failure[0]
        raise envelope.DecryptFailed(str(failure[0]))
    if tar_error is not None or bag is None:
        raise tar_error or tarball.TarError("empty tar")
    return bag


def package_name(path: Path) -> str:
    name = path.name
    for suffix in (".tar.age", ".tar"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def verify_path(
    path: Path,
    signer: PublicKey | None = None,
    identities: list[Any] | None = None,
) -> Report:
    """A bag folder, a ``.tar`` or an ``.tar.age`` (with identities); sidecar found beside."""
    path = Path(path)
    if not path.exists():
        raise Unopenable(f"{path} does not exist")
    side = sidecar.sidecar_for(path.parent, package_name(path))
    if path.is_dir():
        return verify_bag(path, signer, side)
    tmp = Path(tempfile.mkdtemp(prefix="vmf-verify-"))
    try:
        pre: Report = Report(str(path))
        if path.name.endswith(".age"):
            sums = path.with_name(path.name + ".sha256")
            if sums.exists():
                digest = envelope.sha256_file(path)
                want = sums.read_text("utf-8", "replace").split()
                if not want or want[0].lower() != digest:
                    pre.fail(
                        "package",
                        "ciphertext does not match its .sha256 file",
                        file=sums.name,
                        line=1,
                        expected=want[0] if want else None,
                        found=digest,
                    )
                else:
                    pre.add("package", True, "ciphertext matches its .sha256 file", file=sums.name)
            if not identities:
                raise Unopenable(f"{path} is encrypted: pass --identity FILE")
            try:
                bag = _decrypt_extract(path, identities, tmp / "x")
            except envelope.NoMatchingIdentity:
                raise Unopenable(f"{path}: none of the identities given can decrypt it") from None
            except envelope.DecryptFailed as exc:
                pre.fail(
                    "package",
                    f"cannot decrypt: the ciphertext is damaged or truncated ({exc})",
                    file=path.name,
                )
                return pre
            except tarball.TarError as exc:
                pre.add(
                    "package", True, "decrypted (age authenticates every chunk)", file=path.name
                )
                pre.fail("package", f"tar: {exc}", file=path.name)
                return pre
            pre.add("package", True, "decrypted (age authenticates every chunk)", file=path.name)
        else:
            try:
                with open(path, "rb") as src:
                    bag = tarball.extract_tar(src, tmp / "x")
            except tarball.TarError as exc:
                pre.fail("package", f"tar: {exc}", file=path.name)
                return pre
        report = verify_bag(bag, signer, side)
        report.target = str(path)
        report.checks[:0] = pre.checks
        return report
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
