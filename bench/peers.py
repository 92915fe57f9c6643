"""The tools under test: how each is configured, run, measured and read back.

Every tool runs as a child process; wall time is measured around it, peak memory twice:
``ru_maxrss`` of the child from ``wait4`` (the largest single process) and the peak of
the sum of resident memory over the child's whole process tree, sampled from ``/proc``
every 50 ms (vmforensics carves in a pool of worker processes; a single-process figure
would hide them). Resident memory of a tool that maps the image includes the mapped,
cached file pages (``RssFile``); anonymous memory (``RssAnon``) is reported apart.

Peer configurations are written here, not taken from the packages' defaults (which carve
none of these voicemail formats): the same headers and one maximum size for foremost and
scalpel, photorec's own audio families with a 512-byte block size.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from scoring import Recovery

REPO = Path(__file__).resolve().parents[1]
PYTHON = REPO / ".venv" / "bin" / "python"

# Header rules shared by foremost and scalpel (both read this syntax; '?' is a wildcard).
# Frame-sync rules for tag-less MP3 are deliberately absent: every MP3 frame starts with
# the same 4 bytes, so such a rule cuts one file per frame (measured: 857 outputs for 4
# files on a 64 MiB image), which no examiner would run.
HEADER_RULES = (
    ("amr", r"#!AMR\x0a"),
    ("amr", r"#!AMR-WB\x0a"),
    ("wav", r"RIFF????WAVE"),
    ("qcp", r"RIFF????QLCM"),
    ("mp3", r"ID3\x03"),
    ("mp3", r"ID3\x04"),
    ("m4a", r"\x00\x00\x00?ftyp"),
    ("ogg", r"OggS\x00\x02"),
    ("flac", r"fLaC\x00\x00\x00\x22"),
    ("aif", r"FORM????AIFF"),
    ("aif", r"FORM????AIFC"),
    ("caf", r"caff\x00\x01"),
)
PHOTOREC_FAMILIES = ("amr", "riff", "mp3", "mov", "ogg", "flac", "aif", "caf")  # no qcp family


def carver_conf(max_size: int) -> str:
    lines = ["# written by bench/carving.py: audio headers, no footers (none of these has one)"]
    lines += [f"{ext}\ty\t{max_size}\t{header}" for ext, header in HEADER_RULES]
    return "\n".join(lines) + "\n"


@dataclass
class Measured:
    tool: str
    wall_s: float
    returncode: int
    maxrss_kib: int  # ru_maxrss of the child (largest single process it waited for)
    tree_rss_kib: int  # peak of the summed RSS over the process tree
    tree_anon_kib: int  # peak of the summed RssAnon over the process tree
    cpu_s: float  # user + system time of the child and the descendants it waited for
    load_before: float  # 1-minute load average when the run started (other work on the box)
    recoveries: list[Recovery] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    stderr_tail: str = ""


def _children_map() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(b")") + 2 :].split()[1])
        kids.setdefault(ppid, []).append(int(name))
    return kids


def _tree_rss(root: int) -> tuple[int, int]:
    kids = _children_map()
    todo, total, anon = [root], 0, 0
    while todo:
        pid = todo.pop()
        todo += kids.get(pid, [])
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                    elif line.startswith("RssAnon:"):
                        anon += int(line.split()[1])
        except OSError:
            continue
    return total, anon


def run_measured(tool: str, cmd: list[str], cwd: Path, log: Path) -> Measured:
    """Run ``cmd`` to completion; wall time, wait4 peak RSS and sampled tree RSS."""
    peak = [0, 0]
    done = threading.Event()
    load = os.getloadavg()[0]
    with open(log, "wb") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)

        def sample() -> None:
            while not done.is_set():
                total, anon = _tree_rss(proc.pid)
                peak[0], peak[1] = max(peak[0], total), max(peak[1], anon)
                done.wait(0.05)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        done.set()
        sampler.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
    tail = log.read_bytes()[-2000:].decode("utf-8", "replace")
    cpu = usage.ru_utime + usage.ru_stime
    return Measured(
        tool, wall, proc.returncode, usage.ru_maxrss, peak[0], peak[1], cpu, load, stderr_tail=tail
    )


def _sha256_file(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


# --- vmforensics -------------------------------------------------------------------------


def run_vmforensics(image: Path, work: Path) -> Measured:
    case = work / "case"
    m = run_measured(
        "vmforensics",
        [str(PYTHON), "-m", "vmforensics", "scan", str(image), "--case", str(case), "--quiet"],
        REPO,
        work / "vmforensics.log",
    )
    errors = 0
    artifacts = case / "artifacts.jsonl"
    if artifacts.is_file():
        for line in artifacts.read_text().splitlines():
            rec = json.loads(line)
            if rec.get("type") == "error":
                errors += 1
            if rec.get("type") != "audio" or rec.get("offset") is None:
                continue
            m.recoveries.append(
                Recovery(
                    offset=rec["offset"],
                    length=rec["length"],
                    sha256=rec["sha256"],
                    decodes=rec.get("decodes"),
                    label=f"{rec.get('container')}/{rec.get('codec')}"
                    + (" truncated" if rec.get("truncated") else ""),
                )
            )
    else:
        m.notes.append("no artifacts.jsonl written")
    if errors:
        m.notes.append(f"{errors} error lines in artifacts.jsonl")
    try:
        doc = json.loads((case / "case.json").read_text())
        m.notes.append("sha256=" + doc["sources"][0]["hashes_before"]["sha256"])
    except (OSError, ValueError, KeyError, IndexError):
        m.notes.append("no image hash in case.json")
    return m


# --- the SHA-256 floor -------------------------------------------------------------------

HASH_SNIPPET = (
    "import hashlib,sys\n"
    "with open(sys.argv[1],'rb') as f: print(hashlib.file_digest(f,'sha256').hexdigest())\n"
)


def run_sha256(image: Path, work: Path) -> Measured:
    log = work / "sha256.log"
    m = run_measured(
        "sha256 (hashlib)", [sys.executable, "-c", HASH_SNIPPET, str(image)], work, log
    )
    m.notes.append("sha256=" + log.read_text().strip())
    return m


# --- foremost and scalpel ----------------------------------------------------------------

FOREMOST_LINE = re.compile(r"^\d+:\s+(\S+)\s+.*?\s(\d+)\s*$")


def run_foremost(image: Path, work: Path, max_size: int) -> Measured:
    conf = work / "foremost.conf"
    conf.write_text(carver_conf(max_size))
    out = work / "out"
    m = run_measured(
        "foremost",
        ["foremost", "-c", str(conf), "-o", str(out), "-i", str(image)],
        work,
        work / "foremost.log",
    )
    files = {p.name: p for p in out.rglob("*") if p.is_file() and p.name != "audit.txt"}
    audit = out / "audit.txt"
    for line in audit.read_text(errors="replace").splitlines() if audit.is_file() else []:
        hit = FOREMOST_LINE.match(line.strip())
        if hit and hit.group(1) in files:
            m.recoveries.append(_file_recovery(files.pop(hit.group(1)), int(hit.group(2))))
    m.recoveries += [_file_recovery(p, None) for p in files.values()]
    if files:
        m.notes.append(f"{len(files)} outputs without an audit offset")
    return m


SCALPEL_LINE = re.compile(r"^(\S+)\s+(\d+)\s+(YES|NO)\s+(\d+)\s+")


def run_scalpel(image: Path, work: Path, max_size: int) -> Measured:
    conf = work / "scalpel.conf"
    conf.write_text(carver_conf(max_size))
    out = work / "out"
    m = run_measured(
        "scalpel",
        ["scalpel", "-c", str(conf), "-o", str(out), str(image)],
        work,
        work / "scalpel.log",
    )
    files = {p.name: p for p in out.rglob("*") if p.is_file() and p.name != "audit.txt"}
    audit = out / "audit.txt"
    for line in audit.read_text(errors="replace").splitlines() if audit.is_file() else []:
        hit = SCALPEL_LINE.match(line.strip())
        if hit and hit.group(1) in files:
            m.recoveries.append(_file_recovery(files.pop(hit.group(1)), int(hit.group(2))))
    m.recoveries += [_file_recovery(p, None) for p in files.values()]
    if files:
        m.notes.append(f"{len(files)} outputs without an audit offset")
    return m


# --- photorec ----------------------------------------------------------------------------


def photorec_cmd(image: Path, dest: Path) -> list[str]:
    opts = ["partition_none", "options", "paranoid", "fileopt", "everything", "disable"]
    for fam in PHOTOREC_FAMILIES:
        opts += [fam, "enable"]
    opts += ["blocksize", "512", "search"]
    return ["photorec", "/log", "/d", str(dest), "/cmd", str(image), ",".join(opts)]


def run_photorec(image: Path, work: Path) -> Measured:
    out = work / "out"
    out.mkdir(parents=True, exist_ok=True)
    m = run_measured(
        "photorec", photorec_cmd(image, out / "recup"), work, work / "photorec.log.txt"
    )
    offsets: dict[str, int] = {}
    for report in out.rglob("report.xml"):
        for obj in ET.parse(report).getroot().iter():
            if not obj.tag.endswith("fileobject"):
                continue
            name = run = None
            for el in obj.iter():
                if el.tag.endswith("filename"):
                    name = (el.text or "").strip()
                elif el.tag.endswith("byte_run") and run is None:
                    run = int(el.get("img_offset", "-1"))
            if name and run is not None and run >= 0:
                offsets[Path(name).name] = run
    for p in sorted(out.rglob("f*")):
        if not p.is_file():
            continue
        offset = offsets.get(p.name)
        if offset is None:
            sector = re.match(r"f(\d+)", p.name)
            offset = int(sector.group(1)) * 512 if sector else None
        m.recoveries.append(_file_recovery(p, offset))
    return m


def _file_recovery(path: Path, offset: int | None) -> Recovery:
    return Recovery(
        offset=offset,
        length=path.stat().st_size,
        sha256=_sha256_file(path),
        path=path,
        label=path.suffix.lstrip("."),
    )


def versions() -> dict[str, str]:
    def dpkg(pkg: str) -> str:
        try:
            out = subprocess.run(
                ["dpkg-query", "-W", "-f=${Version}", pkg], capture_output=True, text=True
            )
            return out.stdout.strip() or "not installed"
        except OSError:
            return "unknown"

    def py(module: str) -> str:
        try:
            return str(__import__(module).__version__)
        except Exception:
            return "not installed"

    return {
        "hyperscan (PyPI)": py("hyperscan"),
        "av (PyAV)": py("av"),
        "numpy": py("numpy"),
        "foremost": dpkg("foremost"),
        "scalpel": dpkg("scalpel"),
        "testdisk (photorec)": dpkg("testdisk"),
        "bulk-extractor": dpkg("bulk-extractor"),
    }


def available(tool: str) -> bool:
    return shutil.which(tool) is not None
