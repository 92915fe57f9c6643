#!/usr/bin/env python3
"""Rebuild every synthetic device image deterministically: ``build.py OUT_DIR [NAME...]``.

Each module in ``builders/`` exposes ``IMAGES`` (name → function building that image at
a path) and ``versions()`` (the exact encoder and writer versions it was built with:
with the same versions the output is byte-identical to the committed images).
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import builders  # noqa: E402


def all_images() -> dict[str, tuple[object, object]]:
    images: dict[str, tuple[object, object]] = {}
    for info in sorted(pkgutil.iter_modules(builders.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"builders.{info.name}")
        for name, func in getattr(module, "IMAGES", {}).items():
            images[name] = (func, getattr(module, "versions", lambda: {}))
    return images


def build(out_dir: Path, names: list[str] | None = None) -> dict[str, dict[str, str]]:
    out_dir.mkdir(parents=True, exist_ok=True)
    built: dict[str, dict[str, str]] = {}
    for name, (func, versions) in sorted(all_images().items()):
        if names and name not in names:
            continue
        target = out_dir / name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
        func(target)  # type: ignore[operator]
        built[name] = versions()  # type: ignore[operator]
    return built


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    out = Path(argv[0])
    built = build(out, argv[1:] or None)
    record = out / "VERSIONS.json"
    known = json.loads(record.read_text()) if record.is_file() else {}
    known.update(built)
    record.write_text(json.dumps(known, indent=2, sort_keys=True) + "\n")
    for name in built:
        print(f"built {out / name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
