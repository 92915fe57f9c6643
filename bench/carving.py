"""Carving benchmark: vmforensics against foremost, scalpel and photorec, side by side.

    .venv/bin/python bench/carving.py [--size-gib 2] [--files 200] [--out bench/out] [--repeat 1]

Builds (or reuses) a synthetic image of pseudo-random filler with known embedded voicemail
audio (bench/imagegen.py), then runs every tool on it in the same run, one after the
other: Python's single-pass SHA-256 (the read-and-hash floor), ``vmforensics scan IMAGE``
end to end with its defaults (hashing included), foremost, scalpel and photorec with
configurations written for these formats (bench/peers.py). Each tool is scored against
the ground truth (bench/scoring.py). With ``--repeat N`` the figures are medians over N
rounds. The Markdown table goes to OUT/results.md, everything to OUT/results.json.

Page cache: ``--cache warm`` (default) reads the whole image once before every tool run,
so every tool starts from the same fully cached image and the figures compare the tools,
not the disk; ``--cache cold`` drops the page cache before every run (root only; falls
back to warm, and says so, when that is refused).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import imagegen  # noqa: E402
import peers  # noqa: E402
from scoring import Score, heads, score  # noqa: E402

TOOLS = ("sha256 (hashlib)", "vmforensics", "foremost", "scalpel", "photorec")


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size-gib", type=float, default=2.0, help="image size in GiB (default 2)")
    p.add_argument("--files", type=int, default=200, help="embedded audio files (default 200)")
    p.add_argument("--out", type=Path, default=HERE / "out", help="output folder (bench/out)")
    p.add_argument("--repeat", type=int, default=1, help="rounds; figures are medians")
    p.add_argument("--seed", type=int, default=4)
    p.add_argument("--max-seconds", type=float, default=40.0, help="longest embedded audio")
    p.add_argument("--cache", choices=("warm", "cold"), default="warm")
    p.add_argument(
        "--max-size",
        type=int,
        default=0,
        help="foremost/scalpel maximum carve size (default: the next power of two above "
        "the largest embedded file, generous: an examiner does not know it)",
    )
    p.add_argument("--tools", default=",".join(TOOLS), help="comma-separated subset")
    p.add_argument("--keep-image", action="store_true", help="keep the image for another run")
    return p.parse_args(argv)


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def prepare_cache(image: Path, mode: str) -> str:
    if mode == "cold":
        try:
            subprocess.run(["sync"], check=False)
            Path("/proc/sys/vm/drop_caches").write_text("3\n")
            return "cold"
        except OSError:
            pass
    with open(image, "rb") as f:
        while f.read(16 << 20):
            pass
    return "warm"


def run_tool(tool: str, image: Path, work: Path, max_size: int) -> peers.Measured:
    if tool == "vmforensics":
        return peers.run_vmforensics(image, work)
    if tool == "sha256 (hashlib)":
        return peers.run_sha256(image, work)
    if tool == "foremost":
        return peers.run_foremost(image, work, max_size)
    if tool == "scalpel":
        return peers.run_scalpel(image, work, max_size)
    if tool == "photorec":
        return peers.run_photorec(image, work)
    raise ValueError(tool)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    size = int(args.size_gib * (1 << 30)) // imagegen.SECTOR * imagegen.SECTOR
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    image = out / f"image-{size}-{args.files}-{args.seed}.bin"
    if imagegen.reusable(image, size, args.files, args.seed):
        log(f"reusing {image}")
        _, truths = imagegen.load_truth(image)
    else:
        log(f"building {image} ({size} bytes, {args.files} files)")
        truths = imagegen.build(
            image,
            size=size,
            files=args.files,
            seed=args.seed,
            max_seconds=args.max_seconds,
            log=log,
        )
    largest = max(t.length for t in truths)
    max_size = args.max_size or 1 << largest.bit_length()
    with open(image, "rb") as f:

        def read(offset: int, n: int) -> bytes:
            f.seek(offset)
            return f.read(n)

        head_map = heads(truths, read)

    tools = []
    for tool in (t for t in args.tools.split(",") if t):
        if tool not in TOOLS:
            raise SystemExit(f"unknown tool {tool!r}; known: {', '.join(TOOLS)}")
        if tool in ("foremost", "scalpel", "photorec") and not peers.available(tool):
            log(f"{tool} is not installed: left out")
            continue
        tools.append(tool)

    runs: dict[str, list[dict]] = {t: [] for t in tools}
    scores: dict[str, Score] = {}
    cache_modes = set()
    for round_no in range(args.repeat):
        for tool in tools:
            work = out / "runs" / f"{tool.split()[0]}-{round_no}"
            shutil.rmtree(work, ignore_errors=True)
            work.mkdir(parents=True)
            cache_modes.add(prepare_cache(image, args.cache))
            log(f"round {round_no + 1}/{args.repeat}: {tool}")
            m = run_tool(tool, image, work, max_size)
            s = score(truths, m.recoveries, head_map, count_decoding=(tool == "vmforensics"))
            runs[tool].append(
                {
                    "wall_s": m.wall_s,
                    "returncode": m.returncode,
                    "maxrss_kib": m.maxrss_kib,
                    "tree_rss_kib": m.tree_rss_kib,
                    "tree_anon_kib": m.tree_anon_kib,
                    "cpu_s": m.cpu_s,
                    "load_before": m.load_before,
                    "notes": m.notes,
                    "score": s.as_dict(),
                }
            )
            scores[tool] = s
            log(
                f"  {m.wall_s:.2f} s, {size / m.wall_s / 1e6:.0f} MB/s, cpu {m.cpu_s:.2f} s, "
                f"load {m.load_before:.1f}, rc={m.returncode}, "
                f"found {s.found}/{s.files}, exact {s.exact}, FP {s.false_positives}"
            )
            if m.returncode != 0:
                log(f"  {tool} exited {m.returncode}: {m.stderr_tail[-500:]}")
            shutil.rmtree(work / "out", ignore_errors=True)
            shutil.rmtree(work / "case" / "evidence", ignore_errors=True)

    summary = summarise(runs, size)
    doc = {
        "command": " ".join([".venv/bin/python", "bench/carving.py", *(argv or sys.argv[1:])]),
        "image": {"path": str(image), "size": size, "files": args.files, "seed": args.seed},
        "formats": sorted({t.format for t in truths}),
        "aligned": sum(t.aligned for t in truths),
        "max_carve_size": max_size,
        "cache": "/".join(sorted(cache_modes)),
        "repeat": args.repeat,
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "versions": peers.versions(),
        "summary": summary,
        "runs": runs,
        "truth": [t.__dict__ for t in truths],
    }
    md = markdown(doc, truths, scores)
    (out / "results.json").write_text(json.dumps(doc, indent=1))
    (out / "results.md").write_text(md)
    print(md)
    if not args.keep_image:
        image.unlink(missing_ok=True)
        imagegen.truth_path(image).unlink(missing_ok=True)
    return 0


def summarise(runs: dict[str, list[dict]], size: int) -> dict[str, dict]:
    out = {}
    for tool, rs in runs.items():
        if not rs:
            continue
        wall = statistics.median(r["wall_s"] for r in rs)
        last = rs[-1]["score"]
        out[tool] = {
            "wall_s": wall,
            "mb_s": size / wall / 1e6,
            "tree_rss_mib": statistics.median(r["tree_rss_kib"] for r in rs) / 1024,
            "tree_anon_mib": statistics.median(r["tree_anon_kib"] for r in rs) / 1024,
            "maxrss_mib": statistics.median(r["maxrss_kib"] for r in rs) / 1024,
            "cpu_s": statistics.median(r["cpu_s"] for r in rs),
            "load_before": [round(r["load_before"], 2) for r in rs],
            "stable_score": all(r["score"] == last for r in rs),
            **{k: last[k] for k in ("files", "recoveries", "found", "exact", "over_long")},
            **{k: last[k] for k in ("truncated", "wrong_bytes", "contained", "false_positives")},
            "false_positives_decoding": last["false_positives_decoding"],
        }
    vmf = out.get("vmforensics")
    if vmf:
        for peer in ("foremost", "scalpel", "photorec", "sha256 (hashlib)"):
            if peer in out:
                vmf[f"ratio_to_{peer.split()[0]}"] = vmf["mb_s"] / out[peer]["mb_s"]
    return out


def markdown(doc: dict, truths, scores: dict[str, Score]) -> str:
    s = doc["summary"]
    img = doc["image"]
    n_al = doc["aligned"]
    lines = [
        f"Image: {img['size'] / (1 << 30):.2f} GiB pseudo-random filler, {img['files']} embedded "
        f"audio files ({n_al} sector-aligned, {img['files'] - n_al} not), "
        f"{len(doc['formats'])} variants: {', '.join(doc['formats'])}.",
        f"Page cache: {doc['cache']}. Runs: {doc['repeat']} (medians). Machine: "
        f"{doc['machine']['cpus']} CPUs, {doc['machine']['platform']}. "
        f"foremost/scalpel max carve size {doc['max_carve_size']} bytes.",
        f"Command: `{doc['command']}`",
        "",
        "| tool | wall s | MB/s | CPU s | peak RSS MiB (tree / anon) | recall | byte-exact "
        "| over-long | truncated | other | false positives | FP that decode |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for tool, r in s.items():
        hashing = tool.startswith("sha256")
        fpd = r["false_positives_decoding"]
        lines.append(
            f"| {tool} | {r['wall_s']:.2f} | {r['mb_s']:.0f} | {r['cpu_s']:.2f} | "
            f"{r['tree_rss_mib']:.0f} / {r['tree_anon_mib']:.0f} | "
            + (
                "– | – | – | – | – | – | – |"
                if hashing
                else f"{r['found']}/{r['files']} | {r['exact']} | {r['over_long']} | "
                f"{r['truncated']} | {r['wrong_bytes'] + r['contained']} | "
                f"{r['false_positives']} | {'–' if fpd is None else fpd} |"
            )
        )
    vmf = s.get("vmforensics")
    if vmf:
        ratios = [
            f"{k.removeprefix('ratio_to_')} {v:.2f}x"
            for k, v in vmf.items()
            if k.startswith("ratio_")
        ]
        lines += ["", "vmforensics throughput relative to: " + ", ".join(ratios) + "."]
    loads = {t: r["load_before"] for t, r in s.items()}
    lines += [
        "",
        "1-minute load average when each run started (other work on the machine): "
        + "; ".join(f"{t} {', '.join(map(str, v))}" for t, v in loads.items())
        + ".",
    ]
    by_fmt: dict[str, dict[str, dict[str, int]]] = {
        t: sc.by_format for t, sc in scores.items() if not t.startswith("sha256")
    }
    if by_fmt:
        tools = list(by_fmt)
        lines += [
            "",
            "Per variant, found / byte-exact:",
            "",
            "| variant | files | " + " | ".join(tools) + " |",
            "|---|---:|" + "---:|" * len(tools),
        ]
        for fmt in doc["formats"]:
            cells = []
            for t in tools:
                row = by_fmt[t].get(fmt, {})
                cells.append(f"{row.get('found', 0)} / {row.get('exact', 0)}")
            files = next(iter(by_fmt.values())).get(fmt, {}).get("files", 0)
            lines.append(f"| {fmt} | {files} | " + " | ".join(cells) + " |")
    if "vmforensics" in scores:
        sc = scores["vmforensics"]
        by_index = {t.index: t for t in truths}
        bad = [(i, "missed") for i in sc.missed] + sc.not_exact
        if bad:
            lines += ["", "vmforensics, not byte-exact:", ""]
            for i, what in sorted(bad):
                t = by_index[i]
                lines.append(
                    f"- #{i} {t.format} at {t.offset} ({'aligned' if t.aligned else 'unaligned'}, "
                    f"{t.length} bytes): {what}"
                )
        if sc.fp_examples:
            lines += ["", "vmforensics false positives (first ones):", ""]
            lines += [f"- {json.dumps(e)}" for e in sc.fp_examples]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
